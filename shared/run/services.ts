import { join } from "node:path";
import { deadlineIn, systemClock, type Clock, type Deadline } from "../clock.ts";
import { InventoryCache, pagesWithin } from "../assets/inventory.ts";
import { ASSET_KINDS } from "../assets/kinds.ts";
import { configPath, readConfigText } from "../config/read.ts";
import { DEFAULT_STATE_PATH, DEFAULT_STATE_PREFIX, durationMs, type Config, type StoreSettings } from "../config/schema.ts";
import type { CsipAction } from "../csip/actions.ts";
import { createCsipClient, type CsipClient, type RequestOf, type ResponseOf } from "../csip/client.ts";
import { credentialsReadFrom, type CredentialSource } from "../csip/credentials.ts";
import { tellFilterReadings, type ToldReadings } from "../csip/filter-readings.ts";
import { RateLimiter } from "../csip/rate-limiter.ts";
import { resilientClient } from "../csip/resilient-client.ts";
import { readEnvironment, type Environment } from "../env.ts";
import { StateStoreError } from "../errors.ts";
import { storedReadings } from "./account-readings.ts";
import { noteColdStart, type ColdStart } from "./cold-start.ts";
import { roleKeysWatch } from "./role-keys.ts";
import { createLogger, type Logger } from "../log.ts";
import type { Deliver } from "../notify/deliver.ts";
import { pageLinkerFor } from "../results/page-link.ts";
import { cosPagePublisher, type PagePublisher } from "../results/publish.ts";
import type { RetryPolicy } from "../retry.ts";
import { CosStateStore } from "../state/cos-store.ts";
import { MemoryStateStore } from "../state/memory-store.ts";
import { FileStateStore, type StateStore } from "../state/store.ts";

/**
 * Wiring, in two lifetimes. `Services` live as long as the process (SCF reuses a warm one): the SDK
 * client, the rate limiter every run shares, the state store, the logger. A `RunContext` lives one
 * invocation: its deadline, a client bound to that deadline, and an inventory read afresh. The keys
 * are not kept: both clients sign with `credentials`, read again at each invocation.
 */
export interface Services {
  config: Config;
  env: Environment;
  /** The keys CSIP and COS calls are signed with: read at each invocation, and again when refused. */
  credentials: CredentialSource;
  /** The official SDK's csip client, unlimited: runs use `RunContext.csip`. */
  sdk: CsipClient;
  limiter: RateLimiter;
  store: StateStore;
  /**
   * Where the previous version kept this deployment's state (shared/run/legacy-state.ts): the store
   * without the deployment's folder. Only for a deployment whose state has a folder of its own.
   */
  legacyStore?: StateStore;
  /** What every summary says of the store: that it forgets (memory), empty otherwise. */
  storeWarnings: readonly string[];
  logger: Logger;
  clock: Clock;
  /** Delivery to notifiers, bounded by a run's deadline. */
  deliverWithin(deadline: Deadline): Deliver;
  /** Where each policy's results page goes; none, no page. */
  pages?: PagePublisher;
  /** Told of each inventory page read and each task created (see Progress). */
  progress?: (p: Progress) => void;
  /** What `csip-scan doctor` kept of this account's readings, read at each invocation: each run's client is told it. */
  toldReadings?: ToldReadings | undefined;
  /** How much of a run's record may wait in its head before it becomes a page (shared/state/paged-record.ts); tests and the bench. */
  recordPageBytes?: number;
}

/**
 * How far a run's long work has got, for a person watching (the CLI's progress line on stderr): the
 * inventory walk's pages and assets so far, and the scan tasks created so far.
 */
export interface Progress {
  step: "inventory" | "tasks";
  /** List pages read, and the assets on them. */
  pages: number;
  assets: number;
  tasks: number;
}

/** What a caller may give instead of the defaults (the CLI's local mode, tests). */
export interface ServiceOverrides {
  sdk?: CsipClient;
  /** Where the keys come from; else the environment the services are built with. */
  credentials?: CredentialSource;
  logger?: Logger;
  store?: StateStore;
  /** Where the previous version kept the deployment's state; with `store`, none unless given. */
  legacyStore?: StateStore;
  deliver?: Deliver;
  clock?: Clock;
  pages?: PagePublisher;
  /** Told of each inventory page read and each task created (see Progress). */
  progress?: (p: Progress) => void;
  /** How much of a run's record may wait in its head before it becomes a page; else RECORD_PAGE_BYTES. */
  recordPageBytes?: number;
}

