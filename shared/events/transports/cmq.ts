import * as z from "zod";
import { CloudEventTextSchema } from "../change-event.ts";
import type { Transport } from "./transport.ts";

/**
 * A CMQ topic trigger: `{"Records": [{"CMQ": {"type": "topic", "msgBody": "...", "msgTag": [...] or "a,b"}}]}`
 * (https://cloud.tencent.com/document/product/583/11517); the body holds an EventBridge event as JSON.
 * CMQ has moved to TDMQ and SCF's CreateTrigger no longer lists the `cmq` type, so `validate` warns about
 * `assetChange.cmq` (shared/config/checks.ts); the handler still reads deliveries of a trigger made before.
 */
const CmqSchema = z.object({
  type: z.literal("topic"),
  msgId: z.string().optional(),
  msgBody: CloudEventTextSchema,
  msgTag: z.union([z.array(z.string()), z.string()]).optional(),
});

const CmqSettingsSchema = z.strictObject({
  /** The CMQ topic's name. */
  topic: z.string().min(1),
});

function tagList(tags: string[] | string | undefined): string[] {
  if (tags === undefined) return [];
  return (Array.isArray(tags) ? tags : tags.split(",")).map((t) => t.trim()).filter(Boolean);
}

export const cmq = {
  name: "cmq",
  recordKey: "CMQ",
  schema: CmqSchema,
  unwrap: (record) => ({ event: record.msgBody, via: "cmq", tags: tagList(record.msgTag) }),
  config: {
    key: "cmq" as const,
    schema: CmqSettingsSchema,
    // serverless-tencent-scf creates a CMQ trigger only when its name is the topic's (deploy/lib/deployTrigger.js).
    trigger: (settings) => ({ cmq: { name: settings.topic, parameters: { name: settings.topic, enable: true } } }),
  },
} satisfies Transport<typeof CmqSchema, typeof CmqSettingsSchema>;
