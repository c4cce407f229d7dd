import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as z from "zod";
import { LeaseLostError, LockBusyError } from "../../../shared/errors.ts";
import { scheduledRunNames } from "../../../shared/state/keys.ts";
import { LeaseSchema, type StoredLease } from "../../../shared/state/lease.ts";
import { FileStateStore } from "../../../shared/state/store.ts";

// The state store on real folders: what one invocation writes, the next reads; locks hold across
// stores sharing a folder, as they do across SCF instances sharing a CFS mount.

const root = mkdtempSync(join(tmpdir(), "csip-scan-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let folders = 0;
/** A fresh, empty state folder. */
const freshDir = () => join(root, `state-${++folders}`);

/** A store on `dir` that keeps its warnings. */
function storeOn(dir: string, now?: () => number) {
  const warnings: string[] = [];
  return { store: new FileStateStore(dir, (m) => warnings.push(m), now), warnings };
}

/** A folder path that cannot be created: it lies under a regular file. */
function unwritableDir(): string {
  const file = join(root, `plain-file-${++folders}`);
  writeFileSync(file, "not a folder");
  return join(file, "state");
}

/** The one file in `dir` whose name ends with `suffix`. */
function onlyFile(dir: string, suffix: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith(suffix));
  expect(files).toHaveLength(1);
  return join(dir, files[0]!);
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const KEY = scheduledRunNames("nightly-prod", new Date("2026-11-29T03:00:00Z")).recordKey;
const LOCK = { waitMs: 3_000 };
const RECORD = { tasks: [{ taskId: "rmis-0001", taskName: "csip-scan:nightly-prod:20261129T030000Z:1", assets: 3 }], sent: { secops: "2026-11-29T03:00:05.000Z" } };
/** The shape a run record is read back through. */
const RecordSchema = z.object({
  tasks: z.array(z.object({ taskId: z.string(), taskName: z.string(), assets: z.number() })),
  sent: z.record(z.string(), z.string()),
});

describe("FileStateStore, values", () => {
  it.each<[string, unknown, z.ZodType]>([
    ["a run record", RECORD, RecordSchema],
    ["a list", ["ins-00000001", "ins-00000002"], z.array(z.string())],
    ["a number", 1764385200000, z.number()],
    ["text", "announced", z.string()],
    ["null", null, z.null()],
    ["false", false, z.boolean()],
  ])("gives back %s it was given, in this store and in the next", async (_, value, schema) => {
    const dir = freshDir();
    const { store, warnings } = storeOn(dir);
    await store.set(KEY, value);
    expect(await store.get(KEY, schema)).toEqual(value);
    expect(await storeOn(dir).store.get(KEY, schema)).toEqual(value);
    expect(warnings).toEqual([]);
  });

  it("gives undefined for a key never set, without a warning", async () => {
    const { store, warnings } = storeOn(freshDir());
    expect(await store.get(KEY, RecordSchema)).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it("keeps the last value set", async () => {
    const { store } = storeOn(freshDir());
    await store.set(KEY, { tasks: [] });
    await store.set(KEY, RECORD);
    expect(await store.get(KEY, RecordSchema)).toEqual(RECORD);
  });

  it("keeps apart keys that read alike in a file name", async () => {
    const { store } = storeOn(freshDir());
    const keys = ["cooldown/p/ins-1", "cooldown_p_ins-1", "cooldown/p:ins-1", "announced/change:p/secops", "announced/p/secops"];
    for (const [i, key] of keys.entries()) await store.set(key, i);
    expect(await Promise.all(keys.map((k) => store.get(k, z.number())))).toEqual([0, 1, 2, 3, 4]);
  });

  it("reads a file that is not JSON as nothing, with one warning", async () => {
    const dir = freshDir();
    const { store, warnings } = storeOn(dir);
    await store.set(KEY, RECORD);
    writeFileSync(onlyFile(dir, ".json"), '{"tasks": [{"taskId": "rmis-00');
    expect(await store.get(KEY, RecordSchema)).toBeUndefined();
    expect(warnings).toEqual([`state ${KEY} is corrupt; starting fresh`]);
  });

  it("reads a file that cannot be read as nothing, with one warning", async () => {
    const dir = freshDir();
    const { store, warnings } = storeOn(dir);
    await store.set(KEY, RECORD);
    const file = onlyFile(dir, ".json");
    rmSync(file);
    mkdirSync(file);
    expect(await store.get(KEY, RecordSchema)).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`^state ${KEY} cannot be read \\(EISDIR: .+\\); starting fresh$`));
  });
  it.each<[string, unknown]>([
    ["a record missing a field", { tasks: [] }],
    ["a list where a record belongs", [RECORD]],
    ["a task of the wrong shape", { ...RECORD, tasks: [{ taskId: 1 }] }],
  ])("reads %s as nothing, with one warning", async (_, value) => {
    const { store, warnings } = storeOn(freshDir());
    await store.set(KEY, value);
    expect(await store.get(KEY, RecordSchema)).toBeUndefined();
    expect(warnings).toEqual([`state ${KEY} does not have the expected shape; starting fresh`]);
  });

  it("gives the value as the schema reads it, defaults filled in", async () => {
    const { store } = storeOn(freshDir());
    await store.set(KEY, { tasks: { "1": "rmis-0001" } });
    const schema = z.object({ tasks: z.record(z.string(), z.string()), warnings: z.array(z.string()).default([]) });
    expect(await store.get(KEY, schema)).toEqual({ tasks: { "1": "rmis-0001" }, warnings: [] });
  });
});

describe("FileStateStore, atomic writes", () => {
  it("writes the value's JSON and leaves no temporary file behind", async () => {
    const dir = freshDir();
    const { store } = storeOn(dir);
    for (let i = 0; i < 5; i++) await store.set(`cooldown/nightly-prod/ins-0000000${i}`, i);
    await store.set(KEY, RECORD);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.endsWith(".json"))).toHaveLength(6);
    const recordFiles = readdirSync(dir).filter((f) => f.startsWith("run_csip-scan_nightly-prod_20261129T030000Z-"));
    expect(recordFiles.map((f) => readFileSync(join(dir, f), "utf8"))).toEqual([JSON.stringify(RECORD)]);
  });

  it("never lets a reader see half a value while writers race", async () => {
    const dir = freshDir();
    const writer = storeOn(dir);
    const reader = storeOn(dir);
    const big = (n: number) => ({ writer: n, padding: "x".repeat(512 * 1024) });
    await writer.store.set(KEY, big(0));
    let writing = true;
    const seen: number[] = [];
    const reading = (async () => {
      while (writing) seen.push((await reader.store.get(KEY, z.object({ writer: z.number() })))?.writer ?? -1);
    })();
    await Promise.all(Array.from({ length: 30 }, (_, n) => writer.store.set(KEY, big(n + 1))));
    writing = false;
    await reading;
    expect([...writer.warnings, ...reader.warnings]).toEqual([]);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((n) => n < 0 || n > 30)).toEqual([]);
    expect(readdirSync(dir)).toHaveLength(1);
  });
});

