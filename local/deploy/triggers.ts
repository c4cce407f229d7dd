import { parseScfCron } from "../../shared/config/scf-cron.ts";

/** A trigger serverless.yml asks for, named as serverless-tencent-scf will name it on SCF. */
export interface WantedTrigger {
  type: string;
  name: string;
  /** A timer's schedule, seven fields. */
  cron?: string;
}

/** A trigger SCF holds (ListTriggers, GetFunction). */
export interface ExistingTrigger {
  Type?: string;
  TriggerName?: string;
  TriggerDesc?: string;
  Enable?: number;
  /** The version or alias it points to: part of its identity, so DeleteTrigger must name it. */
  Qualifier?: string;
}

/** The serverless.yml events of a function as the triggers they make (a CKafka trigger is named INSTANCE-TOPIC). */
export function wantedTriggers(events: readonly Record<string, unknown>[]): WantedTrigger[] {
  return events.flatMap((event) =>
    Object.entries(event).flatMap(([type, value]) => {
      const { name, parameters } = (value ?? {}) as { name?: string; parameters?: Record<string, unknown> };
      if (typeof name !== "string") return [];
      if (type === "ckafka") return [{ type, name: `${name}-${String(parameters?.topic ?? "")}` }];
      if (type === "timer") {
        const parsed = parseScfCron(String(parameters?.cronExpression ?? ""));
        return [{ type, name, ...(parsed.ok ? { cron: parsed.cron.normalized } : {}) }];
      }
      return [{ type, name }];
    }),
  );
}

/** A timer's schedule as SCF keeps it (`{"cron": "..."}`), in seven fields. */
function storedCron(trigger: ExistingTrigger): string | undefined {
  try {
    const { cron } = JSON.parse(trigger.TriggerDesc ?? "") as { cron?: unknown };
    const parsed = typeof cron === "string" ? parseScfCron(cron) : undefined;
    return parsed?.ok ? parsed.cron.normalized : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The wanted timers SCF already holds as they are (same name, same schedule, enabled). The pinned
 * plugin compares a timer's cron as if it had five fields, so it would delete and recreate each of
 * them; left out of the service's events, it does not touch them.
 */
export function unchangedTimers(wanted: readonly WantedTrigger[], existing: readonly ExistingTrigger[]): string[] {
  return wanted
    .filter((w) => w.type === "timer" && w.cron !== undefined)
    .filter((w) => existing.some((e) => e.Type === "timer" && e.TriggerName === w.name && e.Enable === 1 && storedCron(e) === w.cron))
    .map((w) => w.name);
}

/** Which triggers of a function csip-scan owns: of a type, and, when given, named with a prefix. */
export type Ownership = readonly { type: string; prefix?: string }[];

/**
 * The triggers csip-scan owns that the policy file no longer asks for. What a function owns is a row
 * of the function table (functions/index.ts); anything else (an API gateway, a timer someone made by
 * hand, the timers named after policies by earlier versions) is never touched.
 */
export function staleTriggers(wanted: readonly WantedTrigger[], existing: readonly ExistingTrigger[], owns: Ownership): ExistingTrigger[] {
  const owned = (t: ExistingTrigger): boolean => owns.some((o) => o.type === t.Type && (o.prefix === undefined || (t.TriggerName ?? "").startsWith(o.prefix)));
  return existing.filter((t) => owned(t) && !wanted.some((w) => w.type === t.Type && w.name === t.TriggerName));
}

/**
 * The DeleteTrigger request for a trigger SCF holds. Qualifier is part of a trigger's identity and
 * DeleteTrigger takes `$LATEST` when none is sent, so the one ListTriggers gave is sent back: a trigger on
 * `$DEFAULT` or a version would otherwise not be found. TriggerDesc is needed for COS triggers only
 * (DeleteTrigger's document), and sent whenever known.
 * https://cloud.tencent.com/document/api/583/18588
 */
export function deleteTriggerRequest(functionName: string, namespace: string, trigger: ExistingTrigger): {
  FunctionName: string;
  Namespace: string;
  Type: string;
  TriggerName: string;
  TriggerDesc?: string;
  Qualifier?: string;
} {
  return {
    FunctionName: functionName,
    Namespace: namespace,
    Type: trigger.Type ?? "",
    TriggerName: trigger.TriggerName ?? "",
    ...(trigger.TriggerDesc ? { TriggerDesc: trigger.TriggerDesc } : {}),
    ...(trigger.Qualifier ? { Qualifier: trigger.Qualifier } : {}),
  };
}
