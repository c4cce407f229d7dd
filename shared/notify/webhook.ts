import { createHash } from "node:crypto";
import { Webhook } from "standardwebhooks";

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

/** Headers and body of a generic webhook POST, signed when the notifier has a secret. */
export function webhookRequest(payload: unknown, secret: string | undefined, now: Date): { headers: Record<string, string>; body: string } {
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
