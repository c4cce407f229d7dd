import * as z from "zod";
import { ALL_ACTIONS, type CsipAction } from "../csip/actions.ts";
import { NAME_READINGS, ORDER_READINGS, VALUES_READINGS, type ToldReading, type ToldReadings } from "../csip/filter-readings.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { ACCOUNT_READINGS } from "../state/keys.ts";
import type { StateStore } from "../state/store.ts";

/**
 * What `csip-scan doctor` settled on an account of the readings the documents leave open, kept in the
 * deployment's state folder as one small record. The functions read it at each invocation and tell their
 * run's client up front (shared/run/services.ts), so that a list which answers only the first of several
 * values is asked one value a call from the first read, and a list that takes fewer rows a page than the
 * project asks is asked that many. Loose, so that a record another version wrote still reads.
 */

/** One CSIP list as the account answered it. */
export const ListReadingSchema = z.looseObject({
  /** The largest Filter.Limit it took, when that is fewer rows than the project asks a page. */
  largestLimit: z.number().int().positive().optional(),
  /** How it answered a filter with several values. */
  values: z.enum(VALUES_READINGS).optional(),
  /** How it took each filter name the code sends it. */
  names: z.record(z.string(), z.enum(NAME_READINGS)).optional(),
  /** The order it listed its rows in (the task list). */
  order: z.enum(ORDER_READINGS).optional(),
  /** The code of a refusal it answered (of several values, or of a name). */
  refusalCode: z.string().optional(),
});
export type ListReading = z.infer<typeof ListReadingSchema>;

export const AccountReadingsSchema = z.looseObject({
  /** When doctor settled them, ISO 8601 UTC. */
  at: z.string(),
  /** Each CSIP list the code reads, by action. */
  lists: z.record(z.string(), ListReadingSchema),
  /** The state bucket: where it is, its versioning, and the code of a write-once PUT's 409. */
  stateBucket: z
    .looseObject({ bucket: z.string(), region: z.string().optional(), versioning: z.string().optional(), conflictCode: z.string().optional() })
    .optional(),
  /** What a results page link did when opened: a page, a download, or neither. */
  pageLink: z.looseObject({ opens: z.enum(["page", "download", "other", "error", "file"]) }).optional(),
});
export type AccountReadings = z.infer<typeof AccountReadingsSchema>;

/**
 * What a run's client is told of the stored readings: only what stays right if the account has changed
 * since doctor looked. One value a call (first-only, refused), the whole list matched here (a name ignored
 * or refused) and smaller pages each give the same rows under any reading; "ORed", "honoured" and an
 * order are not told, since acting on them would trust the account where the code checks it instead.
 */
export function toldFrom(readings: AccountReadings): ToldReadings {
  const told: ToldReadings = {};
  for (const [action, list] of Object.entries(readings.lists)) {
    if (!(ALL_ACTIONS as readonly string[]).includes(action)) continue;
    const names = Object.fromEntries(Object.entries(list.names ?? {}).filter(([, reading]) => reading !== "honoured"));
    const row: ToldReading = {
      ...(list.values === "first-only" || list.values === "refused" ? { values: list.values } : {}),
      ...(Object.keys(names).length > 0 ? { names } : {}),
      ...(list.largestLimit !== undefined ? { largestLimit: list.largestLimit } : {}),
    };
    if (Object.keys(row).length > 0) told[action as CsipAction] = row;
  }
  return told;
}

/** The record doctor kept, if any. */
export function readAccountReadings(store: Pick<StateStore, "get">): Promise<AccountReadings | undefined> {
  return store.get(ACCOUNT_READINGS, AccountReadingsSchema);
}

/**
 * The stored readings as a run's client is told them. None kept, or a record that cannot be read (a
 * warning): nothing is told, and every read checks the account as it goes (shared/csip/pager.ts).
 */
export async function storedReadings(services: { store: Pick<StateStore, "get">; logger: Pick<Logger, "warn"> }): Promise<ToldReadings | undefined> {
  try {
    const readings = await readAccountReadings(services.store);
    return readings ? toldFrom(readings) : undefined;
  } catch (error) {
    services.logger.warn(`the readings csip-scan doctor kept were not read (${describeError(error)}): every list is checked as it is read`);
    return undefined;
  }
}
