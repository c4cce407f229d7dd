import type { ExistingTrigger } from "./triggers.ts";

/**
 * CKafka triggers, made by the project's deploy plugin rather than serverless-tencent-scf: the pinned
 * plugin skips (with only a log line) a trigger whose maxMsgNum is not 2 to 999, while SCF takes up to
 * 10,000 (https://cloud.tencent.com/document/product/583/17530). The serverless.yml event stays as the
 * pinned plugin reads it (shared/events/transports/ckafka.ts); the plugin takes it out of the service
 * before the deploy and makes the trigger after.
 */

/** TriggerDesc of a CKafka trigger: every field is a string, and the four are required (583/39901). */
export interface CkafkaDesc {
  maxMsgNum: string;
  offset: string;
  /** Retries when the function fails: 10,000 is SCF's default (583/17530). */
  retry: string;
  /** Seconds to wait while a batch fills, 1 to 60. */
  timeOut: string;
}

/** A CKafka trigger serverless.yml asks for, as CreateTrigger takes it. */
export interface WantedCkafka {
  /** INSTANCE-TOPIC, the name SCF shows (and the pinned plugin gives). */
  name: string;
  desc: CkafkaDesc;
  enable: boolean;
}

/** The defaults sent for the fields the policy file does not set. */
const DEFAULT_DESC = { retry: "10000", timeOut: "60" } as const;

/** The CKafka events of a function's serverless.yml events, as the triggers they ask for. */
export function wantedCkafka(events: readonly Record<string, unknown>[]): WantedCkafka[] {
  return events.flatMap((event) => {
    if (!("ckafka" in event)) return [];
    const { parameters = {} } = event.ckafka as { parameters?: Record<string, unknown> };
    return [
      {
        name: `${String(parameters.name)}-${String(parameters.topic)}`,
        desc: { maxMsgNum: String(parameters.maxMsgNum), offset: String(parameters.offset ?? "latest"), ...DEFAULT_DESC },
        enable: parameters.enable !== false,
      },
    ];
  });
}

/** A stored TriggerDesc as an object ({} when it is not JSON). */
function storedDesc(trigger: ExistingTrigger): Record<string, unknown> {
  try {
    return JSON.parse(trigger.TriggerDesc ?? "") as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * What the deploy does for a wanted CKafka trigger: nothing when SCF holds it as wanted (same batch size,
 * start point and state: a trigger the pinned plugin made without retry and timeOut is left as it is),
 * else create it, replacing the one of that name, as the pinned plugin did. UpdateTrigger is not used:
 * its document spells the CKafka fields it changes Retry, MaxMsgNum and TimeOut, unlike the TriggerDesc
 * CreateTrigger takes, and cannot change the start point.
 */
export function ckafkaChange(wanted: WantedCkafka, existing: readonly ExistingTrigger[]): { action: "keep" } | { action: "create"; replace?: ExistingTrigger } {
  const held = existing.find((t) => t.Type === "ckafka" && t.TriggerName === wanted.name);
  if (!held) return { action: "create" };
  const desc = storedDesc(held);
  const same = String(desc.maxMsgNum) === wanted.desc.maxMsgNum && String(desc.offset) === wanted.desc.offset && (held.Enable === 1) === wanted.enable;
  return same ? { action: "keep" } : { action: "create", replace: held };
}

/** The CreateTrigger request for a wanted CKafka trigger. */
export function createCkafkaRequest(functionName: string, namespace: string, wanted: WantedCkafka) {
  return {
    FunctionName: functionName,
    Namespace: namespace,
    Type: "ckafka",
    TriggerName: wanted.name,
    TriggerDesc: JSON.stringify(wanted.desc),
    Enable: wanted.enable ? "OPEN" : "CLOSE",
  };
}
