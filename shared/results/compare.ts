import * as z from "zod";
import { lastResultsKey } from "../state/keys.ts";
import type { StateStore } from "../state/store.ts";
import type { Comparison, Finding } from "./model.ts";

/** What the last told results of a policy found (its next run is compared with it). */
const LastResultsSchema = z.object({
  scheduledTime: z.string(),
  riskCount: z.number(),
  findings: z.array(z.object({ id: z.string(), name: z.string(), asset: z.string(), level: z.string() })),
});

/** Findings remembered at most per policy: enough to compare, small enough for one state value. */
const REMEMBERED = 5000;

/** This run against the previous one of the policy: the risk count's change, and findings new and gone by risk ID. */
export async function compareWithPrevious(store: StateStore, policy: string, riskCount: number, findings: readonly Finding[]): Promise<Comparison> {
  const last = await store.get(lastResultsKey(policy), LastResultsSchema);
  if (!last) return { previous: undefined, riskCountChange: undefined, newFindings: [], goneFindings: [] };
  const before = new Set(last.findings.map((f) => f.id));
  const now = new Set(findings.map((f) => f.id));
  return {
    previous: { scheduledTime: last.scheduledTime, riskCount: last.riskCount },
    riskCountChange: riskCount - last.riskCount,
    newFindings: findings.filter((f) => !before.has(f.id)),
    goneFindings: last.findings.filter((f) => !now.has(f.id)).map((f) => ({ ...f, level: f.level as Finding["level"] })),
  };
}

/** Remembers what this run found, for the policy's next run. */
export async function rememberResults(store: StateStore, policy: string, scheduledTime: string, riskCount: number, findings: readonly Finding[]): Promise<void> {
  await store.set(lastResultsKey(policy), {
    scheduledTime,
    riskCount,
    findings: findings.slice(0, REMEMBERED).map((f) => ({ id: f.id, name: f.name, asset: f.asset, level: f.level })),
  });
}