describe("FileStateStore, a folder that cannot be written", () => {
  it("remembers in memory, with one warning, and gives back what was set", async () => {
    const dir = unwritableDir();
    const { store, warnings } = storeOn(dir);
    await store.set(KEY, RECORD);
    await store.set("cooldown/nightly-prod/ins-00000001", 1764385200000);
    expect(await store.get(KEY, RecordSchema)).toEqual(RECORD);
    expect(await store.get("cooldown/nightly-prod/ins-00000001", z.number())).toBe(1764385200000);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`^state folder ${dir} cannot be written \\(ENOTDIR: .+\\); remembering in memory only$`));
  });

  // Bug: after degrading to memory, every get of a key never set still reads the folder and warns
  // "state KEY cannot be read (ENOTDIR ...)", one warning per key: a run that looks up many cooldowns
  // floods its log, where store.ts and the README promise the fallback "with a warning".
  it("stays at one warning when asked for keys it was never given", async () => {
    const dir = unwritableDir();
    const { store, warnings } = storeOn(dir);
    await store.set(KEY, RECORD);
    expect(await store.get("cooldown/nightly-prod/ins-00000001", z.number())).toBeUndefined();
    expect(await store.get("cooldown/nightly-prod/ins-00000002", z.number())).toBeUndefined();
    expect(warnings).toHaveLength(1);
  });

  it("locks in this process only, with one warning", async () => {
    const dir = unwritableDir();
    const { store, warnings } = storeOn(dir);
    expect(await store.withLock(KEY, LOCK, async () => "done")).toBe("done");
    expect(await store.withLock(KEY, LOCK, async () => "again")).toBe("again");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`^state folder ${dir} cannot be written \\(ENOTDIR: .+\\); remembering in memory only$`));
  });
});

