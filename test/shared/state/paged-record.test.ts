import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as z from "zod";
import { LeaseLostError, StateStoreError } from "../../../shared/errors.ts";
import { MemoryStateStore } from "../../../shared/state/memory-store.ts";
import { PagedRecord, recordPageKey, type GrowingFields } from "../../../shared/state/paged-record.ts";
import { FileStateStore, type StateStore } from "../../../shared/state/store.ts";

// A record that grows as a run works, kept as a head rewritten at each save and pages written once, on
// the real folder and memory stores: what is saved is read back whole, each save stays small, and only
// the pages a counted head names are ever read.

const root = mkdtempSync(join(tmpdir(), "csip-scan-paged-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;
const freshStore = (now?: () => number): FileStateStore => new FileStateStore(join(root, `state-${++folders}`), () => {}, now);

const TaskSchema = z.object({ taskId: z.string(), taskName: z.string() });
const RecordSchema = z.object({
  tasks: z.record(z.string(), TaskSchema).default({}),
  warnings: z.array(z.string()).default([]),
  notified: z.record(z.string(), z.string()).default({}),
});
type Rec = z.infer<typeof RecordSchema>;
const GROWS: GrowingFields<Rec> = { arrays: ["warnings"], maps: ["tasks"] };
const KEY = "run/csip-scan:nightly:20261129T030000Z";
/** What the head holds, as stored. */
const HeadSchema = z.looseObject({ pages: z.array(z.number()).optional(), tasks: z.record(z.string(), z.unknown()).optional() });

const task = (chunk: number) => ({ taskId: `rmis-${String(chunk).padStart(8, "0")}`, taskName: `csip-scan:nightly:20261129T030000Z:${chunk}` });
const fresh = (): Rec => RecordSchema.parse({});

/** Adds chunk `chunk`'s task and saves, as a run does after each task. */
async function addTask(paged: PagedRecord<Rec>, record: Rec, chunk: number): Promise<void> {
  record.tasks[String(chunk)] = task(chunk);
  await paged.save(record);
}

describe("PagedRecord", () => {
  it.each<[string, () => StateStore]>([
    ["folder", () => freshStore()],
    ["memory", () => new MemoryStateStore()],
  ])("reads back whole what it saved, step by step, on the %s store", async (_, storeOf) => {
    const store = storeOf();
    const paged = new PagedRecord<Rec>(store, KEY, RecordSchema, GROWS, 300);
    const record = fresh();
    for (let chunk = 1; chunk <= 40; chunk++) {
      await addTask(paged, record, chunk);
      if (chunk % 7 === 0) record.warnings.push(`chunk ${chunk}: a warning`);
    }
    record.notified.secops = "msg_1";
    await paged.save(record);
    expect(await new PagedRecord<Rec>(store, KEY, RecordSchema, GROWS, 300).load()).toEqual(record);
    expect((await store.get(KEY, HeadSchema))?.pages?.length).toBeGreaterThan(5);
  });

  it("keeps each save small: the head holds the record's other fields and less than a page of entries", async () => {
    const store = freshStore();
    const paged = new PagedRecord<Rec>(store, KEY, RecordSchema, GROWS, 1024);
    const record = fresh();
    const heads: number[] = [];
    for (let chunk = 1; chunk <= 200; chunk++) {
      await addTask(paged, record, chunk);
      heads.push(JSON.stringify(await store.get(KEY, HeadSchema)).length);
    }
    // The whole record is about 16 KB; no head written on the way was over a page and a task.
    expect(JSON.stringify(record).length).toBeGreaterThan(15_000);
    expect(Math.max(...heads)).toBeLessThan(1024 + 200);
  });

  it("never reads a page that no head names: a crashed attempt's page is skipped, and its number taken by the next", async () => {
    const store = freshStore();
    const first = new PagedRecord<Rec>(store, KEY, RecordSchema, GROWS, 200);
    const record = fresh();
    for (let chunk = 1; chunk <= 3; chunk++) await addTask(first, record, chunk);
    const named = (await store.get(KEY, HeadSchema))?.pages ?? [];
    expect(named).toEqual([0]);
    // An attempt that wrote page 1 and died before its head said so.
    expect(await store.create(recordPageKey(KEY, 1), { tasks: { "99": task(99) } })).toBe(true);

    const second = new PagedRecord<Rec>(store, KEY, RecordSchema, GROWS, 200);
    const again = (await second.load())!;
    expect(Object.keys(again.tasks)).toEqual(["1", "2", "3"]);
    for (let chunk = 4; chunk <= 6; chunk++) await addTask(second, again, chunk);
    expect((await store.get(KEY, HeadSchema))?.pages).toEqual([0, 2]);
    expect(Object.keys((await new PagedRecord<Rec>(store, KEY, RecordSchema, GROWS, 200).load())!.tasks)).toEqual(["1", "2", "3", "4", "5", "6"]);
  });

  it("saves again an entry whose value changed after its page was written, and the later value wins", async () => {
    const store = freshStore();
    const paged = new PagedRecord<Rec>(store, KEY, RecordSchema, GROWS, 100);
    const record = fresh();
    await addTask(paged, record, 1);
    expect((await store.get(KEY, HeadSchema))?.pages).toEqual([0]);
    record.tasks["1"] = { ...task(1), taskId: "rmis-replaced" };
    record.notified.secops = "msg_1";
    await paged.save(record);
    // Page 0 is never written again; the new value went to the head, and from there to page 1.
    expect(await store.get(recordPageKey(KEY, 0), z.looseObject({}))).toEqual({ warnings: [], tasks: { "1": task(1) } });
    expect((await store.get(KEY, HeadSchema))?.pages).toEqual([0, 1]);
    expect((await new PagedRecord<Rec>(store, KEY, RecordSchema, GROWS, 100).load())?.tasks["1"]?.taskId).toBe("rmis-replaced");
  });

  it("refuses a head that names a page the store does not hold, and says which", async () => {
    const store = freshStore();
    await store.set(KEY, { tasks: {}, pages: [0, 3] });
    await store.create(recordPageKey(KEY, 0), { tasks: { "1": task(1) } });
    const loading = new PagedRecord<Rec>(store, KEY, RecordSchema, GROWS).load();
    await expect(loading).rejects.toThrow(StateStoreError);
    await expect(new PagedRecord<Rec>(store, KEY, RecordSchema, GROWS).load()).rejects.toThrow(/names page 3, which is missing/);
  });

  it("under the record's lock: a holder that stalled past its lease writes a page nobody reads, and learns it lost at its head", async () => {
    let now = Date.parse("2026-11-29T03:00:00Z");
    const clock = () => now;
    const dir = join(root, `state-${++folders}`);
    const [a, b] = [new FileStateStore(dir, () => {}, clock), new FileStateStore(dir, () => {}, clock)];
    let stalled!: () => void;
    const stall = new Promise<void>((resolve) => (stalled = resolve));
    let takenOver!: () => void;
    const takeover = new Promise<void>((resolve) => (takenOver = resolve));

    const holderA = a.withLock(KEY, { waitMs: 0 }, async () => {
      const paged = new PagedRecord<Rec>(a, KEY, RecordSchema, GROWS, 200);
      const record = (await paged.load()) ?? fresh();
      for (let chunk = 1; chunk <= 3; chunk++) await addTask(paged, record, chunk);
      stalled();
      await takeover;
      // Back from its stall: it writes page 1 with its own tasks, and its head's fence says the lock moved on.
      for (let chunk = 4; chunk <= 6; chunk++) record.tasks[String(chunk)] = { ...task(chunk), taskId: `rmis-stale${chunk}` };
      await paged.save(record);
    });
    await stall;
    now += 61_000;
    await b.withLock(KEY, { waitMs: 0 }, async () => {
      const paged = new PagedRecord<Rec>(b, KEY, RecordSchema, GROWS, 200);
      const record = (await paged.load())!;
      expect(Object.keys(record.tasks)).toEqual(["1", "2", "3"]);
      takenOver();
      await expect(holderA).rejects.toThrow(LeaseLostError);
      for (let chunk = 4; chunk <= 6; chunk++) await addTask(paged, record, chunk);
    });
    const read = (await new PagedRecord<Rec>(b, KEY, RecordSchema, GROWS, 200).load())!;
    expect(Object.values(read.tasks).map((t) => t.taskId)).toEqual([1, 2, 3, 4, 5, 6].map((chunk) => task(chunk).taskId));
    expect((await b.get(KEY, HeadSchema))?.pages).toEqual([0, 2]);
    expect(Object.values((await b.get(recordPageKey(KEY, 1), HeadSchema))?.tasks ?? {})).toEqual([4, 5, 6].map((chunk) => expect.objectContaining({ taskId: `rmis-stale${chunk}` })));
  });
});
