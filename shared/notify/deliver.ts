import type { Notifier } from "../config/schema.ts";
import { DeliveryError, describeError } from "../errors.ts";
import type { RunReport } from "./report.ts";
import { sendWebhook } from "./webhook.ts";

export interface DeliveryResult {
  notifier: string;
  delivered: boolean;
  /** Where it went instead of the URL, such as "console" in local mode. */
  via?: string;
  error?: string;
}

/** Sends one report through one notifier. */
export type Deliver = (name: string, notifier: Notifier, report: RunReport) => Promise<DeliveryResult>;

type Channel = (name: string, notifier: Notifier, report: RunReport, now: Date) => Promise<void>;

/**
 * Channels by notifier type. The generic webhook is here; the chat robots (wecom, dingtalk, feishu,
 * slack) are accepted by the schema and answer "not supported yet" until their adapters are written.
 */
const CHANNELS: Record<Notifier["type"], Channel | undefined> = {
  webhook: async (name, notifier, report, now) => {
    await sendWebhook(name, notifier, report, { now, timeoutMs: 10_000 });
  },
  wecom: undefined,
  dingtalk: undefined,
  feishu: undefined,
  slack: undefined,
};

/** Delivery over the network, through the channel of each notifier's type. */
export function networkDelivery(now: () => Date = () => new Date()): Deliver {
  return async (name, notifier, report) => {
    const channel = CHANNELS[notifier.type];
    try {
      if (!channel) throw new DeliveryError(name, `type "${notifier.type}" cannot deliver yet (only webhook can)`, false);
      await channel(name, notifier, report, now());
      return { notifier: name, delivered: true };
    } catch (error) {
      return { notifier: name, delivered: false, error: describeError(error) };
    }
  };
}