/**
 * Runs two holders of locks: A takes `keyA` and holds it `holdMs` after B has asked for `keyB`.
 * Gives the order of what happened.
 */
async function twoHolders(a: FileStateStore, b: FileStateStore, keyA: string, keyB: string, holdMs = 150): Promise<{ events: string[]; results: string[] }> {
  const events: string[] = [];
  const entered = deferred();
  const first = a.withLock(keyA, LOCK, async () => {
    events.push("A enters");
    entered.resolve();
    await sleep(holdMs);
    events.push("A leaves");
    return "A";
  });
  await entered.promise;
  events.push("B asks");
  const second = b.withLock(keyB, LOCK, async () => {
    events.push("B enters");
    await sleep(1);
    events.push("B leaves");
    return "B";
  });
  const results = await Promise.all([first, second]);
  return { events, results };
}

/**
 * A holds `keyA` until B, asking for `keyB` while A holds, has entered (or its attempt ended): events
 * alone decide when A leaves, so B's entering while A holds says that B did not wait for A.
 */
async function holdersOfTwoKeys(a: FileStateStore, b: FileStateStore, keyA: string, keyB: string): Promise<string[]> {
  const events: string[] = [];
  const entered = deferred();
  const bEntered = deferred();
  const bEnded = deferred();
  const first = a.withLock(keyA, LOCK, async () => {
    events.push("A enters");
    entered.resolve();
    await Promise.race([bEntered.promise, bEnded.promise]);
    events.push("A leaves");
  });
  await entered.promise;
  events.push("B asks");
  const second = b.withLock(keyB, LOCK, async () => {
    events.push("B enters");
    bEntered.resolve();
    events.push("B leaves");
  });
  void second.then(bEnded.resolve, bEnded.resolve);
  await Promise.allSettled([first, second]);
  return events;
}

/** The lease files of the folder's locks, by generation. */
function leaseFiles(dir: string): Map<number, string> {
  const files = new Map<number, string>();
  for (const name of readdirSync(join(dir, "locks"))) {
    const parsed = LeaseSchema.safeParse(JSON.parse(readFileSync(join(dir, "locks", name), "utf8")));
    if (parsed.success) files.set(parsed.data.generation, join(dir, "locks", name));
  }
  return files;
}

const leaseIn = (file: string): StoredLease => LeaseSchema.parse(JSON.parse(readFileSync(file, "utf8")));

