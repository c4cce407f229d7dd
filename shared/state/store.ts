import { createHash, randomBytes } from "node:crypto";
import { link, mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as z from "zod";
import { describeError, LockBusyError } from "../errors.ts";

/**
 * The longest a lock is held: a run never lasts longer than `timeouts.runSeconds` (at most a day) plus
 * the minute a holder adds. A lock that claims to last longer was not written by a run: it is stale.
 */
export const LONGEST_LOCK_MS = 86_400_000 + 120_000;

const LockSchema = z.object({ owner: z.string(), expires: z.number() });

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
  /** Runs `fn` holding the lock `key`; waits up to `waitMs` for it. A holder that died frees it after `ttlMs`. */
  withLock<T>(key: string, options: { ttlMs: number; waitMs: number }, fn: () => Promise<T>): Promise<T>;
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
 * written degrades to memory, with a warning.
 */
export class FileStateStore implements StateStore {
  private readonly memory = new Map<string, string>();
  private readonly memoryCollections = new Map<string, Map<string, string>>();
  private writable = true;

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
  ) {}

  async get<T>(key: string, schema: z.ZodType<T>): Promise<T | undefined> {
    const file = join(this.dir, `${fileName(key)}.json`);
    let text = this.memory.get(key);
    if (text === undefined) {
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? "unknown";
        // Once the folder is known to be unusable (and said so), reading it again is no news.
        if (code !== "ENOENT" && this.writable && !this.readFailures.has(code)) {
          this.readFailures.add(code);
          this.warn(`state ${key} cannot be read (${describeError(error)}); starting fresh`);
        }
        return undefined;
      }
    }
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

  async set(key: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value);
    if (await this.writeAtomic(this.dir, fileName(key), text)) return;
    this.memory.set(key, text);
  }

  /** Write-once: the whole file is written aside, then hard-linked to its name, which fails when the name is taken. */
  async create(key: string, value: unknown): Promise<boolean> {
    const text = JSON.stringify(value);
    if (this.writable) {
      const file = join(this.dir, `${fileName(key)}.json`);
      const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      try {
        await mkdir(this.dir, { recursive: true });
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
    const text = JSON.stringify(value);
    if (await this.writeAtomic(this.collectionDir(collection), fileName(id), text)) return;
    const values = this.memoryCollections.get(collection) ?? new Map<string, string>();
    values.set(id, text);
    this.memoryCollections.set(collection, values);
  }

  async remove(collection: string, id: string): Promise<void> {
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

  async withLock<T>(key: string, options: { ttlMs: number; waitMs: number }, fn: () => Promise<T>): Promise<T> {
    const release = await this.lock(key, options);
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  private readonly memoryLocks = new Map<string, Promise<void>>();

  private async lock(key: string, { ttlMs, waitMs }: { ttlMs: number; waitMs: number }): Promise<() => Promise<void>> {
    const giveUpAt = this.now() + waitMs;
    if (!this.writable) return this.memoryLock(key, giveUpAt);
    const dir = join(this.dir, "locks");
    const file = join(dir, `${fileName(key)}.lock`);
    const owner = randomBytes(8).toString("hex");
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      this.writable = false;
      this.warn(`state folder ${this.dir} cannot be written (${describeError(error)}); locking in this process only`);
      return this.memoryLock(key, giveUpAt);
    }
    for (;;) {
      try {
        const handle = await open(file, "wx");
        await handle.writeFile(JSON.stringify({ owner, expires: this.now() + Math.min(ttlMs, LONGEST_LOCK_MS) }));
        await handle.close();
        return async () => {
          const held = await readFile(file, "utf8").catch(() => "");
          if (held.includes(owner)) await unlink(file).catch(() => {});
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      if (await this.expired(file)) {
        await unlink(file).catch(() => {});
        continue;
      }
      if (this.now() >= giveUpAt) throw new LockBusyError(`another invocation is working on ${key}`);
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 50));
    }
  }

  private async expired(file: string): Promise<boolean> {
    try {
      const { expires } = LockSchema.parse(JSON.parse(await readFile(file, "utf8")));
      return expires < this.now() || expires > this.now() + LONGEST_LOCK_MS;
    } catch {
      // Half-written by a holder that died: judge by age.
      const info = await stat(file).catch(() => undefined);
      return info !== undefined && this.now() - info.mtimeMs > 60_000;
    }
  }

  private async memoryLock(key: string, giveUpAt: number): Promise<() => Promise<void>> {
    while (this.memoryLocks.has(key)) {
      if (this.now() >= giveUpAt) throw new LockBusyError(`another invocation is working on ${key}`);
      await Promise.race([this.memoryLocks.get(key), new Promise((resolve) => setTimeout(resolve, 50))]);
    }
    let free!: () => void;
    this.memoryLocks.set(key, new Promise<void>((resolve) => (free = resolve)));
    return async () => {
      this.memoryLocks.delete(key);
      free();
    };
  }
}
