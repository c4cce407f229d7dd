import { cosBucketNameProblem } from "../../shared/config/schema.ts";
import { CosClient } from "../../shared/state/cos-client.ts";
import type { DeployCredentials } from "./cloud.ts";

/**
 * The bucket of the COS state store (shared/state/cos-store.ts): made by the deploy when missing, private,
 * with versioning never enabled (x-cos-forbid-overwrite holds only there). It is never deleted: it holds
 * what was created and told, which the next deploy's functions still need.
 *
 * One bucket per account holds every deployment, each in a folder of its own (shared/state/keys.ts
 * deploymentStatePrefix): a bucket's name is one per account (`NAME-APPID`), its region is fixed when it
 * is made, and its name counted in its region's domain may have 60 characters (436/13312), which leaves
 * no room to name a region in it (`csip-scan-state-1250000000` in na-siliconvalley is exactly 60). So the
 * deploy finds the bucket where it is, whatever region it deploys to, through GET Service, which lists
 * every bucket of the account with its region; the functions of another region reach it there.
 * https://cloud.tencent.com/document/product/436/8291 (GET Service), /436/7738 (PUT Bucket),
 * /436/19888 (GET Bucket versioning)
 */

/** The bucket the deploy makes when the policy file names none: one per account. */
export function defaultStateBucket(appId: string): string {
  return `csip-scan-state-${appId}`;
}

export interface StateBucketOutcome {
  bucket: string;
  /** Where the bucket is: where it was found, or where it was made. */
  region: string;
  created: boolean;
}

/** Thrown when the bucket exists but cannot hold the store: the deploy stops before any function changes. */
export class StateBucketError extends Error {
  override name = "StateBucketError";
}

/** The host of GET Service that lists the buckets of every region (`cos.REGION.myqcloud.com` lists one region's). */
const SERVICE_HOST = "service.cos.myqcloud.com";

const retry = { baseMs: 500, capMs: 5000, attempts: 3 };

/** Where COS requests go instead of COS's hosts (tests: the COS stand-in on 127.0.0.1); a rehearsal redirects them itself. */
export interface CosConnection {
  endpoint?: string;
}

/** A client of the deploy's COS requests: the service's host, or one bucket's. */
function deployCos(credentials: DeployCredentials, connection: CosConnection, at: { bucket: string; region: string; host?: string }): CosClient {
  return new CosClient({ ...at, credentials, timeoutMs: 30_000, retry, endpoint: connection.endpoint });
}

/** The region of each bucket of the account, from GET Service (an account holds at most 200 buckets: one answer). */
export async function bucketRegions(credentials: DeployCredentials, connection: CosConnection = {}): Promise<Map<string, string>> {
  const service = deployCos(credentials, connection, { bucket: "", region: "", host: SERVICE_HOST });
  const answer = await service.send({ action: "GetService", method: "GET", key: "", expect: [] });
  const regions = new Map<string, string>();
  for (const [, bucket] of answer.body.matchAll(/<Bucket>([\s\S]*?)<\/Bucket>/g)) {
    const name = /<Name>([^<]+)<\/Name>/.exec(bucket!)?.[1];
    const location = /<Location>([^<]+)<\/Location>/.exec(bucket!)?.[1];
    if (name && location) regions.set(name, location);
  }
  return regions;
}

/**
 * Finds the bucket in whatever region it is, or makes it in `location.region` when the account has
 * none of that name; refuses one whose versioning was ever enabled, one in another region than the policy
 * file names (`fixedRegion`), and a name too long for the region it would be made in.
 */
export async function ensureStateBucket(
  credentials: DeployCredentials,
  location: { bucket: string; region: string; fixedRegion?: boolean },
  connection: CosConnection = {},
): Promise<StateBucketOutcome> {
  const found = (await bucketRegions(credentials, connection)).get(location.bucket);
  if (found === undefined) {
    const tooLong = cosBucketNameProblem(location.bucket, location.region);
    if (tooLong) throw new StateBucketError(`the state bucket ${location.bucket} ${tooLong}: name a shorter one in state.cos.bucket`);
    const client = deployCos(credentials, connection, { bucket: location.bucket, region: location.region });
    const made = await client.send({ action: "PutBucket", method: "PUT", key: "", headers: { "x-cos-acl": "private" }, expect: [409] });
    if (made.status === 409) {
      // Made since GET Service answered (another deploy at the same time), or not yet listed there.
      throw new StateBucketError(`the state bucket ${location.bucket} exists, but GET Service did not list it: deploy again in a minute`);
    }
    return { bucket: location.bucket, region: location.region, created: true };
  }
  if (location.fixedRegion && found !== location.region) {
    throw new StateBucketError(`the state bucket ${location.bucket} is in ${found}, but state.cos.region says ${location.region}: a bucket's region is fixed when it is made`);
  }
  const client = deployCos(credentials, connection, { bucket: location.bucket, region: found });
  const versioning = await client.send({ action: "GetBucketVersioning", method: "GET", key: "", query: { versioning: "" }, expect: [] });
  const status = /<Status>([^<]*)<\/Status>/.exec(versioning.body)?.[1];
  if (status) {
    throw new StateBucketError(
      `the state bucket ${location.bucket} has versioning ${status}; the state store needs a bucket whose versioning was never enabled (name another in state.cos.bucket)`,
    );
  }
  return { bucket: location.bucket, region: found, created: false };
}
