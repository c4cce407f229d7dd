import { CloudApiError } from "../errors.ts";
import type { CsipAction, CsipClient } from "./client.ts";

/**
 * What an account showed of the readings CSIP's documents leave open about its list filters. The API
 * reference documents `Filter.Filters` only by its OperatorType; whether several `Values` are ORed,
 * which filter `Name`s a list takes, and the task list's order are not documented
 * (../shared/reference/README.md; the Terraform provider's CSIP code sends one value, OperatorType 1).
 * So the project assumes none of them: a filtered read checks every answer (shared/csip/pager.ts), and
 * this table records what the answers showed, one row per action, for the run's summary and for
 * `csip-scan doctor`. A client can also be told readings up front (a setting, or what `doctor`
 * settled): then it acts on them at once, for example sending one value a call where the account does
 * not OR.
 */

/** How a list answered a filter with several values: all matched (ORed), only the first, or a refusal. */
export const VALUES_READINGS = ["ored", "first-only", "refused"] as const;
export type ValuesReading = (typeof VALUES_READINGS)[number];

/** How a list answered a filter name: applied, answered as if absent, or refused with an error. */
export const NAME_READINGS = ["honoured", "ignored", "refused"] as const;
export type NameReading = (typeof NAME_READINGS)[number];

/** The order the task list showed its tasks in (by InsertTime). */
export const ORDER_READINGS = ["newest-first", "oldest-first", "unordered"] as const;
export type OrderReading = (typeof ORDER_READINGS)[number];

/** What a client may be told of an action up front. */
export interface ToldReading {
  values?: ValuesReading;
  names?: Readonly<Record<string, NameReading>>;
  order?: OrderReading;
  /**
   * The largest `Filter.Limit` the list takes, where that is fewer rows than the project asks a page
   * (CSIP documents no largest page): every read of the list then asks this many (`pageSizeFor`).
   */
  largestLimit?: number;
}
export type ToldReadings = Partial<Record<CsipAction, ToldReading>>;

/** One action's readings as this client's calls showed them (or as it was told, where its calls showed nothing). */
export interface ActionReading {
  action: CsipAction;
  /** Absent until a call of the action sent several values and the answer told the readings apart. */
  values?: ValuesReading;
  /** Each filter name sent, as the answers showed it. */
  names: Record<string, NameReading>;
  order?: OrderReading;
  /** The error code of a refusal (CSIP documents none; the emulator's is a guess). */
  refusalCode?: string;
  /** `observed`: the account's answers showed it; `told`: the client was told and acted on it. */
  source: "observed" | "told";
}

/** Safer readings rank higher: a later answer can move a reading only towards the safer one. */
const VALUES_RANK: Record<ValuesReading, number> = { ored: 0, "first-only": 1, refused: 2 };
const NAME_RANK: Record<NameReading, number> = { honoured: 0, ignored: 1, refused: 2 };

interface Seen {
  values?: ValuesReading;
  names: Record<string, NameReading>;
  order?: OrderReading;
  refusalCode?: string;
}

/** The readings of one client: what it was told, and what its calls showed. */
export class FilterReadings {
  private readonly seen = new Map<CsipAction, Seen>();

  constructor(private readonly told: ToldReadings = {}) {}

  /** How the action answers several values: observed, else told, else unknown (the safe path). */
  values(action: CsipAction): ValuesReading | undefined {
    return this.seen.get(action)?.values ?? this.told[action]?.values;
  }

  name(action: CsipAction, name: string): NameReading | undefined {
    return this.seen.get(action)?.names[name] ?? this.told[action]?.names?.[name];
  }

  order(action: CsipAction): OrderReading | undefined {
    return this.seen.get(action)?.order ?? this.told[action]?.order;
  }

  /** The largest Filter.Limit the action takes, as told; undefined when nothing said it takes fewer than asked. */
  largestLimit(action: CsipAction): number | undefined {
    return this.told[action]?.largestLimit;
  }

  sawValues(action: CsipAction, reading: ValuesReading, refusalCode?: string): void {
    const row = this.row(action);
    if (row.values === undefined || VALUES_RANK[reading] > VALUES_RANK[row.values]) row.values = reading;
    if (refusalCode) row.refusalCode = refusalCode;
  }

  sawName(action: CsipAction, name: string, reading: NameReading, refusalCode?: string): void {
    const row = this.row(action);
    const before = row.names[name];
    if (before === undefined || NAME_RANK[reading] > NAME_RANK[before]) row.names[name] = reading;
    if (refusalCode) row.refusalCode = refusalCode;
  }

  sawOrder(action: CsipAction, order: OrderReading): void {
    const row = this.row(action);
    // Two reads in different orders are no order at all.
    row.order = row.order === undefined || row.order === order ? order : "unordered";
  }

