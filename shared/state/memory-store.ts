import type * as z from "zod";
import { sleep } from "../clock.ts";
import { LeasedStore, type StoredText } from "./leased-store.ts";
import type { StateStore } from "./store.ts";

/**
 * `state: { memory: true }`: remembers only while the process lives. Nothing is shared between SCF
 * instances or kept across a cold start, so a run may be told twice; every summary says so. Locks are
 * the same leases as in the other stores (shared/state/lease.ts), their generations values of the map.
 */
export class MemoryStateStore extends LeasedStore implements StateStore {
  private readonly values = new Map<string, string>();
  private readonly collections = new Map<string, Map<string, string>>();

  constructor(warn: (message: string) => void = () => {}) {
    super({ now: Date.now, sleep }, warn);
  }

  protected async readText(key: string): Promise<StoredText | undefined> {
    const text = this.values.get(key);
    return text === undefined ? undefined : { text };
  }

  protected async writeText(key: string, text: string): Promise<void> {
    this.values.set(key, text);
  }

  protected async createText(key: string, text: string): Promise<boolean> {
    if (this.values.has(key)) return false;
    this.values.set(key, text);
    return true;
  }

  protected async hasText(key: string): Promise<boolean> {
    return this.values.has(key);
  }

  protected async removeText(key: string): Promise<void> {
    this.values.delete(key);
  }

  protected async putText(collection: string, id: string, text: string): Promise<void> {
    const values = this.collections.get(collection) ?? new Map<string, string>();
    values.set(id, text);
    this.collections.set(collection, values);
  }

  protected async removeFromCollection(collection: string, id: string): Promise<void> {
    this.collections.get(collection)?.delete(id);
  }

  async list<T>(collection: string, schema: z.ZodType<T>): Promise<T[]> {
    return [...(this.collections.get(collection)?.values() ?? [])].flatMap((text) => {
      const parsed = schema.safeParse(JSON.parse(text));
      return parsed.success ? [parsed.data] : [];
    });
  }

  async durable(): Promise<boolean> {
    return false;
  }
}