describe("FileStateStore.withLock", () => {
  it("gives fn's result, holding a lease file that says until when, released afterwards and never deleted", async () => {
    const T = 1764385200000;
    const dir = freshDir();
    const { store } = storeOn(dir, () => T);
    const held: StoredLease[] = [];
    expect(await store.withLock(KEY, LOCK, async () => (held.push(leaseIn(leaseFiles(dir).get(1)!)), 42))).toBe(42);
    expect(held).toEqual([{ owner: expect.stringMatching(/^[0-9a-f]{16}$/), generation: 1, expires: T + 60_000, record: 0 }]);
    expect(leaseIn(leaseFiles(dir).get(1)!)).toMatchObject({ generation: 1, released: true });
  });

  it("frees the lock when fn throws, and passes the error on", async () => {
    const { store } = storeOn(freshDir());
    const failure = new Error("CreateRiskCenterScanTask failed");
    await expect(store.withLock(KEY, LOCK, async () => Promise.reject(failure))).rejects.toBe(failure);
    expect(await store.withLock(KEY, { waitMs: 0 }, async () => "free")).toBe("free");
  });

  it("serialises two stores on one folder holding the same key", async () => {
    const dir = freshDir();
    const { events, results } = await twoHolders(storeOn(dir).store, storeOn(dir).store, KEY, KEY);
    expect(results).toEqual(["A", "B"]);
    expect(events).toEqual(["A enters", "B asks", "A leaves", "B enters", "B leaves"]);
  });

  it("serialises two holders of the same key in one store", async () => {
    const { store } = storeOn(freshDir());
    const { events } = await twoHolders(store, store, KEY, KEY);
    expect(events).toEqual(["A enters", "B asks", "A leaves", "B enters", "B leaves"]);
  });

  it("does not make holders of different keys wait for each other", async () => {
    const dir = freshDir();
    const events = await holdersOfTwoKeys(storeOn(dir).store, storeOn(dir).store, KEY, scheduledRunNames("weekly-all", new Date("2026-11-29T03:00:00Z")).recordKey);
    expect(events).toEqual(["A enters", "B asks", "B enters", "B leaves", "A leaves"]);
  });

  it("throws LockBusyError once waiting passes waitMs, without running fn", async () => {
    const dir = freshDir();
    const holder = storeOn(dir).store;
    const release = deferred();
    const entered = deferred();
    const held = holder.withLock(KEY, LOCK, async () => {
      entered.resolve();
      await release.promise;
    });
    await entered.promise;
    let ran = false;
    const error = await storeOn(dir)
      .store.withLock(KEY, { waitMs: 150 }, async () => (ran = true))
      .catch((e: unknown) => e);
    release.resolve();
    await held;
    expect(error).toBeInstanceOf(LockBusyError);
    expect((error as Error).message).toBe(`another invocation is working on ${KEY}`);
    expect(ran).toBe(false);
  });

  it("waits by the store's own clock", async () => {
    const dir = freshDir();
    const release = deferred();
    const entered = deferred();
    const held = storeOn(dir).store.withLock(KEY, { waitMs: 0 }, async () => {
      entered.resolve();
      await release.promise;
    });
    await entered.promise;
    // A clock that runs ten seconds per look: half a minute of waitMs passes at once, well inside the minute's lease.
    let clock = Date.now();
    const { store } = storeOn(dir, () => (clock += 10_000));
    const error = await store.withLock(KEY, { waitMs: 30_000 }, async () => "ran").catch((e: unknown) => e);
    release.resolve();
    await held;
    expect(error).toBeInstanceOf(LockBusyError);
  });

  it.each<[string, string, Partial<StoredLease>]>([
    ["a lease half a minute ahead", "busy", { expires: 30_000 }],
    ["a lease just past", "taken over", { expires: -1 }],
    ["a released lease, however far ahead", "taken over", { expires: 30_000, released: true }],
    ["a lease further ahead than two leases (no holder writes one)", "taken over", { expires: 3 * 60_000 }],
  ])("judges %s: %s", async (_, outcome, fields) => {
    const T = 1764385200000;
    const dir = freshDir();
    const { store } = storeOn(dir, () => T);
    await store.withLock(KEY, LOCK, async () => {});
    const file = leaseFiles(dir).get(1)!;
    writeFileSync(file, JSON.stringify({ ...leaseIn(file), released: undefined, ...fields, expires: T + (fields.expires ?? 0) }));
    const result = await store.withLock(KEY, { waitMs: 0 }, async () => "taken over").catch((e: unknown) => (e instanceof LockBusyError ? "busy" : e));
    expect(result).toBe(outcome);
  });

  it("takes over from a holder past its lease: the late holder's write is refused and its release leaves the new lease alone", async () => {
    const dir = freshDir();
    const events: string[] = [];
    const release = deferred();
    const entered = deferred();
    const slowStore = storeOn(dir).store;
    const slow = slowStore.withLock(KEY, { waitMs: 0 }, async () => {
      await slowStore.set(KEY, { tasks: [], sent: { secops: "first" } });
      events.push("slow enters");
      entered.resolve();
      await release.promise;
      await slowStore.set(KEY, { tasks: [], sent: { secops: "late" } }).catch((e: unknown) => events.push(`slow's write: ${(e as Error).name}`));
      events.push("slow leaves");
    });
    await entered.promise;
    const later = storeOn(dir, () => Date.now() + 2 * 60_000).store;
    await later.withLock(KEY, { waitMs: 0 }, async () => {
      events.push(`later enters and reads ${(await later.get(KEY, RecordSchema))?.sent.secops}`);
      await later.set(KEY, { tasks: [], sent: { secops: "later" } });
      release.resolve();
      await slow;
      events.push(`later's lease is ${leaseIn(leaseFiles(dir).get(2)!).released ? "released" : "held"}`);
    });
    expect(events).toEqual(["slow enters", "later enters and reads first", `slow's write: ${LeaseLostError.name}`, "slow leaves", "later's lease is held"]);
    expect((await storeOn(dir).store.get(KEY, RecordSchema))?.sent.secops).toBe("later");
  });
});

