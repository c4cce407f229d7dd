import { stat, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { DEFAULT_STATE_PATH, durationMs, type Config } from "../shared/config/schema.ts";
import type { Language } from "../shared/config/schema.ts";
import { CsipScanError } from "../shared/errors.ts";
import { readHistory } from "../shared/results/history.ts";
import { resultsPage } from "../shared/results/page/render.ts";
import { FileStateStore, type StateStore } from "../shared/state/store.ts";

export interface ReportOptions {
  /** One policy, else every policy of the file. */
  policy?: string;
  /** Runs scheduled within this duration (`30d`). */
  since: string;
  language: Language;
  /** The file to write. */
  out: string;
  now: Date;
  /** Where the history is read; else the config's state folder. */
  store?: StateStore;
  warn?: (message: string) => void;
}

/** `--out` names a file that cannot be written: one line that says why, and the CLI exits 2. */
export class OutFileError extends CsipScanError {
  override name = "OutFileError";
}

/** Why `file` cannot be written, in one line, from the code of the error that said so. */
function outFileProblem(file: string, code: string | undefined): string {
  switch (code) {
    case "ENOENT":
      return `--out ${file}: the folder ${dirname(file)} does not exist`;
    case "ENOTDIR":
      return `--out ${file}: a part of ${dirname(file)} is not a folder`;
    case "EISDIR":
      return `--out ${file} is a folder: give the name of a file to write`;
    default:
      return `--out ${file}: cannot be written (${code ?? "unknown error"})`;
  }
}

/** Fails with one line, before any work, when `file` is a folder or its folder is missing. */
async function checkOutFile(file: string): Promise<void> {
  const folder = await stat(dirname(file)).catch((error: NodeJS.ErrnoException) => error);
  if (folder instanceof Error) throw new OutFileError(outFileProblem(file, folder.code));
  if (!folder.isDirectory()) throw new OutFileError(outFileProblem(file, "ENOTDIR"));
  const target = await stat(file).catch(() => undefined);
  if (target?.isDirectory()) throw new OutFileError(outFileProblem(file, "EISDIR"));
}

/**
 * `csip-scan report`: one self-contained HTML page of the policies' histories as the state store keeps
 * them (the last `results.history` runs of each). Returns the file written and how many runs it shows.
 */
export async function writeReport(config: Config, options: ReportOptions): Promise<{ file: string; runs: number; policies: number }> {
  const file = resolve(options.out);
  await checkOutFile(file);
  const store = options.store ?? new FileStateStore(config.state.path ?? DEFAULT_STATE_PATH, options.warn);
  const from = options.now.getTime() - durationMs(options.since);
  const names = options.policy ? [options.policy] : config.policies.map((p) => p.name);
  const histories = [];
  for (const name of names) {
    const history = await readHistory(store, name);
    histories.push({ ...history, runs: history.runs.filter((r) => Date.parse(r.scheduledTime) >= from) });
  }
  const html = resultsPage({ histories, timezone: config.timezone, language: options.language, generatedAt: options.now, since: options.since });
  await writeFile(file, html).catch((error: NodeJS.ErrnoException) => {
    throw new OutFileError(outFileProblem(file, error.code), { cause: error });
  });
  return { file, runs: histories.reduce((n, h) => n + h.runs.length, 0), policies: histories.length };
}
