import { createHash } from "node:crypto";
import { Webhook } from "standardwebhooks";
import type { Notifier } from "../config/schema.ts";
import { DeliveryError } from "../errors.ts";

/**
 * The signing key of a Standard Webhooks secret (https://www.standardwebhooks.com/): a `whsec_`
 * secret is base64 as the spec writes it; any other text is used as raw UTF-8 bytes.
 */
function signer(secret: string): Webhook {
  return secret.startsWith("whsec_") ? new Webhook(secret) : new Webhook(new Uint8Array(Buffer.from(secret, "utf8")), { format: "raw" });
}

/** The message ID: the same content gives the same ID, so a receiver can drop a repeated delivery. */
export function messageId(body: string): string {
  return `msg_${createHash("sha256").update(body).digest("hex").slice(0, 32)}`;
}

export interface WebhookRequest {
  headers: Record<string, string>;
  body: string;
}

/** Headers and body of a generic webhook POST, signed when the notifier has a secret. */
export function webhookRequest(payload: unknown, secret: string | undefined, now: Date): WebhookRequest {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "csip-scan" };
  if (secret) {
    const id = messageId(body);
    headers["webhook-id"] = id;
    headers["webhook-timestamp"] = String(Math.floor(now.getTime() / 1000));
    headers["webhook-signature"] = signer(secret).sign(id, now, body);
  }
  return { headers, body };
}

/**
 * POSTs to a generic webhook. Any 2xx is delivered; redirects are not followed (a redirect could lead
 * to an internal address). Failures name the notifier, never its URL.
 */
export async function sendWebhook(
  name: string,
  notifier: Notifier,
  payload: unknown,
  options: { now: Date; timeoutMs: number },
): Promise<{ status: number }> {
  const { headers, body } = webhookRequest(payload, notifier.secret, options.now);
  let response: Response;
  try {
    response = await fetch(notifier.url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const timedOut = (error as Error).name === "TimeoutError";
    throw new DeliveryError(name, timedOut ? `no answer within ${options.timeoutMs} ms` : `could not connect (${cause ?? "network error"})`, true, {
      cause: error,
    });
  }
  await response.body?.cancel();
  if (response.status >= 200 && response.status < 300) return { status: response.status };
  const retryable = response.status === 429 || response.status >= 500;
  throw new DeliveryError(name, `answered HTTP ${response.status}`, retryable);
}
