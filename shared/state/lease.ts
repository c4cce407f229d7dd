import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import * as z from "zod";
import { describeError, LeaseLostError, LockBusyError } from "../errors.ts";

/**
 * Locks as short leases, on any store that can write an object only where none is (COS's
 * `x-cos-forbid-overwrite`, a hard link, a Map), overwrite one, read one and say whether one is there.
 * No taker ever deletes or overwrites a lease another may hold, and a holder that stalled past its
 * lease cannot overwrite what the next holder wrote. The protocol as a model (states, steps, the
 * property) is in docs/reliability-and-security.md, "The lock protocol"; test/shared/state/lease-model.test.ts
 * explores its interleavings with stalls of any length.
 *
 * - The lock KEY is a row of generations `locks/KEY/1`, `locks/KEY/2`, ..., each written once, by the
 *   taker that wins it. A generation is held until its `expires`, which its holder renews every third
 *   of the lease while it works, or until its holder marks it released. Generation N+1 may be taken
 *   only when N is released or past its expiry; of two takers, the write-once lets one in. Nothing is
 *   deleted, so a taker that stalled and looks again can only find a higher generation, never an empty
 *   place where a lease was.
 * - The record under KEY is fenced by the generation: its holder writes it as `KEY@N`, its own copy,
 *   then looks whether generation N+1 exists. Only when it does not has the write counted; when it does,
 *   its writer learns it lost its lease (LeaseLostError) and stops, and once a later holder writes its
 *   own copy, nobody reads the copy of N again.
 * - Each generation says where the record stands (`record`): the copy of a generation, or 0 for the
 *   plain KEY. A taker reads it from a released generation; after one that lapsed it looks for the
 *   newest copy down the row. On release the holder also writes the record to the plain KEY, for
 *   readers outside the lock, and removes the copy it started from, to which nothing points any more;
 *   a holder that finds generation N+1 there first touches neither.
 * - Outside the store nothing can be fenced: a CSIP task created or a message part sent stays done. So
 *   before each such act the holder asks whether it may still act (`assertMayAct`): not once it knows it
 *   lost the lease, nor once its own clock is within `actMarginMs` of the end of the lease as last renewed.
 *   Only a renewal answered while the holder could still act moves that end; a failed one does not. An
 *   act sent before then, and landed within the margin less the clocks' difference, landed while no
 *   taker could yet hold the next generation.
 */

/** How long a lease lasts unless renewed: the longest a crashed holder keeps others out. */
export const LEASE_MS = 60_000;

/**
 * How long before its lease ends, by its own clock, a holder stops acting outside the store: the time an
 * act (a COS request, one CSIP call) may take to land, plus the clocks' difference to a taker's.
 */
export const ACT_MARGIN_MS = LEASE_MS / 4;

/** The longest wait between two looks at a held lock: a lapsed lease is taken at most this late. */
export const LONGEST_LOOK_INTERVAL_MS = 2_000;

/** One generation of a lock as stored: who holds it, until when, and where the record stands. */
export const LeaseSchema = z.object({
  owner: z.string(),
  generation: z.number().int().positive(),
  /** When the lease lapses unless renewed: milliseconds since the epoch, by the holder's clock. */
  expires: z.number(),
  /** The generation whose copy holds the record (0: the plain key); null while a takeover still looks for it. */
  record: z.number().int().nonnegative().nullable(),
  /** Set by the holder once done, so the next taker need not wait for `expires`. */
  released: z.boolean().optional(),
});
export type StoredLease = z.infer<typeof LeaseSchema>;

/** What the protocol needs of a store. Keys are the protocol's; the store maps them to its objects or files. */
export interface LeaseObjects {
  /** Writes `body` under `key` only if nothing is there: true when this call wrote it. */
  create(key: string, body: string): Promise<boolean>;
  /** Writes `body` under `key`, over whatever is there. */
  write(key: string, body: string): Promise<void>;
  /** The body under `key`, undefined when there is none. */
  read(key: string): Promise<string | undefined>;
  exists(key: string): Promise<boolean>;
  /** Removes `key`: only ever a copy of a record that no generation points to any more, never a lease. */
  remove(key: string): Promise<void>;
}

/** Generation `generation` of the lock `key`. */
export const leaseKey = (key: string, generation: number): string => `locks/${key}/${generation}`;
/** Where the latest generation of `key` was last seen: a hint that may lag, never a fact. */
const leaseHintKey = (key: string): string => `locks/${key}/head`;
/** The copy of the record `key` that the holder of `generation` writes. */
export const recordCopyKey = (key: string, generation: number): string => `${key}@${generation}`;

