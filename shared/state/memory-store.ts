import type * as z from "zod";
import { LockBusyError } from "../errors.ts";
import type { StateStore } from "./store.ts";

/**
 * `state: { memory: true }`: remembers only while the process lives. Nothing is shared between SCF
 * instances or kept across a cold start, so a run may be told twice; every summary says so.
 */
export class MemoryStateStore implements StateStore {
  private readonly values = new Map<string, string>();
  private readonly collections = new Map<string, Map<string, string>>();
  private readonly locks = new Map<string, Promise<void>>();

  constructor(private readonly warn: (message: string) => void = () => {}) {}

  async get<T>(key: string, schema: z.ZodType<T>): Promise<T | undefined> {
    const text = this.values.get(key);
    if (text === undefined) return undefined;
    const parsed = schema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    this.warn(`state ${key} does not have the expected shape; starting fresh`);
    return undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    this.values.set(key, JSON.stringify(value));
  }

  async create(key: string, value: unknown): Promise<boolean> {
    if (this.values.has(key)) return false;
    this.values.set(key, JSON.stringify(value));
    return true;
  }

  async put(collection: string, id: string, value: unknown): Promise<void> {
    const values = this.collections.get(collection) ?? new Map<string, string>();
    values.set(id, JSON.stringify(value));
    this.collections.set(collection, values);
  }

  async remove(collection: string, id: string): Promise<void> {
    this.collections.get(collection)?.delete(id);
  }

  async list<T>(collection: string, schema: z.ZodType<T>): Promise<T[]> {
    return [...(this.collections.get(collection)?.values() ?? [])].flatMap((text) => {
      const parsed = schema.safeParse(JSON.parse(text));
      return parsed.success ? [parsed.data] : [];
    });
  }

  async withLock<T>(key: string, options: { ttlMs: number; waitMs: number }, fn: () => Promise<T>): Promise<T> {
    const giveUpAt = Date.now() + options.waitMs;
    while (this.locks.has(key)) {
      if (Date.now() >= giveUpAt) throw new LockBusyError(`another invocation is working on ${key}`);
      await Promise.race([this.locks.get(key), new Promise((resolve) => setTimeout(resolve, 50))]);
    }
    let free!: () => void;
    this.locks.set(key, new Promise<void>((resolve) => (free = resolve)));
    try {
      return await fn();
    } finally {
      this.locks.delete(key);
      free();
    }
  }

  async durable(): Promise<boolean> {
    return false;
  }
}
