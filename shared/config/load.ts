import { LineCounter, isMap, isScalar, parseDocument, type Document, type Node } from "yaml";
import type { z } from "zod";
import type { Environment } from "../env.ts";
import { ConfigError, type ConfigProblem } from "../errors.ts";
import { registerSecret, registerUrlSecrets } from "../secrets.ts";
import { crossCheck } from "./checks.ts";
import { readConfigText } from "./read.ts";
import { ConfigSchema, MAX_CONFIG_BYTES, STORE_KEYS, StoreSettingsSchema, type Config, type StoreSettings } from "./schema.ts";

export { MAX_CONFIG_BYTES };
export { configPath, DEFAULT_CONFIG_PATH } from "./read.ts";

export interface LoadedConfig {
  /** The path as given, used in messages. */
  file: string;
  /** The file as written, before `${NAME}` substitution. */
  text: string;
  config: Config;
}

export type KeyPath = readonly (string | number)[];

/** What reading a policy file takes from the environment: `${NAME}` values, and whether local webhooks are allowed. */
export type ConfigEnvironment = Pick<Environment, "variables" | "allowLocalWebhooks">;

/** Reads and validates a policy file (YAML or JSON). Throws ConfigError listing every problem. */
export async function loadConfig(file: string, env: ConfigEnvironment): Promise<LoadedConfig> {
  const text = await readConfigText(file);
  return { file, text, config: parseConfig(text, file, env) };
}

/** Formats a key path as people read it: `policies[0].schedule`. */
export function formatKeyPath(path: KeyPath): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[\w-]+$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

/**
 * Validates the text of a policy file (YAML, or JSON, which is YAML too), locating every problem by line
 * and column. Any text gives either a Config or a ConfigError,
 * never another exception.
 */
export function parseConfig(text: string, file: string, env: ConfigEnvironment): Config {
  const data = parseSections(text, file, env, ConfigSchema, (substituted) => crossCheck(substituted, env.allowLocalWebhooks));
  for (const notifier of Object.values(data.notifiers)) {
    registerUrlSecrets(notifier.url);
    registerSecret(notifier.secret);
  }
  registerSecret(data.results.page.cdnAuthKey);
  return data;
}

/**
 * Validates only the keys of a policy file that say where the state store is and how to reach it
 * (STORE_KEYS), as parseConfig would: the results-page function reads no more, so a `${NAME}` elsewhere
 * in the file (a webhook's address, the CDN key) need not be set where it runs.
 */
export function parseStoreSettings(text: string, file: string, env: ConfigEnvironment): StoreSettings {
  return parseSections(text, file, env, StoreSettingsSchema, () => [], STORE_KEYS);
}

/** Parses `text`, substitutes `${NAME}`s, validates with `schema` (only the top-level `keys`, when given). */
function parseSections<T>(
  text: string,
  file: string,
  env: ConfigEnvironment,
  schema: z.ZodType<T>,
  check: (substituted: unknown) => { path: KeyPath; message: string }[],
  keys?: readonly string[],
): T {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_CONFIG_BYTES) {
    throw new ConfigError([{ file, line: 0, column: 0, path: "", message: `is ${bytes} bytes; a policy file may hold at most ${MAX_CONFIG_BYTES} (256 KB)` }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number, path: string, message: string): ConfigProblem => {
    const pos = lines.linePos(offset);
    return { file, line: pos.line, column: pos.col, path, message };
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => at(e.pos[0], "", `not valid YAML: ${/call stack/i.test(e.message) ? "nested too deeply" : firstLine(e.message)}`)));
  }
  const locate = (path: KeyPath, message: string, key?: string): ConfigProblem => {
    const offset = offsetOf(doc, path, key);
    return at(offset, formatKeyPath(key === undefined ? path : [...path, key]), message);
  };

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new ConfigError([at(0, "", `cannot be read: ${firstLine((error as Error).message)}`)]);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError([at(0, "", "must be a mapping with version, policies and the other keys")]);
  }
  if (keys) raw = Object.fromEntries(Object.entries(raw).filter(([key]) => keys.includes(key)));

  // Every stage reports what it finds and the next runs on whatever parsed, so that all the problems
  // of a file come out in one pass: a missing variable, a wrong value, an unknown name, a bad schedule.
  const problems: ConfigProblem[] = [];
  const unset = new Set<string>();
  const substituted = substituteEnv(
    raw,
    [],
    env.variables,
    (path, name) => {
      unset.add(formatKeyPath(path));
      problems.push(locate(path, `environment variable ${name} is not set`));
    },
    // What the schema would not see (objects drop `__proto__` silently), or would let through.
    (path, message, key) => problems.push(locate(path, message, key)),
  );
  const parsed = schema.safeParse(substituted, { reportInput: true });
  const found = [
    ...(parsed.success ? [] : parsed.error.issues.flatMap((issue) => issueProblems(issue, locate))),
    ...check(substituted).map((problem) => locate(problem.path, problem.message)),
  ];
  // An unset variable left an empty value behind: its own message says more than "must not be empty".
  problems.push(...found.filter((problem) => !unset.has(problem.path)));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(sortProblems(problems));
  return parsed.data;
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Where the node at `path` (or the key `key` inside it) starts in the text; the nearest parent if absent. */
function offsetOf(doc: Document, path: KeyPath, key?: string): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (node && typeof node === "object" && "range" in node) {
      const n = node as Node;
      if (key !== undefined && depth === path.length && isMap(n)) {
        const pair = n.items.find((p) => isScalar(p.key) && p.key.value === key);
        if (pair && isScalar(pair.key) && pair.key.range) return pair.key.range[0];
      }
      if (n.range) return n.range[0];
    }
  }
  return 0;
}

