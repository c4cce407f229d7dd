import * as z from "zod";
import type { Asset } from "../assets/kinds.ts";
import type { Policy } from "../config/schema.ts";
import { errorFacts } from "../errors.ts";
import { announceRun, NotifyProgressSchema } from "../notify/announce.ts";
import type { DeliveryResult } from "../notify/deliver.ts";
import type { RunError, RunFacts, UnauthorizedAsset } from "../notify/report.ts";
import { createScanTasks, TaskProgressSchema, type CreatedTask } from "../scan/create-tasks.ts";
import type { PlannedTask } from "../scan/requests.ts";
import { trackRun } from "../results/open-runs.ts";
import type { RunNames } from "../state/keys.ts";
import type { RunContext } from "./services.ts";

/**
 * What every run of a policy shares, whatever fired it (a timer or an asset change): creating the
 * planned tasks exactly once under a lock, and telling the notifiers.
 */

/** The record of one policy run in the state store: what its tasks and its notifications have done. */
export const RunRecordSchema = TaskProgressSchema.extend(NotifyProgressSchema.shape).extend({
  /** The tasks put in the open runs whose results are still to be told (shared/results/), and when first. */
  tracked: z.object({ taskIds: z.array(z.string()), at: z.number() }).optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** What creating and announcing did. */
export interface CreatedAndAnnounced {
  tasks: CreatedTask[];
  unauthorized: UnauthorizedAsset[];
  warnings: string[];
  errors: RunError[];
  notifications: DeliveryResult[];
  durationsMs: { tasks: number; notify: number };
}

/** What the run knew before creating tasks: when, why, and what went wrong already. */
export interface RunSoFar {
  scheduledTime: string;
  trigger: RunFacts["trigger"];
  /** Assets the run knows (to name the unauthorized ones). */
  knownAssets: readonly Asset[];
  warnings: readonly string[];
  errors: readonly RunError[];
}

/**
 * Creates the planned tasks and notifies, holding the lock of the run and keeping its record under
 * it, so that a repeated delivery or a retry creates no second task, sends each notifier its message
 * once (the message first built, stored before it is sent), and redoes only what is missing.
 */
export async function createAndAnnounce(
  run: RunContext,
  policy: Policy,
  names: RunNames,
  planned: readonly PlannedTask[],
  soFar: RunSoFar,
): Promise<CreatedAndAnnounced> {
  const result: CreatedAndAnnounced = { tasks: [], unauthorized: [], warnings: [], errors: [], notifications: [], durationsMs: { tasks: 0, notify: 0 } };
  const key = names.recordKey;
  try {
    await run.store.withLock(key, { ttlMs: run.deadline.remainingMs() + 60_000, waitMs: run.deadline.remainingMs() }, async () => {
      const record = (await run.store.get(key, RunRecordSchema)) ?? RunRecordSchema.parse({});
      const save = (): Promise<void> => run.store.set(key, record);

      const tasksStarted = run.clock.now();
      const outcome = await createScanTasks(
        {
          csip: run.csip,
          policy,
          names,
          progress: record,
          save,
          retry: run.retry,
          requestTimeoutMs: run.requestTimeoutMs,
          deadline: run.deadline,
          sleep: run.clock.sleep,
        },
        planned,
      );
      result.tasks = outcome.created;
      result.warnings = outcome.warnings;
      result.errors = outcome.failures.map((f) => ({ code: f.code, ...(f.requestId ? { requestId: f.requestId } : {}), message: `chunk ${f.chunk}: ${f.message}` }));
      result.unauthorized = outcome.unauthorized.map((value) => describeUnauthorized(value, soFar.knownAssets, policy));
      result.durationsMs.tasks = run.clock.now() - tasksStarted;
      // A retry that made the missing tasks adds them; `giveUpAfter` still counts from the first.
      const taskIds = result.tasks.map((t) => t.taskId);
      if (taskIds.length > 0 && taskIds.join() !== record.tracked?.taskIds.join()) {
        record.tracked = { taskIds, at: record.tracked?.at ?? run.clock.now() };
        await trackRun(run.store, {
          run: key,
          policy: policy.name,
          trigger: soFar.trigger,
          scheduledTime: soFar.scheduledTime,
          taskIds,
          createdAt: record.tracked.at,
          ...(policy.memberIds?.length ? { memberIds: [...policy.memberIds] } : {}),
        });
        await save();
      }

      const notifyStarted = run.clock.now();
      const facts: RunFacts = {
        policy: policy.name,
        trigger: soFar.trigger,
        scheduledTime: soFar.scheduledTime,
        unauthorized: result.unauthorized,
        tasks: result.tasks,
        warnings: [...soFar.warnings, ...result.warnings],
        errors: [...soFar.errors, ...result.errors],
      };
      const announced = await announceRun({ store: run.store, deliver: run.deliver, notifiers: run.config.notifiers, now: run.clock.now }, policy, facts, {
        run: key,
        progress: record,
        save: (progress) => {
          Object.assign(record, progress);
          return save();
        },
      });
      Object.assign(record, announced.progress);
      result.notifications = announced.deliveries;
      result.durationsMs.notify = run.clock.now() - notifyStarted;
      await save();
    });
  } catch (error) {
    result.errors.push(errorFacts(error));
  }
  return result;
}

/** An unauthorized value as people read it: the inventory's name and kind when the run knows the asset. */
function describeUnauthorized(value: string, known: readonly Asset[], policy: Policy): UnauthorizedAsset {
  const asset = known.find((a) => a.id === value || a.aliases.includes(value));
  const memberId = asset?.memberId ?? (policy.memberIds?.length === 1 ? policy.memberIds[0] : undefined);
  return {
    id: value,
    name: asset?.name ?? value,
    kind: asset?.kind ?? (policy.urls ? "url" : "cvm"),
    region: asset?.region ?? "",
    ...(memberId ? { memberId } : {}),
  };
}
