import * as z from "zod";
import type { Config } from "../config/schema.ts";
import { memberParam, type CsipClient } from "../csip/client.ts";
import { filterReadingsOf, mayBeRefusal, pageSizeFor } from "../csip/filter-readings.ts";
import { ignoredFilterWarning } from "../csip/pager.ts";
import { TASK_NAME_FILTER } from "../scan/task-list.ts";
import { OPEN_RUNS, parseTaskName, taskNamePrefix } from "../state/keys.ts";
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
  /** The MemberId the tasks were made with: they are read back in that scope, whatever the file says later. */
  memberIds: z.array(z.string()).optional(),
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

/** Pages of the task list read at most per member scope: 100,000 tasks. */
const MAX_PAGES = 1000;
const PAGE = 100;

/** The member scopes whose tasks a policy file makes: the caller's own, and each policy's MemberId. */
export function memberScopes(config: Config): (readonly string[] | undefined)[] {
  const scopes = new Map<string, readonly string[] | undefined>([["", undefined]]);
  for (const policy of config.policies) if (policy.memberIds?.length) scopes.set([...policy.memberIds].sort().join(","), policy.memberIds);
  return [...scopes.values()];
}

/**
 * The MemberId a run's tasks were made with: as the run remembered it, else (a run tracked before runs
 * remembered it) its policy's, as the policy file says now.
 */
export function memberIdsOf(config: Config, run: Pick<OpenRun, "policy" | "memberIds">): readonly string[] | undefined {
  return run.memberIds ?? config.policies.find((p) => p.name === run.policy)?.memberIds;
}

/**
 * The runs csip-scan's task names show in CSIP's task list, made since `sinceMs`, with their tasks:
 * how the results are found when no shared state store remembers the runs. Only the tasks of
 * `deployment` (none: local mode's), by their names: another deployment's are neither read nor told.
 * Each member scope is read (a member's tasks are listed only to calls naming it). The read stops at
 * the first page wholly older than `sinceMs` only once the list has shown itself newest first (as
 * CSIP's console shows it: an assumption): a later task after an earlier one disproves it, and then
 * the list is read to its end and a warning says so; a list that has shown no order yet (one page of
 * tasks of one second) is read on. The TaskName filter is undocumented: rows that do not match are
 * skipped, and counted in one warning; a refused filter is dropped and the names matched here. What
 * the list showed goes into the client's readings (shared/csip/filter-readings.ts).
 */
export async function runsFromTaskList(
  csip: CsipClient,
  sinceMs: number,
  scopes: readonly (readonly string[] | undefined)[] = [undefined],
  deployment?: string,
): Promise<{ runs: OpenRun[]; tasks: Map<string, TaskResult>; calls: number; warnings: string[] }> {
  const prefix = taskNamePrefix(deployment);
  const runs = new Map<string, OpenRun>();
  const tasks = new Map<string, TaskResult>();
  const warnings = new Set<string>();
  const readings = filterReadingsOf(csip);
  let calls = 0;
  const byName = { Name: TASK_NAME_FILTER.field, Values: [prefix], OperatorType: TASK_NAME_FILTER.operator };
  // Fewer a page where the account takes fewer (`csip-scan doctor`'s largest Limit).
  const limit = pageSizeFor(csip, "DescribeScanTaskList", PAGE);
  /** One page, with the TaskName filter unless the account refuses it (then without, once told so). */
  const pageAt = async (memberIds: readonly string[] | undefined, offset: number) => {
    const ask = (filtered: boolean) =>
      csip.call("DescribeScanTaskList", { ...memberParam(memberIds), Filter: { Limit: limit, Offset: offset, ...(filtered ? { Filters: [byName] } : {}) } });
    calls++;
    if (readings.name("DescribeScanTaskList", "TaskName") === "refused") return ask(false);
    try {
      return await ask(true);
    } catch (error) {
      if (!mayBeRefusal(error)) throw error;
      calls++;
      const answer = await ask(false).catch(() => {
        throw error;
      });
      readings.sawName("DescribeScanTaskList", "TaskName", "refused", error.code);
      return answer;
    }
  };
  for (const memberIds of scopes) {
    let newerAfterOlder = false;
    let olderAfterNewer = false;
    let previous: number | undefined;
    // Offsets move by the rows each page held: a server whose pages are smaller than asked is read on.
    let offset = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await pageAt(memberIds, offset);
      const listed = answer.Data ?? [];
      offset += listed.length;
      let recent = 0;
      let outside = false;
      for (const task of listed) {
        const created = csipTimeMs(task.InsertTime) ?? 0;
        if (previous !== undefined && created > previous) newerAfterOlder = true;
        if (previous !== undefined && created < previous) olderAfterNewer = true;
        previous = created;
        if (!task.TaskName?.includes(prefix)) {
          outside = true;
          continue;
        }
        const name = parseTaskName(task.TaskName);
        if (!name || name.deployment !== deployment || !task.TaskId || created < sinceMs) continue;
        recent++;
        // Member scopes overlap when policies share a member: a task listed twice is one task.
        if (tasks.has(task.TaskId)) continue;
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
          ...(memberIds?.length ? { memberIds: [...memberIds] } : {}),
        });
      }
      if (outside && readings.name("DescribeScanTaskList", "TaskName") !== "refused") {
        readings.sawName("DescribeScanTaskList", "TaskName", "ignored");
        warnings.add(ignoredFilterWarning("DescribeScanTaskList", "TaskName"));
      } else if (listed.length > 0 && !outside) {
        readings.sawName("DescribeScanTaskList", "TaskName", "honoured");
      }
      const end = listed.length === 0 || offset >= (answer.TotalCount ?? 0);
      // Newest first, shown and not disproved: the rest of the list is older still.
      if (end || (olderAfterNewer && !newerAfterOlder && recent === 0)) break;
      if (page === MAX_PAGES - 1) warnings.add(`DescribeScanTaskList: read the first ${MAX_PAGES * limit} tasks only`);
    }
    if (newerAfterOlder || olderAfterNewer) readings.sawOrder("DescribeScanTaskList", newerAfterOlder && olderAfterNewer ? "unordered" : newerAfterOlder ? "oldest-first" : "newest-first");
    if (newerAfterOlder) warnings.add("DescribeScanTaskList did not list tasks newest first: the task list was read to its end");
  }
  return { runs: [...runs.values()], tasks, calls, warnings: [...warnings] };
}
