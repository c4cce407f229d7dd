import type { Config } from "../config/schema.ts";
import { createCsipClient, type CsipClient } from "../csip/client.ts";
import { requireCredentials, type Credentials } from "../csip/credentials.ts";
import { InventoryCache } from "../assets/inventory.ts";
import { createLogger, type Logger } from "../log.ts";
import { networkDelivery, type Deliver } from "../notify/deliver.ts";
import { allowLocalWebhooks } from "../notify/url-policy.ts";
import type { RunDeps } from "./scheduled-scan.ts";

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
}

/** The client for this config: credentials and CSIP_ENDPOINT from the environment unless given. */
export function csipClientFor(config: Config, options: RuntimeOptions = {}): CsipClient {
  const env = options.env ?? process.env;
  return createCsipClient({
    credentials: options.credentials ?? requireCredentials(env),
    region: regionOf(config, env),
    endpoint: options.endpoint ?? env.CSIP_ENDPOINT,
    intl: config.intl,
  });
}

/** Everything one run needs. The inventory cache is new for each run: the estate changes between runs. */
export function runDeps(csip: CsipClient, options: RuntimeOptions = {}): RunDeps {
  const logger = options.logger ?? createLogger();
  if (allowLocalWebhooks(options.env ?? process.env)) {
    logger.warn("CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1: webhooks may use http:// and internal addresses; meant for local mode and tests only");
  }
  return {
    csip,
    inventory: new InventoryCache(csip),
    deliver: options.deliver ?? networkDelivery(),
    logger,
    now: () => new Date(),
  };
}
