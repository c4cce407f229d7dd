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

/** The most messages SCF delivers to one invocation of a CKafka trigger. */
export const CKAFKA_MAX_MSG_NUM = 10_000;

const CkafkaSettingsSchema = z.strictObject({
  instance: z.string().min(1),
  topic: z.string().min(1),
  /**
   * Messages per invocation, "up to 10,000" (https://cloud.tencent.com/document/product/583/17530). The
   * pinned plugin creates a CKafka trigger only for 2 to 999, so the project's deploy plugin makes these
   * triggers itself (local/deploy/ckafka.ts).
   */
  maxMsgNum: z.preprocess(numberFromText, z.number().int().min(1).max(CKAFKA_MAX_MSG_NUM)).default(100),
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
    // Written as serverless-tencent-scf reads a CKafka trigger (named after the instance; it names the
    // trigger INSTANCE-TOPIC, deploy/lib/deployTrigger.js); the project's deploy plugin takes it out of
    // the pinned plugin's hands and makes it (local/deploy/ckafka.ts).
    trigger: (s) => ({
      ckafka: {
        name: s.instance,
        parameters: { name: s.instance, topic: s.topic, maxMsgNum: s.maxMsgNum, offset: s.offset, enable: true },
      },
    }),
  },
} satisfies Transport<typeof CkafkaSchema, typeof CkafkaSettingsSchema>;