/** The region of API calls: the config's, else TENCENTCLOUD_REGION, else ap-guangzhou. */
export function regionOf(config: Pick<Config, "region">, env: Pick<Environment, "region">): string {
  return config.region ?? env.region ?? "ap-guangzhou";
}

/**
 * The SDK client for this config: CSIP_ENDPOINT from the environment, and its keys (read now, so that
 * missing ones are a CredentialsError before any work), re-read when CSIP refuses them.
 */
export function sdkClientFor(config: Config, env: Environment, credentials: CredentialSource = credentialsReadFrom(() => env)): CsipClient {
  credentials.current();
  return createCsipClient({
    credentials,
    region: regionOf(config, env),
    endpoint: env.csipEndpoint,
    intl: config.intl,
    timeoutSeconds: config.timeouts.requestSeconds,
  });
}

/** The warning every summary carries while `state: { memory: true }`. */
export const MEMORY_STORE_WARNING =
  "state: { memory: true } remembers nothing across invocations or instances: a run's results may be told twice and reminders start over; use the COS store";

/** What `validate` and every summary say of the configured store: that memory forgets. */
export function storeWarnings(config: Pick<Config, "state">): string[] {
  return config.state.memory ? [MEMORY_STORE_WARNING] : [];
}

/**
 * The state store the config and environment choose: `state.memory`, `state.path`, `state.cos`; with
 * none of them, COS when the environment names a bucket (CSIP_SCAN_STATE_BUCKET, set by the deploy),
 * else the folder `.csip-scan`. Each deployment keeps its state in a folder of its own: on COS where the
 * deploy says (CSIP_SCAN_STATE_REGION, CSIP_SCAN_STATE_PREFIX), in a state folder (a CFS mount two
 * stages may share) the subfolder the deployment names (CSIP_SCAN_DEPLOYMENT).
 */
export function stateStoreFor(
  config: StoreSettings,
  env: Environment,
  options: { warn: (message: string) => void; clock?: Clock; credentials?: CredentialSource },
): { store: StateStore; warnings: string[]; legacy?: StateStore } {
  const { state } = config;
  if (state.memory) return { store: new MemoryStateStore(options.warn), warnings: storeWarnings(config) };
  const bucket = state.path === undefined ? (state.cos?.bucket ?? env.stateBucket) : undefined;
  if (bucket === undefined) {
    if (state.cos) throw new StateStoreError("state.cos names no bucket: set state.cos.bucket or CSIP_SCAN_STATE_BUCKET (the deploy sets it)");
    // `state.path` (else `.csip-scan`), and in it the deployment's own subfolder, when the deploy named one.
    const top = state.path ?? DEFAULT_STATE_PATH;
    const folder = env.deployment ? join(top, env.deployment) : top;
    // Leases judged and waited for by the run's clock, as on COS.
    const { clock } = options;
    const files = (dir: string): FileStateStore => new FileStateStore(dir, options.warn, clock?.now, clock ? { sleep: clock.sleep } : {});
    return { store: files(folder), warnings: [], ...(folder !== top ? { legacy: files(top) } : {}) };
  }
  const cos = (prefix: string): CosStateStore =>
    new CosStateStore({
      bucket,
      region: state.cos?.region ?? env.stateRegion ?? env.region ?? regionOf(config, env),
      prefix,
      credentials: options.credentials ?? credentialsReadFrom(() => env),
      endpoint: env.cosEndpoint,
      timeoutMs: config.timeouts.requestSeconds * 1000,
      retry: config.retry,
      warn: options.warn,
      ...(options.clock ? { now: options.clock.now, sleep: options.clock.sleep } : {}),
    });
  // The deployment's own folder, which the deploy names (CSIP_SCAN_STATE_PREFIX), else the file's prefix,
  // where the previous version kept a deployment's state.
  const top = state.cos?.prefix ?? DEFAULT_STATE_PREFIX;
  const prefix = env.statePrefix ?? top;
  return { store: cos(prefix), warnings: [], ...(env.deployment && prefix !== top ? { legacy: cos(top) } : {}) };
}

/**
 * The rate limiter's name for the account the process calls as. One process has one SDK client, so one
 * account (the function's role, or the local keys); the limiter lives as long as the process.
 */
const CALLER_BUDGET = "caller";

