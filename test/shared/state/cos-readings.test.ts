import { afterEach, describe, expect, it } from "vitest";
import * as z from "zod";
import { freshAccount } from "../../../local/cloud/account.ts";
import { utcIso } from "../../../local/cloud/clock.ts";
import { startCloudStandIn, type CloudStandIn } from "../../../local/cloud/server.ts";
import { randomAccount, type EmulatorAccount } from "../../../local/emulator/accounts.ts";
import { credentialsReadFrom } from "../../../shared/csip/credentials.ts";
import { CloudApiError } from "../../../shared/errors.ts";
import { envOf } from "../../helpers.ts";
import { CosClient } from "../../../shared/state/cos-client.ts";
import { forbidOverwriteConflict } from "../../../shared/state/cos-readings.ts";
import { CosStateStore } from "../../../shared/state/cos-store.ts";

// The COS store where COS's documents leave a reading open, against the stand-in switched each way: the
// role's keys rotate under a warm instance, the 409 of a write-once PUT carries another code, and COS's
// clock is minutes away from the function's.

const FIRST = randomAccount(true);
const SECOND = { ...randomAccount(true), appId: FIRST.appId, uin: FIRST.uin };
const BUCKET = `csip-scan-state-${FIRST.appId}`;
const REGION = "ap-guangzhou";

let standIn: CloudStandIn | undefined;
afterEach(async () => {
  await standIn?.close();
  standIn = undefined;
});

async function start(options: Parameters<typeof startCloudStandIn>[0] = {}): Promise<CloudStandIn> {
  const account = { ...freshAccount(FIRST), buckets: [{ Name: BUCKET, Region: REGION, CreationDate: utcIso(Date.now()) }] };
  standIn = await startCloudStandIn({ account, keys: [FIRST], ...options });
  return standIn;
}

/** The variables SCF would set for a key, as the environment of an invocation. */
const envFor = (key: EmulatorAccount) => envOf({ TENCENTCLOUD_SECRETID: key.secretId, TENCENTCLOUD_SECRETKEY: key.secretKey, TENCENTCLOUD_SESSIONTOKEN: key.token! });

function storeOn(at: CloudStandIn, read: () => ReturnType<typeof envOf>): CosStateStore {
  return new CosStateStore({
    bucket: BUCKET,
    region: REGION,
    prefix: "state/",
    credentials: credentialsReadFrom(read),
    endpoint: at.url,
    timeoutMs: 2000,
    retry: { baseMs: 1, capMs: 5, attempts: 2 },
  });
}

const Value = z.object({ n: z.number() });
const cosCalls = (at: CloudStandIn) => at.calls.filter((c) => c.service === "cos").map((c) => `${c.action}${c.error ? ` ${c.error}` : ""}`);

