import { createHash, randomBytes } from "node:crypto";
import { access, link, mkdir, readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type * as z from "zod";
import { sleep } from "../clock.ts";
import { describeError } from "../errors.ts";
import { LeaseLocks, type LeaseObjects } from "./lease.ts";

/**
 * What csip-scan remembers between invocations: which tasks a run created, what was sent.
 * Small JSON values under string keys, and locks that hold across processes sharing the store.
 */
export interface StateStore {
  /**
   * The value under `key` if there is one of the shape `schema` describes. A value of another shape is
   * a warning and a fresh start in the folder and memory stores, and an error in the COS store (where a
   * fresh start could repeat a task or a message).
   */
  get<T>(key: string, schema: z.ZodType<T>): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  /**
   * Writes `value` under `key` only if nothing is there yet: true when this call wrote it, false when
   * the key already held a value (a once-only marker another invocation set first).
   */
  create(key: string, value: unknown): Promise<boolean>;
  /**
   * Runs `fn` holding the lock `key` as a short lease, renewed while `fn` works, waiting up to `waitMs`
   * for it (LockBusyError after). While `fn` runs, `get` and `set` of `key` go through the lease's fence
   * (shared/state/lease.ts): a holder that stalled past its lease cannot overwrite what the next one
   * wrote, and learns it lost the lock (LeaseLostError). A holder that died frees it within a minute; a
   * release that fails is a warning, never a failure of `fn`'s finished work.
   */
  withLock<T>(key: string, options: { waitMs: number }, fn: () => Promise<T>): Promise<T>;
  /**
   * A collection: values under ids, listed whole (the runs whose results are still to be told). Each
   * value stands alone, so writers need no lock to add or remove their own.
   */
  put(collection: string, id: string, value: unknown): Promise<void>;
  remove(collection: string, id: string): Promise<void>;
  /** Every value of a collection that has the shape `schema` describes; others are skipped with a warning. */
  list<T>(collection: string, schema: z.ZodType<T>): Promise<T[]>;
  /** Whether what the store remembers outlives this process (false once it falls back to memory). */
  durable(): Promise<boolean>;
}

/** A file name for a key: readable, and unique through a short hash. */
function fileName(key: string): string {
  const readable = key.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80);
  return `${readable}-${createHash("sha256").update(key).digest("hex").slice(0, 12)}`;
}

/**
 * The folder store, the default locally: one JSON file per key in a folder (`state.path`; on SCF a CFS
 * mount, so that every instance shares it; the COS store, shared/state/cos-store.ts, needs no mount). Writes are atomic (write, then rename). A missing file is a fresh start;
 * a corrupt one, or one of the wrong shape, is a warning and a fresh start; a folder that cannot be
 * written degrades to memory, with a warning. Locks are leases (shared/state/lease.ts) whose
 * generations are files under `locks/`, each made once by a hard link, which fails when the name is taken.
 */
export class FileStateStore implements StateStore {
  private readonly memory = new Map<string, string>();
  private readonly memoryCollections = new Map<string, Map<string, string>>();
  private writable = true;
  private readonly locks: LeaseLocks;

  private probed: Promise<boolean> | undefined;