/** Builds what lives as long as the process. */
export function createServices(config: Config, env: Environment, overrides: ServiceOverrides = {}): Services {
  const logger = overrides.logger ?? createLogger({ level: env.logLevel });
  if (env.allowLocalWebhooks) {
    logger.warn("CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1: webhooks may use http:// and internal addresses; meant for local mode and tests only");
  }
  const clock = overrides.clock ?? systemClock;
  const deliver = overrides.deliver;
  const credentials = overrides.credentials ?? credentialsReadFrom(() => env);
  const { store, warnings, legacy } = overrides.store
    ? { store: overrides.store, warnings: storeWarnings(config), legacy: overrides.legacyStore }
    : stateStoreFor(config, env, { warn: (message) => logger.warn(message), clock, credentials });
  // On COS, each policy's results page is a private object of the state bucket, linked for `pageLinkValidFor`
  // through the CDN domain, the results-page function (CSIP_SCAN_PAGE_URL) or a presigned URL.
  const pageLinks = { ...config.results.page, pageUrl: env.pageUrl, validForSeconds: durationMs(config.results.pageLinkValidFor) / 1000 };
  const pages = overrides.pages ?? (store instanceof CosStateStore ? cosPagePublisher(store, pageLinkerFor({ ...pageLinks, prefix: store.prefix }, store, clock.now)) : undefined);
  return {
    config,
    env,
    credentials,
    sdk: overrides.sdk ?? sdkClientFor(config, env, credentials),
    limiter: new RateLimiter(config.rateLimit),
    store,
    ...(legacy ? { legacyStore: legacy } : {}),
    storeWarnings: warnings,
    logger,
    clock,
    ...(overrides.progress ? { progress: overrides.progress } : {}),
    ...(overrides.recordPageBytes !== undefined ? { recordPageBytes: overrides.recordPageBytes } : {}),
    // Delivery code (channels, messages, address checks) is imported when a message is sent: most
    // invocations send none, and the bundle's import stays small (bench/cold-start.ts).
    deliverWithin: (deadline) =>
      deliver ??
      (async (name, notifier, report, messageId, parts) => {
        const { networkDelivery } = await import("../notify/deliver.ts");
        return networkDelivery({ allowLocal: env.allowLocalWebhooks, deadline, sleep: clock.sleep, timeZone: config.timezone })(name, notifier, report, messageId, parts);
      }),
    ...(pages ? { pages } : {}),
  };
}

/** What one run needs: the services, and what lives only as long as the invocation. */
export interface RunContext {
  config: Config;
  /** The deployment whose tasks the run makes and reads (CSIP_SCAN_DEPLOYMENT); none in local mode. */
  deployment?: string;
  /** A client that waits for the shared rate limiter and retries what may be retried, within the deadline. */
  csip: CsipClient;
  inventory: InventoryCache;
  deliver: Deliver;
  store: StateStore;
  /** Where the previous version kept the deployment's state (shared/run/legacy-state.ts). */
  legacyStore?: StateStore;
  /** Warnings about the store for the run's summary (shared/run/services.ts MEMORY_STORE_WARNING). */
  storeWarnings: readonly string[];
  logger: Logger;
  clock: Clock;
  deadline: Deadline;
  retry: RetryPolicy;
  requestTimeoutMs: number;
  pages?: PagePublisher;
  /** How much of a run's record may wait in its head before it becomes a page; else RECORD_PAGE_BYTES. */
  recordPageBytes?: number;
}

/**
 * Starts a run: a deadline from what the function has left (SCF's context), else the config's
 * `timeouts.runSeconds`; a client bound to it; an inventory cache of its own, since the estate
 * changes between runs.
 */
export function startRun(services: Services, remainingMs?: number): RunContext {
  const { config, logger, clock } = services;
  const deadline = deadlineIn(remainingMs ?? config.timeouts.runSeconds * 1000, config.timeouts.reserveSeconds * 1000, clock.now);
  const resilient = resilientClient(services.sdk, {
    limiter: services.limiter,
    // One budget for the process's account, whatever keys it holds: the SecretId changes when the role's
    // keys rotate, and a budget keyed on it would start afresh while calls under the old keys still run.
    account: CALLER_BUDGET,
    retry: config.retry,
    deadline,
    sleep: clock.sleep,
    onRetry: (action, error, delayMs, attempt) => logger.debug({ action, code: error.code, requestId: error.requestId, delayMs, attempt }, "retrying"),
    beforeWrite: () => services.store.assertMayAct(),
  });
  const csip = services.progress ? reportingProgress(resilient, services.progress) : resilient;
  if (services.toldReadings) tellFilterReadings(csip, services.toldReadings);
  return {
    config,
    ...(services.env.deployment ? { deployment: services.env.deployment } : {}),
    csip,
    // Each kind's read may take the pages its remaining time can read at the list action's rate.
    inventory: new InventoryCache(csip, undefined, clock.sleep, undefined, () => pagesWithin(deadline.remainingMs(), services.limiter.spacingMs)),
    deliver: services.deliverWithin(deadline),
    store: services.store,
    ...(services.legacyStore ? { legacyStore: services.legacyStore } : {}),
    storeWarnings: services.storeWarnings,
    logger,
    clock,
    deadline,
    retry: config.retry,
    requestTimeoutMs: config.timeouts.requestSeconds * 1000,
    ...(services.pages ? { pages: services.pages } : {}),
    ...(services.recordPageBytes !== undefined ? { recordPageBytes: services.recordPageBytes } : {}),
  };
}

