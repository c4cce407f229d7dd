import { CsipScanError } from "../errors.ts";
import type { CsipAction, CsipClient, RequestOf } from "./client.ts";
import { filterReadingsOf, mayBeRefusal, pageSizeFor, type ActionReading, type ValuesReading } from "./filter-readings.ts";

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
  /**
   * Called with each page's rows in list order, and the largest total the answers stated so far; the
   * read waits for a returned promise.
   */
  onPage(rows: Row[], offset: number, total: number): void | Promise<void>;
  /**
   * Thrown instead of reading on when the list is longer than the cap allows: the inventory must be
   * whole, a risk list may be cut (the caller says so).
   */
  failWhenCapped?: boolean;
  /** What the cap stands for, for that error (the default: "raise the cap"). */
  capReason?: string;
}

/** Reads a list to its end (or its cap), page by page, handing each page over as it arrives. */
export async function readPages<A extends CsipAction>(query: PagedQuery<A>): Promise<PagedRead> {
  const { maxPages, concurrency, ...limits } = { ...DEFAULT_PAGING, ...query.limits };
  // Fewer rows a page where the account was found to take fewer (`csip-scan doctor`'s largest Limit).
  const pageSize = pageSizeFor(query.csip, query.action, limits.pageSize);
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
      await query.onPage(data, offset, total);
      ok = true;
      return data.length;
    } finally {
      settle(ok);
    }
  };
  const firstRows = await readAt(0);
  const pagesFor = (): number => Math.ceil(total / pageSize);
  if (query.failWhenCapped && pagesFor() > maxPages) {
    throw new CsipScanError(`${query.action} lists ${total} rows, more than ${maxPages * pageSize} (${maxPages} pages of ${pageSize}): ${query.capReason ?? "raise the cap"}`);
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
 * What the filtered reads of one action found: the rows that match, and how the server took the
 * filter. CSIP documents no filter names and not how several values combine, so every filtered read is
 * checked: a row the filter excludes means the name was ignored (that read was the whole list, matched
 * here); a refusal means the list is read without it and matched here; a value asked with others and
 * not returned is asked again on its own before it is taken as absent, unless the account has shown
 * that it ORs several values (shared/csip/filter-readings.ts).
 */
export interface FilteredRead {
  rows: Row[];
  calls: number;
  /** The filter name the server ignored, if it did. */
  ignored?: string;
  /** The filter name the server refused, if it did: the list was read to its end and matched here. */
  refused?: string;
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

type ListPage = { Data?: Row[]; TotalCount?: number; Total?: number };

/**
 * Rows whose `field` is one of `values` (or contains one, for OperatorType 9), read with the filter in
 * batches, each batch to its end, and never trusting the server to have honoured what it was asked:
 * - a row outside the batch: the name was ignored, that read was the whole list, every value is matched
 *   from it and no further batch is sent;
 * - a refusal: one value alone tells whether several values or the name were refused; several refused,
 *   the rest is asked one value a call; the name refused, the list is read without it and matched here;
 * - values of a batch not returned: taken as absent once the account has shown that it ORs (rows came
 *   back for a value after the first, or one probe settles it); otherwise asked one a call, or the whole
 *   list is read when that takes fewer calls.
 * What the answers showed goes into the client's readings (`filterReadingsOf`), and what the client was
 * told up front is acted on at once (no several values where the account does not OR them).
 */
export async function readFiltered<A extends CsipAction>(query: FilteredQuery<A>): Promise<FilteredRead> {
  const { csip, action, field } = query;
  const readings = filterReadingsOf(csip);
  readings.used(action);
  const operator = query.operator ?? 7;
  const batchSize = query.batch ?? 50;
  const { maxPages, ...limits } = { ...DEFAULT_PAGING, ...query.limits };
  const pageSize = pageSizeFor(csip, action, limits.pageSize);
  const fieldOf = query.fieldValue ?? ((row: Row) => row[field]);
  const valuesIn = (row: Row): string[] => {
    const raw = fieldOf(row);
    if (raw === undefined || raw === null) return [];
    return (Array.isArray(raw) ? raw : [raw]).map((v) => (typeof v === "string" || typeof v === "number" ? String(v) : ""));
  };
  const matchesValue = (row: Row, want: string): boolean => valuesIn(row).some((v) => (operator === 9 ? v.includes(want) : v === want));
  const matches = (row: Row, wanted: Iterable<string>): boolean => [...wanted].some((w) => matchesValue(row, w));
  const withoutFilter = query.request as RequestOf<A>;
  const withFilter = (values: readonly string[], extra: { Limit?: number; Offset?: number } = {}): RequestOf<A> =>
    ({ ...query.request, Filter: { Filters: [{ Name: field, Values: [...values], OperatorType: operator } satisfies WhereFilter], ...extra } }) as RequestOf<A>;

  const found: Row[] = [];
  /** Values whose rows are not read yet, in the order asked. */
  const pending = new Set(query.values);
  const unread: string[] = [];
  let calls = 0;
  let capped = false;
  let ignored: string | undefined;
  let refused: string | undefined;
  let total: number | undefined;

  /** The list read without the filter, every pending value matched here. */
  const readWhole = async (): Promise<void> => {
    let withField = false;
    const read = await readPages({
      csip,
      action,
      request: withoutFilter,
      ...(query.limits ? { limits: query.limits } : {}),
      onPage: (rows) => {
        for (const row of rows) {
          if (fieldOf(row) !== undefined) withField = true;
          if (matches(row, pending)) found.push(row);
        }
      },
    });
    calls += read.calls;
    capped ||= read.capped;
    total = read.total;
    // Matching on a field no row has would call every value absent: a misspelt name, not a reading.
    if (read.rows > 0 && !withField) throw new CsipScanError(`${action}: no row has a field ${field} to match the values on`);
    pending.clear();
  };

  /** The list's first row, read without the filter, and its size, also kept in `total`. */
  const firstRow = async (): Promise<{ row: Row | undefined; size: number }> => {
    calls++;
    const first = (await csip.call(action, { ...query.request, Filter: { Limit: 1, Offset: 0 } } as RequestOf<A>)) as ListPage;
    total = first.TotalCount ?? first.Total ?? 0;
    return { row: first.Data?.[0], size: total };
  };

  /** The list's size, from one row of it: whether reading it whole costs fewer calls than `calls`. */
  const wholeIsCheaper = async (singles: number): Promise<boolean> => {
    const size = total ?? (await firstRow()).size;
    const pages = Math.max(1, Math.ceil(size / pageSize));
    return pages < singles && pages <= maxPages;
  };

  /**
   * One batch read to its end with the filter. Returns the values of the batch rows came back for, and
   * whether a row came back for a value after the first and not for the first (what ORing shows), or
   * "ignored" when a row came back that the filter excludes (that read was the whole list).
   */
  const readBatch = async (batch: readonly string[]): Promise<{ returned: Set<string>; beyondFirst: boolean } | "ignored"> => {
    const returned = new Set<string>();
    let beyondFirst = false;
    let outside = false;
    const read = await readPages({
      csip,
      action,
      request: withFilter(batch),
      ...(query.limits ? { limits: query.limits } : {}),
      onPage: (rows) => {
        for (const row of rows) {
          if (!matches(row, batch)) outside = true;
          for (const value of batch) if (matchesValue(row, value)) returned.add(value);
          if (!matchesValue(row, batch[0]!) && matches(row, batch)) beyondFirst = true;
          if (matches(row, pending)) found.push(row);
        }
      },
    });
    calls += read.calls;
    capped ||= read.capped;
    if (outside) {
      readings.sawName(action, field, "ignored");
      ignored = field;
      pending.clear();
      return "ignored";
    }
    if (read.rows > 0) readings.sawName(action, field, "honoured");
    return { returned, beyondFirst };
  };

  /**
   * Whether the account ORs several values, settled with one call (two when no value of the batch came
   * back): the values not returned, and last a value the list has rows for. ORed, its rows come back;
   * answering the first value only (or the first few), they do not. Undefined: the list is empty, so
   * nothing asked can be missing.
   */
  const probe = async (unreturned: readonly string[], returned: readonly string[]): Promise<ValuesReading | undefined> => {
    let witness = returned[0];
    // An empty list, seen by an earlier probe of this read: nothing asked can be missing.
    if (witness === undefined && total === 0) return undefined;
    if (witness === undefined) {
      const { row } = await firstRow();
      if (!row) return undefined;
      // A value asked for, with rows in the list, and not returned: proof enough.
      if (unreturned.some((value) => matchesValue(row, value))) return "first-only";
      witness = valuesIn(row).find((v) => v !== "");
      if (witness === undefined) return "first-only";
    }
    calls++;
    try {
      const answer = (await csip.call(action, withFilter([...unreturned.slice(0, batchSize - 1), witness], { Limit: 1, Offset: 0 }))) as ListPage;
      const row = answer.Data?.[0];
      return row && matchesValue(row, witness) && !matches(row, unreturned) ? "ored" : "first-only";
    } catch (error) {
      if (!mayBeRefusal(error)) throw error;
      readings.sawValues(action, "refused", error.code);
      return "refused";
    }
  };

  while (pending.size > 0) {
    if (query.stop?.()) {
      unread.push(...pending);
      break;
    }
    const name = readings.name(action, field);
    if (name === "ignored" || name === "refused") {
      // Seen earlier in this run, or told: the filter would change nothing.
      await readWhole();
      if (name === "ignored") ignored = field;
      else refused = field;
      break;
    }
    const several = readings.values(action);
    const oneByOne = several === "first-only" || several === "refused";
    if (oneByOne && pending.size >= 3 && (await wholeIsCheaper(pending.size))) {
      await readWhole();
      break;
    }
    const batch = [...pending].slice(0, oneByOne ? 1 : batchSize);
    let answer: Awaited<ReturnType<typeof readBatch>>;
    try {
      answer = await readBatch(batch);
    } catch (error) {
      if (!mayBeRefusal(error)) throw error;
      if (batch.length > 1) {
        // One value alone tells a refusal of several values from a refusal of the name.
        try {
          const alone = await readBatch(batch.slice(0, 1));
          readings.sawValues(action, "refused", error.code);
          if (alone !== "ignored") pending.delete(batch[0]!);
          continue;
        } catch (again) {
          if (!mayBeRefusal(again)) throw again;
        }
      }
      // One value refused too: the name is refused, or the call fails whatever it asks (then it fails here).
      try {
        await readWhole();
      } catch {
        throw error;
      }
      readings.sawName(action, field, "refused", error.code);
      refused = field;
      break;
    }
    if (answer === "ignored") break;
    const { returned, beyondFirst } = answer;
    // The first value (or the only one) is answered whatever the reading; the rest only where the account ORs.
    const [first, ...rest] = batch;
    pending.delete(first!);
    for (const value of rest) if (returned.has(value)) pending.delete(value);
    const unreturned = rest.filter((value) => !returned.has(value));
    // Rows for a value after the first (and not the first's too): the values were ORed.
    if (several === undefined && beyondFirst) readings.sawValues(action, "ored");
    if (unreturned.length === 0) continue;
    let reading = readings.values(action);
    if (reading === undefined) reading = await probe(unreturned, [...returned]);
    if (reading !== undefined && reading !== "refused") readings.sawValues(action, reading);
    // ORed, or an empty list: the values not returned have no rows.
    if (reading === "ored" || reading === undefined) for (const value of unreturned) pending.delete(value);
  }
  return { rows: found, calls, capped, unread, ...(ignored ? { ignored } : {}), ...(refused ? { refused } : {}) };
}

/**
 * How an account takes a filter on `field` of `action`, settled with harmless reads (for `csip-scan
 * doctor`): a page of the list as it is, then two values it holds asked together, the later row's
 * first, through `readFiltered`. ORed, both come back; answering the first only, one probe shows it;
 * refused, the refusal shows it. The action's row of the client's readings, or undefined when the list
 * holds no value of the field to ask for. Use a client told nothing: one told a reading acts on it.
 */
export async function settleFilterReading<A extends CsipAction>(
  query: Pick<FilteredQuery<A>, "csip" | "action" | "request" | "field" | "fieldValue" | "limits" | "operator">,
): Promise<ActionReading | undefined> {
  const fieldOf = query.fieldValue ?? ((row: Row) => row[query.field]);
  const limit = pageSizeFor(query.csip, query.action, query.limits?.pageSize ?? DEFAULT_PAGING.pageSize);
  const page = (await query.csip.call(query.action, { ...query.request, Filter: { Limit: limit, Offset: 0 } } as RequestOf<A>)) as ListPage;
  const seen: string[] = [];
  for (const row of page.Data ?? []) {
    const raw = fieldOf(row);
    const first = (Array.isArray(raw) ? raw : [raw]).find((v) => typeof v === "string" && v !== "") as string | undefined;
    if (first !== undefined && !seen.includes(first)) seen.push(first);
    if (seen.length === 2) break;
  }
  if (seen.length === 0) return undefined;
  await readFiltered({ ...query, values: [...seen].reverse() });
  return filterReadingsOf(query.csip).rows().find((r) => r.action === query.action);
}

export { ignoredFilterWarning } from "./filter-readings.ts";
