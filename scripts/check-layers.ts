// Reads the imports of the project and fails on an import against the layers, an import cycle, or a
// third reader of process.env under shared/. Run by `npm test` (before the tests) and testable on any
// tree: `checkLayers(root)` returns the problems, each with file and line.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The floors, bottom first. A file may import from its own floor or a lower one, never a higher one.
 * Paths ending in `/` are folders. `events` sits below `config` because the policy file takes each
 * event transport's trigger settings from the transport table, and events need nothing from config.
 */
export const FLOORS: readonly { name: string; paths: readonly string[] }[] = [
  { name: "ground", paths: ["shared/errors.ts", "shared/log.ts", "shared/secrets.ts", "shared/env.ts", "shared/clock.ts", "shared/time-format.ts", "shared/retry.ts", "shared/net/"] },
  { name: "events", paths: ["shared/events/"] },
  { name: "config", paths: ["shared/config/"] },
  { name: "doors", paths: ["shared/csip/", "shared/state/"] },
  { name: "work", paths: ["shared/assets/", "shared/scan/", "shared/notify/", "shared/results/"] },
  { name: "runs", paths: ["shared/run/"] },
  { name: "entries", paths: ["functions/"] },
  { name: "local", paths: ["local/"] },
];

/** Folders that may import anything and that nothing of the floors may import. */
export const TOOLS: readonly string[] = ["scripts/", "bench/", "test/"];

/** How many files under shared/ may read process.env (the environment reader, and no other). */
export const ENV_READERS_ALLOWED = 2;

export interface Problem {
  file: string;
  line: number;
  message: string;
}

const SOURCE = /\.(ts|js|cjs|mjs)$/;
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"']+)["']/g;

function sourceFiles(root: string, folder: string): string[] {
  const dir = join(root, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || name.startsWith(".")) return [];
    if (statSync(path).isDirectory()) return sourceFiles(root, relative(root, path));
    return SOURCE.test(name) ? [relative(root, path).split(sep).join("/")] : [];
  });
}

/** The room of a floor a file is in: the folder of `FLOORS` that holds it (`shared/notify/`), or the file itself. */
function roomOf(file: string): string | undefined {
  for (const floor of FLOORS) for (const p of floor.paths) if (p.endsWith("/") ? file.startsWith(p) : file === p) return p;
  return undefined;
}

function floorOf(file: string): number | "tool" | undefined {
  if (TOOLS.some((t) => file.startsWith(t))) return "tool";
  const index = FLOORS.findIndex((f) => f.paths.some((p) => (p.endsWith("/") ? file.startsWith(p) : file === p)));
  return index >= 0 ? index : undefined;
}

/** Imports that name a file of the project, with their lines. Comments are skipped line by line. */
function importsOf(root: string, file: string): { target: string; line: number }[] {
  const found: { target: string; line: number }[] = [];
  readFileSync(join(root, file), "utf8")
    .split("\n")
    .forEach((text, i) => {
      if (/^\s*(\/\/|\*|\/\*)/.test(text)) return;
      for (const match of text.matchAll(IMPORT)) {
        const spec = match[1]!;
        if (!spec.startsWith(".")) continue;
        const target = relative(root, resolve(root, dirname(file), spec)).split(sep).join("/");
        found.push({ target, line: i + 1 });
      }
    });
  return found;
}

/** Each cycle once, as the files that close it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

/** The problems of the tree at `root`. */
export function checkLayers(root: string): Problem[] {
  const files = ["shared", "functions", "local", "scripts", "bench", "test"].flatMap((f) => sourceFiles(root, f));
  const problems: Problem[] = [];
  const graph = new Map<string, string[]>();
  /** Imports between two rooms of one floor, the first seen of each direction: `from>to` → where. */
  const sideways = new Map<string, { file: string; line: number }>();
  for (const file of files) {
    const from = floorOf(file);
    const edges: string[] = [];
    for (const { target, line } of importsOf(root, file)) {
      if (!files.includes(target)) continue;
      edges.push(target);
      const to = floorOf(target);
      if (from === "tool" || to === undefined || from === undefined) continue;
      if (to === "tool") problems.push({ file, line, message: `imports ${target}: nothing outside scripts/, bench/ and test/ may import them` });
      else if (to > from) problems.push({ file, line, message: `imports ${target} from the ${FLOORS[to]!.name} floor, above its own (${FLOORS[from]!.name})` });
      else if (to === from && roomOf(file) !== roomOf(target)) {
        const way = `${roomOf(file)}>${roomOf(target)}`;
        if (!sideways.has(way)) sideways.set(way, { file, line });
      }
    }
    graph.set(file, edges);
  }
  // Within a floor, rooms lean one way: two rooms importing each other leave no order to read them in.
  for (const [way, at] of sideways) {
    const [from, to] = way.split(">") as [string, string];
    const back = sideways.get(`${to}>${from}`);
    if (back && from < to) {
      problems.push({ file: at.file, line: at.line, message: `${from} and ${to} import each other (also ${back.file}:${back.line}): within a floor, one room leans on the other, never both ways` });
    }
  }
  for (const cycle of cycles(graph)) problems.push({ file: cycle[0]!, line: 0, message: `import cycle: ${cycle.join(" -> ")}` });
  const readers = files.filter((f) => f.startsWith("shared/") && readFileSync(join(root, f), "utf8").includes("process.env"));
  if (readers.length > ENV_READERS_ALLOWED) {
    for (const file of readers) problems.push({ file, line: 0, message: `reads process.env: ${readers.length} files under shared/ do, at most ${ENV_READERS_ALLOWED} may (shared/env.ts is the reader)` });
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = checkLayers(resolve(dirname(fileURLToPath(import.meta.url)), ".."));
  for (const p of problems) process.stderr.write(`${p.file}${p.line ? `:${p.line}` : ""}: ${p.message}\n`);
  if (problems.length > 0) {
    process.stderr.write(`\n${problems.length} layering problem(s). The floors are in scripts/check-layers.ts.\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write("layers: every import runs down, no cycles, one reader of process.env under shared/\n");
  }
}
