/**
 * The one reader of the process environment under `shared/`. Everything else is handed an
 * `Environment`, so what a function reads from outside is listed here and nowhere else.
 */

/** The variables csip-scan reads, as typed settings. */
export interface Environment {
  /** CSIP_SCAN_CONFIG: the policy file. */
  configPath: string | undefined;
  /** TENCENTCLOUD_SECRETID, TENCENTCLOUD_SECRETKEY, TENCENTCLOUD_SESSIONTOKEN: SCF sets them from the function's role. */
  secretId: string | undefined;
  secretKey: string | undefined;
  sessionToken: string | undefined;
  /** TENCENTCLOUD_REGION: the region when the config names none. */
  region: string | undefined;
  /** CSIP_ENDPOINT: a full URL to send CSIP calls to instead of the official endpoint (the emulator). */
  csipEndpoint: string | undefined;
  /** CSIP_SCAN_STATE_BUCKET: the COS bucket of the state store (`NAME-APPID`); the deploy sets it. */
  stateBucket: string | undefined;
  /** CSIP_SCAN_STATE_REGION: the state bucket's region, where it was made; the deploy sets it. */
  stateRegion: string | undefined;
  /** CSIP_SCAN_STATE_PREFIX: the deployment's folder in the state bucket (`state/dev-ap-guangzhou/`); the deploy sets it. */
  statePrefix: string | undefined;
  /** CSIP_SCAN_DEPLOYMENT: the deployment the functions belong to (`dev-ap-guangzhou`), in its task names; the deploy sets it. */
  deployment: string | undefined;
  /** CSIP_SCAN_COS_ENDPOINT: a URL to send COS requests to instead of the bucket's host (the COS stand-in). */
  cosEndpoint: string | undefined;
  /**
   * CSIP_SCAN_PAGE_URL: where the results pages are served, the results-page function's URL (the deploy
   * sets it) or a gateway a person put in front of it; the messages' links start with it.
   */
  pageUrl: string | undefined;
  /** CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1: http:// and internal webhook addresses, for local mode and tests. */
  allowLocalWebhooks: boolean;
  /** CSIP_SCAN_LOG_LEVEL: debug, info, warn, error or silent (shared/log.ts). */
  logLevel: string | undefined;
  /** CSIP_SCAN_MEMORY_MB: the function's memory, which the deploy names (SCF documents no variable for it). */
  memoryMb: number | undefined;
  /** NODE_OPTIONS: the node flags the deploy gives each function for its memory (shared/config/heap-limits.ts). */
  nodeOptions: string | undefined;
  /** Every variable, for `${NAME}` in the policy file. */
  variables: Readonly<Record<string, string | undefined>>;
}

/**
 * Values of the policy file come from the environment as text (`maxAssetsPerTask: ${MAX}`): the
 * schema reads the text of a number as that number, and `true`/`false` as booleans.
 */
export function numberFromText(value: unknown): unknown {
  return typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
}

export function booleanFromText(value: unknown): unknown {
  return value === "true" ? true : value === "false" ? false : value;
}

const set = (value: string | undefined): string | undefined => (value === undefined || value === "" ? undefined : value);

/** Reads the environment once; pass a plain record to read another (tests, the CLI). */
export function readEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): Environment {
  return {
    configPath: set(env.CSIP_SCAN_CONFIG),
    secretId: set(env.TENCENTCLOUD_SECRETID),
    secretKey: set(env.TENCENTCLOUD_SECRETKEY),
    sessionToken: set(env.TENCENTCLOUD_SESSIONTOKEN),
    region: set(env.TENCENTCLOUD_REGION),
    csipEndpoint: set(env.CSIP_ENDPOINT),
    stateBucket: set(env.CSIP_SCAN_STATE_BUCKET),
    stateRegion: set(env.CSIP_SCAN_STATE_REGION),
    statePrefix: set(env.CSIP_SCAN_STATE_PREFIX),
    deployment: set(env.CSIP_SCAN_DEPLOYMENT),
    cosEndpoint: set(env.CSIP_SCAN_COS_ENDPOINT),
    pageUrl: set(env.CSIP_SCAN_PAGE_URL),
    allowLocalWebhooks: env.CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS === "1",
    logLevel: set(env.CSIP_SCAN_LOG_LEVEL),
    memoryMb: /^\d+$/.test(env.CSIP_SCAN_MEMORY_MB ?? "") ? Number(env.CSIP_SCAN_MEMORY_MB) : undefined,
    nodeOptions: set(env.NODE_OPTIONS),
    variables: { ...env },
  };
}
