import * as z from "zod";
import { EventError } from "../errors.ts";

/**
 * The deliveries that fire the asset-change function, told apart by shape:
 * - EventBridge (CloudEvents): https://cloud.tencent.com/document/product/1359/56075 ; CloudAudit events
 *   carry the audit log in `data` (https://tencentcloud.com/document/product/1108/46246). The official
 *   examples show `time` as milliseconds in a number or a string, `specversion` "0", and `subjuect`.
 * - CMQ topic: `{"Records": [{"CMQ": {"type": "topic", "msgBody": "...", "msgTag": [...] or "a,b"}}]}`
 *   (https://cloud.tencent.com/document/product/583/11517); the body holds an EventBridge event as JSON.
 * - CKafka: `{"Records": [{"Ckafka": {"topic", "partition", "offset", "msgKey", "msgBody"}}]}`
 *   (https://cloud.tencent.com/document/product/583/17530).
 */

const JsonText = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: "custom", message: "is not JSON" });
    return z.NEVER;
  }
});

/** An object, or an object written as JSON text. */
const ObjectOrJson = z.union([z.record(z.string(), z.unknown()), JsonText.pipe(z.record(z.string(), z.unknown()))]);

export const CloudEventSchema = z.object({
  specversion: z.union([z.string(), z.number()]).optional(),
  id: z.string().min(1),
  type: z.string().min(1),
  source: z.string().min(1),
  subject: z.string().optional(),
  subjuect: z.string().optional(),
  time: z.union([z.number(), z.string()]).optional(),
  region: z.string().optional(),
  resource: z.union([z.array(z.string()), z.string()]).optional(),
  data: ObjectOrJson.default({}),
});
export type CloudEvent = z.infer<typeof CloudEventSchema>;

export const CmqRecordSchema = z.object({
  CMQ: z.object({
    type: z.literal("topic"),
    msgId: z.string().optional(),
    msgBody: JsonText.pipe(CloudEventSchema),
    msgTag: z.union([z.array(z.string()), z.string()]).optional(),
  }),
});

export const CkafkaRecordSchema = z.object({
  Ckafka: z.object({
    topic: z.string(),
    partition: z.number().int(),
    offset: z.number().int(),
    msgKey: z.string().optional(),
    msgBody: JsonText.pipe(CloudEventSchema),
  }),
});

const RecordsSchema = z.object({ Records: z.array(z.union([CmqRecordSchema, CkafkaRecordSchema])).min(1) });

/** One change event, wherever it came from. */
export interface ChangeEvent {
  event: CloudEvent;
  /** Where it came from: "eventbridge", "cmq" or "ckafka". */
  via: "eventbridge" | "cmq" | "ckafka";
  /** CMQ message tags, however the delivery wrote them. */
  tags: string[];
}

/** Every leaf issue, with its full path: a union's issues are relative to the union's own path. */
function leaves(issue: z.core.$ZodIssue, prefix: PropertyKey[] = []): { path: PropertyKey[]; message: string }[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union") return issue.errors.flat().flatMap((nested) => leaves(nested, path));
  return [{ path, message: issue.message }];
}

function fail(error: z.ZodError): never {
  // The deepest issue names the bad field best: a union otherwise reports only itself.
  const issue = error.issues.flatMap((i) => leaves(i)).sort((a, b) => b.path.length - a.path.length)[0]!;
  throw new EventError(issue.path.map(String).join("."), issue.message);
}

/** The change events in a delivery. Throws EventError with the path of the first bad field. */
export function parseAssetChangeDelivery(delivery: unknown): ChangeEvent[] {
  if (delivery !== null && typeof delivery === "object" && "Records" in delivery) {
    const parsed = RecordsSchema.safeParse(delivery);
    if (!parsed.success) fail(parsed.error);
    return parsed.data.Records.map((record) =>
      "CMQ" in record
        ? { event: record.CMQ.msgBody, via: "cmq" as const, tags: tagList(record.CMQ.msgTag) }
        : { event: record.Ckafka.msgBody, via: "ckafka" as const, tags: [] },
    );
  }
  const parsed = CloudEventSchema.safeParse(delivery);
  if (!parsed.success) fail(parsed.error);
  return [{ event: parsed.data, via: "eventbridge", tags: [] }];
}

function tagList(tags: string[] | string | undefined): string[] {
  if (tags === undefined) return [];
  return (Array.isArray(tags) ? tags : tags.split(",")).map((t) => t.trim()).filter(Boolean);
}
