import type { BootOptions } from "../shared/run/services.ts";

/** What a handler may be given instead of its defaults (the CLI's `invoke`, tests). */
export interface HandlerOptions extends BootOptions {
  /** False: return a failed summary instead of throwing (the CLI's `invoke` prints it). */
  throwOnFailure?: boolean;
}

/** An SCF entry point: the event and the context SCF passes. */
export type Handler = (event: unknown, context?: unknown) => Promise<{ ok: boolean }>;
