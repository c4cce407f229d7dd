import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LeaseLostError, LockBusyError } from "../../../shared/errors.ts";
import { ACT_MARGIN_MS, LEASE_MS, LeaseLocks, LeaseSchema, LONGEST_LOOK_INTERVAL_MS, leaseKey, recordCopyKey, type LeaseObjects } from "../../../shared/state/lease.ts";

// The lock protocol of docs/reliability-and-security.md ("The lock protocol"), explored: the real lease
// code (shared/state/lease.ts) against a store in memory whose every request fast-check's scheduler
// lets land, and answer, in any order. A request may wait behind any number of others while time runs
// on (a stall of any length: a paused instance, COS timeouts), a process may die at any request, an
// answer may be lost after its request landed, and every process's clock is off by up to 5 s.
//
// Each process takes the lock, and a few times acts outside the store (a CSIP create, a message part:
// nothing there can be fenced), then reads the record (a list), appends its entry and writes it back.
// Whatever the interleaving:
// - writes that counted form one line: each extends every one before it (no update lost, and a holder
//   that stalled past its lease never overwrites what the next one wrote);
// - every read under the lock holds every write of an earlier generation that counted;
// - the plain key, which readers outside the lock read, only ever holds a write that counted;
// - where requests end at a timeout (the COS client's: a request its client gave up on does not land
//   later), an act and a write of the plain key land only while no later generation exists: acts of two
//   holders never overlap, and the plain key never goes back to an older write. Without timeouts a
//   request may land any time later, and only the properties above hold;
// - no process deletes a lock's generation, or writes one it did not create, or renews one released;
// - a generation is taken over only once the one before it was released or past its expiry (by any
//   clock within the skew);
// - once everyone has finished or died, a fresh taker gets the lock within a lease (plus a look and
//   the clocks' difference) and reads every write that counted.

const KEY = "run/csip-scan:nightly:20261129T030000Z";
const SKEW_MS = 5_000;
/**
 * How long before its lease's end a process stops acting, and how long a request may take where
 * requests end at a timeout: an act sent before the margin lands, by every clock within the skew, before
 * the lease's end (margin ≥ timeout + twice the skew). Wider than ACT_MARGIN_MS, so that other
 * processes' looks and sleeps leave most requests time to land.
 */
const MARGIN_MS = 36_000;
const REQUEST_TIMEOUT_MS = MARGIN_MS - 2 * SKEW_MS - 1_000;
const never = new Promise<never>(() => {});

interface ProcessPlan {
  writes: number;
  /** The process dies just before its request number `crashAt` lands (never when undefined). */
  crashAt: number | undefined;
  /** The answer of request number `loseAnswerAt` is lost after the request landed. */
  loseAnswerAt: number | undefined;
  skewMs: number;
  waitMs: number;
}

const processPlan: fc.Arbitrary<ProcessPlan> = fc.record({
  writes: fc.integer({ min: 1, max: 3 }),
  crashAt: fc.option(fc.integer({ min: 1, max: 24 }), { nil: undefined }),
  loseAnswerAt: fc.option(fc.integer({ min: 1, max: 24 }), { nil: undefined }),
  skewMs: fc.integer({ min: -SKEW_MS, max: SKEW_MS }),
  waitMs: fc.constantFrom(0, 30_000, 3 * 60_000),
});

/** What the processes saw and did, for the property. */
interface Observed {
  /** Writes that counted: the holder's generation, its order within the holder, the list written. */
  counted: { generation: number; seq: number; value: string[] }[];
  /** Reads under the lock: the reader's generation and the list read. */
  reads: { generation: number; value: string[] }[];
  /** Breaches of "no lease deleted or written by another", as found. */
  breaches: string[];
  /** Every value the plain key took, in order. */
  plain: string[][];
  /** Acts and plain-key writes that landed once a later generation existed. */
  late: string[];
}

/** The world: one store, one virtual time. */
class World {
  time = 1_764_385_200_000;
  /** Where set, a request not landed within it fails without landing, and one not answered within it fails. */
  constructor(readonly requestTimeoutMs?: number) {}
  readonly objects = new Map<string, string>();
  /** Who created each lease generation. */
  readonly creators = new Map<string, string>();
  /** Generations seen released, or past their expiry by a clock within the skew, at some moment. */
  readonly lapsed = new Set<string>();
  /** Every request as it landed: the time, who, what. */
  readonly log: string[] = [];
  readonly observed: Observed = { counted: [], reads: [], breaches: [], plain: [], late: [] };