  /** One row per action this client's calls read with a filter, or were told of and acted on. */
  rows(): ActionReading[] {
    const rows: ActionReading[] = [];
    for (const [action, seen] of this.seen) {
      const values = seen.values ?? this.told[action]?.values;
      if (values === undefined && Object.keys(seen.names).length === 0 && seen.order === undefined) continue;
      rows.push({
        action,
        ...(values ? { values } : {}),
        names: { ...seen.names },
        ...(seen.order ? { order: seen.order } : {}),
        ...(seen.refusalCode ? { refusalCode: seen.refusalCode } : {}),
        source: seen.values === undefined && values !== undefined ? "told" : "observed",
      });
    }
    return rows;
  }

  /** Marks an action as read, so that what it was told shows in `rows()` even when its answers told nothing new. */
  used(action: CsipAction): void {
    this.row(action);
  }

  private row(action: CsipAction): Seen {
    let row = this.seen.get(action);
    if (!row) this.seen.set(action, (row = { names: {} }));
    return row;
  }
}

const VALUES_WORDS: Record<ValuesReading, string> = { ored: "several values ORed", "first-only": "only the first of several values", refused: "several values refused" };
const ORDER_WORDS: Record<OrderReading, string> = { "newest-first": "newest first", "oldest-first": "oldest first", unordered: "in no order" };

/** A reading as the summary and the log say it: `DescribeScanTaskList: several values ORed; TaskId honoured; newest first`. */
export function describeReading(row: ActionReading): string {
  const parts = [
    ...(row.values ? [`${VALUES_WORDS[row.values]}${row.source === "told" ? " (told)" : ""}`] : []),
    ...Object.entries(row.names).map(([name, reading]) => `${name} ${reading}`),
    ...(row.order ? [ORDER_WORDS[row.order]] : []),
  ];
  const code = row.refusalCode ? ` (refusal: ${row.refusalCode})` : "";
  return `${row.action}: ${parts.join("; ") || "nothing told apart"}${code}`;
}

/** The warning for an action whose filter the server ignored: the same text wherever it is met. */
export function ignoredFilterWarning(action: CsipAction, field: string): string {
  return `${action} ignored the filter ${field}: the list was read to its end and matched here`;
}

/**
 * One warning per action whose reading is not the one first assumed, saying what was done instead. The
 * task list's order is left out: the read that met it warns (shared/results/open-runs.ts).
 */
export function readingWarnings(rows: readonly ActionReading[]): string[] {
  const warnings: string[] = [];
  for (const row of rows) {
    if (row.values === "first-only" && row.source === "observed") {
      warnings.push(`${row.action} answered only the first value of a filter with several: every value is now asked on its own (or the list read and matched here)`);
    }
    if (row.values === "refused" && row.source === "observed") {
      warnings.push(`${row.action} refused a filter with several values${row.refusalCode ? ` (${row.refusalCode})` : ""}: every value is now asked on its own (or the list read and matched here)`);
    }
    for (const [name, reading] of Object.entries(row.names)) {
      if (reading === "ignored") warnings.push(ignoredFilterWarning(row.action, name));
      if (reading === "refused") warnings.push(`${row.action} refused the filter ${name}${row.refusalCode ? ` (${row.refusalCode})` : ""}: the list was read to its end and matched here`);
    }
  }
  return warnings;
}

const TABLES = new WeakMap<CsipClient, FilterReadings>();

/**
 * The readings of a client, made on first use. They belong to the client object: a run's client lives
 * one invocation (shared/run/services.ts startRun), so each run learns afresh and its summary says what
 * it saw.
 */
export function filterReadingsOf(csip: CsipClient): FilterReadings {
  let table = TABLES.get(csip);
  if (!table) TABLES.set(csip, (table = new FilterReadings()));
  return table;
}

/** Tells a client readings up front (a setting, or what `doctor` settled); it acts on them from its next read. */
export function tellFilterReadings(csip: CsipClient, told: ToldReadings): FilterReadings {
  const table = new FilterReadings(told);
  TABLES.set(csip, table);
  return table;
}

/** The rows a page of `action` asks for: `wanted`, or fewer where the client was told the list takes fewer. */
export function pageSizeFor(csip: CsipClient, action: CsipAction, wanted: number): number {
  const largest = filterReadingsOf(csip).largestLimit(action);
  return largest !== undefined && largest > 0 ? Math.min(wanted, largest) : wanted;
}

/** Failures that say nothing about a filter: the keys, CAM, or a failure a retry may cure (the client has retried it). */
const NOT_ABOUT_THE_FILTER = ["AuthFailure", "UnauthorizedOperation", "BadResponse"];

/**
 * Whether a failed filtered call may be the account refusing the filter. What code a refusal carries
 * is undocumented (the emulator answers `InvalidParameter` or `InvalidParameterValue`, a guess), so the
 * code's text decides nothing: any failure but those above is checked by asking again another way
 * (one value, or no filter), and rethrown when that fails too.
 */
export function mayBeRefusal(error: unknown): error is CloudApiError {
  return error instanceof CloudApiError && !error.retryable && !NOT_ABOUT_THE_FILTER.some((code) => error.code.startsWith(code));
}
