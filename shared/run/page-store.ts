import type { Clock } from "../clock.ts";
import { configPath } from "../config/read.ts";
import type { Environment } from "../env.ts";
import type { StateStore } from "../state/store.ts";
import { readPolicyFile, stateStoreFor, type BootOptions } from "./services.ts";

/**
 * The state store the results-page function reads pages from: the one the policy file and the environment
 * choose for every function (shared/run/services.ts `stateStoreFor`). A module of its own, which the page
 * function imports at its first invocation (shared/run/serve-page.ts), so that its bundle's import builds
 * no schema of the policy file.
 */
export async function pageStore(env: Environment, options: BootOptions, warn: (message: string) => void, clock: Clock): Promise<StateStore & { getObject?(key: string): Promise<string | undefined> }> {
  const config = await readPolicyFile(configPath(options.configPath, env), env);
  return stateStoreFor(config, env, { warn, clock }).store;
}