  /** Moves time on, noting the generations whose lease has run out. */
  advance(to: number): void {
    this.time = Math.max(this.time, to);
    this.noteLapsed();
  }

  private noteLapsed(): void {
    for (const [key, body] of this.objects) {
      if (!/^locks\/.*\/\d+$/.test(key) || this.lapsed.has(key)) continue;
      const lease = LeaseSchema.parse(JSON.parse(body));
      if (lease.released || lease.expires <= this.time + SKEW_MS) this.lapsed.add(key);
    }
  }

  /** The store as `who` reaches it through `pass`, a step the scheduler lets happen (or `undefined`: at once). */
  objectsFor(
    who: string,
    pass?: (label: string) => Promise<void>,
    fate?: { crashAt?: number | undefined; loseAnswerAt?: number | undefined },
  ): LeaseObjects & { dead(): boolean; act(generation: number): Promise<void> } {
    let requests = 0;
    let dead = false;
    const timeout = this.requestTimeoutMs;
    const step = async <T>(label: string, effect: () => T): Promise<T> => {
      if (dead) return never;
      const sentAt = this.time;
      if (pass) await pass(`${who} ${label} reaches the store`);
      if (++requests === fate?.crashAt) dead = true;
      if (dead) return never;
      if (timeout !== undefined && this.time - sentAt > timeout) throw new Error(`${label}: no answer within ${timeout} ms, and it never landed`);
      const result = effect();
      this.log.push(`${this.time} ${who} ${label}`);
      if (pass) await pass(`${who} ${label} answered`);
      if (dead) return never;
      if (requests === fate?.loseAnswerAt) throw new Error(`${label}: the answer was lost`);
      if (timeout !== undefined && this.time - sentAt > timeout) throw new Error(`${label}: no answer within ${timeout} ms (it landed)`);
      return result;
    };
    const later = (generation: number) => this.objects.has(leaseKey(KEY, generation + 1));
    const isLease = (key: string) => /^locks\/.*\/\d+$/.test(key);
    return {
      dead: () => dead,
      act: (generation) =>
        step(`act for generation ${generation}`, () => {
          if (later(generation)) this.observed.late.push(`${who} acted for generation ${generation} after ${generation + 1} was taken`);
        }),
      create: (key, body) =>
        step(`create ${key}`, () => {
          if (this.objects.has(key)) return false;
          const previous = key.replace(/\d+$/, (n) => String(Number(n) - 1));
          if (isLease(key) && this.objects.has(previous) && !this.lapsed.has(previous)) this.observed.breaches.push(`${who} took ${key} while ${previous} was live`);
          this.objects.set(key, body);
          if (isLease(key)) this.creators.set(key, who);
          this.noteLapsed();
          return true;
        }),
      write: (key, body) =>
        step(`write ${key}`, () => {
          if (isLease(key) && this.creators.get(key) !== who) this.observed.breaches.push(`${who} wrote ${key}, created by ${this.creators.get(key) ?? "nobody"}`);
          if (isLease(key) && this.objects.has(key) && LeaseSchema.parse(JSON.parse(this.objects.get(key)!)).released) this.observed.breaches.push(`${who} wrote ${key} after releasing it`);
          if (key === KEY) {
            this.observed.plain.push(JSON.parse(body) as string[]);
            const top = Math.max(0, ...[...this.objects.keys()].filter(isLease).map((k) => Number(k.slice(k.lastIndexOf("/") + 1))));
            if (top > 0 && this.creators.get(leaseKey(KEY, top)) !== who) this.observed.late.push(`${who} wrote the plain key while ${leaseKey(KEY, top)} was another's`);
          }
          this.objects.set(key, body);
          this.noteLapsed();
        }),
      read: (key) => step(`read ${key}`, () => this.objects.get(key)),
      exists: (key) => step(`look at ${key}`, () => this.objects.has(key)),
      remove: (key) =>
        step(`remove ${key}`, () => {
          if (isLease(key)) this.observed.breaches.push(`${who} removed ${key}`);
          this.objects.delete(key);
        }),
    };
  }
}