/** What a handler may be given instead of reading the environment (the CLI's `invoke`, tests). */
export interface BootOptions extends ServiceOverrides {
  /**
   * The environment, or how to read it at each invocation; else the process's, read at each invocation
   * (SCF may give a warm instance new role keys there).
   */
  env?: Environment | (() => Environment);
  /** The policy file; else CSIP_SCAN_CONFIG, else the default. */
  configPath?: string;
  /**
   * The facts of a deployed function's cold start (functions/heap-bound.ts): logged, and kept in the state
   * store, once the services have booted (shared/run/cold-start.ts).
   */
  coldStart?: ColdStart;
}

/**
 * The services of a deployed function, built on the first invocation and kept across warm ones
 * (SCF reuses the process), one set per policy file and endpoint. A failed boot is not kept: the
 * next invocation tries again. The keys are read from the environment at each invocation, since a warm
 * instance's role keys expire (2 h by default) and SCF may give it new ones.
 */
export function servicesOnDemand(options: BootOptions = {}): () => Promise<Services> {
  const booted = new Map<string, Promise<Services>>();
  const watchKeys = roleKeysWatch(options.coldStart?.function);
  const environment = (): Environment => (typeof options.env === "function" ? options.env() : options.env) ?? readEnvironment();
  return async () => {
    const env = environment();
    const file = configPath(options.configPath, env);
    const key = `${file}|${env.csipEndpoint ?? ""}`;
    let pending = booted.get(key);
    if (!pending) {
      const { coldStart } = options;
      const credentials = options.credentials ?? credentialsReadFrom(environment);
      pending = readPolicyFile(file, env)
        .then((config) => createServices(config, env, { ...options, credentials }))
        .then(async (services) => {
          if (coldStart) await noteColdStart(services, coldStart);
          return services;
        });
      pending.catch(() => booted.delete(key));
      booted.set(key, pending);
    }
    const services = await pending;
    await watchKeys(services, services.credentials.reread());
    return withAccountReadings(services);
  };
}

/**
 * Services told what `csip-scan doctor` kept of the account (`doctor/readings` in the state store), read
 * afresh: a function at each invocation, a command before it runs, so a new doctor run is followed.
 */
export async function withAccountReadings(services: Services): Promise<Services> {
  services.toldReadings = await storedReadings(services);
  return services;
}

const LIST_ACTIONS: ReadonlySet<string> = new Set(Object.values(ASSET_KINDS).map((k) => k.listAction));

/**
 * A client that tells `progress` of each inventory page answered and each scan task created. It
 * watches the calls rather than the walk, so that any walk through the run's client reports.
 */
function reportingProgress(csip: CsipClient, progress: (p: Progress) => void): CsipClient {
  const so = { step: "inventory" as Progress["step"], pages: 0, assets: 0, tasks: 0 };
  return {
    ...(csip.account !== undefined ? { account: csip.account } : {}),
    async call<A extends CsipAction>(action: A, request: RequestOf<A>): Promise<ResponseOf<A>> {
      const answer = await csip.call(action, request);
      if (LIST_ACTIONS.has(action)) {
        so.pages++;
        so.assets += ((answer as { Data?: unknown[] }).Data ?? []).length;
        progress({ ...so, step: "inventory" });
      } else if (action === "CreateRiskCenterScanTask") {
        so.tasks++;
        progress({ ...so, step: "tasks" });
      }
      return answer;
    },
  };
}

/**
 * The policy file of a deployed function. Its parser, and the YAML library under it, are imported here,
 * when the file is read, not when the bundle is loaded: they were a tenth of the bundle's import time
 * (bench/cold-start.ts), and a warm instance reads the file once.
 */
export async function readPolicyFile(file: string, env: Environment): Promise<Config> {
  const text = await readConfigText(file);
  const { parseConfig } = await import("../config/load.ts");
  return parseConfig(text, file, env);
}
