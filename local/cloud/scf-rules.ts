import { spawnSync } from "node:child_process";
import { functionUrlDesc } from "./function-urls.ts";
import { SCF_RUNTIMES } from "./params.ts";

/**
 * The documented rules SCF enforces, as data: names, sizes, limits, runtimes, and one row per trigger type.
 * Each rule answers the error code the real service documents for it (tencentcloud-sdk-go
 * scf/v20180416/errors.go); where the code or the exact rule is a guess, ASSUMPTIONS.md says so.
 */

export interface Violation {
  code: string;
  message: string;
}

/** Regions SCF serves (https://cloud.tencent.com/document/api/583/17235). */
export const SCF_REGIONS: ReadonlySet<string> = new Set([
  "ap-bangkok", "ap-beijing", "ap-chengdu", "ap-chongqing", "ap-guangzhou", "ap-hongkong", "ap-jakarta", "ap-nanjing",
  "ap-seoul", "ap-shanghai", "ap-shanghai-fsi", "ap-shenzhen-fsi", "ap-singapore", "ap-tokyo", "eu-frankfurt",
  "na-ashburn", "na-siliconvalley", "sa-saopaulo",
]);

/** Namespaces that exist in a fresh account. */
export const NAMESPACES: ReadonlySet<string> = new Set(["default"]);

export const SCF_LIMITS = {
  /** Triggers of one type on one function (quota page: https://cloud.tencent.com/document/product/583/11637). */
  triggersPerType: 10,
  /** Environment variables of one function, keys and values in UTF-8 bytes ("请保持在 4KB 以内"). */
  environmentBytes: 4096,
  descriptionChars: 1000,
  timeoutSeconds: { min: 1, max: 900 },
  memoryMb: { min: 128, max: 3072, step: 128, also: [64] },
  zipFileBytes: 50 * 1024 * 1024,
} as const;

const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]$/;
/** `file.method`: the method starts and ends with a letter; the file may sit in a subfolder (ASSUMPTIONS.md). */
const HANDLER = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*\.[A-Za-z](?:[A-Za-z0-9_-]{0,58}[A-Za-z])?$/;

const violation = (code: string, message: string): Violation => ({ code, message });

/** The reference's FunctionName rule: 2-60 characters, a letter first, not ending with - or _. */
export function functionNameViolation(name: string): Violation | undefined {
  return FUNCTION_NAME.test(name)
    ? undefined
    : violation("InvalidParameter.FunctionName", `FunctionName \`${name}\` must be 2-60 characters: a letter first, then letters, digits, - and _, not ending with - or _.`);
}

/** FILE.METHOD, the reference's Handler rule (the file may be in a subfolder). */
export function handlerViolation(handler: string): Violation | undefined {
  return HANDLER.test(handler) ? undefined : violation("InvalidParameterValue.Handler", `Handler \`${handler}\` must be FILE.METHOD (for example index.main_handler).`);
}

/** A runtime the reference lists. */
export function runtimeViolation(runtime: string): Violation | undefined {
  return SCF_RUNTIMES.includes(runtime)
    ? undefined
    : violation("InvalidParameterValue.Runtime", `Runtime \`${runtime}\` is not supported; SCF supports ${SCF_RUNTIMES.join(", ")}.`);
}

/** 64 MB, or 128 to 3072 MB in steps of 128 (the reference). */
export function memoryViolation(mb: number): Violation | undefined {
  const { min, max, step, also } = SCF_LIMITS.memoryMb;
  const fits = (also as readonly number[]).includes(mb) || (mb >= min && mb <= max && mb % step === 0);
  return fits ? undefined : violation("InvalidParameterValue.MemorySize", `MemorySize ${mb} must be 64, or 128 to 3072 MB in steps of 128.`);
}

/** 1 to 900 seconds (the reference). */
export function timeoutViolation(seconds: number): Violation | undefined {
  const { min, max } = SCF_LIMITS.timeoutSeconds;
  return seconds >= min && seconds <= max ? undefined : violation("LimitExceeded.Timeout", `Timeout ${seconds} must be ${min} to ${max} seconds.`);
}

