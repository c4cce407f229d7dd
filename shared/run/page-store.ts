import type { Clock } from "../clock.ts";
import { configPath, readConfigText } from "../config/read.ts";
import type { CredentialSource } from "../csip/credentials.ts";
import type { Environment } from "../env.ts";
import type { Logger } from "../log.ts";
import type { StateStore } from "../state/store.ts";
import { noteColdStart } from "./cold-start.ts";
import { stateStoreFor, type BootOptions } from "./services.ts";

/**
 * The state store the results-page function reads pages from: the one the policy file and the environment
 * choose for every function (shared/run/services.ts `stateStoreFor`), signed with the keys `credentials`
 * reads. Of the policy file it reads only where the state is and how to reach it (shared/config/load.ts
 * `parseStoreSettings`): the deploy gives this public function none of the variables the rest of the file
 * names (webhook addresses and secrets, the CDN key), and it must start without them. A module of its own,
 * which the page function imports at its first invocation (shared/run/serve-page.ts), so that its bundle's
 * import builds no schema of the policy file. With a cold start's facts, they are logged and kept as the
 * other functions keep theirs (shared/run/cold-start.ts).
 */
export async function pageStore(
  env: Environment,
  options: BootOptions,
  services: { logger: Logger; clock: Clock; credentials: CredentialSource },
): Promise<StateStore & { getObject?(key: string): Promise<string | undefined> }> {
  const file = configPath(options.configPath, env);
  const text = await readConfigText(file);
  const { parseStoreSettings } = await import("../config/load.ts");
  const settings = parseStoreSettings(text, file, env);
  const { logger, clock, credentials } = services;
  const store = options.store ?? stateStoreFor(settings, env, { warn: (message) => logger.warn(message), clock, credentials }).store;
  if (options.coldStart) await noteColdStart({ logger, store, config: settings }, options.coldStart);
  return store;
}
