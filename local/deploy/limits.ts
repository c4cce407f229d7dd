import { FUNCTION_NAME, SCF_LIMITS } from "../../shared/config/scf-limits.ts";
import { TRIGGER_NAME } from "../../shared/config/schema.ts";
import type { WantedTrigger } from "./triggers.ts";

/** What the deploy would put on one function. */
export interface FunctionPlan {
  /** The deployed name (`SERVICE-STAGE-FUNCTION`). */
  name: string;
  environment: Readonly<Record<string, string>>;
  triggers: readonly WantedTrigger[];
}

/**
 * Why this deploy would break an SCF limit (shared/config/scf-limits.ts), one line each: a function
 * name SCF refuses (a stage it cannot hold), the functions' environment over 4 KB, more than 10 triggers of one type on a function, a trigger name SCF
 * refuses. Checked before any call, so a deploy that would fail half-way never starts.
 */
export function limitProblems(functions: readonly FunctionPlan[]): string[] {
  const problems: string[] = [];
  for (const f of functions) {
    if (!FUNCTION_NAME.test(f.name)) problems.push(`${f.name}: SCF takes a function name of 2 to 60 letters, digits, _ or -, a letter first and a letter or digit last: choose a shorter or plainer --stage`);
    const bytes = Object.entries(f.environment).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value), 0);
    if (bytes > SCF_LIMITS.environmentBytes) {
      const largest = Object.entries(f.environment).sort(([, a], [, b]) => Buffer.byteLength(b) - Buffer.byteLength(a))[0]?.[0];
      problems.push(`${f.name}: its environment is ${bytes} bytes, over SCF's ${SCF_LIMITS.environmentBytes} (the largest variable is ${largest})`);
    }
    const byType = new Map<string, number>();
    for (const t of f.triggers) byType.set(t.type, (byType.get(t.type) ?? 0) + 1);
    for (const [type, count] of byType) {
      if (count > SCF_LIMITS.triggersPerType) problems.push(`${f.name}: ${count} ${type} triggers, over SCF's ${SCF_LIMITS.triggersPerType} of one type`);
    }
    for (const t of f.triggers) {
      if (t.name.length > SCF_LIMITS.triggerNameLength) problems.push(`${f.name}: the ${t.type} trigger name "${t.name}" is over ${SCF_LIMITS.triggerNameLength} characters`);
      else if (t.type === "timer" && !TRIGGER_NAME.test(t.name)) problems.push(`${f.name}: the timer name "${t.name}" is not a letter followed by letters, digits, - or _`);
    }
  }
  return problems;
}