describe("role keys that rotate under a warm store", () => {
  it("a refused key is read again and the request sent once more, with the new key", async () => {
    const at = await start();
    let env = envFor(FIRST);
    const store = storeOn(at, () => env);
    await store.set("a", { n: 1 });
    at.rotateKeys([SECOND]);
    env = envFor(SECOND);
    await store.set("b", { n: 2 });
    expect(await store.get("b", Value)).toEqual({ n: 2 });
    expect(cosCalls(at)).toEqual(["GetBucketVersioning", "PutObject", "PutObject InvalidAccessKeyId", "PutObject", "GetObject"]);
  });

  it("keys the environment still gives unchanged are not tried again: the refusal is the error", async () => {
    const at = await start();
    const store = storeOn(at, () => envFor(FIRST));
    await store.set("a", { n: 1 });
    at.rotateKeys([SECOND]);
    const error = await store.set("b", { n: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CloudApiError);
    expect((error as CloudApiError).code).toBe("InvalidAccessKeyId");
    expect(cosCalls(at).filter((c) => c.startsWith("PutObject"))).toEqual(["PutObject", "PutObject InvalidAccessKeyId"]);
  });
});

describe("the 409 of a write-once PUT", () => {
  it.each(["FileAlreadyExists", "ObjectAlreadyExists", "PathConflict"])("coded %s means the key exists, and the code is kept", async (code) => {
    const at = await start({ cosReadings: { conflictCode: code } });
    const stores = [1, 2, 3].map(() => storeOn(at, () => envFor(FIRST)));
    const outcomes = await Promise.all(stores.map((s, n) => s.create("once", { n })));
    // One writer wrote and saw no 409; the two others were told the key exists, and kept COS's code.
    expect(stores.map((s, n) => [outcomes[n], s.conflictCode]).sort()).toEqual([[false, code], [false, code], [true, undefined]]);
  });
});

describe("forbidOverwriteConflict, the reading as doctor asks it", () => {
  const clientOn = (at: CloudStandIn) => new CosClient({ bucket: BUCKET, region: REGION, credentials: FIRST, endpoint: at.url, timeoutMs: 2000, retry: { baseMs: 1, capMs: 5, attempts: 1 } });

  it.each(["FileAlreadyExists", "ObjectAlreadyExists"])("tells the 409's code (%s) from a scratch key it deletes, under the prefix given", async (code) => {
    const at = await start({ cosReadings: { conflictCode: code } });
    expect(await forbidOverwriteConflict(clientOn(at), "state/dev-ap-guangzhou/")).toEqual({ conflict: true, code, requestId: expect.any(String) });
    expect(at.account.objects).toEqual([]);
    expect(at.calls.every((c) => String(c.params.Key).startsWith("state/dev-ap-guangzhou/doctor/"))).toBe(true);
  });

  it("tells a bucket where the header does not hold (versioning was enabled): the second write overwrote", async () => {
    const at = await start();
    at.account.buckets[0]!.Versioning = "Suspended";
    expect(await forbidOverwriteConflict(clientOn(at), "state/")).toEqual({ conflict: false, requestId: expect.any(String) });
    expect(at.account.objects).toEqual([]);
  });
});

describe("COS's clock away from the function's", () => {
  it.each([
    ["5 minutes behind: RequestTimeTooSkewed", -300_000, "RequestTimeTooSkewed"],
    ["15 minutes ahead: Request has expired", 900_000, "AccessDenied"],
  ])("%s, then corrected from the answer's Date and signed again, as the COS SDK does", async (_, offset, code) => {
    const at = await start({ cosClockOffsetMs: offset });
    const client = new CosClient({ bucket: BUCKET, region: REGION, credentials: FIRST, endpoint: at.url, timeoutMs: 2000, retry: { baseMs: 1, capMs: 5, attempts: 1 } });
    const answer = await client.send({ action: "PutObject", method: "PUT", key: "state/x.json", body: "{}", expect: [] });
    expect(answer.status).toBe(200);
    expect(cosCalls(at)).toEqual([`PutObject ${code}`, "PutObject"]);
    // Corrected once: the next request is signed on COS's clock at the first try.
    expect(Math.abs(client.clockOffsetMs - offset)).toBeLessThan(2000);
    await client.send({ action: "GetObject", method: "GET", key: "state/x.json", expect: [] });
    expect(cosCalls(at).slice(2)).toEqual(["GetObject"]);
  });

  it("20 seconds behind is within what the stand-in takes (60 s before the window): no correction", async () => {
    const at = await start({ cosClockOffsetMs: -20_000 });
    const client = new CosClient({ bucket: BUCKET, region: REGION, credentials: FIRST, endpoint: at.url, timeoutMs: 2000, retry: { baseMs: 1, capMs: 5, attempts: 1 } });
    await client.send({ action: "PutObject", method: "PUT", key: "state/x.json", body: "{}", expect: [] });
    expect(cosCalls(at)).toEqual(["PutObject"]);
    expect(client.clockOffsetMs).toBe(0);
  });
});

describe("a bucket name's length, counted as the stand-in is switched to", () => {
  // 30 characters before -APPID: within 60 as a name, 70 as the domain in ap-guangzhou (436/13312).
  const PLUGIN_BUCKET = `sls-cloudfunction-ap-guangzhou-${FIRST.appId}`;
  it.each([
    ["name", 200],
    ["domain", 400],
  ] as const)("by %s: PUT Bucket of the pinned plugin's code bucket answers %i", async (count, status) => {
    const at = await start({ cosReadings: { bucketNameCount: count } });
    const client = new CosClient({ bucket: PLUGIN_BUCKET, region: REGION, credentials: FIRST, endpoint: at.url, timeoutMs: 2000, retry: { baseMs: 1, capMs: 5, attempts: 1 } });
    const answer = await client.send({ action: "PutBucket", method: "PUT", key: "", expect: [400] });
    expect(answer.status).toBe(status);
  });
});
