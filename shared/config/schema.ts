import * as z from "zod";
import { booleanFromText, numberFromText } from "../env.ts";
import { TRANSPORTS } from "../events/transports/index.ts";

/**
 * The largest policy file read. Parsing takes about 200 times a file's size in memory (measured: a
 * 550 KB file of 3,000 policies and groups took 120 MB), and the functions run in 128 MB: 256 KB holds
 * well over a thousand policies.
 */
export const MAX_CONFIG_BYTES = 256 * 1024;

/** SCF timer trigger names: a letter, then letters, digits, `-` or `_`; at most 60 characters. */
export const TRIGGER_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,59}$/;

export { OWN_TRIGGER_PREFIX } from "./own-names.ts";

/**
 * The policy file, as users write it (`config/scan-policies.yaml`). Every object is strict:
 * an unknown key is an error, because it is usually a typo.
 */

/** CSIP ScanItem values (CreateRiskCenterScanTask, ../shared/reference/csip-2022-11-21-api.json). */
export const SCAN_ITEMS = ["port", "poc", "weakpass", "webcontent", "configrisk", "exposedserver"] as const;

/** Policy `mode` to CSIP TaskMode. */
export const TASK_MODES = { standard: 0, quick: 1, advanced: 2 } as const;

export const NOTIFIER_TYPES = ["webhook", "wecom", "dingtalk", "feishu", "slack"] as const;

/**
 * The only HTTPS hosts each chat robot lives on (the official pages are linked in
 * shared/notify/channels.ts). A robot URL elsewhere is a config error; the generic webhook may use any
 * public address.
 */
export const ROBOT_HOSTS = {
  wecom: ["qyapi.weixin.qq.com"],
  dingtalk: ["oapi.dingtalk.com"],
  feishu: ["open.feishu.cn", "open.larksuite.com"],
  slack: ["hooks.slack.com"],
} as const satisfies Record<Exclude<(typeof NOTIFIER_TYPES)[number], "webhook">, readonly string[]>;
export const NOTIFY_ON = ["unauthorized", "failure", "summary", "results"] as const;
export const UNAUTHORIZED_ACTIONS = ["scan-authorized", "notify-only"] as const;

const name = z.string().min(1);

/** A number or a boolean, also when written as `${NAME}` (the environment gives text). */
const numeric = <T extends z.ZodType>(schema: T) => z.preprocess(numberFromText, schema);
const bool = () => z.preprocess(booleanFromText, z.boolean());

/**
 * The names of notifiers and asset groups: they become keys, so they are plain words (no look-alikes of
 * what every JavaScript object already has, like `__proto__`; lookups use own keys only).
 */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KeyName = z.string().regex(NAME, "must be a name of letters, digits, '.', '_' or '-', a letter or digit first, at most 64 characters");

/** The languages a message and a page are written in. */
export const LANGUAGES = ["zh", "en"] as const;
export type Language = (typeof LANGUAGES)[number];

export const NotifierSchema = z.strictObject({
  type: z.enum(NOTIFIER_TYPES),
  url: z.string().min(1),
  secret: z.string().min(1).optional(),
  language: z.enum(LANGUAGES).default("en"),
});
export type Notifier = z.infer<typeof NotifierSchema>;

/** A tag selector: every key must match; a list of values means any of them. */
export const TagSelectorSchema = z
  .record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1)]))
  .refine((tags) => Object.keys(tags).length > 0, { message: "must name at least one tag" });

/** One entry of a group's `include` or `exclude`: exactly one of `tags`, `assets`, `group`. */
export const SelectorSchema = z
  .strictObject({
    tags: TagSelectorSchema.optional(),
    assets: z.array(z.string().min(1)).min(1).optional(),
    group: name.optional(),
  })
  .refine((s) => [s.tags, s.assets, s.group].filter((v) => v !== undefined).length === 1, {
    message: "give exactly one of tags, assets or group",
  });
export type Selector = z.infer<typeof SelectorSchema>;

export const AssetGroupSchema = z.strictObject({
  include: z.array(SelectorSchema).min(1),
  exclude: z.array(SelectorSchema).default([]),
});
export type AssetGroup = z.infer<typeof AssetGroupSchema>;

const flag = z.union([z.literal(0), z.literal(1)]);

/** A duration such as 90s, 30m, 24h or 7d. */
export const DurationSchema = z.string().regex(/^\d+[smhd]$/, "must be a duration such as 30m, 24h or 7d");

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a duration that DurationSchema accepted. */
export function durationMs(duration: string): number {
  return Number(duration.slice(0, -1)) * UNIT_MS[duration.slice(-1) as keyof typeof UNIT_MS];
}

