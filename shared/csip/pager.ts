import { CsipScanError } from "../errors.ts";
import type { CsipAction, CsipClient, RequestOf } from "./client.ts";

/**
 * One pager for every CSIP list, as Cloud Custodian's `execute_paged_query` is for its Tencent
 * resources: Limit/Offset pages read to the list's end (its TotalCount, or `Total` on the asset lists),
 * with caps on pages so that a runaway answer cannot loop for ever.
 *
 * Each page is handed to `onPage` in list order and is not kept, so a walk's memory is what the caller
 * keeps of each row, not the answers. After the first page (which gives the total), up to
 * `concurrency` pages are in flight at once: the calls still queue at the shared rate limiter, but slow
 * answers overlap instead of adding up. A page that arrives early waits for those before it, and the
 * read waits for `onPage`: a consumer that creates tasks as chunks fill holds back the walk, so no more
 * than `concurrency` pages are ever held.
 */

/** A list's `Filter.Filters` entry: OperatorType 7 is exact, 9 is "contains" (the reference's Filter). */
export interface WhereFilter {
  Name: string;
  Values: string[];
  OperatorType: number;
}

export interface PageLimits {
  /** Rows asked per call: CSIP documents no largest page; 100 is the assumption the emulator enforces. */
  pageSize: number;
  /** Pages read at most of one list. */
  maxPages: number;
  /** Pages in flight at once after the first. */
  concurrency: number;
}

export const DEFAULT_PAGING: PageLimits = { pageSize: 100, maxPages: 1000, concurrency: 6 };

export interface PagedRead {
  /** The largest total the answers stated. */
  total: number;
  /** Rows handed to `onPage`. */
  rows: number;
  calls: number;
  /** True when `maxPages` stopped the read before the list's end. */
  capped: boolean;
}

type Row = Record<string, unknown>;
interface ListAnswer {
  Total?: number;
  TotalCount?: number;
  Data?: Row[];
}

export interface PagedQuery<A extends CsipAction> {
  csip: CsipClient;
  action: A;
  /** The request without Filter.Limit and Filter.Offset (MemberId, Filter.Filters, Order, By). */
  request: RequestOf<A>;
  limits?: Partial<PageLimits>;
  /** Called with each page's rows in list order; the read waits for a returned promise. */
  onPage(rows: Row[], offset: number): void | Promise<void>;
  /**
   * Thrown instead of reading on when the list is longer than the cap allows: the inventory must be
   * whole, a risk list may be cut (the caller says so).
   */
  failWhenCapped?: boolean;
}

/** Reads a list to its end (or its cap), page by page, handing each page over as it arrives. */
export async function readPages<A extends CsipAction>(query: PagedQuery<A>): Promise<PagedRead> {
  const { pageSize, maxPages, concurrency } = { ...DEFAULT_PAGING, ...query.limits };
  const base = query.request as { Filter?: Record<string, unknown> };
  let calls = 0;
  let total = 0;
  let rows = 0;
  // Offsets are asked in increasing order; each page's handover waits for the one asked before it, and
  // is skipped when that one failed (the read fails with the first error), so a consumer never sees a
  // page after a gap.
  let handedOver: Promise<boolean> = Promise.resolve(true);
  const readAt = async (offset: number): Promise<number> => {
    calls++;
    const before = handedOver;
    let settle!: (ok: boolean) => void;
    handedOver = new Promise((resolve) => (settle = resolve));
    let ok = false;
    try {
      const request = { ...base, Filter: { ...base.Filter, Limit: pageSize, Offset: offset } };
      const answer = (await query.csip.call(query.action, request as RequestOf<A>)) as ListAnswer;
      const data = answer.Data ?? [];
      total = Math.max(total, answer.TotalCount ?? answer.Total ?? 0);
      rows += data.length;
      if (!(await before)) throw new CsipScanError(`${query.action}: the page before offset ${offset} failed`);
      await query.onPage(data, offset);
      ok = true;
      return data.length;
    } finally {
      settle(ok);
    }
  };
  const firstRows = await readAt(0);
  const pagesFor = (): number => Math.ceil(total / pageSize);
  if (query.failWhenCapped && pagesFor() > maxPages) {
    throw new CsipScanError(`${query.action} lists ${total} rows, more than ${maxPages * pageSize} (${maxPages} pages of ${pageSize}); raise the cap`);
  }
  if (firstRows === 0 || firstRows >= total) return { total, rows, calls, capped: false };
  if (firstRows < pageSize) {
    // The server's pages are smaller than asked (its largest page is undocumented): read on, one
    // page after another, from where each ended.
    let offset = firstRows;
    while (offset < total && calls < maxPages) {
      const got = await readAt(offset);
      if (got === 0) break;
      offset += got;
    }
    return { total, rows, calls, capped: offset < total && calls >= maxPages };
  }
  // Pages 1.. up to the stated total, `concurrency` at a time. Each worker asks the total again before
  // each page, and every answer may raise it: a list that grew during the read is read on to its new end.
  let next = 1;
  // On a failure no further page is asked, and the read fails only once every page in flight has
  // settled: a consumer still creating a task for an earlier page is not left running on its own.
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && next < Math.min(pagesFor(), maxPages)) await readAt(next++ * pageSize);
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, () => worker().catch((error: unknown) => void (failure ??= { error }))));
  if (failure) throw failure.error;
  const capped = next >= maxPages && total > maxPages * pageSize;
  return { total, rows, calls, capped };
}

