import { CloudEventSchema } from "../change-event.ts";
import type { Transport } from "./transport.ts";

/**
 * EventBridge invokes the function with the event itself (https://cloud.tencent.com/document/product/1359/56075).
 * Its rule is made outside serverless.yml (README, "Asset changes").
 */
export const eventBridge = {
  name: "eventbridge",
  recordKey: undefined,
  schema: CloudEventSchema,
  unwrap: (event) => ({ event, via: "eventbridge", tags: [] }),
} satisfies Transport<typeof CloudEventSchema>;