/** TaskAdvanceCFG exactly as the API spells it. */
export const TaskAdvanceCfgSchema = z.strictObject({
  PortRisk: z
    .array(
      z.strictObject({
        PortSets: z.string(),
        CheckType: z.number().int(),
        Detail: z.string().optional(),
        Enable: flag.optional(),
      }),
    )
    .optional(),
  VulRisk: z.array(z.strictObject({ RiskId: z.string(), Enable: flag })).optional(),
  WeakPwdRisk: z.array(z.strictObject({ CheckItemId: z.number().int(), Enable: flag })).optional(),
  CFGRisk: z.array(z.strictObject({ ItemId: z.string(), Enable: flag, ResourceType: z.string() })).optional(),
});
export type TaskAdvanceCfg = z.infer<typeof TaskAdvanceCfgSchema>;

export const PolicySchema = z.strictObject({
  /** Also the SCF timer trigger's name (checked against TRIGGER_NAME with the other checks across the file). */
  name,
  description: z.string().optional(),
  /** SCF cron, checked with the other checks so that all problems are reported together. */
  schedule: z.string().min(1),
  /** Asset groups to scan (ScanAssetType 1). */
  targets: z.array(name).min(1).optional(),
  /** IPs, domains or URLs typed in by hand (ScanAssetType 3). */
  urls: z.array(z.string().min(1)).min(1).optional(),
  /** Every asset (ScanAssetType 0), or every asset but the groups in `except` (ScanAssetType 2). */
  all: z.literal(true).optional(),
  except: z.array(name).min(1).optional(),
  scanItems: z.array(z.enum(SCAN_ITEMS)).min(1),
  mode: z.enum(Object.keys(TASK_MODES) as [keyof typeof TASK_MODES]).default("standard"),
  notify: z.array(name).default([]),
  /** Why to tell the notifiers: unauthorized assets, a failure, every run (summary), what the scan found (results). */
  notifyOn: z.array(z.enum(NOTIFY_ON)).default(["unauthorized", "failure", "results"]),
  onAssetChange: bool().default(false),
  memberIds: z.array(z.string().min(1)).min(1).optional(),
  maxAssetsPerTask: numeric(z.number().int().min(1).max(10000)).default(200),
  unauthorized: z.enum(UNAUTHORIZED_ACTIONS).default("scan-authorized"),
  /** While the unauthorized assets stay the same, say so again after this long: 30m, 24h, 7d. */
  remindAfter: DurationSchema.default("24h"),
  /** An asset-change scan of the same asset by this policy happens at most once within this time. */
  cooldown: DurationSchema.default("1h"),
  advanced: TaskAdvanceCfgSchema.optional(),
});
export type Policy = z.infer<typeof PolicySchema>;

/** Client-side limit of CSIP calls, per account and action. See shared/csip/rate-limiter.ts. */
export const RateLimitSchema = z.strictObject({
  perSecond: numeric(z.number().int().min(1).max(1000)).default(20),
  /** Extra milliseconds per second of spacing, against jitter between here and the API. */
  marginMs: numeric(z.number().int().min(0).max(1000)).default(20),
});

/** Backoff of retried calls: exponential with full jitter. */
export const RetrySchema = z.strictObject({
  baseMs: numeric(z.number().int().min(1)).default(200),
  capMs: numeric(z.number().int().min(1)).default(5000),
  attempts: numeric(z.number().int().min(1).max(20)).default(5),
});

export const TimeoutsSchema = z.strictObject({
  /** Each API request. */
  requestSeconds: numeric(z.number().min(0.1).max(120)).default(10),
  /** A whole run when nothing says how long it may take (locally; SCF passes its limit). */
  runSeconds: numeric(z.number().min(1).max(86_400)).default(900),
  /** Kept back at the end of a run to report what did not finish. */
  reserveSeconds: numeric(z.number().min(0)).default(10),
});

/** Where the folder store lives when nothing else is said: locally, beside the policy file's working folder. */
export const DEFAULT_STATE_PATH = ".csip-scan";

/** Where in the bucket the COS store's objects go when the file says nothing. */
export const DEFAULT_STATE_PREFIX = "state/";

/** A COS bucket's full name: lower-case letters, digits and -, then `-APPID` (its length: cosBucketNameProblem). */
export const COS_BUCKET_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?-\d+$/;

/** How long COS lets a bucket's default domain be, `BUCKET-APPID.cos.REGION.myqcloud.com`. */
export const COS_DOMAIN_MAX_LENGTH = 60;

/**
 * What is wrong with a bucket's name in a region, by COS's count: the name's length is limited by the
 * region's and the APPID's, since its default domain may have 60 characters at most
 * (https://cloud.tencent.com/document/product/436/13312: `123456789012345678901-1250000000.cos.ap-beijing.myqcloud.com`
 * is 60). Undefined when it fits.
 */
