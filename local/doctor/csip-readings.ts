import { ALL_KINDS, ASSET_KINDS } from "../../shared/assets/kinds.ts";
import { riskListOf, type CsipAction } from "../../shared/csip/actions.ts";
import type { CsipClient, RequestOf } from "../../shared/csip/client.ts";
import { filterReadingsOf, mayBeRefusal, tellFilterReadings, type NameReading, type OrderReading, type ValuesReading } from "../../shared/csip/filter-readings.ts";
import { DEFAULT_PAGING, settleFilterReading } from "../../shared/csip/pager.ts";
import { describeError } from "../../shared/errors.ts";
import { RISK_FILTERS, RISK_KIND_NAMES } from "../../shared/results/findings.ts";
import { REPORT_FILTER } from "../../shared/results/reports.ts";
import { csipTimeMs, TASK_ID_FILTER } from "../../shared/results/task-states.ts";
import { TASK_NAME_FILTER } from "../../shared/scan/task-list.ts";

/**
 * What `csip-scan doctor` asks CSIP, with reads only (no task is ever created): whether it answers, the
 * largest Filter.Limit each list takes, how each list takes several values in one filter and each filter
 * name the code sends it, and the task list's order. The lists and names come from the code's own
 * constants (`filtersSent`), so a filter the code starts sending is one doctor asks about.
 */

/** One filter the code sends: the list, the row field and the operator (7 exact, 9 contains). */
export interface FilterSent {
  action: CsipAction;
  field: string;
  operator: 7 | 9;
}

/**
 * Every filter the code sends, from the constants its reads use: a run's tasks by TaskId and TaskName,
 * reports by task, each asset kind's lookup fields, and the risk lists' fields.
 */
export function filtersSent(): FilterSent[] {
  const sent: FilterSent[] = [TASK_ID_FILTER, TASK_NAME_FILTER, REPORT_FILTER].map((f) => ({ action: f.action, field: f.field, operator: f.operator }));
  for (const kind of ALL_KINDS) {
    const { listAction, lookupBy } = ASSET_KINDS[kind];
    for (const field of new Set(Object.values(lookupBy))) sent.push({ action: listAction, field, operator: 7 });
  }
  for (const kind of RISK_KIND_NAMES) for (const field of Object.values(RISK_FILTERS)) sent.push({ action: riskListOf(kind), field, operator: 7 });
  return sent;
}

/** The lists the code reads: each one a filter is sent to (every asset kind's inventory list among them). */
export function listsRead(): CsipAction[] {
  return [...new Set(filtersSent().map((f) => f.action))];
}

/** The rows a page the project asks for (shared/csip/pager.ts); doctor asks no more. */
export const PAGE_ASKED = DEFAULT_PAGING.pageSize;

/** How a list took Filter.Limit. */
export type LimitFinding =
  /** It took the project's page whole. */
  | { took: number }
  /** It refused the project's page (with this code) and took at most `took`. */
  | { took: number; refusedCode: string }
  /** It took the Limit but answered fewer rows than asked while holding more: its pages are `took` rows. */
  | { took: number; short: true }
  /** It failed whatever was asked: the list cannot be read with these keys. */
  | { failed: string };

/** One list as the account answered it. */
export interface ListFinding {
  action: CsipAction;
  limit: LimitFinding;
  /** How it answered two of its values asked together; undefined: it holds fewer than two to ask. */
  values?: ValuesReading;
  /** Each filter name the code sends it: honoured, ignored or refused, or no rows to ask about, or a failure. */
  names: Record<string, NameReading | "no rows" | { failed: string }>;
  refusalCode?: string;
}

export interface CsipFindings {
  /** Whether CSIP answered a read of its task list at all, and how many tasks it lists. */
  answering: { tasks: number } | { failed: string };
  lists: ListFinding[];
  /** The order of the task list's first page; "too few": fewer than two tasks of different times. */
  taskOrder?: OrderReading | "too few";
  /** Tasks on that page. */
  tasksSeen?: number;
}

const ask = (csip: CsipClient, action: CsipAction, limit: number) => csip.call(action, { Filter: { Limit: limit, Offset: 0 } } as RequestOf<typeof action>) as Promise<{ Data?: unknown[]; TotalCount?: number; Total?: number }>;

/**
 * The largest Limit of `action` up to the project's page: asked as the project asks it; refused, one row tells
 * a refusal of the Limit from a list that fails whatever is asked, and halving finds the largest taken
 * (about seven calls). A list that answers fewer rows than asked while holding more has pages that size.
 */