/** One process: take the lock, then `writes` times act, read the list and write it back with one entry more. */
async function runProcess(world: World, s: fc.Scheduler, name: string, plan: ProcessPlan): Promise<string> {
  const objects = world.objectsFor(name, (label) => s.schedule(Promise.resolve(), label), plan);
  const sleep = async (ms: number) => {
    const wake = world.time + ms;
    await s.schedule(Promise.resolve(), `${name} sleeps ${ms} ms`);
    world.advance(wake);
  };
  const locks = new LeaseLocks(objects, { now: () => world.time + plan.skewMs, sleep, renewalSleep: sleep, leaseMs: LEASE_MS, actMarginMs: MARGIN_MS });
  // Work between requests, where the process may pause (a stall with no request on its way).
  const work = () => s.schedule(Promise.resolve(), `${name} works`);
  try {
    await locks.withLock(KEY, { waitMs: plan.waitMs }, async () => {
      const lease = locks.leaseOn(KEY)!;
      for (let seq = 0; seq < plan.writes; seq++) {
        await work();
        locks.assertMayAct();
        await objects.act(lease.generation);
        const value = JSON.parse((await lease.read()) ?? "[]") as string[];
        world.observed.reads.push({ generation: lease.generation, value });
        const next = [...value, `${name}.${seq}`];
        await lease.write(JSON.stringify(next));
        world.observed.counted.push({ generation: lease.generation, seq, value: next });
      }
      await work();
    });
    return "done";
  } catch (error) {
    if (error instanceof LockBusyError) return "busy";
    if (error instanceof LeaseLostError) return "lost";
    return "failed";
  }
}

/** Lets the scheduler release every task, one at a time, until none is left and none is on its way. */
async function runAll(s: fc.Scheduler): Promise<void> {
  for (;;) {
    if (s.count() === 0) await new Promise((resolve) => setImmediate(resolve));
    if (s.count() === 0) return;
    await s.waitNext(1);
  }
}

const extendsList = (longer: readonly string[], shorter: readonly string[]) => shorter.every((entry, i) => longer[i] === entry);

/** The property, over what was observed; the last taker's read included. */
function checkObserved(observed: Observed, timeouts: boolean): void {
  expect(observed.breaches).toEqual([]);
  for (const value of observed.plain) {
    if (!observed.counted.some((w) => JSON.stringify(w.value) === JSON.stringify(value))) throw new Error(`the plain key took ${JSON.stringify(value)}, a write that never counted`);
  }
  if (timeouts) {
    expect(observed.late).toEqual([]);
    for (let i = 1; i < observed.plain.length; i++) {
      if (!extendsList(observed.plain[i]!, observed.plain[i - 1]!)) throw new Error(`the plain key went back: ${JSON.stringify(observed.plain[i - 1])} then ${JSON.stringify(observed.plain[i])}`);
    }
  }
  const counted = [...observed.counted].sort((a, b) => a.generation - b.generation || a.seq - b.seq);
  for (let i = 1; i < counted.length; i++) {
    if (!extendsList(counted[i]!.value, counted[i - 1]!.value)) {
      throw new Error(`a write that counted was lost: ${JSON.stringify(counted[i - 1])} then ${JSON.stringify(counted[i])}`);
    }
  }
  for (const read of observed.reads) {
    for (const write of counted.filter((w) => w.generation < read.generation)) {
      if (!extendsList(read.value, write.value)) throw new Error(`generation ${read.generation} read ${JSON.stringify(read.value)}, missing ${JSON.stringify(write)}`);
    }
  }
}

