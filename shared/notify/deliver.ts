import { sleep as realSleep, type Deadline } from "../clock.ts";
import type { Notifier } from "../config/schema.ts";
import { DeliveryError, describeError, LeaseLostError } from "../errors.ts";
import { hostOf, resolvePublicAddress, systemResolver, type Resolver } from "../net/address-policy.ts";
import { HttpFailure, post, type HttpAnswer } from "../net/http.ts";
import { withRetry } from "../retry.ts";
import { registerSecret, registerUrlSecrets, scrub } from "../secrets.ts";
import { CHAT_CHANNELS, webhookVerdict, type ChannelRequest, type Verdict } from "./channels.ts";
import { resultsMessage, runMessage, splitMessage, testMessage, type Message } from "./message.ts";
import type { RunReport } from "./report.ts";
import type { ResultsReport } from "./results-report.ts";
import { messageId, webhookRequest } from "./webhook.ts";
import { robotLimiter, type WindowLimiter } from "./window-limiter.ts";
import { localTime } from "../time-format.ts";

/** What a notifier is sent: a run's report, or the results of its scans. */
export type Report = RunReport | ResultsReport;

/** The chat message of a report, its times in `timeZone`. */
function messageOf(report: Report, language: Notifier["language"], timeZone: string): Message {
  return report.schema === "csip-scan.results/v1" ? resultsMessage(report, language, timeZone) : runMessage(report, language, timeZone);
}

/**
 * The JSON a generic webhook receives: the report as it is (times in ISO UTC), and beside each time the
 * same instant as a person reads it in the policy file's time zone (`scheduledTimeLocal`).
 */
export function webhookPayload(report: Report, timeZone: string): Report & { scheduledTimeLocal: string } {
  const local = { scheduledTimeLocal: localTime(report.scheduledTime, timeZone) };
  if (report.schema === "csip-scan.results/v1" && report.previous) {
    const previous = { ...report.previous, scheduledTimeLocal: localTime(report.previous.scheduledTime, timeZone) };
    return { ...report, ...local, previous };
  }
  return { ...report, ...local };
}

/**
 * What a notifier's people would read, without sending it: each part of a chat channel's message as
 * the channel renders it, in the notifier's language; for a generic webhook, its JSON. Local mode prints it.
 */
export function shownBy(notifier: Notifier, report: Report, timeZone: string): string[] {
  if (notifier.type === "webhook") return [JSON.stringify(webhookPayload(report, timeZone), null, 2)];
  const channel = CHAT_CHANNELS[notifier.type];
  const parts = splitMessage(messageOf(report, notifier.language, timeZone), (m) => channel.fits(m, notifier), 10, notifier.language);
  return parts.map((part) => channel.shown(part));
}

export interface DeliveryResult {
  notifier: string;
  delivered: boolean;
  /** Where it went instead of the URL ("console" in local mode), or "sent before". */
  via?: string;
  /** Messages sent: more than one when a message was split to fit the channel's size limit. */
  parts?: number;
  /** Parts (numbered from 1) the notifier had from an earlier attempt, and so was not sent again. */
  sentBefore?: number[];
  error?: string;
}

/**
 * What a notifier already has of a message split in parts, and how to remember each part it accepts: a
 * retry sends only the parts it lacks, numbered as before.
 */
export interface PartsProgress {
  /** Parts accepted before, numbered from 1, of a message of `of` parts. */
  sent: readonly number[];
  of?: number;
  /** Called when a part is accepted, before the next is sent: the caller keeps it with the run's record. */
  onSent(part: number, of: number): Promise<void>;
  /**
   * Called before each part is sent: throws (LeaseLostError) when the run's lock may have passed to
   * another invocation, which sends the rest itself (StateStore.assertMayAct).
   */
  beforeSend?(): void;
}

/**
 * Sends one report through one notifier. `messageId`: the message's ID, the same for every notifier and
 * every retry of one message (the generic webhook's `webhook-id`), so a receiver can drop a repeat; each
 * part of a split message has its own, as stable. `parts`: what the notifier has of it already.
 */
export type Deliver = (name: string, notifier: Notifier, report: Report, messageId?: string, parts?: PartsProgress) => Promise<DeliveryResult>;

