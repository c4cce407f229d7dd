import type * as z from "zod";
import type { ChangeEvent, TransportName } from "../change-event.ts";

/**
 * One way change events reach the asset-change function: how a delivery (or one of its `Records`)
 * looks, how to unwrap it into the common event, and, where serverless.yml can make the trigger,
 * its settings under `assetChange` in the policy file and the trigger they make.
 * Modelled on Powertools' envelopes (packages/parser/src/envelopes/).
 */
export interface Transport<S extends z.ZodType = z.ZodType, C extends z.ZodType = z.ZodType> {
  name: TransportName;
  /** The key of a `Records` entry that this transport fills (`CMQ`, `Ckafka`); undefined when the delivery is the event. */
  recordKey: string | undefined;
  /** The schema of the delivery (or of the value under `recordKey`). */
  schema: S;
  unwrap(value: z.output<S>): ChangeEvent;
  /**
   * The trigger's settings in the policy file, under `assetChange.<key>`, and the serverless.yml trigger
   * they make (none when the deploy plugin makes it instead: EventBridge rules).
   */
  config?: { key: string; schema: C; trigger?(settings: z.output<C>): Record<string, unknown> };
}