/** At most 1000 characters (the reference). */
export function descriptionViolation(description: string): Violation | undefined {
  return description.length <= SCF_LIMITS.descriptionChars
    ? undefined
    : violation("InvalidParameterValue.Description", `Description holds ${description.length} characters; at most ${SCF_LIMITS.descriptionChars}.`);
}

/** Keys and values must not be empty (the reference's Variable), names must be unique, the total at most 4 KB. */
export function environmentViolation(variables: readonly { Key: string; Value: string }[]): Violation | undefined {
  const empty = variables.find((v) => v.Key === "" || v.Value === "");
  if (empty) return violation("InvalidParameterValue.Environment", `Environment variable \`${empty.Key}\` has an empty name or value; SCF accepts neither.`);
  const keys = variables.map((v) => v.Key);
  const repeated = keys.find((k, i) => keys.indexOf(k) !== i);
  if (repeated !== undefined) return violation("InvalidParameterValue.Environment", `Environment variable \`${repeated}\` is given twice.`);
  const bytes = variables.reduce((sum, v) => sum + Buffer.byteLength(v.Key) + Buffer.byteLength(v.Value), 0);
  if (bytes > SCF_LIMITS.environmentBytes) {
    return violation(
      "InvalidParameterValue.EnvironmentExceededLimit",
      `Environment variables hold ${bytes} bytes (names and values); a function holds at most ${SCF_LIMITS.environmentBytes} bytes (4 KB).`,
    );
  }
  const nodeOptions = variables.find((v) => v.Key === "NODE_OPTIONS")?.Value;
  const refused = nodeOptions === undefined ? undefined : nodeRefuses(nodeOptions);
  return refused === undefined
    ? undefined
    : violation("InvalidParameterValue.Environment", `NODE_OPTIONS \`${nodeOptions}\` stops Node from starting (${refused}): every invocation would fail where SCF applies it.`);
}

const nodeVerdicts = new Map<string, string | undefined>();

/**
 * Why Node refuses to start with these NODE_OPTIONS (a flag it does not allow there, a typo), or
 * undefined: this machine's Node is started with them. Real SCF takes any value (a choice of the stand-in,
 * local/cloud/ASSUMPTIONS.md): the rehearsal refuses what would stop every invocation.
 */
export function nodeRefuses(nodeOptions: string): string | undefined {
  if (!nodeVerdicts.has(nodeOptions)) {
    const run = spawnSync(process.execPath, ["-e", "0"], { env: { PATH: process.env.PATH, NODE_OPTIONS: nodeOptions }, encoding: "utf8", timeout: 30_000 });
    nodeVerdicts.set(nodeOptions, run.status === 0 ? undefined : (run.stderr.split("\n").find((line) => line.trim() !== "") ?? `exit ${run.status}`).trim());
  }
  return nodeVerdicts.get(nodeOptions);
}

/** What SCF does with one trigger type: its name rule, how it keeps TriggerDesc, which actions take it. */
export interface TriggerKind {
  /** CreateTrigger takes it: its Type document lists cos, cls, timer, ckafka and http ("目前支持"). */
  creatable: boolean;
  name: { pattern: RegExp; rule: string };
  /** TriggerDesc as SCF keeps and shows it, from what CreateTrigger (or UpdateTrigger, with the one held) was sent. */
  storedDesc(sent: string, triggerName: string, where: { appId: string; region: string; current?: string }): string | Violation;
  /** How many a function holds per qualifier, when fewer than the limit per type: one URL per version or alias (583/96099). */
  perQualifier?: number;
  /** UpdateTrigger supports it (its document: timer, ckafka; the parameter list adds http). */
  updatable: boolean;
  /** UpdateTriggerStatus supports it (SDK model: timer, cos, ckafka). */
  statusUpdatable: boolean;
  customArgument: boolean;
}

const ANY_NAME = { pattern: /^.{1,100}$/s, rule: "1-100 characters" };

/** A timer's cron: 7 fields are kept as sent, 5 fields get seconds 0 and year * (the CreateTrigger example). */
export function timerDesc(sent: string): string | Violation {
  const fields = sent.trim().split(/\s+/);
  if (fields.length === 7) return JSON.stringify({ cron: fields.join(" ") });
  if (fields.length === 5) return JSON.stringify({ cron: ["0", ...fields, "*"].join(" ") });
  return violation("InvalidParameterValue.TriggerDesc", `A timer's TriggerDesc is a cron expression of 5 or 7 fields; \`${sent}\` has ${sent.trim() ? fields.length : 0}.`);
}

