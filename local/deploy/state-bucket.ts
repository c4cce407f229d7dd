import { CosClient } from "../../shared/state/cos-client.ts";
import type { DeployCredentials } from "./cloud.ts";

/**
 * The bucket of the COS state store (shared/state/cos-store.ts): made by the deploy when missing, private,
 * in the deploy region, with versioning never enabled (x-cos-forbid-overwrite holds only there). It is
 * never deleted: it holds what was created and told, which the next deploy's functions still need.
 * https://cloud.tencent.com/document/product/436/7738 (PUT Bucket), /436/19888 (GET Bucket versioning)
 */

/** The bucket the deploy makes when the policy file names none: one per account. */
export function defaultStateBucket(appId: string): string {
  return `csip-scan-state-${appId}`;
}

export interface StateBucketOutcome {
  bucket: string;
  region: string;
  created: boolean;
}

/** Thrown when the bucket exists but cannot hold the store: the deploy stops before any function changes. */
export class StateBucketError extends Error {
  override name = "StateBucketError";
}

/** Makes the bucket when missing; refuses one whose versioning was ever enabled. */
export async function ensureStateBucket(
  credentials: DeployCredentials,
  location: { bucket: string; region: string },
): Promise<StateBucketOutcome> {
  const client = new CosClient({ ...location, credentials, timeoutMs: 30_000, retry: { baseMs: 500, capMs: 5000, attempts: 3 } });
  const head = await client.send({ action: "HeadBucket", method: "HEAD", key: "", expect: [404] });
  if (head.status === 404) {
    await client.send({ action: "PutBucket", method: "PUT", key: "", headers: { "x-cos-acl": "private" }, expect: [] });
    return { ...location, created: true };
  }
  const versioning = await client.send({ action: "GetBucketVersioning", method: "GET", key: "", query: { versioning: "" }, expect: [] });
  const status = /<Status>([^<]*)<\/Status>/.exec(versioning.body)?.[1];
  if (status) {
    throw new StateBucketError(
      `the state bucket ${location.bucket} has versioning ${status}; the state store needs a bucket whose versioning was never enabled (name another in state.cos.bucket)`,
    );
  }
  return { ...location, created: false };
}
