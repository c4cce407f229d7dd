import * as z from "zod";
import type { CsipClient } from "../csip/client.ts";
import { OPEN_RUNS, parseTaskName } from "../state/keys.ts";
import type { StateStore } from "../state/store.ts";
import type { TaskResult } from "./model.ts";
import { csipTimeMs, taskResult } from "./task-states.ts";

/** A policy run whose results are still to be told: what the run knew of its tasks when it made them. */
export const OpenRunSchema = z.object({
  /** The run's record key (shared/state/keys.ts): its identity. */
  run: z.string(),
  policy: z.string(),
  trigger: z.enum(["timer", "manual", "asset-change"]),
  scheduledTime: z.string(),
  taskIds: z.array(z.string()),
  /** When the tasks were made, ms since the epoch: `results.giveUpAfter` counts from here. */
  createdAt: z.number(),
});
export type OpenRun = z.infer<typeof OpenRunSchema>;

/** Remembers a run that made tasks, until its results are told. */
export function trackRun(store: StateStore, run: OpenRun): Promise<void> {
  return store.put(OPEN_RUNS, run.run, run);
}

export function openRuns(store: StateStore): Promise<OpenRun[]> {
  return store.list(OPEN_RUNS, OpenRunSchema);
}

export function closeRun(store: StateStore, run: string): Promise<void> {
  return store.remove(OPEN_RUNS, run);
}

/** Pages of the task list read at most. */
const MAX_PAGES = 50;

/**
 * The runs csip-scan's task names show in CSIP's task list, made since `sinceMs`, with their tasks:
 * how the results are found when no shared state store remembers the runs. Reads the list newest first
 * (as CSIP's console shows it: an assumption) and stops at the first page older than `sinceMs`.
 */
export async function runsFromTaskList(csip: CsipClient, sinceMs: number): Promise<{ runs: OpenRun[]; tasks: Map<string, TaskResult>; calls: number }> {
  const runs = new Map<string, OpenRun>();
  const tasks = new Map<string, TaskResult>();
  let calls = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    calls++;
    const answer = await csip.call("DescribeScanTaskList", {
      Filter: { Limit: 100, Offset: page * 100, Filters: [{ Name: "TaskName", Values: ["csip-scan:"], OperatorType: 9 }] },
    });
    const listed = answer.Data ?? [];
    let recent = 0;
    for (const task of listed) {
      const created = csipTimeMs(task.InsertTime) ?? 0;
      const name = parseTaskName(task.TaskName ?? "");
      if (!name || !task.TaskId || created < sinceMs) continue;
      recent++;
      tasks.set(task.TaskId, taskResult(task));
      const key = name.run.recordKey;
      const known = runs.get(key);
      const stamp = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(name.occasion);
      runs.set(key, {
        run: key,
        policy: name.policy,
        trigger: stamp ? "timer" : "asset-change",
        scheduledTime: stamp ? `${stamp[1]}-${stamp[2]}-${stamp[3]}T${stamp[4]}:${stamp[5]}:${stamp[6]}.000Z` : new Date(created).toISOString(),
        taskIds: [...(known?.taskIds ?? []), task.TaskId],
        createdAt: Math.min(known?.createdAt ?? created, created),
      });
    }
    if (listed.length < 100 || recent === 0) break;
  }
  return { runs: [...runs.values()], tasks, calls };
}
