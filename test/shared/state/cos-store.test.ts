import { request } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as z from "zod";
import { freshAccount } from "../../../local/cloud/account.ts";
import { utcIso } from "../../../local/cloud/clock.ts";
import { startCloudStandIn, type CloudStandIn, type CosFault } from "../../../local/cloud/server.ts";
import { randomAccount } from "../../../local/emulator/accounts.ts";
import { LockBusyError, StateStoreError } from "../../../shared/errors.ts";
import { CosStateStore, UNREADABLE_LOCK_STALE_MS } from "../../../shared/state/cos-store.ts";

// The COS state store against the COS stand-in over HTTP: signed requests with a temporary key and its
// session token, write-once markers and locks through x-cos-forbid-overwrite, a versioned bucket refused,
// and server errors and lost answers that neither repeat nor lose a write.

const KEY = randomAccount(true);
const BUCKET = `csip-scan-state-${KEY.appId}`;
const REGION = "ap-guangzhou";
const PREFIX = "state/";

let standIn: CloudStandIn;
/** Faults to inject, consumed in order, for requests that match. */
let faults: { method: string; key: RegExp; fault: CosFault }[] = [];
/** Runs before each COS request; a promise holds the request until it settles. */
let hold: (request: { method: string; key: string }) => Promise<void> | undefined = () => undefined;

beforeAll(async () => {
  standIn = await startCloudStandIn({
    account: freshAccount(KEY),
    keys: [KEY],
    cosFault: async ({ method, key }) => {
      await hold({ method, key });
      const index = faults.findIndex((f) => f.method === method && f.key.test(key));
      if (index < 0) return undefined;
      return faults.splice(index, 1)[0]?.fault;
    },
  });
});
afterAll(() => standIn.close());
beforeEach(() => {
  faults = [];
  hold = () => undefined;
  standIn.account.buckets = [{ Name: BUCKET, Region: REGION, CreationDate: utcIso(Date.now()) }];
  standIn.account.objects = [];
  standIn.calls.length = 0;
});

function storeFor(options: { bucket?: string; token?: string } = {}) {
  const warnings: string[] = [];
  const store = new CosStateStore({
    bucket: options.bucket ?? BUCKET,
    region: REGION,
    prefix: PREFIX,
    credentials: { secretId: KEY.secretId, secretKey: KEY.secretKey, token: options.token ?? KEY.token! },
    endpoint: standIn.url,
    timeoutMs: 2000,
    retry: { baseMs: 1, capMs: 5, attempts: 4 },
    warn: (m) => warnings.push(m),
  });
  return { store, warnings };
}

/** Puts an object straight into the stand-in's bucket, as if another writer had. */
function plant(key: string, body: string, ageMs = 0): void {
  standIn.account.objects.push({
    Bucket: BUCKET,
    Key: key,
    Size: Buffer.byteLength(body),
    ETag: `"${key.length}-${ageMs}"`,
    ContentType: "application/json",
    LastModified: utcIso(Date.now() - ageMs),
    Body: Buffer.from(body).toString("base64"),
  });
}

const objectKeys = () => standIn.account.objects.map((o) => o.Key).sort();
const RecordSchema = z.object({ tasks: z.array(z.string()) });
const LOCK = { ttlMs: 60_000, waitMs: 0 };

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("CosStateStore, values", () => {
  it("reads back what it wrote, and nothing for a key never written", async () => {
    const { store } = storeFor();
    await store.set("run/csip-scan:nightly:20261129T030000Z", { tasks: ["rmis-1"] });
    expect(await storeFor().store.get("run/csip-scan:nightly:20261129T030000Z", RecordSchema)).toEqual({ tasks: ["rmis-1"] });
    expect(await store.get("run/never", RecordSchema)).toBeUndefined();
    expect(objectKeys()).toEqual(["state/run/csip-scan:nightly:20261129T030000Z.json"]);
  });

  it.each([
    ["not JSON", "{half"],
    ["of another shape", JSON.stringify({ tasks: "rmis-1" })],
  ])("refuses a record that is %s, naming the key and COS's request id, instead of starting fresh", async (_, body) => {
    plant("state/run/x.json", body);
    const error = await storeFor().store.get("run/x", RecordSchema).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateStoreError);
    expect((error as StateStoreError).message).toMatch(/state run\/x .*delete state\/run\/x\.json/);
    expect((error as StateStoreError).requestId).toMatch(/.+/);
  });

  it("writes a once-only marker once: of four writers at once, exactly one is told it wrote", async () => {
    const outcomes = await Promise.all([1, 2, 3, 4].map((n) => storeFor().store.create("sent/run-1/secops", { by: n })));
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    expect(standIn.calls.filter((c) => c.error === "FileAlreadyExists")).toHaveLength(3);
  });

  it("lists a collection page by page and skips a value gone since the listing", async () => {
    const { store } = storeFor();
    for (const id of ["a", "b", "c"]) await store.put("results-open", id, { tasks: [id] });
    await store.remove("results-open", "b");
    expect((await store.list("results-open", RecordSchema)).map((v) => v.tasks[0])).toEqual(["a", "c"]);
  });
});

