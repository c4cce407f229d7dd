import { afterEach, describe, expect, it } from "vitest";
import { freshAccount } from "../../../local/cloud/account.ts";
import { utcIso } from "../../../local/cloud/clock.ts";
import { REHEARSAL_ACCOUNT } from "../../../local/cloud/credentials.ts";
import { startCloudStandIn, type CloudStandIn } from "../../../local/cloud/server.ts";
import { defaultStateBucket, ensureStateBucket, StateBucketError } from "../../../local/deploy/state-bucket.ts";

// The deploy's state bucket against the COS stand-in: one bucket per account, found in whatever region it
// was made (GET Service lists each bucket's region), made only when the account has none of that name.
// A deploy to a second region therefore uses the first region's bucket, and its functions are told where.

const BUCKET = defaultStateBucket(REHEARSAL_ACCOUNT.appId);
const KEYS = { secretId: REHEARSAL_ACCOUNT.secretId, secretKey: REHEARSAL_ACCOUNT.secretKey };

let standIn: CloudStandIn | undefined;
afterEach(async () => {
  await standIn?.close();
  standIn = undefined;
});

/** An account holding these buckets, its COS served on 127.0.0.1 (each request keeps its COS host, which the signature covers). */
async function account(buckets: { Name: string; Region: string; Versioning?: "Enabled" | "Suspended" }[]) {
  standIn = await startCloudStandIn({ account: { ...freshAccount(REHEARSAL_ACCOUNT), buckets: buckets.map((b) => ({ ...b, CreationDate: utcIso(Date.now()) })) } });
  return { standIn };
}

const ensure = (at: CloudStandIn, location: Parameters<typeof ensureStateBucket>[1]) => ensureStateBucket(KEYS, location, { endpoint: at.url });

const cos = (at: CloudStandIn) => at.calls.filter((c) => c.service === "cos").map((c) => `${c.action}${c.params.Region ? ` ${String(c.params.Region)}` : ""}${c.error ? ` ${c.error}` : ""}`);

describe("ensureStateBucket", () => {
  it("makes the bucket in the deploy region when the account has none", async () => {
    const { standIn: at } = await account([]);
    expect(await ensure(at, { bucket: BUCKET, region: "ap-guangzhou" })).toEqual({ bucket: BUCKET, region: "ap-guangzhou", created: true });
    expect(cos(at)).toEqual(["GetService", "PutBucket ap-guangzhou"]);
  });

  it("a deploy to a second region finds the bucket where it was made, and makes none", async () => {
    const { standIn: at } = await account([{ Name: BUCKET, Region: "ap-guangzhou" }]);
    expect(await ensure(at, { bucket: BUCKET, region: "ap-shanghai" })).toEqual({ bucket: BUCKET, region: "ap-guangzhou", created: false });
    expect(cos(at)).toEqual(["GetService", "GetBucketVersioning ap-guangzhou"]);
  });

  it.each([
    ["in another region than the file names", [{ Name: BUCKET, Region: "ap-guangzhou" }], { region: "ap-shanghai", fixedRegion: true }, /is in ap-guangzhou, but state\.cos\.region says ap-shanghai/],
    ["versioned", [{ Name: BUCKET, Region: "ap-guangzhou", Versioning: "Suspended" as const }], { region: "ap-guangzhou" }, /has versioning Suspended/],
    ["too long for the region it would be made in, as COS counts it", [], { bucket: `csip-scan-state-production-${REHEARSAL_ACCOUNT.appId}`, region: "na-siliconvalley" }, /is too long for na-siliconvalley/],
  ])("refuses a bucket %s, before any change", async (_, buckets, location, message) => {
    const { standIn: at } = await account(buckets);
    const error = await ensure(at, { bucket: BUCKET, ...location }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateBucketError);
    expect((error as Error).message).toMatch(message);
    expect(cos(at).filter((c) => c.startsWith("PutBucket"))).toEqual([]);
  });
});