describe("FileStateStore.withLock in memory only", () => {
  it("serialises two holders of the same key", async () => {
    const { store, warnings } = storeOn(unwritableDir());
    const { events, results } = await twoHolders(store, store, KEY, KEY);
    expect(results).toEqual(["A", "B"]);
    expect(events).toEqual(["A enters", "B asks", "A leaves", "B enters", "B leaves"]);
    expect(warnings).toHaveLength(1);
  });

  it("does not make holders of different keys wait for each other", async () => {
    const { store } = storeOn(unwritableDir());
    const events = await holdersOfTwoKeys(store, store, KEY, scheduledRunNames("weekly-all", new Date("2026-11-29T03:00:00Z")).recordKey);
    expect(events).toEqual(["A enters", "B asks", "B enters", "B leaves", "A leaves"]);
  });

  it("throws LockBusyError once waiting passes waitMs", async () => {
    const { store } = storeOn(unwritableDir());
    const release = deferred();
    const entered = deferred();
    const held = store.withLock(KEY, LOCK, async () => {
      entered.resolve();
      await release.promise;
    });
    await entered.promise;
    const error = await store.withLock(KEY, { waitMs: 100 }, async () => "ran").catch((e: unknown) => e);
    release.resolve();
    await held;
    expect(error).toBeInstanceOf(LockBusyError);
    expect((error as Error).message).toBe(`another invocation is working on ${KEY}`);
    expect(await store.withLock(KEY, { waitMs: 0 }, async () => "free again")).toBe("free again");
  });
});

describe("FileStateStore, write-once", () => {
  it("of four stores sharing a folder writing the same key at once, exactly one is told it wrote, and its value stays", async () => {
    const dir = freshDir();
    const outcomes = await Promise.all([1, 2, 3, 4].map((n) => storeOn(dir).store.create("sent/run-1/secops", { by: n })));
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    const winner = outcomes.indexOf(true) + 1;
    expect(await storeOn(dir).store.get("sent/run-1/secops", z.object({ by: z.number() }))).toEqual({ by: winner });
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("in a folder that cannot be written, holds once within the process", async () => {
    const { store, warnings } = storeOn(unwritableDir());
    expect([await store.create("sent/x", 1), await store.create("sent/x", 2)]).toEqual([true, false]);
    expect(warnings).toEqual([expect.stringMatching(/cannot be written .*remembering in memory only/)]);
  });
});
