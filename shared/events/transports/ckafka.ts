import * as z from "zod";
import { numberFromText } from "../../env.ts";
import { CloudEventTextSchema } from "../change-event.ts";
import type { Transport } from "./transport.ts";

/**
 * A CKafka trigger: `{"Records": [{"Ckafka": {"topic", "partition", "offset", "msgKey", "msgBody"}}]}`
 * (https://cloud.tencent.com/document/product/583/17530); the body holds an EventBridge event as JSON.
 */
const CkafkaSchema = z.object({
  topic: z.string(),
  partition: z.number().int(),
  offset: z.number().int(),
  msgKey: z.string().optional(),
  msgBody: CloudEventTextSchema,
});

const CkafkaSettingsSchema = z.strictObject({
  instance: z.string().min(1),
  topic: z.string().min(1),
  /** Messages per invocation: serverless-tencent-scf creates the trigger only for 2 to 999. */
  maxMsgNum: z.preprocess(numberFromText, z.number().int().min(2).max(999)).default(100),
  offset: z.enum(["latest", "earliest"]).default("latest"),
});

export const ckafka = {
  name: "ckafka",
  recordKey: "Ckafka",
  schema: CkafkaSchema,
  unwrap: (record) => ({ event: record.msgBody, via: "ckafka", tags: [] }),
  config: {
    key: "ckafka" as const,
    schema: CkafkaSettingsSchema,
    // serverless-tencent-scf creates a CKafka trigger only when its name is the instance ID, and names
    // it INSTANCE-TOPIC (deploy/lib/deployTrigger.js).
    trigger: (s) => ({
      ckafka: {
        name: s.instance,
        parameters: { name: s.instance, topic: s.topic, maxMsgNum: s.maxMsgNum, offset: s.offset, enable: true },
      },
    }),
  },
} satisfies Transport<typeof CkafkaSchema, typeof CkafkaSettingsSchema>;