/**
 * Characters a person cannot see, or that turn the text after them around (zero-width, bidi controls,
 * byte order mark, control characters but tab and line breaks): a name or an ID holding one reads as
 * something it is not, in the file and in every message that shows it.
 */
const HIDDEN_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/;

const codePoint = (c: string): string => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

/** Replaces `${NAME}` (or `${NAME:-default}`) in every string with the environment's value; reports each missing variable. */
function substituteEnv(
  value: unknown,
  path: (string | number)[],
  env: ConfigEnvironment["variables"],
  missing: (path: KeyPath, name: string) => void,
  refused: (path: KeyPath, message: string, key?: string) => void,
): unknown {
  if (typeof value === "string") {
    const hidden = HIDDEN_CHARACTER.exec(value);
    if (hidden) refused(path, `contains ${codePoint(hidden[0])}, an invisible or direction-changing character`);
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
      const found = env[name];
      if (found !== undefined && found !== "") return found;
      if (fallback !== undefined) return fallback;
      missing(path, name);
      return "";
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, [...path, i], env, missing, refused));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "__proto__") refused(path, `"${k}" is not a usable key`, k);
      const hiddenInKey = HIDDEN_CHARACTER.exec(k);
      if (hiddenInKey) refused(path, `the key contains ${codePoint(hiddenInKey[0])}, an invisible or direction-changing character`, k);
      // Defined, not assigned: `out["__proto__"] = v` would replace the prototype, and the schema would
      // see v's keys as if they were written here.
      Object.defineProperty(out, k, { value: substituteEnv(v, [...path, k], env, missing, refused), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

type Locate = (path: KeyPath, message: string, key?: string) => ConfigProblem;

function issueProblems(issue: z.core.$ZodIssue, locate: Locate): ConfigProblem[] {
  const path = issue.path.filter((k): k is string | number => typeof k !== "symbol");
  switch (issue.code) {
    case "unrecognized_keys":
      // `__proto__` has a message of its own (substituteEnv).
      return issue.keys.filter((key) => key !== "__proto__").map((key) => locate(path, `unknown key "${key}"`, key));
    case "invalid_type":
      return [locate(path, issue.input === undefined ? "is required" : `must be ${article(issue.expected)}`)];
    case "invalid_value":
      return [
        locate(
          path,
          issue.values.length === 1
            ? `must be ${JSON.stringify(issue.values[0])}`
            : `${JSON.stringify(issue.input)} is not one of ${issue.values.join(", ")}`,
        ),
      ];
    case "too_small":
      return [
        locate(
          path,
          issue.origin === "array"
            ? `must list at least ${issue.minimum} item${issue.minimum === 1 ? "" : "s"}`
            : issue.origin === "string"
              ? "must not be empty"
              : `must be at least ${issue.minimum}`,
        ),
      ];
    case "too_big":
      return [locate(path, `must be at most ${issue.maximum}`)];
    case "invalid_union":
      return [locate(path, "must be a string or a list of strings")];
    case "invalid_key":
      return [locate(path.slice(0, -1), `${JSON.stringify(path[path.length - 1])} ${issue.issues[0]?.message ?? "is not a usable name"}`, String(path[path.length - 1]))];
    default:
      return [locate(path, issue.message)];
  }
}

function article(type: string): string {
  const word = type === "record" || type === "object" ? "mapping" : type === "array" ? "list" : type;
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}
