import type * as z from "zod";
import { sleep } from "../clock.ts";
import { LeaseLocks } from "./lease.ts";
import type { StateStore } from "./store.ts";

/**
 * `state: { memory: true }`: remembers only while the process lives. Nothing is shared between SCF
 * instances or kept across a cold start, so a run may be told twice; every summary says so. Locks are
 * the same leases as in the other stores (shared/state/lease.ts), their generations values of the map.
 */
export class MemoryStateStore implements StateStore {
  private readonly values = new Map<string, string>();
  private readonly collections = new Map<string, Map<string, string>>();
  private readonly locks: LeaseLocks;

  constructor(private readonly warn: (message: string) => void = () => {}) {
    const values = this.values;
    this.locks = new LeaseLocks(
      {
        create: async (key, body) => {
          if (values.has(key)) return false;
          values.set(key, body);
          return true;
        },
        write: async (key, body) => void values.set(key, body),
        read: async (key) => values.get(key),
        exists: async (key) => values.has(key),
        remove: async (key) => void values.delete(key),
      },
      { now: Date.now, sleep, warn },
    );
  }

  /** The value under `key`; under the lock of `key`, the record as its lease holds it. */
  async get<T>(key: string, schema: z.ZodType<T>): Promise<T | undefined> {
    const lease = this.locks.leaseOn(key);
    const text = lease ? await lease.read() : this.values.get(key);
    if (text === undefined) return undefined;
    const parsed = schema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    this.warn(`state ${key} does not have the expected shape; starting fresh`);
    return undefined;
  }

  /** Writes the value under `key`; under the lock of `key`, through its lease's fence. */
  async set(key: string, value: unknown): Promise<void> {
    this.locks.assertHeld();
    const lease = this.locks.leaseOn(key);
    if (lease) return lease.write(JSON.stringify(value));
    this.values.set(key, JSON.stringify(value));
  }

  async create(key: string, value: unknown): Promise<boolean> {
    this.locks.assertHeld();
    if (this.values.has(key)) return false;
    this.values.set(key, JSON.stringify(value));
    return true;
  }

  async put(collection: string, id: string, value: unknown): Promise<void> {
    this.locks.assertHeld();
    const values = this.collections.get(collection) ?? new Map<string, string>();
    values.set(id, JSON.stringify(value));
    this.collections.set(collection, values);
  }

  async remove(collection: string, id: string): Promise<void> {
    this.locks.assertHeld();
    this.collections.get(collection)?.delete(id);
  }

  async list<T>(collection: string, schema: z.ZodType<T>): Promise<T[]> {
    return [...(this.collections.get(collection)?.values() ?? [])].flatMap((text) => {
      const parsed = schema.safeParse(JSON.parse(text));
      return parsed.success ? [parsed.data] : [];
    });
  }

  withLock<T>(key: string, options: { waitMs: number }, fn: () => Promise<T>): Promise<T> {
    return this.locks.withLock(key, options, fn);
  }

  async durable(): Promise<boolean> {
    return false;
  }
}