describe("the lock protocol, explored", () => {
  it("keeps every write that counted in one line, whatever stalls, deaths and lost answers, lets no two holders act at once where requests time out, and lets a taker in within a lease after", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(processPlan, { minLength: 2, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 3 * 60_000 }), { maxLength: 6 }),
        fc.boolean(),
        async (s, plans, stalls, timeouts) => {
          const world = new World(timeouts ? REQUEST_TIMEOUT_MS : undefined);
          const outcomes = plans.map((plan, i) => runProcess(world, s, `p${i + 1}`, plan));
          // Time runs on in jumps of up to three minutes at moments the scheduler picks.
          const clock = (async () => {
            for (const ms of stalls) {
              await s.schedule(Promise.resolve(), `${ms} ms pass`);
              world.advance(world.time + ms);
            }
          })();
          await runAll(s);
          void outcomes;
          void clock;

          // A fresh taker, unhurried, once everyone else has finished or died.
          const startedAt = world.time;
          const objects = world.objectsFor("last");
          const locks = new LeaseLocks(objects, {
            now: () => world.time - SKEW_MS,
            sleep: async (ms) => world.advance(world.time + ms),
            renewalSleep: () => never,
          });
          await locks.withLock(KEY, { waitMs: LEASE_MS + 2 * SKEW_MS + LONGEST_LOOK_INTERVAL_MS }, async () => {
            const lease = locks.leaseOn(KEY)!;
            world.observed.reads.push({ generation: lease.generation, value: JSON.parse((await lease.read()) ?? "[]") as string[] });
          });
          expect(world.time - startedAt).toBeLessThanOrEqual(LEASE_MS + 2 * SKEW_MS + LONGEST_LOOK_INTERVAL_MS);
          checkObserved(world.observed, timeouts);
          // Every generation is still there, readable, with its expiry.
          for (const [key, body] of world.objects) if (/^locks\/.*\/\d+$/.test(key)) expect(LeaseSchema.parse(JSON.parse(body)).expires).toBeGreaterThan(0);
        },
      ),
      { numRuns: Number(process.env.MODEL_RUNS ?? 400), endOnFailure: true },
    );
  });

  it("finds, in a scripted case, the stalled holder's late write lost to everyone and the holder told so", async () => {
    // p1 takes the lock and stalls; time passes beyond its lease; p2 takes over and writes; p1 wakes and writes.
    const world = new World();
    const gates: { label: string; open: () => void }[] = [];
    let stalled = false;
    const pass = (label: string): Promise<void> => {
      if (!stalled || !label.startsWith("p1")) return Promise.resolve();
      return new Promise((open) => gates.push({ label, open }));
    };
    const p1Objects = world.objectsFor("p1", pass);
    const p1 = new LeaseLocks(p1Objects, { now: () => world.time, sleep: async () => {}, renewalSleep: () => never });
    const p2 = new LeaseLocks(world.objectsFor("p2"), { now: () => world.time, sleep: async () => {}, renewalSleep: () => never });
    const first = p1.withLock(KEY, { waitMs: 0 }, async () => {
      const lease = p1.leaseOn(KEY)!;
      await lease.write(JSON.stringify(["p1.0"]));
      stalled = true;
      await lease.write(JSON.stringify(["p1.0", "p1.1"]));
    });
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    world.advance(world.time + LEASE_MS + 1);
    await p2.withLock(KEY, { waitMs: 0 }, async () => {
      const lease = p2.leaseOn(KEY)!;
      expect(lease.generation).toBe(2);
      expect(JSON.parse((await lease.read())!)).toEqual(["p1.0"]);
      await lease.write(JSON.stringify(["p1.0", "p2.0"]));
    });
    stalled = false;
    for (let gate = gates.shift(); gate; gate = gates.shift()) gate.open();
    await expect(first).rejects.toBeInstanceOf(LeaseLostError);
    expect(JSON.parse(world.objects.get(recordCopyKey(KEY, 1))!)).toEqual(["p1.0", "p1.1"]);
    expect(JSON.parse(world.objects.get(KEY)!)).toEqual(["p1.0", "p2.0"]);
    expect(LeaseSchema.parse(JSON.parse(world.objects.get(leaseKey(KEY, 2))!))).toMatchObject({ released: true, record: 2 });
    const p3 = new LeaseLocks(world.objectsFor("p3"), { now: () => world.time, sleep: async () => {}, renewalSleep: () => never });
    expect(await p3.withLock(KEY, { waitMs: 0 }, async () => JSON.parse((await p3.leaseOn(KEY)!.read())!) as unknown)).toEqual(["p1.0", "p2.0"]);
    expect(world.observed.breaches).toEqual([]);
  });

  it("does not take a lease its holder renewed while the look at it was on its way back", async () => {
    const world = new World();
    const holder = new LeaseLocks(world.objectsFor("holder"), { now: () => world.time, sleep: async () => {}, renewalSleep: () => never });
    const leave = deferredVoid();
    const held = holder.withLock(KEY, { waitMs: 0 }, () => leave.promise);
    while (!world.objects.has(leaseKey(KEY, 1))) await new Promise((r) => setImmediate(r));
    // The taker's look lands 50 s into the lease; its answer comes back 20 s later, after a renewal.
    world.advance(world.time + 50_000);
    const answer = deferredVoid();
    const pass = (label: string) => (label.includes(`read ${leaseKey(KEY, 1)} answered`) ? answer.promise : Promise.resolve());
    const taker = new LeaseLocks(world.objectsFor("taker", pass), { now: () => world.time, sleep: async (ms) => world.advance(world.time + ms), renewalSleep: () => never });
    const taking = taker.withLock(KEY, { waitMs: 0 }, async () => "taken").catch((e: unknown) => (e instanceof LockBusyError ? "busy" : e));
    while (!world.observed.breaches.length && !world.log.some((l) => l.includes(`taker read ${leaseKey(KEY, 1)}`))) await new Promise((r) => setImmediate(r));
    world.advance(world.time + 20_000);
    const stored = LeaseSchema.parse(JSON.parse(world.objects.get(leaseKey(KEY, 1))!));
    world.objects.set(leaseKey(KEY, 1), JSON.stringify({ ...stored, expires: world.time + LEASE_MS }));
    answer.resolve();
    expect(await taking).toBe("busy");
    leave.resolve();
    await held;
    expect(world.observed.breaches).toEqual([]);
  });

  it("a holder that stalled after its last write and wakes once the next holder released: its release touches neither the plain key nor its generation", async () => {
    const world = new World();
    // p1's clock stands still while it stalls: only the look at generation 2 can tell it was taken over.
    const p1Clock = world.time;
    const p1 = new LeaseLocks(world.objectsFor("p1"), { now: () => p1Clock, sleep: async () => {}, renewalSleep: () => never });
    const wake = deferredVoid();
    const first = p1.withLock(KEY, { waitMs: 0 }, async () => {
      await p1.leaseOn(KEY)!.write(JSON.stringify(["p1.0"]));
      await wake.promise;
    });
    while (!world.objects.has(recordCopyKey(KEY, 1))) await new Promise((r) => setImmediate(r));
    world.advance(world.time + LEASE_MS + 1);
    const p2 = new LeaseLocks(world.objectsFor("p2"), { now: () => world.time, sleep: async () => {}, renewalSleep: () => never });
    await p2.withLock(KEY, { waitMs: 0 }, async () => {
      const lease = p2.leaseOn(KEY)!;
      await lease.write(JSON.stringify([...(JSON.parse((await lease.read())!) as string[]), "p2.0"]));
    });
    expect(JSON.parse(world.objects.get(KEY)!)).toEqual(["p1.0", "p2.0"]);
    const generationOne = world.objects.get(leaseKey(KEY, 1));
    wake.resolve();
    await first;
    expect(JSON.parse(world.objects.get(KEY)!)).toEqual(["p1.0", "p2.0"]);
    expect(world.objects.get(leaseKey(KEY, 1))).toBe(generationOne);
    expect(world.observed.breaches).toEqual([]);
  });

  it("a holder whose release comes once its lease ran out by its own clock writes no plain key: a next holder's release there is never taken back", async () => {
    const world = new World();
    const gates: (() => void)[] = [];
    const pass = (label: string): Promise<void> => (label === `write ${KEY} reaches the store` ? new Promise((open) => gates.push(open)) : Promise.resolve());
    const p1 = new LeaseLocks(world.objectsFor("p1", (label) => pass(label.slice("p1 ".length))), { now: () => world.time, sleep: async () => {}, renewalSleep: () => never });
    const first = p1.withLock(KEY, { waitMs: 0 }, async () => {
      await p1.leaseOn(KEY)!.write(JSON.stringify(["p1.0"]));
      // A pause past the lease's end, after the last write and before the release.
      world.advance(world.time + LEASE_MS + 1);
    });
    // Should p1 send its plain write, it waits at the store while p2 takes over, writes and releases.
    while (gates.length === 0 && !world.log.some((l) => l.includes(`p1 write ${leaseKey(KEY, 1)}`))) await new Promise((r) => setImmediate(r));
    const p2 = new LeaseLocks(world.objectsFor("p2"), { now: () => world.time, sleep: async () => {}, renewalSleep: () => never });
    await p2.withLock(KEY, { waitMs: 0 }, async () => {
      const lease = p2.leaseOn(KEY)!;
      await lease.write(JSON.stringify([...(JSON.parse((await lease.read())!) as string[]), "p2.0"]));
    });
    for (const open of gates) open();
    await first;
    expect(JSON.parse(world.objects.get(KEY)!)).toEqual(["p1.0", "p2.0"]);
    expect(world.observed.plain).toEqual([["p1.0", "p2.0"]]);
  });

  it("a holder whose renewals do not land acts no more once its lease is within the margin of its end, though its record writes still count", async () => {
    const world = new World();
    const failing = world.objectsFor("holder");
    const objects: LeaseObjects = { ...failing, write: (key, body) => (key === leaseKey(KEY, 1) ? Promise.reject(new Error("COS answered 503")) : failing.write(key, body)) };
    const renewals: (() => void)[] = [];
    const holder = new LeaseLocks(objects, { now: () => world.time, sleep: async () => {}, renewalSleep: () => new Promise<void>((r) => renewals.push(r)) });
    const outcome = await holder.withLock(KEY, { waitMs: 0 }, async () => {
      holder.assertMayAct();
      world.advance(world.time + LEASE_MS / 3);
      renewals.shift()!();
      while (renewals.length === 0) await new Promise((r) => setImmediate(r));
      holder.assertMayAct();
      world.advance(world.time + LEASE_MS - ACT_MARGIN_MS - LEASE_MS / 3);
      const refused = (() => {
        try {
          holder.assertMayAct();
          return "acted";
        } catch (error) {
          return error instanceof LeaseLostError ? "refused" : error;
        }
      })();
      await holder.leaseOn(KEY)!.write(JSON.stringify(["holder.0"]));
      return refused;
    });
    expect(outcome).toBe("refused");
    // Nobody took the lock meanwhile: the write counted, and the next holder reads it.
    const next = new LeaseLocks(world.objectsFor("next"), { now: () => world.time + LEASE_MS, sleep: async () => {}, renewalSleep: () => never });
    expect(await next.withLock(KEY, { waitMs: 0 }, async () => JSON.parse((await next.leaseOn(KEY)!.read())!) as unknown)).toEqual(["holder.0"]);
  });

  it("a renewal answered after the holder could act no more gives it no more time", async () => {
    const world = new World();
    const base = world.objectsFor("holder");
    const answer = deferredVoid();
    const objects: LeaseObjects = { ...base, write: async (key, body) => (await base.write(key, body), key === leaseKey(KEY, 1) ? answer.promise : undefined) };
    const renewals: (() => void)[] = [];
    const holder = new LeaseLocks(objects, { now: () => world.time, sleep: async () => {}, renewalSleep: () => new Promise<void>((r) => renewals.push(r)) });
    const outcome = await holder.withLock(KEY, { waitMs: 0 }, async () => {
      while (renewals.length === 0) await new Promise((r) => setImmediate(r));
      world.advance(world.time + 10_000);
      renewals.shift()!();
      // The renewal lands at once, and its answer comes back past the margin.
      while (!world.log.some((l) => l.includes(`write ${leaseKey(KEY, 1)}`))) await new Promise((r) => setImmediate(r));
      world.advance(world.time + LEASE_MS - ACT_MARGIN_MS - 10_000);
      answer.resolve();
      while (renewals.length === 0) await new Promise((r) => setImmediate(r));
      try {
        holder.assertMayAct();
        return "acted";
      } catch (error) {
        return error instanceof LeaseLostError ? "refused" : error;
      }
    });
    expect(outcome).toBe("refused");
  });

  it("a lease that ran out by its holder's clock before its renewal came is not brought back", async () => {
    const world = new World();
    const renewals: (() => void)[] = [];
    const holder = new LeaseLocks(world.objectsFor("holder"), { now: () => world.time, sleep: async () => {}, renewalSleep: () => new Promise<void>((r) => renewals.push(r)) });
    await holder.withLock(KEY, { waitMs: 0 }, async () => {
      while (renewals.length === 0) await new Promise((r) => setImmediate(r));
      // A stall past the lease's end, then the renewal's timer.
      world.advance(world.time + LEASE_MS);
      renewals.shift()!();
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    });
    expect(world.log.filter((l) => l.includes(`holder write ${leaseKey(KEY, 1)}`))).toHaveLength(1);
    expect(renewals).toEqual([]);
  });

  it("looks past a lagging hint: a generation renewed by a holder that stalled does not hide the released one after it", async () => {
    const world = new World();
    world.objects.set(leaseKey(KEY, 1), JSON.stringify({ owner: "stalled", generation: 1, expires: world.time + 50_000, record: 0 }));
    world.objects.set(leaseKey(KEY, 2), JSON.stringify({ owner: "done", generation: 2, expires: world.time + 50_000, record: 0, released: true }));
    world.objects.set(`locks/${KEY}/head`, JSON.stringify({ generation: 1 }));
    const taker = new LeaseLocks(world.objectsFor("taker"), { now: () => world.time, sleep: async (ms) => world.advance(world.time + ms), renewalSleep: () => never });
    expect(await taker.withLock(KEY, { waitMs: 0 }, async () => taker.leaseOn(KEY)!.generation)).toBe(3);
  });
});

function deferredVoid() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
