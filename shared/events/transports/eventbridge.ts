import * as z from "zod";
import { CloudEventSchema } from "../change-event.ts";
import type { Transport } from "./transport.ts";

/**
 * EventBridge invokes the function with the event itself (https://cloud.tencent.com/document/product/1359/56075).
 * serverless.yml cannot make its rule: with `assetChange.eventBridge`, the project's deploy plugin
 * (local/deploy/) makes a rule on that bus, its pattern from the extractor table, targeting asset-change.
 */
const EventBridgeSettingsSchema = z.strictObject({
  /** The event bus: `default` receives the Tencent Cloud service events (CloudAudit). */
  bus: z.string().min(1).default("default"),
});

export const eventBridge = {
  name: "eventbridge",
  recordKey: undefined,
  schema: CloudEventSchema,
  unwrap: (event) => ({ event, via: "eventbridge", tags: [] }),
  config: { key: "eventBridge" as const, schema: EventBridgeSettingsSchema },
} satisfies Transport<typeof CloudEventSchema, typeof EventBridgeSettingsSchema>;