describe("CosStateStore, the bucket", () => {
  it.each(["Enabled", "Suspended"] as const)("refuses a bucket whose versioning is %s before any write", async (status) => {
    standIn.account.buckets[0]!.Versioning = status;
    const { store } = storeFor();
    await expect(store.set("run/x", { tasks: [] })).rejects.toThrow(new RegExp(`versioning ${status}.*never enabled.*COS request id`));
    await expect(store.durable()).rejects.toBeInstanceOf(StateStoreError);
    expect(standIn.account.objects).toEqual([]);
  });

  it("sends the session token: a temporary key without its own is refused", async () => {
    const error = await storeFor({ token: "not-the-token" }).store.durable().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "InvalidAccessKeyId", httpCode: 403 });
    expect((error as Error).message).not.toContain(KEY.token);
  });
});

describe("CosStateStore, failures on the way", () => {
  it("retries a 500 on a write: the value lands once", async () => {
    faults = [{ method: "PUT", key: /run\/x/, fault: "error" }, { method: "PUT", key: /run\/x/, fault: "error" }];
    const { store } = storeFor();
    await store.set("run/x", { tasks: ["rmis-1"] });
    expect(await store.get("run/x", RecordSchema)).toEqual({ tasks: ["rmis-1"] });
  });

  it("knows its own write-once after the answer was lost: told it wrote, not that someone else did", async () => {
    faults = [{ method: "PUT", key: /sent\/m/, fault: "lose-answer" }];
    expect(await storeFor().store.create("sent/m", { by: 1 })).toBe(true);
    expect(await storeFor().store.create("sent/m", { by: 2 })).toBe(false);
  });

  it("after a lost answer, a key another writer holds is still theirs", async () => {
    plant("state/sent/m.json", JSON.stringify({ by: "other" }));
    faults = [{ method: "PUT", key: /sent\/m/, fault: "lose-answer" }];
    expect(await storeFor().store.create("sent/m", { by: 1 })).toBe(false);
  });

  it("fails with COS's request id once the retries are spent", async () => {
    faults = Array.from({ length: 4 }, () => ({ method: "PUT", key: /run\/x/, fault: "error" as const }));
    const error = await storeFor().store.set("run/x", { tasks: [] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "InternalError", httpCode: 500 });
    expect((error as Error).message).toMatch(/COS PutObject failed with InternalError \(RequestId .+\)/);
  });
});

