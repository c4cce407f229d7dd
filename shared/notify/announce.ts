import { createHash } from "node:crypto";
import * as z from "zod";
import { durationMs, type Notifier, type Policy } from "../config/schema.ts";
import { LeaseLostError } from "../errors.ts";
import { announcementKey } from "../state/keys.ts";
import type { StateStore } from "../state/store.ts";
import type { Deliver, DeliveryResult } from "./deliver.ts";
import { PartsSentSchema, partsProgress } from "./parts-sent.ts";
import { reportFor, type RunFacts, type RunReport } from "./report.ts";
import { messageId } from "./webhook.ts";

/** What a run has told its notifiers so far, kept in the run's record between attempts. */
export const NotifyProgressSchema = z.object({
  /** Per notifier, the ID of the message it was sent (a content hash in records of older versions). */
  notified: z.record(z.string(), z.string()).default({}),
  /** Per notifier, whether this run's unauthorized assets were worth announcing (decided once per run). */
  unauthorizedChanged: z.record(z.string(), z.boolean()).default({}),
  /** The run's messages by ID, as the JSON text first built: stored before the first send, sent as they are. */
  messages: z.record(z.string(), z.string()).default({}),
  /** Per notifier, the ID of the message it is to be sent. */
  planned: z.record(z.string(), z.string()).default({}),
  /** Per notifier not yet told, the parts of its split message it has (shared/notify/deliver.ts). */
  partsSent: z.record(z.string(), PartsSentSchema).default({}),
});
export type NotifyProgress = z.infer<typeof NotifyProgressSchema>;

/** What a notifier was last told about a policy's unauthorized assets. */
const AnnouncementSchema = z.object({
  /** Hash of the sorted unauthorized asset IDs. */
  set: z.string(),
  /** When it was said, ms since the epoch. */
  at: z.number(),
});

export function setHash(values: readonly string[]): string {
  return createHash("sha256").update([...values].sort().join("\n")).digest("hex");
}

export interface Announcing {
  store: StateStore;
  deliver: Deliver;
  notifiers: Readonly<Record<string, Notifier>>;
  now: () => number;
}

/** The run being announced: its identity (record key), what it told so far, and how to keep that. */
export interface RunMessages {
  run: string;
  progress: NotifyProgress;
  /** Stores the progress with the run's record; called before the first send and after each delivery. */
  save: (progress: NotifyProgress) => Promise<void>;
}

/**
 * Sends a run's report to each of the policy's notifiers, and returns what each delivery did and what
 * the run has now told them. Each notifier's message is built once per run, stored with the run's
 * record before anything is sent, and then sent as stored (the same bytes and ID to every notifier that
 * gets the same message, and on every retry); a notifier that got it is never sent it again, whatever
 * the run finds afterwards. The unauthorized assets are worth announcing to a notifier when the set
 * differs from the one it was last told, or `remindAfter` has passed since.
 */
export async function announceRun(ctx: Announcing, policy: Policy, facts: RunFacts, run: RunMessages): Promise<{ deliveries: DeliveryResult[]; progress: NotifyProgress }> {
  const now = ctx.now();
  const current = setHash(facts.unauthorized.map((a) => a.id));
  const before = run.progress;
  const progress: NotifyProgress = {
    notified: { ...before.notified },
    unauthorizedChanged: { ...before.unauthorizedChanged },
    messages: { ...before.messages },
    planned: { ...before.planned },
    partsSent: { ...before.partsSent },
  };
  const deliveries: DeliveryResult[] = [];
  const keys = new Map(policy.notify.map((name) => [name, announcementKey(policy.name, name, facts.trigger === "asset-change")]));

  // First build what is not built yet, and store it: a retry sends these very messages.
  for (const name of policy.notify) {
    if (progress.notified[name] || progress.planned[name]) continue;
    const last = await ctx.store.get(keys.get(name)!, AnnouncementSchema);
    const changed = progress.unauthorizedChanged[name] ?? (!last || last.set !== current || now - last.at >= durationMs(policy.remindAfter));
    progress.unauthorizedChanged[name] = changed;
    const report = reportFor(policy, facts, changed);
    if (!report) {
      if (!last || last.set !== current) await ctx.store.set(keys.get(name)!, { set: current, at: now });
      continue;
    }
    const text = JSON.stringify(report);
    // The ID says which message of the run this is, not what it holds: should a run without a durable
    // store be retried, its rebuilt message keeps the ID, and a receiver drops it as seen.
    const id = messageId(run.run, "run", changed ? "with unauthorized" : "without unauthorized");
    progress.messages[id] = text;
    progress.planned[name] = id;
  }
  // Saves one at a time, each writing the progress as it then stands: a later save never loses an earlier
  // delivery. A save that failed does not keep the next from being tried (it writes what the failed one
  // held, and more); only a lost lock stops them all, as it stops the run.
  let saving = Promise.resolve();
  const save = (): Promise<void> =>
    (saving = saving
      .catch((error: unknown) => {
        if (error instanceof LeaseLostError) throw error;
      })
      .then(() => run.save(progress)));
  if (Object.keys(progress.planned).some((name) => !before.planned[name])) await save();

  await Promise.all(
    policy.notify.map(async (name) => {
      if (progress.notified[name]) {
        deliveries.push({ notifier: name, delivered: true, via: "sent before" });
        return;
      }
      const id = progress.planned[name];
      const text = id === undefined ? undefined : progress.messages[id];
      if (id === undefined || text === undefined) return;
      const report = JSON.parse(text) as RunReport;
      const result = await ctx.deliver(name, ctx.notifiers[name]!, report, id, partsProgress(progress.partsSent, name, save, () => ctx.store.assertMayAct()));
      deliveries.push(result);
      if (!result.delivered) return;
      progress.notified[name] = id;
      delete progress.partsSent[name];
      await save();
      // What this notifier now knows of the unauthorized assets: the set its message listed.
      if (report.reasons.includes("unauthorized") || report.unauthorizedAssets.length === 0) {
        await ctx.store.set(keys.get(name)!, { set: setHash(report.unauthorizedAssets.map((a) => a.id)), at: now });
      }
    }),
  );
  deliveries.sort((a, b) => policy.notify.indexOf(a.notifier) - policy.notify.indexOf(b.notifier));
  return { deliveries, progress };
}
