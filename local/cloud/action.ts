import type { IncomingHttpHeaders } from "node:http";
import type { AccountState } from "./account.ts";

/** An HTTP request as the stand-ins' server reads it, for what is not a Cloud API action (COS, Function URLs). */
export interface HttpRequest {
  method: string;
  /** The Host header without a port: what a client signed. */
  host: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * What every Cloud API action of the stand-ins is: a function of the checked parameters and the account,
 * answering the Response body (without RequestId) or an error in the official shape.
 */

export interface ActionContext {
  account: AccountState;
  /** The region the request named (v1 `Region`, TC3 `X-TC-Region`); "" when it named none. */
  region: string;
  now: number;
  /** Milliseconds a created or updated function stays Creating/Updating before it is Active. */
  settleMs: number;
}

export type Params = Record<string, unknown>;

export type Answer = { response: Record<string, unknown> } | { error: { code: string; message: string } };

export type Action = (params: Params, context: ActionContext) => Answer;

/** Whether a lookup gave the error answer rather than the thing looked up. */
export const isAnswer = (value: unknown): value is Answer => typeof value === "object" && value !== null && ("error" in value || "response" in value);

export const ok = (response: Record<string, unknown> = {}): Answer => ({ response });

export const fail = (code: string, message: string): Answer => ({ error: { code, message } });

/** The parameter as a string ("" when absent: the list check has already required what is required). */
export const text = (params: Params, name: string): string => (typeof params[name] === "string" ? (params[name] as string) : "");

/** The parameter as a number, or `fallback` when absent. */
export const int = (params: Params, name: string, fallback: number): number => (typeof params[name] === "number" ? (params[name] as number) : fallback);

/** The parameter as a list of records (empty when absent). */
export const records = (params: Params, name: string): Params[] => (Array.isArray(params[name]) ? (params[name] as Params[]) : []);

/** A page of `items` as the list actions answer it: Offset and Limit with the service's default and cap. */
export function page<T>(items: readonly T[], params: Params, defaultLimit: number, maxLimit: number): { items: T[]; error?: Answer } {
  const offset = int(params, "Offset", 0);
  const limit = int(params, "Limit", defaultLimit);
  if (offset < 0) return { items: [], error: fail("InvalidParameterValue.Offset", `Offset must not be negative (was ${offset}).`) };
  if (limit < 0 || limit > maxLimit) return { items: [], error: fail("InvalidParameterValue.Limit", `Limit must be between 0 and ${maxLimit} (was ${limit}).`) };
  return { items: items.slice(offset, offset + limit) };
}

/** `items` sorted by a key, ascending or descending, ties kept in their order. */
export function ordered<T>(items: readonly T[], key: (item: T) => string, order: string): T[] {
  const sign = order.toUpperCase() === "ASC" ? 1 : -1;
  return items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => {
      const ka = key(a.item);
      const kb = key(b.item);
      return ka === kb ? a.index - b.index : ka < kb ? -sign : sign;
    })
    .map(({ item }) => item);
}
