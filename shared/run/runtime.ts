import { InventoryCache } from "../assets/inventory.ts";
import type { Config } from "../config/schema.ts";
import { createCsipClient, type CsipClient } from "../csip/client.ts";
import { requireCredentials, type Credentials } from "../csip/credentials.ts";
import { sharedRateLimiter } from "../csip/rate-limiter.ts";
import { resilientClient } from "../csip/resilient-client.ts";
import { createLogger, type Logger } from "../log.ts";
import { networkDelivery, type Deliver } from "../notify/deliver.ts";
import { allowLocalWebhooks } from "../notify/url-policy.ts";
import { FileStateStore, type StateStore } from "../state/store.ts";
import { deadlineIn } from "./deadline.ts";
import type { RunDeps } from "./policy-run.ts";

/** The region of API calls: the config's, else TENCENTCLOUD_REGION, else ap-guangzhou. */
export function regionOf(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  return config.region ?? env.TENCENTCLOUD_REGION ?? "ap-guangzhou";
}

export interface RuntimeOptions {
  env?: NodeJS.ProcessEnv;
  credentials?: Credentials;
  endpoint?: string;
  logger?: Logger;
  deliver?: Deliver;
  store?: StateStore;
  /** What the function has left (SCF's context); else the config's `timeouts.runSeconds`. */
  remainingMs?: number | undefined;
  sleep?: (ms: number) => Promise<void>;
}

/** The SDK client for this config: credentials and CSIP_ENDPOINT from the environment unless given. */
export function csipClientFor(config: Config, options: RuntimeOptions = {}): CsipClient {
  const env = options.env ?? process.env;
  return createCsipClient({
    credentials: options.credentials ?? requireCredentials(env),
    region: regionOf(config, env),
    endpoint: options.endpoint ?? env.CSIP_ENDPOINT,
    intl: config.intl,
    timeoutSeconds: config.timeouts.requestSeconds,
  });
}

const stores = new Map<string, FileStateStore>();

/** One store per folder in this process, so that its locks and memory fallback are shared. */
export function stateStoreFor(config: Config, logger: Logger): StateStore {
  let store = stores.get(config.state.path);
  if (!store) {
    store = new FileStateStore(config.state.path, (message) => logger.warn(message));
    stores.set(config.state.path, store);
  }
  return store;
}

/**
 * Everything one run needs. The client gets the process-wide rate limiter and the run's deadline;
 * the inventory cache is new for each run, since the estate changes between runs.
 */
export function runDeps(config: Config, sdk: CsipClient, options: RuntimeOptions = {}): RunDeps {
  const logger = options.logger ?? createLogger();
  const allowLocal = allowLocalWebhooks(options.env ?? process.env);
  if (allowLocal) {
    logger.warn("CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1: webhooks may use http:// and internal addresses; meant for local mode and tests only");
  }
  const deadline = deadlineIn(options.remainingMs ?? config.timeouts.runSeconds * 1000, config.timeouts.reserveSeconds * 1000);
  const csip = resilientClient(sdk, {
    limiter: sharedRateLimiter(config.rateLimit),
    account: sdk.account ?? "default",
    retry: config.retry,
    deadline,
    onRetry: (action, error, delayMs, attempt) => logger.debug({ action, code: error.code, requestId: error.requestId, delayMs, attempt }, "retrying"),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  });
  return {
    csip,
    inventory: new InventoryCache(csip),
    deliver: options.deliver ?? networkDelivery({ allowLocal, deadline }),
    logger,
    store: options.store ?? stateStoreFor(config, logger),
    deadline,
    retry: config.retry,
    requestTimeoutMs: config.timeouts.requestSeconds * 1000,
    now: () => new Date(),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  };
}