describe("CosStateStore, locks", () => {
  it("lets one holder in at a time; a second waiting past its patience is told the work is busy", async () => {
    const a = storeFor().store;
    const inside = deferred();
    const leave = deferred();
    const first = a.withLock("run/r", { ttlMs: 60_000, waitMs: 0 }, async () => {
      inside.resolve();
      await leave.promise;
      return "first";
    });
    await inside.promise;
    await expect(storeFor().store.withLock("run/r", LOCK, async () => "second")).rejects.toBeInstanceOf(LockBusyError);
    leave.resolve();
    expect(await first).toBe("first");
    expect(await storeFor().store.withLock("run/r", LOCK, async () => "third")).toBe("third");
    expect(objectKeys()).toEqual([]);
  });

  it("when two take over an expired lock at once, one wins and the other is told the work is busy", async () => {
    plant("state/locks/run/r.lock", JSON.stringify({ owner: "dead", expires: Date.now() - 1000 }));
    const leave = deferred();
    let entered = 0;
    const attempts = [storeFor().store, storeFor().store].map((store) =>
      store.withLock("run/r", LOCK, async () => {
        entered++;
        await leave.promise;
      }),
    );
    const settled = await Promise.race([Promise.allSettled([attempts[0], attempts[1]]), new Promise((r) => setTimeout(r, 200, "held"))]);
    expect(settled).toBe("held");
    expect(entered).toBe(1);
    leave.resolve();
    const outcomes = await Promise.allSettled(attempts);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    expect(outcomes.find((o) => o.status === "rejected")).toMatchObject({ reason: expect.any(LockBusyError) });
  });

  it("a takeover that lost the race never deletes the winner's new lock", async () => {
    // The second DELETE of the lock is held until the winner has made its own lock: a loser that
    // deleted anyway would delete the winner's lock and get in beside it.
    plant("state/locks/run/r.lock", JSON.stringify({ owner: "dead", expires: Date.now() - 1000 }));
    let deletes = 0;
    const recreated = deferred();
    hold = ({ method, key }) => {
      if (!key.endsWith("r.lock")) return undefined;
      if (method === "PUT" && deletes > 0) setTimeout(recreated.resolve, 20);
      if (method === "DELETE" && ++deletes === 2) return recreated.promise;
      return undefined;
    };
    const leave = deferred();
    let entered = 0;
    const attempts = [storeFor().store, storeFor().store].map((store) =>
      store.withLock("run/r", { ttlMs: 60_000, waitMs: 300 }, async () => {
        entered++;
        await leave.promise;
      }),
    );
    await new Promise((r) => setTimeout(r, 150));
    expect(entered).toBe(1);
    leave.resolve();
    await Promise.allSettled(attempts);
  });

  it.each([
    ["left alone a second before a minute", UNREADABLE_LOCK_STALE_MS - 1000, "busy"],
    ["taken over a second after a minute", UNREADABLE_LOCK_STALE_MS + 1000, "taken"],
  ])("an unreadable lock is %s", async (_, ageMs, expected) => {
    plant("state/locks/run/r.lock", "{half", ageMs);
    const outcome = await storeFor()
      .store.withLock("run/r", LOCK, async () => "taken")
      .catch((e: unknown) => (e instanceof LockBusyError ? "busy" : e));
    expect(outcome).toBe(expected);
  });

  it.each([
    ["is waited for while it is under a minute old", UNREADABLE_LOCK_STALE_MS - 1000, "busy"],
    ["is passed over by the next generation's marker once over a minute old", UNREADABLE_LOCK_STALE_MS + 1000, "taken"],
  ])("the takeover marker of a taker that died before deleting the lock %s", async (_, ageMs, expected) => {
    plant("state/locks/run/r.lock", JSON.stringify({ owner: "dead", expires: Date.now() - 1000 }));
    const etag = standIn.account.objects[0]!.ETag.replace(/"/g, "");
    plant(`state/locks/run/r.lock.takeover/${etag}.1`, JSON.stringify({ owner: "died-too" }), ageMs);
    const outcome = await storeFor()
      .store.withLock("run/r", LOCK, async () => "taken")
      .catch((e: unknown) => (e instanceof LockBusyError ? "busy" : e));
    expect(outcome).toBe(expected);
  });

  it("a lock claiming to last longer than any run is stale", async () => {
    plant("state/locks/run/r.lock", JSON.stringify({ owner: "odd", expires: Date.now() + 3 * 86_400_000 }));
    expect(await storeFor().store.withLock("run/r", LOCK, async () => "taken")).toBe("taken");
  });
});

describe("CosStateStore, pages for people", () => {
  it("writes a private page and hands out a presigned URL that reads it", async () => {
    const { store } = storeFor();
    await store.putObject("pages/run-1.html", "<h1>results</h1>", "text/html; charset=utf-8");
    const url = new URL(store.presignedGetUrl("pages/run-1.html", 600));
    expect(url.host).toBe(`${BUCKET}.cos.${REGION}.myqcloud.com`);
    expect(url.searchParams.get("x-cos-security-token")).toBe(KEY.token);
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        request(`${standIn.url}${path}`, { headers: { host: url.host } }, (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        })
          .on("error", reject)
          .end();
      });
    expect(await get(`${url.pathname}${url.search}`)).toEqual({ status: 200, body: "<h1>results</h1>" });
    expect((await get(`${url.pathname}${url.search.replace(/q-signature=[0-9a-f]+/, "q-signature=00")}`)).status).toBe(403);
  });
});
