import { deadlineIn, systemClock, type Clock, type Deadline } from "../clock.ts";
import { InventoryCache } from "../assets/inventory.ts";
import { configPath, loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { createCsipClient, type CsipClient } from "../csip/client.ts";
import { requireCredentials } from "../csip/credentials.ts";
import { RateLimiter } from "../csip/rate-limiter.ts";
import { resilientClient } from "../csip/resilient-client.ts";
import { readEnvironment, type Environment } from "../env.ts";
import { createLogger, type Logger } from "../log.ts";
import type { Deliver } from "../notify/deliver.ts";
import type { RetryPolicy } from "../retry.ts";
import { FileStateStore, type StateStore } from "../state/store.ts";

/**
 * Wiring, in two lifetimes. `Services` live as long as the process (SCF reuses a warm one): the SDK
 * client, the rate limiter every run shares, the state store, the logger. A `RunContext` lives one
 * invocation: its deadline, a client bound to that deadline, and an inventory read afresh.
 */
export interface Services {
  config: Config;
  env: Environment;
  /** The official SDK's csip client, unlimited: runs use `RunContext.csip`. */
  sdk: CsipClient;
  limiter: RateLimiter;
  store: StateStore;
  logger: Logger;
  clock: Clock;
  /** Delivery to notifiers, bounded by a run's deadline. */
  deliverWithin(deadline: Deadline): Deliver;
}

/** What a caller may give instead of the defaults (the CLI's local mode, tests). */
export interface ServiceOverrides {
  sdk?: CsipClient;
  logger?: Logger;
  store?: StateStore;
  deliver?: Deliver;
  clock?: Clock;
}

/** The region of API calls: the config's, else TENCENTCLOUD_REGION, else ap-guangzhou. */
export function regionOf(config: Config, env: Pick<Environment, "region">): string {
  return config.region ?? env.region ?? "ap-guangzhou";
}

/** The SDK client for this config: credentials and CSIP_ENDPOINT from the environment. */
export function sdkClientFor(config: Config, env: Environment): CsipClient {
  return createCsipClient({
    credentials: requireCredentials(env),
    region: regionOf(config, env),
    endpoint: env.csipEndpoint,
    intl: config.intl,
    timeoutSeconds: config.timeouts.requestSeconds,
  });
}

/** Builds what lives as long as the process. */
export function createServices(config: Config, env: Environment, overrides: ServiceOverrides = {}): Services {
  const logger = overrides.logger ?? createLogger({ level: env.logLevel });
  if (env.allowLocalWebhooks) {
    logger.warn("CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1: webhooks may use http:// and internal addresses; meant for local mode and tests only");
  }
  const clock = overrides.clock ?? systemClock;
  const deliver = overrides.deliver;
  return {
    config,
    env,
    sdk: overrides.sdk ?? sdkClientFor(config, env),
    limiter: new RateLimiter(config.rateLimit),
    store: overrides.store ?? new FileStateStore(config.state.path, (message) => logger.warn(message)),
    logger,
    clock,
    // Delivery code (channels, messages, address checks) is imported when a message is sent: most
    // invocations send none, and the bundle's import stays small (bench/cold-start.ts).
    deliverWithin: (deadline) =>
      deliver ??
      (async (name, notifier, report) => {
        const { networkDelivery } = await import("../notify/deliver.ts");
        return networkDelivery({ allowLocal: env.allowLocalWebhooks, deadline, sleep: clock.sleep })(name, notifier, report);
      }),
  };
}

/** What one run needs: the services, and what lives only as long as the invocation. */
export interface RunContext {
  config: Config;
  /** A client that waits for the shared rate limiter and retries what may be retried, within the deadline. */
  csip: CsipClient;
  inventory: InventoryCache;
  deliver: Deliver;
  store: StateStore;
  logger: Logger;
  clock: Clock;
  deadline: Deadline;
  retry: RetryPolicy;
  requestTimeoutMs: number;
}

/**
 * Starts a run: a deadline from what the function has left (SCF's context), else the config's
 * `timeouts.runSeconds`; a client bound to it; an inventory cache of its own, since the estate
 * changes between runs.
 */
export function startRun(services: Services, remainingMs?: number): RunContext {
  const { config, logger, clock } = services;
  const deadline = deadlineIn(remainingMs ?? config.timeouts.runSeconds * 1000, config.timeouts.reserveSeconds * 1000, clock.now);
  const csip = resilientClient(services.sdk, {
    limiter: services.limiter,
    account: services.sdk.account ?? "default",
    retry: config.retry,
    deadline,
    sleep: clock.sleep,
    onRetry: (action, error, delayMs, attempt) => logger.debug({ action, code: error.code, requestId: error.requestId, delayMs, attempt }, "retrying"),
  });
  return {
    config,
    csip,
    inventory: new InventoryCache(csip),
    deliver: services.deliverWithin(deadline),
    store: services.store,
    logger,
    clock,
    deadline,
    retry: config.retry,
    requestTimeoutMs: config.timeouts.requestSeconds * 1000,
  };
}

/** What a handler may be given instead of reading the environment (the CLI's `invoke`, tests). */
export interface BootOptions extends ServiceOverrides {
  /** The environment; read afresh at each invocation when not given. */
  env?: Environment;
  /** The policy file; else CSIP_SCAN_CONFIG, else the default. */
  configPath?: string;
}

/**
 * The services of a deployed function, built on the first invocation and kept across warm ones
 * (SCF reuses the process), one set per policy file and endpoint. A failed boot is not kept: the
 * next invocation tries again.
 */
export function servicesOnDemand(options: BootOptions = {}): () => Promise<Services> {
  const booted = new Map<string, Promise<Services>>();
  return () => {
    const env = options.env ?? readEnvironment();
    const file = configPath(options.configPath, env);
    const key = `${file}|${env.csipEndpoint ?? ""}`;
    let pending = booted.get(key);
    if (!pending) {
      pending = loadConfig(file, env).then(({ config }) => createServices(config, env, options));
      pending.catch(() => booted.delete(key));
      booted.set(key, pending);
    }
    return pending;
  };
}