/**
 * The `webhook-id` of part `part` of `of`: the message's own ID when it is not split, else one derived
 * from it, so each part is as stable as the message, and a receiver drops a repeated part alone.
 */
export function partId(id: string, part: number, of: number): string {
  return of === 1 ? id : messageId(id, `part ${part}/${of}`);
}

export interface DeliveryOptions {
  now?: () => Date;
  /** CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: lifts the host and address checks, for local mode and tests. */
  allowLocal?: boolean;
  resolve?: Resolver;
  /**
   * For tests only: where to connect instead of the address that was checked (with local webhooks off).
   * Tests may reach only 127.0.0.1, so they map the checked public address there, and so see that the
   * checked address is the one dialled. Never set outside tests.
   */
  connectTo?: (checked: { address: string; family: number }) => { address: string; family: number };
  deadline?: Deadline;
  timeoutMs?: number;
  attempts?: number;
  limiter?: WindowLimiter;
  sleep?: (ms: number) => Promise<void>;
  /** The policy file's `timezone`: times in messages are shown in it (UTC when not given). */
  timeZone?: string;
}

const RETRY = { baseMs: 1000, capMs: 30_000 };

/** Milliseconds a Retry-After header asks for (seconds or an HTTP date), if it asks. */
export function retryAfterMs(header: string | string[] | undefined, now: Date): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/**
 * Delivery over the network. A chat robot gets the report as one message, split to fit its size limit,
 * within its rate limit; the generic webhook gets the JSON report, signed. "Sent" means accepted:
 * a robot's HTTP 200 with a non-zero code is a failure. 429, 5xx, timeouts and "too fast" codes are
 * retried, honouring Retry-After; bad tokens, bad signatures, 404, 410 and a TLS certificate that does
 * not verify are not. Failures name the notifier, never its URL, and every text a channel sent back is
 * scrubbed of keys, tokens and signatures.
 */
export function networkDelivery(options: DeliveryOptions = {}): Deliver {
  return (name, notifier, report, messageId, parts) => deliverTo(name, notifier, { report, ...(messageId ? { messageId } : {}), ...(parts ? { parts } : {}) }, options);
}

/** Sends `notify-test`'s message. */
export function deliverTest(name: string, notifier: Notifier, options: DeliveryOptions = {}): Promise<DeliveryResult> {
  return deliverTo(name, notifier, { test: true }, options);
}

async function deliverTo(
  name: string,
  notifier: Notifier,
  what: { report?: Report; messageId?: string; test?: boolean; parts?: PartsProgress },
  options: DeliveryOptions,
): Promise<DeliveryResult> {
  const now = options.now ?? (() => new Date());
  registerUrlSecrets(notifier.url);
  registerSecret(notifier.secret);
  let sentBefore: number[] = [];
  try {
    const url = new URL(notifier.url);
    let requests: ((id: string | undefined) => ChannelRequest)[];
    let judge: (answer: HttpAnswer) => Verdict;
    let limits: { perSecond?: number; perMinute?: number } = {};
    if (notifier.type === "webhook") {
      const payload = what.report ? webhookPayload(what.report, options.timeZone ?? "UTC") : { schema: "csip-scan.test/v1", message: "Test message from csip-scan: this notifier works." };
      requests = [(id) => ({ url, ...webhookRequest(payload, notifier.secret, now(), id) })];
      judge = webhookVerdict;
    } else {
      const channel = CHAT_CHANNELS[notifier.type];
      if (!options.allowLocal && (url.protocol !== "https:" || !channel.hosts.includes(hostOf(url)))) {
        throw new DeliveryError(name, `a ${notifier.type} robot URL must be https:// on ${channel.hosts.join(" or ")}`, false);
      }
      const message: Message = what.report ? messageOf(what.report, notifier.language, options.timeZone ?? "UTC") : testMessage(notifier.language);
      const parts = splitMessage(message, (m) => channel.fits(m, notifier), 10, notifier.language);
      // Robots ignore the header; it names the part, as the generic webhook's names its message.
      requests = parts.map((part) => (id) => {
        const request = channel.render(part, notifier, now());
        return id ? { ...request, headers: { ...request.headers, "webhook-id": id } } : request;
      });
      judge = channel.judge;
      limits = channel.limits;
    }
    const of = requests.length;
    // Parts a notifier had of a message split otherwise (its settings changed) say nothing of this split.
    sentBefore = what.parts && (what.parts.of ?? of) === of ? what.parts.sent.filter((part) => part >= 1 && part <= of) : [];

    let address: { address: string; family: number } | undefined;
    if (!options.allowLocal) {
      const checked = await resolvePublicAddress(url, options.resolve ?? systemResolver);
      if (typeof checked === "string") throw new DeliveryError(name, `not sent: ${checked}`, false);
      address = options.connectTo ? options.connectTo(checked) : checked;
    }
    for (const [i, build] of requests.entries()) {
      const part = i + 1;
      if (sentBefore.includes(part)) continue;
      what.parts?.beforeSend?.();
      await sendOne(name, notifier.url, () => build(what.messageId === undefined ? undefined : partId(what.messageId, part, of)), judge, limits, address, options, now);
      await what.parts?.onSent(part, of);
    }
    return { notifier: name, delivered: true, parts: of, ...(sentBefore.length > 0 ? { sentBefore } : {}) };
  } catch (error) {
    // Not this notifier's failure: the run's lock passed on, and the delivery stops with the run.
    if (error instanceof LeaseLostError) throw error;
    // Answers and errors may echo the robot's URL, key or signature: none of it goes further.
    return { notifier: name, delivered: false, ...(sentBefore.length > 0 ? { sentBefore } : {}), error: scrub(describeError(error)) };
  }
}

