import { createHash } from "node:crypto";
import { Webhook } from "standardwebhooks";

/**
 * The signing key of a Standard Webhooks secret (https://www.standardwebhooks.com/): a `whsec_`
 * secret is base64 as the spec writes it; any other text is used as raw UTF-8 bytes.
 */
function signer(secret: string): Webhook {
  return secret.startsWith("whsec_") ? new Webhook(secret) : new Webhook(new Uint8Array(Buffer.from(secret, "utf8")), { format: "raw" });
}

/**
 * A message ID (Standard Webhooks' `webhook-id`) from what identifies the message: the same parts give
 * the same ID, so a receiver that drops an ID it has seen drops a repeated delivery.
 */
export function messageId(...parts: string[]): string {
  return `msg_${createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 32)}`;
}

/**
 * Headers and body of a generic webhook POST, signed when the notifier has a secret. `id` is the
 * message's ID (every notifier and every retry of one message share it; else one from the body). It is
 * sent even unsigned: receivers deduplicate by it (https://www.standardwebhooks.com/, "Idempotency").
 */
export function webhookRequest(payload: unknown, secret: string | undefined, now: Date, id?: string): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "csip-scan", "webhook-id": id ?? messageId(body) };
  if (secret) {
    headers["webhook-timestamp"] = String(Math.floor(now.getTime() / 1000));
    headers["webhook-signature"] = signer(secret).sign(headers["webhook-id"]!, now, body);
  }
  return { headers, body };
}
