import { createServer, request } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as z from "zod";
import { freshAccount } from "../../../local/cloud/account.ts";
import { utcIso } from "../../../local/cloud/clock.ts";
import { startCloudStandIn, type CloudStandIn, type CosFault } from "../../../local/cloud/server.ts";
import { randomAccount } from "../../../local/emulator/accounts.ts";
import { LeaseLostError, LockBusyError, StateStoreError } from "../../../shared/errors.ts";
import { CosStateStore } from "../../../shared/state/cos-store.ts";
import { LeaseSchema, type StoredLease } from "../../../shared/state/lease.ts";

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

function storeFor(options: { bucket?: string; token?: string; now?: () => number; leaseMs?: number } = {}) {
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
    ...(options.now ? { now: options.now } : {}),
    ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
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
const LOCK = { waitMs: 0 };

/** Polls `value` until it is truthy (the real time a renewal takes under load is not the test's business). */
async function until<T>(value: () => T | false | undefined): Promise<T> {
  for (let waited = 0; waited < 20_000; waited += 20) {
    const found = value();
    if (found) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("waited 20 s in vain");
}

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

  it("retries throttling (429 SlowDown): the value lands once", async () => {
    faults = [1, 2, 3].map(() => ({ method: "PUT", key: /run\/x/, fault: "slow-down" as const }));
    await storeFor().store.set("run/x", { tasks: ["rmis-1"] });
    expect(faults).toEqual([]);
    expect(await storeFor().store.get("run/x", RecordSchema)).toEqual({ tasks: ["rmis-1"] });
  });

  it("checks the bucket's versioning again after a check that failed, rather than failing for good", async () => {
    faults = [1, 2, 3, 4].map(() => ({ method: "GET", key: /^$/, fault: "error" as const }));
    const { store } = storeFor();
    await expect(store.durable()).rejects.toMatchObject({ code: "InternalError" });
    expect(await store.durable()).toBe(true);
  });

  it("lists a collection of more than 1,000 values to its end, page after page", async () => {
    const ids = Array.from({ length: 1_005 }, (_, i) => `run-${String(i).padStart(4, "0")}`);
    for (const id of ids) plant(`state/collections/results-open/${id}.json`, JSON.stringify({ tasks: [id] }));
    const listed = await storeFor().store.list("results-open", RecordSchema);
    expect(listed.map((v) => v.tasks[0])).toEqual(ids);
    expect(standIn.calls.filter((c) => c.action === "GetBucket")).toHaveLength(2);
  });

  it("aborts a request that gets no answer within the timeout: the connection is closed, not left to land later", async () => {
    // A server that reads each request and never answers, noting when the client closes the connection.
    const open = new Set<Socket>();
    let requests = 0;
    const silent = createServer((req) => {
      requests++;
      open.add(req.socket);
      req.socket.on("close", () => open.delete(req.socket));
      req.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const store = new CosStateStore({
        bucket: BUCKET,
        region: REGION,
        prefix: PREFIX,
        credentials: { secretId: KEY.secretId, secretKey: KEY.secretKey, token: KEY.token! },
        endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        timeoutMs: 200,
        retry: { baseMs: 1, capMs: 5, attempts: 2 },
      });
      await expect(store.durable()).rejects.toMatchObject({ code: "Timeout" });
      expect(requests).toBe(2);
      await until(() => open.size === 0);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("fails with COS's request id once the retries are spent", async () => {
    faults = Array.from({ length: 4 }, () => ({ method: "PUT", key: /run\/x/, fault: "error" as const }));
    const error = await storeFor().store.set("run/x", { tasks: [] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "InternalError", httpCode: 500 });
    expect((error as Error).message).toMatch(/COS PutObject failed with InternalError \(RequestId .+\)/);
  });
});

describe("CosStateStore, locks", () => {
  /** A lease as another holder would have stored it. */
  const lease = (generation: number, fields: Partial<StoredLease> = {}) => JSON.stringify({ owner: "other", generation, expires: Date.now() + 30_000, record: 0, ...fields });
  const leaseObject = (generation: number) => `state/locks/run/r/${generation}.json`;
  const storedLease = (generation: number) => LeaseSchema.parse(JSON.parse(Buffer.from(standIn.account.objects.find((o) => o.Key === leaseObject(generation))!.Body!, "base64").toString()));
  const released = (generation: number) => storedLease(generation).released === true;

  it("lets one holder in at a time; a second waiting past its patience is told the work is busy", async () => {
    const a = storeFor().store;
    const inside = deferred();
    const leave = deferred();
    const first = a.withLock("run/r", LOCK, async () => {
      inside.resolve();
      await leave.promise;
      return "first";
    });
    await inside.promise;
    await expect(storeFor().store.withLock("run/r", LOCK, async () => "second")).rejects.toBeInstanceOf(LockBusyError);
    leave.resolve();
    expect(await first).toBe("first");
    expect(await storeFor().store.withLock("run/r", LOCK, async () => "third")).toBe("third");
    // Each taking is a generation, left in place and marked released: nothing was deleted.
    expect(objectKeys()).toEqual([leaseObject(1), leaseObject(2), "state/locks/run/r/head.json"]);
    expect([released(1), released(2)]).toEqual([true, true]);
    expect(standIn.calls.filter((c) => c.action === "DeleteObject")).toEqual([]);
  });

  it("keeps the record through the lease: the holder's copy while it holds, the plain key for everyone once released", async () => {
    const { store } = storeFor();
    await store.withLock("run/r", LOCK, async () => {
      expect(await store.get("run/r", RecordSchema)).toBeUndefined();
      await store.set("run/r", { tasks: ["rmis-1"] });
      expect(await store.get("run/r", RecordSchema)).toEqual({ tasks: ["rmis-1"] });
      expect(await storeFor().store.get("run/r", RecordSchema)).toBeUndefined();
    });
    expect(await storeFor().store.get("run/r", RecordSchema)).toEqual({ tasks: ["rmis-1"] });
    await store.withLock("run/r", LOCK, async () => {
      expect(await store.get("run/r", RecordSchema)).toEqual({ tasks: ["rmis-1"] });
      await store.set("run/r", { tasks: ["rmis-1", "rmis-2"] });
    });
    // The second holder's copy replaced the first's, which it removed once released.
    expect(objectKeys().filter((k) => k.startsWith("state/run/"))).toEqual(["state/run/r.json", "state/run/r@2.json"]);
    expect(storedLease(2)).toMatchObject({ released: true, record: 2 });
  });

  it("refuses a corrupt copy of the record under the lock, naming that copy", async () => {
    plant(leaseObject(1), lease(1, { released: true, record: 1 }));
    plant("state/run/r@1.json", "{half");
    const { store } = storeFor();
    const error = await store.withLock("run/r", LOCK, () => store.get("run/r", RecordSchema)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateStoreError);
    expect((error as Error).message).toMatch(/^state run\/r@1 in COS bucket .* is not JSON; delete state\/run\/r@1\.json to start it fresh$/);
  });

  it.each<[string, string, Partial<StoredLease>]>([
    ["a lease half a minute ahead is waited for", "busy", {}],
    ["a released lease is taken at once", "taken", { released: true }],
    ["a lease past its expiry is taken", "taken", { expires: Date.now() - 1000 }],
    ["a lease further ahead than two leases is taken (no holder writes one)", "taken", { expires: Date.now() + 3 * 86_400_000 }],
  ])("%s", async (_, expected, fields) => {
    plant(leaseObject(1), lease(1, fields));
    const outcome = await storeFor()
      .store.withLock("run/r", LOCK, async () => "taken")
      .catch((e: unknown) => (e instanceof LockBusyError ? "busy" : e));
    expect(outcome).toBe(expected);
  });

  it("when two take over a lapsed lease at once, one wins and the other is told the work is busy", async () => {
    plant(leaseObject(1), lease(1, { expires: Date.now() - 1000 }));
    const leave = deferred();
    let entered = 0;
    const attempts = [storeFor().store, storeFor().store].map((store) =>
      store.withLock("run/r", LOCK, async () => {
        entered++;
        await leave.promise;
      }),
    );
    // The winner holds until told to leave: the first attempt to end is the loser's, refused meanwhile.
    const firstEnded = await Promise.race(attempts.map((attempt) => attempt.then(() => "entered and left", (error: unknown) => error)));
    expect(firstEnded).toBeInstanceOf(LockBusyError);
    await until(() => entered === 1);
    leave.resolve();
    const outcomes = await Promise.allSettled(attempts);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    expect(outcomes.find((o) => o.status === "rejected")).toMatchObject({ reason: expect.any(LockBusyError) });
    expect(storedLease(1)).toMatchObject({ owner: "other" });
  });

  it("a holder that stalled past its lease: its write is refused, and its release touches neither the next holder's lease nor the record", async () => {
    let clock = Date.now();
    const slow = storeFor({ now: () => clock }).store;
    const stalled = deferred();
    const resume = deferred();
    const late = slow.withLock("run/r", LOCK, async () => {
      await slow.set("run/r", { tasks: ["rmis-1"] });
      stalled.resolve();
      await resume.promise;
      await slow.set("run/r", { tasks: ["rmis-1", "late"] });
    });
    await stalled.promise;
    clock += 2 * 60_000;
    const next = storeFor({ now: () => clock }).store;
    const holding = deferred();
    const done = deferred();
    const taken = next.withLock("run/r", LOCK, async () => {
      expect(await next.get("run/r", RecordSchema)).toEqual({ tasks: ["rmis-1"] });
      await next.set("run/r", { tasks: ["rmis-1", "rmis-2"] });
      holding.resolve();
      await done.promise;
    });
    await holding.promise;
    await expect(storeFor({ now: () => clock }).store.withLock("run/r", LOCK, async () => "third")).rejects.toBeInstanceOf(LockBusyError);
    done.resolve();
    await taken;
    const nextLease = storedLease(2);
    // The stalled holder wakes after the next one is done: its write is refused, and its release leaves all as it was.
    resume.resolve();
    await expect(late).rejects.toBeInstanceOf(LeaseLostError);
    expect(storedLease(2)).toEqual(nextLease);
    expect(nextLease).toMatchObject({ released: true, record: 2 });
    expect(nextLease.owner).not.toBe(storedLease(1).owner);
    expect(await storeFor().store.get("run/r", RecordSchema)).toEqual({ tasks: ["rmis-1", "rmis-2"] });
    expect(standIn.calls.filter((c) => c.action === "DeleteObject" && String(c.params.Key).includes("locks/"))).toEqual([]);
  });

  it("renews the lease while its holder works, and the stored expiry says until when", async () => {
    // Renewed every second: a lease that ran out unrenewed is not brought back, so the lease leaves room
    // for a busy machine's late timers.
    const { store } = storeFor({ leaseMs: 3_000 });
    const leave = deferred();
    const held = store.withLock("run/r", LOCK, () => leave.promise);
    const first = await until(() => standIn.account.objects.some((o) => o.Key === leaseObject(1)) && storedLease(1).expires);
    const renewed = await until(() => storedLease(1).expires > first && storedLease(1).expires);
    expect(renewed).toBeGreaterThan(first);
    leave.resolve();
    await held;
    expect(storedLease(1).released).toBe(true);
  });

  it("a release that fails is a warning, never a failure of the finished work; the lease lapses on its own", async () => {
    const { store, warnings } = storeFor();
    const done = store.withLock("run/r", LOCK, async () => {
      // Every try of the release's PUT answers 500.
      faults = Array.from({ length: 4 }, () => ({ method: "PUT", key: /^state\/locks\/run\/r\/1\.json$/, fault: "error" as const }));
      return "finished";
    });
    expect(await done).toBe("finished");
    expect(warnings).toEqual([expect.stringMatching(/^the lock on run\/r was not released \(COS PutObject failed with InternalError.*\); it lapses within 60 s$/)]);
    expect(storedLease(1).released).toBeUndefined();
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