/** A refusal the channel's answer gave, carried through the retry loop. */
class Refused extends Error {
  constructor(
    readonly verdict: Extract<Verdict, { ok: false }>,
    readonly retryAfterMs: number | undefined,
  ) {
    super(verdict.message);
  }
}

async function sendOne(
  name: string,
  robotKey: string,
  build: () => ChannelRequest,
  judge: (answer: HttpAnswer) => Verdict,
  limits: { perSecond?: number; perMinute?: number },
  address: { address: string; family: number } | undefined,
  options: DeliveryOptions,
  now: () => Date,
): Promise<void> {
  const limiter = options.limiter ?? robotLimiter;
  const sleep = options.sleep ?? realSleep;
  const attempts = options.attempts ?? 4;
  const fitsDeadline = (ms: number): boolean => !options.deadline || options.deadline.remainingMs() > ms;
  let tries = 0;
  try {
    await withRetry(
      async (attempt) => {
        tries = attempt;
        const wait = limiter.delayMs(robotKey, limits);
        if (wait > 0) {
          if (!fitsDeadline(wait)) throw new DeliveryError(name, `its rate limit would hold the message ${Math.ceil(wait / 1000)} s, past the time left`, true);
          await sleep(wait);
        }
        limiter.record(robotKey);
        const request = build();
        let verdict: Verdict;
        let retryAfter: number | undefined;
        try {
          const answer = await post(request.url, request.body, request.headers, { ...(address ? { address } : {}), timeoutMs: options.timeoutMs ?? 10_000 });
          verdict = judge(answer);
          retryAfter = retryAfterMs(answer.headers["retry-after"], now());
        } catch (error) {
          if (!(error instanceof HttpFailure)) throw error;
          verdict = { ok: false, code: error.code, retryable: error.retryable, message: error.message };
        }
        if (!verdict.ok) throw new Refused(verdict, retryAfter);
      },
      {
        policy: { ...RETRY, attempts },
        shouldRetry: (error) => (error instanceof Refused ? { retry: error.verdict.retryable, waitMs: error.retryAfterMs } : false),
        deadline: options.deadline,
        sleep,
      },
    );
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    const { retryable, message } = error.verdict;
    // The message quotes the channel's answer, which may echo the robot's URL, key or signature.
    throw new DeliveryError(name, scrub(`${message}${retryable ? ` (gave up after ${tries} attempt${tries === 1 ? "" : "s"})` : ""}`), retryable);
  }
}
