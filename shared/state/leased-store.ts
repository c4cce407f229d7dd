import type * as z from "zod";
import { LeaseLocks, type LeaseObjects, type LeaseOptions } from "./lease.ts";

/** A value's text as a store read it, with what an error about it names: COS's request id. */
export interface StoredText {
  text: string;
  requestId?: string | undefined;
}

/**
 * What the three stores share (each a StateStore, shared/state/store.ts): the routing of a locked key through its lease. Each store says how it
 * reads, writes and creates one object of its own (a COS object, a file, a map entry); this class runs
 * `withLock` on those objects (shared/state/lease.ts) and, while the calling work holds the lock of a
 * key, reads and writes that key through the lease's fence, so callers keep calling `get` and `set`.
 * Every write under a lease known lost throws (LeaseLostError), as does `assertMayAct` before an act
 * outside the store once the lease may have passed on.
 */
export abstract class LeasedStore {
  private readonly locks: LeaseLocks;

  constructor(
    options: LeaseOptions,
    /** Where a value of the wrong shape is said, in the stores that start such a value fresh. */
    protected readonly warn: (message: string) => void = () => {},
  ) {
    const objects: LeaseObjects = {
      create: (key, body) => this.createText(key, body),
      write: (key, body) => this.writeText(key, body),
      read: async (key) => (await this.readText(key))?.text,
      exists: (key) => this.hasText(key),
      remove: (key) => this.removeText(key),
    };
    this.locks = new LeaseLocks(objects, { ...options, warn });
  }

  /** The text under `key`, undefined when there is none. */
  protected abstract readText(key: string): Promise<StoredText | undefined>;
  /** Writes `text` under `key`, over whatever is there. */
  protected abstract writeText(key: string, text: string): Promise<void>;
  /** Writes `text` under `key` only if nothing is there: true when this call wrote it. */
  protected abstract createText(key: string, text: string): Promise<boolean>;
  protected abstract hasText(key: string): Promise<boolean>;
  protected abstract removeText(key: string): Promise<void>;
  protected abstract putText(collection: string, id: string, text: string): Promise<void>;
  protected abstract removeFromCollection(collection: string, id: string): Promise<void>;
  abstract list<T>(collection: string, schema: z.ZodType<T>): Promise<T[]>;
  abstract durable(): Promise<boolean>;

  /** Before any request: the COS store checks its bucket once. */
  protected ready(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * The value `stored` under `key` holds, if of the shape `schema` describes: here a value that is not
   * JSON or of another shape is a warning and a fresh start (the COS store refuses it instead).
   */
  protected decode<T>(key: string, stored: StoredText, schema: z.ZodType<T>): T | undefined {
    let value: unknown;
    try {
      value = JSON.parse(stored.text);
    } catch {
      this.warn(`state ${key} is corrupt; starting fresh`);
      return undefined;
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    this.warn(`state ${key} does not have the expected shape; starting fresh`);
    return undefined;
  }

  /** The value under `key`; under the lock of `key`, the record as its lease holds it. */
  async get<T>(key: string, schema: z.ZodType<T>): Promise<T | undefined> {
    await this.ready();
    const lease = this.locks.leaseOn(key);
    if (!lease) {
      const stored = await this.readText(key);
      return stored === undefined ? undefined : this.decode(key, stored, schema);
    }
    const text = await lease.read();
    return text === undefined ? undefined : this.decode(lease.recordKey, { text }, schema);
  }

  /** Writes the value under `key`; under the lock of `key`, through its lease's fence. */
  async set(key: string, value: unknown): Promise<void> {
    await this.ready();
    this.locks.assertHeld();
    const lease = this.locks.leaseOn(key);
    if (lease) return lease.write(JSON.stringify(value));
    await this.writeText(key, JSON.stringify(value));
  }

  async create(key: string, value: unknown): Promise<boolean> {
    await this.ready();
    this.locks.assertHeld();
    return this.createText(key, JSON.stringify(value));
  }

  async put(collection: string, id: string, value: unknown): Promise<void> {
    await this.ready();
    this.locks.assertHeld();
    await this.putText(collection, id, JSON.stringify(value));
  }

  async remove(collection: string, id: string): Promise<void> {
    await this.ready();
    this.locks.assertHeld();
    await this.removeFromCollection(collection, id);
  }

  async withLock<T>(key: string, options: { waitMs: number }, fn: () => Promise<T>): Promise<T> {
    await this.ready();
    return this.locks.withLock(key, options, fn);
  }

  assertMayAct(): void {
    this.locks.assertMayAct();
  }
}
