import { readFile } from "node:fs/promises";
import { isNode, LineCounter, parseDocument } from "yaml";
import { ConfigError, type ConfigProblem } from "../../shared/errors.ts";
import { EstateSchema, type EstateAsset } from "./estate.ts";

/**
 * The emulator's inventory file, read for a person at the CLI (`npm start`, `csip-scan emulator
 * --inventory`): a missing file, YAML that does not parse and an asset of the wrong shape are each one
 * located line, `file:line:column path: what is wrong`, and exit code 2 (ConfigError), not a stack trace.
 */
export async function readInventory(file: string): Promise<EstateAsset[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : "file cannot be read";
    throw new ConfigError([{ file, line: 0, column: 0, path: "", message: `${reason} (give the emulator's inventory with --inventory FILE)` }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number, path: string, message: string): ConfigProblem => {
    const pos = lines.linePos(offset);
    return { file, line: pos.line, column: pos.col, path, message };
  };
  const [syntax] = doc.errors;
  if (syntax) throw new ConfigError([at(syntax.pos[0], "", `not valid YAML: ${syntax.message.split("\n")[0]}`)]);
  const parsed = EstateSchema.safeParse(doc.toJS());
  if (parsed.success) return parsed.data.assets;
  // The first problem, where it is: one line a person can act on (fix it, run again, see the next).
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map((key) => (typeof key === "number" ? `[${key}]` : `.${String(key)}`)).join("").replace(/^\./, "");
  let node: unknown;
  for (let depth = issue.path.length; depth >= 0 && !isNode(node); depth--) node = doc.getIn(issue.path.slice(0, depth) as (string | number)[], true);
  const offset = isNode(node) && node.range ? node.range[0] : 0;
  const more = parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more problem(s))` : "";
  throw new ConfigError([at(offset, path, `${issue.message}${more}`)]);
}
