import { createHash } from "node:crypto";
import * as z from "zod";
import { durationMs, type Notifier, type Policy } from "../config/schema.ts";
import { announcementKey } from "../state/keys.ts";
import type { StateStore } from "../state/store.ts";
import type { Deliver, DeliveryResult } from "./deliver.ts";
import { reportFor, type RunFacts } from "./report.ts";

/** What a run has told its notifiers so far, kept in the run's record between attempts. */
export const NotifyProgressSchema = z.object({
  /** Per notifier, the hash of the report it was sent. */
  notified: z.record(z.string(), z.string()).default({}),
  /** Per notifier, whether this run's unauthorized assets were worth announcing (decided once per run). */
  unauthorizedChanged: z.record(z.string(), z.boolean()).default({}),
});
export type NotifyProgress = z.infer<typeof NotifyProgressSchema>;

/** What a notifier was last told about a policy's unauthorized assets. */
const AnnouncementSchema = z.object({
  /** Hash of the sorted unauthorized asset IDs. */
  set: z.string(),
  /** When it was said, ms since the epoch. */
  at: z.number(),
});

function setHash(values: readonly string[]): string {
  return createHash("sha256").update([...values].sort().join("\n")).digest("hex");
}

export interface Announcing {
  store: StateStore;
  deliver: Deliver;
  notifiers: Readonly<Record<string, Notifier>>;
  now: () => number;
}

/**
 * Sends a run's report to each of the policy's notifiers, and returns what each delivery did and
 * what the run has now told them. The unauthorized assets are worth announcing to a notifier when
 * the set differs from the one it was last told, or `remindAfter` has passed since; a run whose very
 * report was already sent (a repeated delivery) sends nothing again.
 */
export async function announceRun(
  ctx: Announcing,
  policy: Policy,
  facts: RunFacts,
  before: NotifyProgress,
): Promise<{ deliveries: DeliveryResult[]; progress: NotifyProgress }> {
  const now = ctx.now();
  const current = setHash(facts.unauthorized.map((a) => a.id));
  const progress: NotifyProgress = { notified: { ...before.notified }, unauthorizedChanged: { ...before.unauthorizedChanged } };
  const deliveries: DeliveryResult[] = [];
  await Promise.all(
    policy.notify.map(async (name) => {
      const key = announcementKey(policy.name, name, facts.trigger === "asset-change");
      const last = await ctx.store.get(key, AnnouncementSchema);
      // Decided once per run: a repeated delivery must build the very report the first one sent.
      const changed = progress.unauthorizedChanged[name] ?? (!last || last.set !== current || now - last.at >= durationMs(policy.remindAfter));
      progress.unauthorizedChanged[name] = changed;
      const report = reportFor(policy, facts, changed);
      if (!report) {
        if (!last || last.set !== current) await ctx.store.set(key, { set: current, at: now });
        return;
      }
      const hash = createHash("sha256").update(JSON.stringify(report)).digest("hex");
      if (progress.notified[name] === hash) {
        deliveries.push({ notifier: name, delivered: true, via: "sent before" });
        return;
      }
      const result = await ctx.deliver(name, ctx.notifiers[name]!, report);
      deliveries.push(result);
      if (result.delivered) {
        progress.notified[name] = hash;
        if (report.reasons.includes("unauthorized") || facts.unauthorized.length === 0) await ctx.store.set(key, { set: current, at: now });
      }
    }),
  );
  deliveries.sort((a, b) => policy.notify.indexOf(a.notifier) - policy.notify.indexOf(b.notifier));
  return { deliveries, progress };
}
