import { randomBytes } from "node:crypto";
import { errorCode, type CosClient } from "./cos-client.ts";

/**
 * What a COS bucket answers where COS's documents leave it open, asked with harmless requests (for
 * `csip-scan doctor`): the code of the 409 to a write-once PUT. The store takes any 409 as "the key
 * exists" (cos-store.ts), so the code only tells people which reading the account showed.
 */
export type ConflictReading =
  /** The second write-once PUT got a 409 with this `<Code>` ("" when the answer named none). */
  | { conflict: true; code: string; requestId: string | undefined }
  /** The second PUT overwrote the first: x-cos-forbid-overwrite does not hold on this bucket (versioning). */
  | { conflict: false; requestId: string | undefined };

/**
 * Writes a scratch object twice with `x-cos-forbid-overwrite: true` under `prefix` (a folder the caller
 * may write, such as a deployment's `state/…/`), reads what the second write got, and deletes the object.
 */
export async function forbidOverwriteConflict(client: CosClient, prefix: string): Promise<ConflictReading> {
  const key = `${prefix}doctor/forbid-overwrite-${randomBytes(6).toString("hex")}.json`;
  const put = () =>
    client.send({ action: "PutObject", method: "PUT", key, headers: { "content-type": "application/json", "x-cos-forbid-overwrite": "true" }, body: "{}", expect: [409] });
  try {
    await put();
    const second = await put();
    if (second.status !== 409) return { conflict: false, requestId: second.requestId };
    return { conflict: true, code: errorCode(second.body) ?? "", requestId: second.requestId };
  } finally {
    await client.send({ action: "DeleteObject", method: "DELETE", key, expect: [404] });
  }
}
