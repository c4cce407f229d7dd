import { configPath, loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import type { CsipClient } from "../csip/client.ts";
import type { Logger } from "../log.ts";
import type { Deliver } from "../notify/deliver.ts";
import type { StateStore } from "../state/store.ts";
import { remainingFromContext } from "./deadline.ts";
import type { RunDeps } from "./policy-run.ts";
import { csipClientFor, runDeps } from "./runtime.ts";

export interface Booted {
  config: Config;
  csip: CsipClient;
}

/**
 * Config and client, built on the first invocation and kept across warm ones (SCF reuses the
 * process). A failed boot is not kept: the next invocation tries again.
 */
export function containerBoot(connect: (config: Config) => CsipClient = csipClientFor): () => Promise<Booted> {
  const booted = new Map<string, Promise<Booted>>();
  return () => {
    const file = configPath(undefined);
    const key = `${file}|${process.env.CSIP_ENDPOINT ?? ""}`;
    let pending = booted.get(key);
    if (!pending) {
      pending = loadConfig(file).then(({ config }) => ({ config, csip: connect(config) }));
      pending.catch(() => booted.delete(key));
      booted.set(key, pending);
    }
    return pending;
  };
}

/** What a handler may be given instead of its defaults (the CLI's `invoke`, tests). */
export interface HandlerOptions {
  /** The CSIP client for a config; by default from the environment (credentials, CSIP_ENDPOINT). */
  connect?: (config: Config) => CsipClient;
  deliver?: Deliver;
  logger?: Logger;
  store?: StateStore;
  /** False: return a failed summary instead of throwing (the CLI's `invoke` prints it). */
  throwOnFailure?: boolean;
}

/** The deps of one invocation: the time SCF says is left, and whatever the options replace. */
export function invocationDeps(config: Config, csip: CsipClient, context: unknown, options: HandlerOptions): RunDeps {
  return runDeps(config, csip, {
    remainingMs: remainingFromContext(context),
    ...(options.deliver ? { deliver: options.deliver } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.store ? { store: options.store } : {}),
  });
}
