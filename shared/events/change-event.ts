import * as z from "zod";

/**
 * One change event, whatever carried it: EventBridge delivers it as it is, CMQ and CKafka as JSON
 * text in a record (shared/events/transports/). The shape is EventBridge's (CloudEvents):
 * https://cloud.tencent.com/document/product/1359/56075 ; CloudAudit events carry the audit log in
 * `data` (https://tencentcloud.com/document/product/1108/46246). The official examples show `time` as
 * milliseconds in a number or a string, `specversion` "0", and `subjuect`.
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

/** A CloudEvent written as JSON text, as CMQ and CKafka carry it in `msgBody`. */
export const CloudEventTextSchema = JsonText.pipe(CloudEventSchema);

/** The name of a transport (a row of shared/events/transports/index.ts). */
export type TransportName = "eventbridge" | "cmq" | "ckafka";

/** One change event, wherever it came from. */
export interface ChangeEvent {
  event: CloudEvent;
  /** The transport that carried it. */
  via: TransportName;
  /** CMQ message tags, however the delivery wrote them. */
  tags: string[];
}