export function cosBucketNameProblem(bucket: string, region: string): string | undefined {
  const domain = `${bucket}.cos.${region}.myqcloud.com`;
  if (domain.length <= COS_DOMAIN_MAX_LENGTH) return undefined;
  return `is too long for ${region}: COS counts a bucket's name in its domain, ${domain}, which has ${domain.length} characters, over COS's ${COS_DOMAIN_MAX_LENGTH}`;
}

/** The state store on COS (shared/state/cos-store.ts): the default on SCF, where the deploy makes the bucket. */
export const CosStateSchema = z.strictObject({
  /** `NAME-APPID`; else CSIP_SCAN_STATE_BUCKET, which the deploy sets to `csip-scan-state-APPID`. */
  bucket: z.string().regex(COS_BUCKET_NAME, "must be NAME-APPID, such as csip-scan-state-1250000000").optional(),
  /** The bucket's region; else the function's (TENCENTCLOUD_REGION), else `region`. */
  region: z.string().regex(/^[a-z]+(-[a-z]+)+$/, "must look like ap-guangzhou").optional(),
  /** Where in the bucket the store's objects go: empty, or folders ending with `/`. */
  prefix: z.string().regex(/^([A-Za-z0-9._-]+\/)*$/, "must be empty or folder names each ending with /, such as state/").default(DEFAULT_STATE_PREFIX),
});

/**
 * Which state store remembers what was created and sent: at most one of `cos`, `path` (a folder; on
 * SCF, a CFS mount) and `memory: true` (nothing shared or kept; a warning in every summary). With
 * none, COS when the environment names a bucket (as the deploy does), else the folder `.csip-scan`.
 */
export const StateSchema = z
  .strictObject({
    cos: CosStateSchema.optional(),
    path: z.string().min(1).optional(),
    memory: z.preprocess(booleanFromText, z.literal(true, "must be true (leave it out for a store that remembers)")).optional(),
  })
  .refine((s) => [s.cos, s.path, s.memory].filter((kind) => kind !== undefined).length <= 1, "choose one store: cos, path or memory");

/** The transports whose triggers serverless.yml can make, each under its own key (`cmq`, `ckafka`). */
const TRIGGER_SETTINGS = Object.fromEntries(
  Object.values(TRANSPORTS).flatMap((t) => ("config" in t ? [[t.config.key, t.config.schema.optional()]] : [])),
) as {
  [K in keyof typeof TRANSPORTS as (typeof TRANSPORTS)[K] extends { config: { key: infer N extends string } } ? N : never]: (typeof TRANSPORTS)[K] extends {
    config: { schema: infer S extends z.ZodType };
  }
    ? z.ZodOptional<S>
    : never;
};

/** How the asset-change function works, and the triggers that fire it (the deploy reads these). */
export const AssetChangeSchema = z.strictObject({
  /** Ask CSIP to sync its inventory when an event names an asset it does not know yet, then look again. */
  syncUnknown: bool().default(true),
  /** How long to keep looking after the sync, at most. */
  syncWaitSeconds: numeric(z.number().min(0).max(600)).default(30),
  ...TRIGGER_SETTINGS,
});
export type AssetChangeSettings = z.infer<typeof AssetChangeSchema>;

/** A CDN domain name: lower-case labels of letters, digits and `-`, at least two, no scheme, port or path. */
const CDN_DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

/**
 * Where the results message links a policy's page: a CDN domain in front of the private state bucket
 * (docs/results.md), its links signed with CDN URL authentication type A, whose key is 6 to 40 letters and
 * digits (https://cloud.tencent.com/document/product/228/41623). Both or neither: a CDN domain without URL
 * authentication would serve every page to anyone who guesses its name.
 */
export const ResultsPageSchema = z
  .strictObject({
    cdnDomain: z.string().regex(CDN_DOMAIN, "must be a domain name such as reports.example.com, without https:// or a path").optional(),
    cdnAuthKey: z.string().regex(/^[A-Za-z0-9]{6,40}$/, "must be 6 to 40 letters and digits, as the CDN's type A key (put it in an environment variable: ${CSIP_SCAN_CDN_KEY})").optional(),
  })
  .refine((p) => (p.cdnDomain === undefined) === (p.cdnAuthKey === undefined), "give cdnDomain and cdnAuthKey together: the CDN must check a type A signature on every page");
export type ResultsPageSettings = z.infer<typeof ResultsPageSchema>;