export async function largestLimit(csip: CsipClient, action: CsipAction): Promise<LimitFinding> {
  try {
    const answer = await ask(csip, action, PAGE_ASKED);
    const rows = answer.Data?.length ?? 0;
    const total = answer.TotalCount ?? answer.Total ?? 0;
    return rows > 0 && rows < PAGE_ASKED && rows < total ? { took: rows, short: true } : { took: PAGE_ASKED };
  } catch (error) {
    if (!mayBeRefusal(error)) return { failed: describeError(error) };
    try {
      await ask(csip, action, 1);
    } catch (again) {
      return { failed: describeError(again) };
    }
    let taken = 1;
    let refused = PAGE_ASKED;
    while (refused - taken > 1) {
      const middle = Math.floor((taken + refused) / 2);
      try {
        await ask(csip, action, middle);
        taken = middle;
      } catch (again) {
        if (!mayBeRefusal(again)) return { failed: describeError(again) };
        refused = middle;
      }
    }
    return { took: taken, refusedCode: error.code };
  }
}

/**
 * How `action` takes each of its filters, settled on a client told nothing but its largest Limit: a page of
 * the list, then two of its values asked together (shared/csip/pager.ts settleFilterReading), one page at
 * most of any read, so a refused or ignored name costs a page, not the whole list.
 */
async function filterFindings(csip: CsipClient, action: CsipAction, fields: readonly FilterSent[], limit: LimitFinding): Promise<Pick<ListFinding, "values" | "names" | "refusalCode">> {
  const names: ListFinding["names"] = {};
  tellFilterReadings(csip, "took" in limit && limit.took < PAGE_ASKED ? { [action]: { largestLimit: limit.took } } : {});
  for (const { field, operator } of fields) {
    try {
      const settled = await settleFilterReading({ csip, action, request: {} as RequestOf<typeof action>, field, operator, limits: { maxPages: 1 } });
      if (!settled) names[field] = "no rows";
    } catch (error) {
      names[field] = { failed: describeError(error) };
    }
  }
  const row = filterReadingsOf(csip).rows().find((r) => r.action === action);
  for (const [field, reading] of Object.entries(row?.names ?? {})) names[field] ??= reading;
  return { ...(row?.values ? { values: row.values } : {}), names, ...(row?.refusalCode ? { refusalCode: row.refusalCode } : {}) };
}

/** The order of the task list's first page, by InsertTime: newest first, oldest first, neither, or too few to tell. */
async function taskOrder(csip: CsipClient, limit: number): Promise<{ order: OrderReading | "too few"; seen: number }> {
  const answer = await ask(csip, "DescribeScanTaskList", limit);
  const times = ((answer.Data ?? []) as { InsertTime?: string }[]).map((t) => csipTimeMs(t.InsertTime)).filter((t): t is number => t !== undefined);
  let newerAfterOlder = false;
  let olderAfterNewer = false;
  times.forEach((t, i) => {
    if (i > 0 && t > times[i - 1]!) newerAfterOlder = true;
    if (i > 0 && t < times[i - 1]!) olderAfterNewer = true;
  });
  const order = newerAfterOlder && olderAfterNewer ? "unordered" : newerAfterOlder ? "oldest-first" : olderAfterNewer ? "newest-first" : "too few";
  return { order, seen: times.length };
}

/** Everything doctor reads of CSIP. `csip`: a run's client (rate-limited, retrying); it is told readings as it goes. */
export async function csipFindings(csip: CsipClient): Promise<CsipFindings> {
  let tasks: number;
  try {
    const answer = await ask(csip, "DescribeScanTaskList", 1);
    tasks = answer.TotalCount ?? 0;
  } catch (error) {
    return { answering: { failed: describeError(error) }, lists: [] };
  }
  const sent = filtersSent();
  const lists: ListFinding[] = [];
  for (const action of listsRead()) {
    const limit = await largestLimit(csip, action);
    const filters = "failed" in limit ? { names: {} } : await filterFindings(csip, action, sent.filter((f) => f.action === action), limit);
    lists.push({ action, limit, ...filters });
  }
  const taskLimit = lists.find((l) => l.action === "DescribeScanTaskList")?.limit;
  const order = taskLimit && "took" in taskLimit ? await taskOrder(csip, taskLimit.took) : undefined;
  return { answering: { tasks }, lists, ...(order ? { taskOrder: order.order, tasksSeen: order.seen } : {}) };
}
