import { ckafka } from "./ckafka.ts";
import { cmq } from "./cmq.ts";
import { eventBridge } from "./eventbridge.ts";

export type { Transport } from "./transport.ts";

/**
 * The transports of change events, one row each. The handler reads deliveries through it, the policy
 * file's `assetChange` takes each row's settings, and the deploy makes each row's trigger.
 * Adding a transport is adding a module and a row here.
 */
export const TRANSPORTS = { eventBridge, cmq, ckafka } as const;

/** The transports whose deliveries come as `Records`, by the key each record has. */
export const RECORD_TRANSPORTS = Object.values(TRANSPORTS).filter((t) => t.recordKey !== undefined);
