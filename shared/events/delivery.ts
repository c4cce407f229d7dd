import type * as z from "zod";
import { EventError } from "../errors.ts";
import type { ChangeEvent } from "./change-event.ts";
import { RECORD_TRANSPORTS, TRANSPORTS, type Transport } from "./transports/index.ts";

/**
 * The change events in a delivery to the asset-change function, read through the transport table:
 * a delivery with `Records` holds records of the record transports (CMQ, CKafka), any other is an
 * EventBridge event.
 */

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
  throw new EventError(leaf.path.map(String).join("."), leaf.message);
}

function unwrapWith(transport: Transport, value: unknown, prefix: PropertyKey[]): ChangeEvent {
  const parsed = transport.schema.safeParse(value);
  if (!parsed.success) reject(deepest(parsed.error, prefix));
  return transport.unwrap(parsed.data);
}

/** The change events in a delivery. Throws EventError with the path of the first bad field. */
export function parseAssetChangeDelivery(delivery: unknown): ChangeEvent[] {
  if (delivery === null || typeof delivery !== "object" || !("Records" in delivery)) {
    return [unwrapWith(TRANSPORTS.eventBridge, delivery, [])];
  }
  const records = (delivery as { Records: unknown }).Records;
  if (!Array.isArray(records)) reject({ path: ["Records"], message: "must be a list" });
  if (records.length === 0) reject({ path: ["Records"], message: "must list at least one record" });
  return records.map((record: unknown, i) => {
    const at = ["Records", i];
    if (record === null || typeof record !== "object") reject({ path: at, message: "must be an object" });
    const transport = RECORD_TRANSPORTS.find((t) => t.recordKey! in record);
    if (!transport) reject({ path: at, message: `has none of ${RECORD_TRANSPORTS.map((t) => t.recordKey).join(", ")}` });
    return unwrapWith(transport, (record as Record<string, unknown>)[transport.recordKey!], [...at, transport.recordKey!]);
  });
}