/**
 * What the filtered reads of one action found: the rows that match, and whether the server answered
 * rows the filter excludes (it ignored the filter: CSIP documents no filter names, so every filtered
 * read is checked). Then the read went to the list's end anyway, and the rows were matched here.
 */
export interface FilteredRead {
  rows: Row[];
  calls: number;
  /** The filter name the server ignored, if it did. */
  ignored?: string;
  capped: boolean;
  /** Values not asked for: `stop` said so before their batch. */
  unread: string[];
}

export interface FilteredQuery<A extends CsipAction> {
  csip: CsipClient;
  action: A;
  /** MemberId and the like: the request besides Filter. */
  request: Omit<RequestOf<A>, "Filter">;
  /** The row field filtered on, and how a row reads it (a string, or a list of strings). */
  field: string;
  values: readonly string[];
  /** OperatorType: 7 exact, 9 contains. */
  operator?: 7 | 9;
  /** Values per call. */
  batch?: number;
  limits?: Partial<PageLimits>;
  /** Checked before each batch: true leaves the rest unread (a function's deadline). */
  stop?(): boolean;
  /** The value(s) of the field in a row; defaults to `row[field]`. */
  fieldValue?(row: Row): unknown;
}

/**
 * Rows whose `field` is one of `values` (or contains one, for OperatorType 9), read with the filter in
 * batches, each batch to its end. When a row comes back that the filter excludes, the server ignored
 * the filter: that read was the whole list, so every value is matched from it and no further batch is
 * sent.
 */
export async function readFiltered<A extends CsipAction>(query: FilteredQuery<A>): Promise<FilteredRead> {
  const operator = query.operator ?? 7;
  const batchSize = query.batch ?? 50;
  const fieldOf = query.fieldValue ?? ((row: Row) => row[query.field]);
  const matches = (row: Row, wanted: readonly string[]): boolean => {
    const raw = fieldOf(row);
    const values = (Array.isArray(raw) ? raw : [raw]).map((v) => (typeof v === "string" || typeof v === "number" ? String(v) : ""));
    return values.some((v) => wanted.some((w) => (operator === 9 ? v.includes(w) : v === w)));
  };
  const found: Row[] = [];
  let calls = 0;
  let capped = false;
  let ignored: string | undefined;
  const unread: string[] = [];
  const all = [...new Set(query.values)];
  for (let i = 0; i < all.length && !ignored; i += batchSize) {
    const batch = all.slice(i, i + batchSize);
    if (query.stop?.()) {
      unread.push(...all.slice(i));
      break;
    }
    const filter: WhereFilter = { Name: query.field, Values: batch, OperatorType: operator };
    const read = await readPages({
      csip: query.csip,
      action: query.action,
      request: { ...query.request, Filter: { Filters: [filter] } } as RequestOf<A>,
      ...(query.limits ? { limits: query.limits } : {}),
      onPage: (rows) => {
        for (const row of rows) {
          // A row outside this batch: the server ignored the filter and this read is the whole list.
          if (!matches(row, batch)) ignored = query.field;
          if (matches(row, all)) found.push(row);
        }
      },
    });
    calls += read.calls;
    capped ||= read.capped;
  }
  return { rows: found, calls, capped, unread, ...(ignored ? { ignored } : {}) };
}

/** The summary's one warning for an action whose filter the server ignored. */
export function ignoredFilterWarning(action: CsipAction, field: string): string {
  return `${action} ignored the filter ${field}: the list was read to its end and matched here`;
}
