import { pino, type Logger } from "pino";
import { scrub } from "./secrets.ts";

export type { Logger };

/**
 * JSON lines on stdout (SCF ships stdout to its log service), each with its ISO 8601 UTC `time`, which
 * a person and a log query read alike. Every string in a line goes through `scrub`, so no registered
 * secret is ever written.
 */
export function createLogger(options: { level?: string | undefined; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? "info";
  const destination = options.destination ?? process.stdout;
  return pino(
    { level, base: null, timestamp: pino.stdTimeFunctions.isoTime, hooks: { streamWrite: scrub } },
    destination as pino.DestinationStream,
  );
}

/** A logger that writes nothing, for quiet CLI commands and tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