export interface LeaseOptions {
  /** The clock leases are stamped and judged by. */
  now: () => number;
  /** How a taker waits before it looks at a held lock again. */
  sleep: (ms: number) => Promise<void>;
  /** How a holder waits between renewals; real timers when absent, whatever clock stamps the lease. */
  renewalSleep?: (ms: number) => Promise<void>;
  leaseMs?: number;
  /** How long before the lease's end a holder stops acting (default ACT_MARGIN_MS, or a quarter of `leaseMs`). */
  actMarginMs?: number;
  warn?: (message: string) => void;
}

type Settings = Required<Omit<LeaseOptions, "renewalSleep">> & Pick<LeaseOptions, "renewalSleep">;

/** A real timer that ends early, and is cleared, when `cancelled` settles. */
function cancellableWait(ms: number, cancelled: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void cancelled.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

type Looked = StoredLease | "missing" | "unreadable";

async function readLease(objects: LeaseObjects, key: string, generation: number): Promise<Looked> {
  const text = await objects.read(leaseKey(key, generation));
  if (text === undefined) return "missing";
  try {
    const parsed = LeaseSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : "unreadable";
  } catch {
    return "unreadable";
  }
}

async function readHint(objects: LeaseObjects, key: string): Promise<number> {
  try {
    const parsed = z.object({ generation: z.number().int().nonnegative() }).safeParse(JSON.parse((await objects.read(leaseHintKey(key))) ?? "null"));
    return parsed.success ? parsed.data.generation : 0;
  } catch {
    return 0;
  }
}

/**
 * Whether a generation may be taken over: released, past its expiry, further ahead than any holder
 * stamps (a clock far off, a hand edit), or not a lease at all. Its expiry is judged by the clock as it
 * read before the look was sent (`sentAt`): an answer that came late may show a lease its holder has
 * renewed since, and only what was already past when the look left is surely past where it landed.
 * Only liveness rests on this judgement; the fence keeps the record right whatever the clocks say.
 */
function lapsed(lease: Looked, sentAt: number, answeredAt: number, leaseMs: number): boolean {
  if (typeof lease !== "object") return true;
  return lease.released === true || lease.expires <= sentAt || lease.expires > answeredAt + 2 * leaseMs;
}

/**
 * The generation whose copy holds the record after the lapsed generation `generation` (as `head` was
 * read): a released generation's word, else the generation's own copy if it wrote one, else the place
 * it started from; a generation that died before it knew looks further down. Exported for readers that
 * must see the record as the next taker will, without taking the lock (test/crash-harness.ts).
 */
export async function locateRecord(objects: LeaseObjects, key: string, generation: number, head: Looked): Promise<number> {
  let lease = head;
  for (let at = generation; at > 0; at--) {
    if (at !== generation) lease = await readLease(objects, key, at);
    const known = typeof lease === "object" ? lease : undefined;
    if (known?.released && known.record !== null) return known.record;
    if (await objects.exists(recordCopyKey(key, at))) return at;
    if (known && known.record !== null) return known.record;
  }
  return 0;
}

/** A held generation of a lock: the record read and written through its fence, renewed until released. */
export class Lease {
  private text: string | undefined;
  private loaded = false;
  /** Whether a write of this holder counted: the record is then this generation's copy. */
  private wrote = false;
  private lost = false;
  private done = false;
  private writing: Promise<unknown> = Promise.resolve();
  private renewing: Promise<void> = Promise.resolve();
  private stop!: () => void;
  private readonly stopped = new Promise<void>((resolve) => (this.stop = resolve));
  /** When the lease ends, by this holder's clock, as it last stood written in time: the end it may act until, less the margin. */
  private heldUntil = 0;

  constructor(
    private readonly objects: LeaseObjects,
    readonly key: string,
    readonly generation: number,
    private readonly owner: string,
    /** Where the record stood when this lease was taken; null until a takeover has looked. */
    private source: number | null,
    private readonly options: Settings,
  ) {}

  /** Where the record stands now. */
  private get record(): number | null {
    return this.wrote ? this.generation : this.source;
  }

  /** The stored form of this generation, stamped now, and the end of the lease it says. */
  stamp(extra: { released?: true } = {}): { body: string; expires: number } {
    const lease: StoredLease = { owner: this.owner, generation: this.generation, expires: this.options.now() + this.options.leaseMs, record: this.record, ...extra };
    return { body: JSON.stringify(lease), expires: lease.expires };
  }

  /** The generation was written (taken) with `expires`: the holder may act until then, less the margin. */
  taken(expires: number): void {
    this.heldUntil = expires;
  }

  /** Throws once the lease is known lost or released: a holder that lost writes nothing more. */
  assertHeld(): void {
    if (this.lost) throw new LeaseLostError(`the lock on ${this.key} passed to another invocation while this one worked; it stops here`);
    if (this.done) throw new LeaseLostError(`the lock on ${this.key} was already released`);
  }

  /** Whether the holder may still act: the lease not known lost, and its end further off than the margin. */
  private mayAct(): boolean {
    return !this.lost && !this.done && this.options.now() < this.heldUntil - this.options.actMarginMs;
  }

  /**
   * Throws (LeaseLostError) unless the holder may still act outside the store: the lease not known lost,
   * and by this holder's clock more than the margin left of the lease as last renewed in time. Called
   * before each act nothing can fence: a CSIP write, a message part.
   */
  assertMayAct(): void {
    this.assertHeld();
    if (this.mayAct()) return;
    throw new LeaseLostError(
      `the lock on ${this.key} may pass to another invocation: by this clock its lease, as last renewed in time, ends within ${this.options.actMarginMs / 1000} s (${new Date(this.heldUntil).toISOString()}); this one acts no more`,
    );
  }

  /** The key the record stands under for this holder: a generation's copy, or the plain key. */
  get recordKey(): string {
    const at = this.record ?? 0;
    return at === 0 ? this.key : recordCopyKey(this.key, at);
  }

  /** The record's text as it stands for this holder. */
  async read(): Promise<string | undefined> {
    if (!this.loaded) {
      this.text = await this.objects.read(this.recordKey);
      this.loaded = true;
    }
    return this.text;
  }

  /** Writes the record through the fence: it counts only if no later generation exists once it is written. */
  write(text: string): Promise<void> {
    const step = this.writing.then(async () => {
      this.assertHeld();
      await this.objects.write(recordCopyKey(this.key, this.generation), text);
      if (await this.objects.exists(leaseKey(this.key, this.generation + 1))) {
        this.lost = true;
        this.assertHeld();
      }
      this.text = text;
      this.loaded = true;
      this.wrote = true;
    });
    this.writing = step.catch(() => {});
    return step;
  }

  /**
   * After a generation that lapsed without release: finds where the record stands. A copy its stalled
   * holder may still write is read as it stands when first read; a later write there is that holder's
   * own, extending what it wrote, and counts for nobody once this holder writes its own copy.
   */
  async settle(previous: number, head: Looked): Promise<void> {
    this.source = await locateRecord(this.objects, this.key, previous, head);
  }

  /** Renews the lease every third of its length until released, or until it ran out unrenewed. */
  startRenewals(): void {
    const every = this.options.leaseMs / 3;
    const { renewalSleep } = this.options;
    const wait = renewalSleep ? (ms: number) => Promise.race([renewalSleep(ms), this.stopped]) : (ms: number) => cancellableWait(ms, this.stopped);
    this.renewing = (async () => {
      while (!this.done) {
        await wait(every);
        if (this.done) return;
        // A lease that ran out by this clock before its renewal (a stall) is not brought back: the
        // holder acts no more, and a taker may hold the next generation already.
        if (this.options.now() >= this.heldUntil) return;
        try {
          const { body, expires } = this.stamp();
          await this.objects.write(leaseKey(this.key, this.generation), body);
          // A renewal answered after the holder could act no more may have come after a taker judged the
          // lease by its old end: it keeps others out from now on, but gives this holder no more time.
          if (this.mayAct()) this.heldUntil = expires;
        } catch (error) {
          this.options.warn(`renewing the lock on ${this.key} failed (${describeError(error)}); trying again in ${every / 1000} s`);
        }
      }
    })();
  }

  /**
   * Ends the lease: no more renewals, then, unless it was lost (known, or found through the fence:
   * generation N+1 is there), the record written to the plain key for readers outside the lock, the
   * generation marked released with the record's place, and the copy it started from removed, since
   * nothing points there any more. The plain key is written only while the holder may still act: a
   * write that lands after a next holder's release would take the key back, and a key one release
   * behind is what readers outside the lock already allow for.
   */
  async release(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.stop();
    await this.renewing;
    await this.writing;
    if (this.lost) return;
    if (await this.objects.exists(leaseKey(this.key, this.generation + 1))) {
      this.lost = true;
      return;
    }
    const started = this.source;
    const mayPublish = this.options.now() < this.heldUntil - this.options.actMarginMs;
    if (this.wrote && this.text !== undefined && mayPublish) await this.objects.write(this.key, this.text);
    await this.objects.write(leaseKey(this.key, this.generation), this.stamp({ released: true }).body);
    if (this.wrote && started !== null && started > 0 && started !== this.generation) await this.objects.remove(recordCopyKey(this.key, started));
  }
}

/** How long a taker waits before its next look: doubling from 50 ms, jittered, at most LONGEST_LOOK_INTERVAL_MS. */
function lookInterval(round: number): number {
  return Math.min(LONGEST_LOOK_INTERVAL_MS, 50 * 2 ** Math.min(round, 6)) * (0.5 + Math.random() / 2);
}

/**
 * Takes the lock `key`: the next generation once the latest is released or lapsed, waiting up to
 * `waitMs` (by the options' clock) while it is held. Throws LockBusyError when the wait is over.
 */
async function acquireLease(objects: LeaseObjects, key: string, waitMs: number, options: LeaseOptions): Promise<Lease> {
  const leaseMs = options.leaseMs ?? LEASE_MS;
  const settings: Settings = { leaseMs, actMarginMs: (ACT_MARGIN_MS * leaseMs) / LEASE_MS, warn: () => {}, ...options };
  const { now } = settings;
  const giveUpAt = now() + waitMs;
  const owner = randomBytes(8).toString("hex");
  let generation = await readHint(objects, key);
  for (let round = 0; ; ) {
    const sentAt = now();
    const head: Looked | undefined = generation === 0 ? undefined : await readLease(objects, key, generation);
    if (head === "missing") {
      // The hint is ahead of the row (written by hand?): count from the start; nothing is ever deleted.
      generation = 0;
      continue;
    }
    if (head === undefined || lapsed(head, sentAt, now(), leaseMs)) {
      const next = generation + 1;
      const source = head === undefined ? 0 : typeof head === "object" && head.released ? head.record : null;
      const lease = new Lease(objects, key, next, owner, source, settings);
      const first = lease.stamp();
      if (await objects.create(leaseKey(key, next), first.body)) {
        lease.taken(first.expires);
        await objects.write(leaseHintKey(key), JSON.stringify({ generation: next })).catch(() => {});
        if (source === null && head !== undefined) {
          try {
            await lease.settle(generation, head);
          } catch (error) {
            await lease.release().catch(() => {});
            throw error;
          }
        }
        lease.startRenewals();
        return lease;
      }
      generation = next;
      continue;
    }
    // Held: wait, unless a later generation exists (the hint lagged, or this lease was taken over late).
    if (await objects.exists(leaseKey(key, generation + 1))) {
      generation++;
      continue;
    }
    if (now() >= giveUpAt) throw new LockBusyError(`another invocation is working on ${key}`);
    await settings.sleep(lookInterval(round++));
  }
}

/**
 * The leases the running work holds, with the locks they came from. One for the process: every
 * AsyncLocalStorage that ever ran stays on the path of every promise until disabled, and a process
 * (a test above all) makes many stores.
 */
const held = new AsyncLocalStorage<readonly { locks: LeaseLocks; lease: Lease }[]>();

/**
 * The locks of one store: `withLock` runs its work holding a lease, and while it runs, the store reads
 * and writes the locked key through that lease (`leaseOn`), so callers keep calling `get` and `set`.
 */
export class LeaseLocks {
  constructor(
    private readonly objects: LeaseObjects,
    private readonly options: LeaseOptions,
  ) {}

  /** The lease the calling work holds on `key`, if it holds one. */
  leaseOn(key: string): Lease | undefined {
    return held.getStore()?.find((h) => h.locks === this && h.lease.key === key)?.lease;
  }

  /** Throws when a lease the calling work holds is known lost: a holder that lost writes nothing more. */
  assertHeld(): void {
    for (const h of held.getStore() ?? []) if (h.locks === this) h.lease.assertHeld();
  }

  /** Throws unless every lease the calling work holds may still act outside the store (Lease.assertMayAct). */
  assertMayAct(): void {
    for (const h of held.getStore() ?? []) if (h.locks === this) h.lease.assertMayAct();
  }

  /**
   * Runs `fn` holding the lock `key`, waiting up to `waitMs` for it. A release that fails is a warning,
   * never a failure of finished work: the lease then lapses within its length.
   */
  async withLock<T>(key: string, { waitMs }: { waitMs: number }, fn: () => Promise<T>): Promise<T> {
    const lease = await acquireLease(this.objects, key, waitMs, this.options);
    try {
      return await held.run([...(held.getStore() ?? []), { locks: this, lease }], fn);
    } finally {
      await lease.release().catch((error: unknown) => {
        this.options.warn?.(`the lock on ${key} was not released (${describeError(error)}); it lapses within ${(this.options.leaseMs ?? LEASE_MS) / 1000} s`);
      });
    }
  }
}
