import { scrub } from "./secrets.ts";

/**
 * Levels as pino numbers them, so a log query written for pino's lines reads these: SCF's log service
 * gets the same `{"level":30,"time":…,"msg":…}` shape.
 */
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Number.POSITIVE_INFINITY } as const;
export type LogLevel = keyof typeof LEVELS;

type Write = (fieldsOrMessage: Record<string, unknown> | string, message?: string) => void;

/** What the code logs with: a line per call, fields and a message. */
export interface Logger {
  debug: Write;
  info: Write;
  warn: Write;
  error: Write;
}

/** A field value as JSON can hold it: an error by its name and message (its stack stays out of logs). */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message };
  if (typeof value === "bigint") return value.toString();
  return value;
}

/**
 * JSON lines on stdout (SCF ships stdout to its log service), each with its ISO 8601 UTC `time`, which
 * a person and a log query read alike. The whole line goes through `scrub`, so no registered secret is
 * ever written. Ten lines of our own instead of a logging library: the functions log a few lines per
 * run, and the library cost a tenth of the cold start (bench/cold-start.ts).
 */
export function createLogger(options: { level?: string | undefined; destination?: NodeJS.WritableStream } = {}): Logger {
  const threshold = LEVELS[(options.level ?? "info") as LogLevel] ?? LEVELS.info;
  const destination = options.destination ?? process.stdout;
  const at =
    (level: Exclude<LogLevel, "silent">): Write =>
    (fieldsOrMessage, message) => {
      if (LEVELS[level] < threshold) return;
      const fields = typeof fieldsOrMessage === "string" ? {} : fieldsOrMessage;
      const msg = typeof fieldsOrMessage === "string" ? fieldsOrMessage : message;
      const line = JSON.stringify({ level: LEVELS[level], time: new Date().toISOString(), ...fields, ...(msg !== undefined ? { msg } : {}) }, replacer);
      destination.write(`${scrub(line)}\n`);
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A logger that writes nothing, for quiet CLI commands and tests that do not look at logs. */
export function silentLogger(): Logger {
  return createLogger({ level: "silent" });
}