  /** Tries a write once (a probe file), so the answer holds before anything else was written. */
  durable(): Promise<boolean> {
    this.probed ??= (async () => {
      if (!this.writable) return false;
      await this.set("probe/durable", { at: this.now() });
      return this.writable;
    })();
    return this.probed;
  }
  /** Read failures already warned about, by error code: one warning each, not one per key. */
  private readonly readFailures = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly warn: (message: string) => void = () => {},
    private readonly now: () => number = Date.now,
    /** The lease's length, and how a taker waits between looks at a held lock (the run's clock). */
    options: { leaseMs?: number; sleep?: (ms: number) => Promise<void> } = {},
  ) {
    this.locks = new LeaseLocks(this.leaseObjects(), { now, sleep, warn, ...options });
  }

  /** The folder and file name of a key: lock generations under `locks/`, everything else at the top. */
  private fileOf(key: string): { dir: string; name: string } {
    return key.startsWith("locks/") ? { dir: join(this.dir, "locks"), name: fileName(key.slice("locks/".length)) } : { dir: this.dir, name: fileName(key) };
  }

  private pathOf(key: string): string {
    const { dir, name } = this.fileOf(key);
    return join(dir, `${name}.json`);
  }

  /** The text under `key`: from memory once the folder failed, else its file; undefined when there is none. */
  private async readText(key: string): Promise<string | undefined> {
    const remembered = this.memory.get(key);
    if (remembered !== undefined) return remembered;
    try {
      return await readFile(this.pathOf(key), "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "unknown";
      // Once the folder is known to be unusable (and said so), reading it again is no news; nor is a
      // lock's file: the write that follows says what is wrong with the folder.
      if (code !== "ENOENT" && this.writable && !this.readFailures.has(code) && !key.startsWith("locks/")) {
        this.readFailures.add(code);
        this.warn(`state ${key} cannot be read (${describeError(error)}); starting fresh`);
      }
      return undefined;
    }
  }

  private async writeText(key: string, text: string): Promise<void> {
    const { dir, name } = this.fileOf(key);
    if (await this.writeAtomic(dir, name, text)) return;
    this.memory.set(key, text);
  }

  /** Write-once: the whole file is written aside, then hard-linked to its name, which fails when the name is taken. */
  private async createText(key: string, text: string): Promise<boolean> {
    if (this.writable) {
      const { dir } = this.fileOf(key);
      const file = this.pathOf(key);
      const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(temp, text);
        try {
          await link(temp, file);
          return true;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
          throw error;
        } finally {
          await unlink(temp).catch(() => {});
        }
      } catch (error) {
        this.writable = false;
        this.warn(`state folder ${this.dir} cannot be written (${describeError(error)}); remembering in memory only`);
      }
    }
    if (this.memory.has(key)) return false;
    this.memory.set(key, text);
    return true;
  }

  /** The files the lease protocol uses; once the folder failed, the same in memory (one process). */
  private leaseObjects(): LeaseObjects {
    return {
      create: (key, body) => this.createText(key, body),
      write: (key, body) => this.writeText(key, body),
      read: (key) => this.readText(key),
      exists: async (key) => this.memory.has(key) || (this.writable && (await access(this.pathOf(key)).then(() => true, () => false))),
      remove: async (key) => {
        this.memory.delete(key);
        if (this.writable) await unlink(this.pathOf(key)).catch(() => {});
      },
    };
  }

  /** The value under `key`; under the lock of `key`, the record as its lease holds it. */
  async get<T>(key: string, schema: z.ZodType<T>): Promise<T | undefined> {
    const lease = this.locks.leaseOn(key);
    const text = lease ? await lease.read() : await this.readText(key);
    if (text === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.warn(`state ${key} is corrupt; starting fresh`);
      return undefined;
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    this.warn(`state ${key} does not have the expected shape; starting fresh`);
    return undefined;
  }

  /** Writes the value under `key`; under the lock of `key`, through its lease's fence. */
  async set(key: string, value: unknown): Promise<void> {
    this.locks.assertHeld();
    const lease = this.locks.leaseOn(key);
    if (lease) return lease.write(JSON.stringify(value));
    await this.writeText(key, JSON.stringify(value));
  }

  async create(key: string, value: unknown): Promise<boolean> {
    this.locks.assertHeld();
    return this.createText(key, JSON.stringify(value));
  }

  /** Write one file atomically (temp file, then rename); false once the folder proved unwritable. */
  private async writeAtomic(dir: string, name: string, text: string): Promise<boolean> {
    if (!this.writable) return false;
    const file = join(dir, `${name}.json`);
    const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(temp, text);
      await rename(temp, file);
      return true;
    } catch (error) {
      this.writable = false;
      this.warn(`state folder ${this.dir} cannot be written (${describeError(error)}); remembering in memory only`);
      return false;
    }
  }

  private collectionDir(collection: string): string {
    return join(this.dir, "collections", fileName(collection));
  }

  async put(collection: string, id: string, value: unknown): Promise<void> {
    this.locks.assertHeld();
    const text = JSON.stringify(value);
    if (await this.writeAtomic(this.collectionDir(collection), fileName(id), text)) return;
    const values = this.memoryCollections.get(collection) ?? new Map<string, string>();
    values.set(id, text);
    this.memoryCollections.set(collection, values);
  }

  async remove(collection: string, id: string): Promise<void> {
    this.locks.assertHeld();
    this.memoryCollections.get(collection)?.delete(id);
    if (this.writable) await unlink(join(this.collectionDir(collection), `${fileName(id)}.json`)).catch(() => {});
  }

  async list<T>(collection: string, schema: z.ZodType<T>): Promise<T[]> {
    const texts = [...(this.memoryCollections.get(collection)?.values() ?? [])];
    if (this.writable) {
      const dir = this.collectionDir(collection);
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names.filter((n) => n.endsWith(".json"))) {
        const text = await readFile(join(dir, name), "utf8").catch(() => undefined);
        if (text !== undefined) texts.push(text);
      }
    }
    const values: T[] = [];
    for (const text of texts) {
      let parsed: z.ZodSafeParseResult<T> | undefined;
      try {
        parsed = schema.safeParse(JSON.parse(text));
      } catch {
        parsed = undefined;
      }
      if (parsed?.success) values.push(parsed.data);
      else this.warn(`a value of state collection ${collection} is corrupt or of the wrong shape; skipped`);
    }
    return values;
  }

  withLock<T>(key: string, options: { waitMs: number }, fn: () => Promise<T>): Promise<T> {
    return this.locks.withLock(key, options, fn);
  }
}
