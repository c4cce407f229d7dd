import type * as z from "zod";
import { EventError } from "../errors.ts";
import type { ChangeEvent } from "./change-event.ts";
import { RECORD_TRANSPORTS, TRANSPORTS, type Transport } from "./transports/index.ts";

/**
 * The change events in a delivery to the asset-change function, read through the transport table:
 * a delivery with `Records` holds records of the record transports (CMQ, CKafka), any other is an
 * EventBridge event.
 */

/** A record of a batch that could not be read: its place, the path of the bad field, and why. */
export interface RejectedRecord {
  index: number;
  path: string;
  message: string;
}

/** What a delivery holds: the events it carries, and the records of a batch that were malformed. */
export interface Delivery {
  events: ChangeEvent[];
  rejected: RejectedRecord[];
}

interface Leaf {
  path: PropertyKey[];
  message: string;
}

/** Every leaf issue, with its full path: a union's issues are relative to the union's own path. */
function leaves(issue: z.core.$ZodIssue, prefix: PropertyKey[] = []): Leaf[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union") return issue.errors.flat().flatMap((nested) => leaves(nested, path));
  return [{ path, message: issue.message }];
}

/** The deepest issue names the bad field best. */
function deepest(error: z.ZodError, prefix: PropertyKey[]): Leaf {
  return error.issues.flatMap((i) => leaves(i, prefix)).sort((a, b) => b.path.length - a.path.length)[0]!;
}

function reject(leaf: Leaf): never {
  throw new EventError(dotted(leaf.path), leaf.message);
}

const dotted = (path: PropertyKey[]): string => path.map(String).join(".");

function unwrapWith(transport: Transport, value: unknown, prefix: PropertyKey[]): ChangeEvent | Leaf {
  const parsed = transport.schema.safeParse(value);
  return parsed.success ? transport.unwrap(parsed.data) : deepest(parsed.error, prefix);
}

/** One record of a batch, or why it cannot be read. */
function readRecord(record: unknown, index: number): ChangeEvent | Leaf {
  const at = ["Records", index];
  if (record === null || typeof record !== "object") return { path: at, message: "must be an object" };
  const transport = RECORD_TRANSPORTS.find((t) => t.recordKey! in record);
  if (!transport) return { path: at, message: `has none of ${RECORD_TRANSPORTS.map((t) => t.recordKey).join(", ")}` };
  return unwrapWith(transport, (record as Record<string, unknown>)[transport.recordKey!], [...at, transport.recordKey!]);
}

/** The shapes of delivery the asset-change function reads, named in the error for one of none of them. */
const ACCEPTED = `the asset-change function reads an EventBridge event (CloudEvents: specversion, id, type, source, data) or {"Records": [...]} of ${RECORD_TRANSPORTS.map((t) => t.recordKey).join(" or ")} records`;

const isEvent = (value: ChangeEvent | Leaf): value is ChangeEvent => "event" in value;

/**
 * The change events in a delivery. A malformed delivery throws EventError with the path of the bad
 * field. In a batch (`Records`), each record stands alone: the good ones are read, and each bad one is
 * returned with its index and the path of its bad field, since SCF would only retry a record that can
 * never become valid.
 */
export function parseAssetChangeDelivery(delivery: unknown): Delivery {
  if (delivery === null || typeof delivery !== "object" || !("Records" in delivery)) {
    const read = unwrapWith(TRANSPORTS.eventBridge, delivery, []);
    // Not even the start of an EventBridge event (a timer's event, say): say which shapes are read.
    if (!isEvent(read) && !(delivery !== null && typeof delivery === "object" && "specversion" in delivery)) reject({ ...read, message: `${read.message}; ${ACCEPTED}` });
    if (!isEvent(read)) reject(read);
    return { events: [read], rejected: [] };
  }
  const records = (delivery as { Records: unknown }).Records;
  if (!Array.isArray(records)) reject({ path: ["Records"], message: "must be a list" });
  if (records.length === 0) reject({ path: ["Records"], message: "must list at least one record" });
  const result: Delivery = { events: [], rejected: [] };
  records.forEach((record: unknown, index) => {
    const read = readRecord(record, index);
    if (isEvent(read)) result.events.push(read);
    else result.rejected.push({ index, path: dotted(read.path), message: read.message });
  });
  return result;
}