/** How scan results are followed (the scan-results function, shared/run/scan-results.ts). */
export const ResultsSchema = z.strictObject({
  /** How often the scan-results timer looks at open tasks: minutes (1m-59m) or hours (1h-23h). */
  checkEvery: DurationSchema.refine((d) => everyCron(d) !== undefined, "must be 1m to 59m, or 1h to 23h").default("10m"),
  /** When a run's tasks have not all ended after this long, its results are sent with what is known. */
  giveUpAfter: DurationSchema.default("24h"),
  /** How many of the worst current findings a results message shows. */
  topFindings: numeric(z.number().int().min(0).max(50)).default(5),
  /** How many runs of each policy the results page shows: the history keeps the last ones (shared/results/history.ts). */
  history: numeric(z.number().int().min(1).max(100)).default(30),
  /** How long the results message's link to the policy's page works (docs/results.md, "The results page"). */
  pageLinkValidFor: DurationSchema.default("7d"),
  /** Where the link points: a CDN domain, when the team has one; else the results-page function's URL. */
  page: ResultsPageSchema.prefault({}),
});

/** The SCF cron that fires every `checkEvery`: `0 *\/10 * * * * *` for 10m, `0 0 *\/2 * * * *` for 2h. */
export function everyCron(duration: string): string | undefined {
  const value = Number(duration.slice(0, -1));
  const unit = duration.slice(-1);
  if (unit === "m" && value >= 1 && value <= 59) return `0 */${value} * * * * *`;
  if (unit === "h" && value >= 1 && value <= 23) return `0 0 */${value} * * * *`;
  return undefined;
}

/**
 * The SCF runtime the functions are deployed on. The default is the newest Node.js runtime SCF's
 * CreateFunction reference lists (https://cloud.tencent.com/document/api/583/18586); the bundles target
 * Node 18 (scripts/build.js), so older runtimes are refused. A newer runtime the console offers may be set.
 */
export const DEFAULT_RUNTIME = "Nodejs18.15";
const RuntimeSchema = z
  .string()
  .regex(/^Nodejs(1[89]|[2-9]\d)\.\d+$/, "must be an SCF Node.js runtime of Node 18 or newer, such as Nodejs18.15")
  .default(DEFAULT_RUNTIME);

/** SCF's memory sizes: 64 MB, or 128 MB to 3,072 MB in steps of 128 (https://cloud.tencent.com/document/product/583/11637). */
const MemoryMbSchema = z
  .number()
  .int()
  .refine((mb) => mb === 64 || (mb >= 128 && mb <= 3072 && mb % 128 === 0), "SCF takes 64, or 128 to 3072 MB in steps of 128");

export const ConfigSchema = z.strictObject({
  version: z.literal(1),
  /** Default region of API calls; else TENCENTCLOUD_REGION, else ap-guangzhou. */
  region: z.string().regex(/^[a-z]+(-[a-z]+)+$/, "must look like ap-guangzhou").optional(),
  timezone: z.string().default("Asia/Shanghai"),
  /** Use the international endpoint csip.intl.tencentcloudapi.com. */
  intl: bool().default(false),
  /** The functions' SCF runtime (DEFAULT_RUNTIME). */
  runtime: RuntimeSchema,
  notifiers: z.record(KeyName, NotifierSchema).default({}),
  assetGroups: z.record(KeyName, AssetGroupSchema).default({}),
  policies: z.array(PolicySchema).min(1),
  rateLimit: RateLimitSchema.prefault({}),
  retry: RetrySchema.prefault({}),
  timeouts: TimeoutsSchema.prefault({}),
  state: StateSchema.prefault({}),
  assetChange: AssetChangeSchema.prefault({}),
  results: ResultsSchema.prefault({}),
  /** Memory per function in MB (serverless.yml's memorySize), by function name; else the function table's (functions/index.ts). */
  memory: z.record(z.string(), MemoryMbSchema).default({}),
});
export type Config = z.infer<typeof ConfigSchema>;

/**
 * The keys of a policy file that say where the state store is and how to reach it: all the results-page
 * function reads of the file (shared/config/load.ts `parseStoreSettings`), and the variables they name
 * all the deploy gives it of the file's (local/deploy/settings.ts).
 */
export const StoreSettingsSchema = ConfigSchema.pick({ version: true, region: true, runtime: true, retry: true, timeouts: true, state: true });
export type StoreSettings = z.infer<typeof StoreSettingsSchema>;
export const STORE_KEYS: readonly string[] = Object.keys(StoreSettingsSchema.shape);

/** The defaults of the settings sections, from the schema itself: their one home. */
export const DEFAULTS = {
  rateLimit: RateLimitSchema.parse({}),
  retry: RetrySchema.parse({}),
  timeouts: TimeoutsSchema.parse({}),
} as const;