const asSent = (sent: string): string => (sent === "" ? "{}" : sent);

const integerIn = (min: number, max: number) => (value: string): boolean => /^\d+$/.test(value) && Number(value) >= min && Number(value) <= max;

/**
 * A CKafka TriggerDesc's fields, all strings and all required (trigger description 583/39901): a batch of
 * up to 10,000 messages (583/17530), a start point, retries, and a wait of 1 to 60 seconds.
 */
const CKAFKA_DESC: Readonly<Record<string, (value: string) => boolean>> = {
  maxMsgNum: integerIn(1, 10_000),
  offset: (value) => value === "latest" || value === "earliest" || /^\d{13}$/.test(value),
  retry: integerIn(0, Number.MAX_SAFE_INTEGER),
  timeOut: integerIn(1, 60),
};

export const TRIGGER_KINDS: Readonly<Record<string, TriggerKind>> = {
  timer: {
    creatable: true,
    // https://cloud.tencent.com/document/product/583/9708: a letter first, letters, digits, - and _, at most 60.
    name: { pattern: /^[A-Za-z][A-Za-z0-9_-]{0,59}$/, rule: "a letter first, then letters, digits, - and _, at most 60 characters" },
    storedDesc: (sent) => timerDesc(sent),
    updatable: true,
    statusUpdatable: true,
    customArgument: true,
  },
  ckafka: {
    creatable: true,
    name: { pattern: /^ckafka-[a-z0-9]+-.+$/, rule: "INSTANCE-TOPIC, such as ckafka-0a1b2c3d-my-topic" },
    storedDesc: (sent, triggerName) => {
      let desc: Record<string, unknown>;
      try {
        desc = JSON.parse(sent) as Record<string, unknown>;
      } catch {
        return violation("InvalidParameterValue.TriggerDesc", "A CKafka trigger's TriggerDesc must be JSON such as {\"maxMsgNum\":\"100\",\"offset\":\"latest\",\"retry\":\"10000\",\"timeOut\":\"60\"}.");
      }
      const wrong = Object.entries(CKAFKA_DESC).find(([field, valid]) => typeof desc[field] !== "string" || !valid(desc[field] as string));
      if (wrong) return violation("InvalidParameterValue.TriggerDesc", `A CKafka trigger's TriggerDesc.${wrong[0]} is missing or out of range (583/39901, 583/17530).`);
      return JSON.stringify({ ...desc, topicName: /^ckafka-[a-z0-9]+-(.+)$/.exec(triggerName)?.[1] ?? "" });
    },
    updatable: true,
    statusUpdatable: true,
    customArgument: false,
  },
  // CMQ moved to TDMQ; DeleteTrigger still lists cmq and apigw, so triggers of both may exist and be deleted.
  cmq: { creatable: false, name: ANY_NAME, storedDesc: (_sent, triggerName) => JSON.stringify({ topicName: triggerName }), updatable: false, statusUpdatable: false, customArgument: false },
  cos: { creatable: true, name: ANY_NAME, storedDesc: asSent, updatable: false, statusUpdatable: true, customArgument: false },
  cls: { creatable: true, name: ANY_NAME, storedDesc: asSent, updatable: false, statusUpdatable: false, customArgument: false },
  // Function URLs (local/cloud/function-urls.ts): "每一个别名或者版本仅允许创建一个 URL" (583/100227).
  http: { creatable: true, name: ANY_NAME, storedDesc: (sent, _name, where) => functionUrlDesc(sent, where), updatable: true, statusUpdatable: false, customArgument: false, perQualifier: 1 },
  apigw: { creatable: false, name: ANY_NAME, storedDesc: asSent, updatable: false, statusUpdatable: false, customArgument: false },
};

/** Enable as CreateTrigger and UpdateTrigger take it: OPEN or CLOSE. */
export const ENABLE_VALUES: Readonly<Record<string, number>> = { OPEN: 1, CLOSE: 0 };
