import type { FunctionUrlAnswer } from "../shared/events/function-url.ts";
import type { BootOptions } from "../shared/run/services.ts";

/** What a handler may be given instead of its defaults (the CLI's `invoke`, tests). */
export interface HandlerOptions extends BootOptions {
  /** False: return a failed summary instead of throwing (the CLI's `invoke` prints it). */
  throwOnFailure?: boolean;
}

/**
 * An SCF entry point: the event and the context SCF passes. Event functions return their summary; the one
 * behind a Function URL returns the HTTP answer SCF turns it into.
 */
export type Handler = (event: unknown, context?: unknown) => Promise<{ ok: boolean } | FunctionUrlAnswer>;
