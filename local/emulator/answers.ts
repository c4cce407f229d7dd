import { beijingTime } from "../cloud/clock.ts";
import type { EmulatorAccount } from "./accounts.ts";
import type { EstateAsset } from "./estate.ts";
import type { EmulatorState } from "./state.ts";

/** What every emulated action is built from: its context, its answer, paging and member scope. */

export interface Context {
  state: EmulatorState;
  account: EmulatorAccount;
  /** The emulated clock's reading when the request arrived. */
  now: number;
  /** The emulator's own base URL (`http://127.0.0.1:PORT`), for the report links it hands out. */
  origin: string;
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

/** Filter.Limit (default 10, at most maxPageSize) and Offset paging; Filters match item fields, 7 exact and 9 fuzzy. */
export function page<T extends object>(items: T[], params: Params, maxPageSize: number): Page<T> | Answer {
  const filter = params.Filter as FilterParams | undefined;
  const limit = filter?.Limit ?? 10;
  const offset = filter?.Offset ?? 0;
  if (limit < 0 || limit > maxPageSize) return invalid(`Filter.Limit must be between 0 and ${maxPageSize}.`);
  if (offset < 0) return invalid("Filter.Offset must not be negative.");
  let matched = items;
  for (const f of filter?.Filters ?? []) {
    const fuzzy = f.OperatorType === 9;
    matched = matched.filter((item) => {
      const raw = (item as Record<string, unknown>)[f.Name];
      const values = (Array.isArray(raw) ? raw : [raw]).map(String);
      return values.some((v) => f.Values.some((want) => (fuzzy ? v.includes(want) : v === want)));
    });
  }
  return { page: matched.slice(offset, offset + limit), total: matched.length };
}

export function isAnswer<T>(result: Page<T> | Answer): result is Answer {
  return "error" in result || "response" in result;
}
