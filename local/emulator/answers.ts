import { beijingTime } from "../cloud/clock.ts";
import type { EmulatorAccount } from "./accounts.ts";
import type { CsipAction } from "../../shared/csip/actions.ts";
import type { EstateAsset } from "./estate.ts";
import { FILTER_NAMES } from "./filters.ts";
import { FILTER_REFUSAL, type EmulatorState, type MultiValueAnswer } from "./state.ts";

/** What every emulated action is built from: its context, its answer, paging and member scope. */

export interface Context {
  state: EmulatorState;
  account: EmulatorAccount;
  /** The emulated clock's reading when the request arrived. */
  now: number;
  /** The emulator's own base URL (`http://127.0.0.1:PORT`), for the report links it hands out. */
  origin: string;
  /** The action called. */
  action: CsipAction;
}

export type Params = Record<string, unknown>;
export type Answer = { response: Record<string, unknown> } | { error: { code: string; message: string } };
export type Handler = (params: Params, context: Context) => Answer;

export const invalid = (message: string): Answer => ({ error: { code: "InvalidParameterValue", message } });
export const missing = (name: string, why: string): Answer => ({
  error: { code: "MissingParameter", message: `The request is missing a required parameter \`${name}\`: ${why}.` },
});

/** CSIP shows times as "2024-10-30 11:18:09", Beijing time (the official examples). */
export const csipTime = beijingTime;

/** The assets a request may see: without MemberId the caller's own, with it those member accounts'. */
export function memberScope(params: Params): (asset: EstateAsset) => boolean {
  const members = Array.isArray(params.MemberId) ? (params.MemberId as string[]) : [];
  return members.length > 0 ? (a) => a.memberId !== undefined && members.includes(a.memberId) : (a) => a.memberId === undefined;
}

interface FilterParams {
  Limit?: number;
  Offset?: number;
  Filters?: { Name: string; Values: string[]; OperatorType?: number }[];
}

export interface Page<T> {
  page: T[];
  total: number;
}

/** What paging needs to know of the action and the emulator: the filter names it answers, and faults. */
export interface PageRules {
  maxPageSize: number;
  /** Filter names the action answers (filters.ts); any other is InvalidParameterValue. */
  filterNames: readonly string[];
  /** Filter names the emulator has been told to ignore (a fault: the server answers as if unfiltered). */
  ignoredFilters: ReadonlySet<string>;
  /** Filter names the emulator refuses (a reading). */
  refusedFilters: ReadonlySet<string>;
  /** How several values in one filter are answered (a reading). */
  multiValueFilters: MultiValueAnswer;
}

/**
 * Filter.Limit (default 10, at most maxPageSize) and Offset paging; Filters match item fields, 7 exact
 * and 9 fuzzy. `shape` turns an item into its row: without Filters only the page's items are shaped,
 * so that reading a list of 100,000 large rows a page at a time costs the emulator a page each.
 */
export function page<T extends object, R extends object = T>(items: T[], params: Params, rules: PageRules, shape?: (item: T) => R): Page<R> | Answer {
  const filter = params.Filter as FilterParams | undefined;
  const limit = filter?.Limit ?? 10;
  const offset = filter?.Offset ?? 0;
  const maxPageSize = rules.maxPageSize;
  if (limit < 0 || limit > maxPageSize) return invalid(`Filter.Limit must be between 0 and ${maxPageSize}.`);
  if (offset < 0) return invalid("Filter.Offset must not be negative.");
  const toRow = shape ?? ((item: T) => item as unknown as R);
  const filters = filter?.Filters ?? [];
  const unknown = filters.find((f) => !rules.filterNames.includes(f.Name));
  if (unknown) return invalid(`Filter.Filters.Name \`${unknown.Name}\` is not supported.`);
  const refused = filters.find((f) => rules.refusedFilters.has(f.Name));
  if (refused) return { error: { code: FILTER_REFUSAL.name.code, message: `Filter.Filters.Name \`${refused.Name}\` ${FILTER_REFUSAL.name.message}` } };
  if (rules.multiValueFilters === "refused" && filters.some((f) => f.Values.length > 1)) return { error: { ...FILTER_REFUSAL.values } };
  const applied = filters
    .filter((f) => !rules.ignoredFilters.has(f.Name))
    .map((f) => (rules.multiValueFilters === "first-only" ? { ...f, Values: f.Values.slice(0, 1) } : f));
  if (applied.length === 0) return { page: items.slice(offset, offset + limit).map(toRow), total: items.length };
  let matched = items.map(toRow);
  for (const f of applied) {
    const fuzzy = f.OperatorType === 9;
    matched = matched.filter((item) => {
      const raw = (item as Record<string, unknown>)[f.Name];
      const values = (Array.isArray(raw) ? raw : [raw]).map(String);
      return values.some((v) => f.Values.some((want) => (fuzzy ? v.includes(want) : v === want)));
    });
  }
  return { page: matched.slice(offset, offset + limit), total: matched.length };
}

/** The paging rules of the called action. */
export function rulesOf({ state, action }: Pick<Context, "state" | "action">): PageRules {
  const prefix = `${action}.`;
  const ofAction = (pairs: ReadonlySet<string>): Set<string> => new Set([...pairs].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)));
  return {
    maxPageSize: state.maxPageSize,
    filterNames: FILTER_NAMES[action] ?? [],
    ignoredFilters: ofAction(state.ignoredFilters),
    refusedFilters: ofAction(state.refusedFilters),
    multiValueFilters: state.multiValueFilters,
  };
}

export function isAnswer<T>(result: Page<T> | Answer): result is Answer {
  return "error" in result || "response" in result;
}
