import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { DEFAULT_STATE_PATH, durationMs, type Config } from "../shared/config/schema.ts";
import type { Language } from "../shared/config/schema.ts";
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

/**
 * `csip-scan report`: one self-contained HTML page of the policies' histories as the state store keeps
 * them (the last `results.history` runs of each). Returns the file written and how many runs it shows.
 */
export async function writeReport(config: Config, options: ReportOptions): Promise<{ file: string; runs: number; policies: number }> {
  const store = options.store ?? new FileStateStore(config.state.path ?? DEFAULT_STATE_PATH, options.warn);
  const from = options.now.getTime() - durationMs(options.since);
  const names = options.policy ? [options.policy] : config.policies.map((p) => p.name);
  const histories = [];
  for (const name of names) {
    const history = await readHistory(store, name);
    histories.push({ ...history, runs: history.runs.filter((r) => Date.parse(r.scheduledTime) >= from) });
  }
  const html = resultsPage({ histories, timezone: config.timezone, language: options.language, generatedAt: options.now, since: options.since });
  const file = resolve(options.out);
  await writeFile(file, html);
  return { file, runs: histories.reduce((n, h) => n + h.runs.length, 0), policies: histories.length };
}
