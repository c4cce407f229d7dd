import * as z from "zod";
import { StateStoreError } from "../errors.ts";
import type { StateStore } from "./store.ts";

/**
 * A record that grows as a run works (a task per chunk, a message per notifier), saved after every step,
 * in objects of bounded size: the part that grows lives in pages, each written once, and only the head
 * (the record's other fields, the entries not yet in a page, and the numbers of its pages) is written
 * again at each save. A save costs at most the head plus one page, whatever the size of the estate,
 * where saving the whole record each time would upload the square of it.
 *
 * - The head is the record's key, written with `set`: under the record's lock, through the lease's fence
 *   (shared/state/lease.ts), as before.
 * - A page is written once (`create`) under `KEY/pages/N`, before the head that names it. A page counts
 *   only once a head that counted (the fence) names it, so a page a stalled holder or a crashed attempt
 *   wrote and never named is never read; a writer that finds a number taken takes the next one.
 * - The growing fields are append-only: an array gains values, a map gains keys. A map entry given
 *   another value after its page was written (replaced, not changed in place) goes to the head again, and
 *   the later value wins. A save finds what no page holds by comparing references, not text: its cost
 *   per entry is a lookup, so the thousands of saves of a large run stay cheap.
 */

/** The most a head's entries not yet in a page may weigh, in bytes of JSON, before they become a page. */
export const RECORD_PAGE_BYTES = 8 * 1024;

/** Where page `page` of the record `key` is kept. */
export const recordPageKey = (key: string, page: number): string => `${key}/pages/${page}`;

/** The fields of a record that grow: arrays that gain values, maps that gain keys. */
export interface GrowingFields<T> {
  arrays: readonly (keyof T & string)[];
  maps: readonly (keyof T & string)[];
}

const PAGES = z.array(z.number().int().nonnegative());

/** A page taken by another writer this many times in a row is a store that refuses every new key. */
const MOST_TAKEN_PAGES = 100;

/**
 * A record kept in pages: `load` reads the head and the pages it names into the whole record; `save`
 * writes the entries the pages do not hold yet, as a page once they weigh `pageBytes`, then the head.
 * One per holder of the record's lock.
 */
export class PagedRecord<T extends Record<string, unknown>> {
  /** The pages the head names, in the order they were written. */
  private pages: number[] = [];
  /** What the pages hold: each array's values (a value as itself, an object as its JSON) and each map's entries. */
  private readonly paged = new Map<string, Set<unknown>>();
  private readonly mapsPaged = new Map<string, Map<string, unknown>>();
  private saving: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: StateStore,
    readonly key: string,
    private readonly schema: z.ZodObject<z.ZodRawShape>,
    private readonly fields: GrowingFields<T>,
    private readonly pageBytes: number = RECORD_PAGE_BYTES,
  ) {}

  private get headSchema() {
    return this.schema.extend({ pages: PAGES.optional() });
  }

  private get pageSchema() {
    const growing = Object.fromEntries([...this.fields.arrays, ...this.fields.maps].map((f) => [f, true as const]));
    return this.schema.pick(growing).partial();
  }

  /** The whole record: its head and every page the head names; undefined when there is none. */
  async load(): Promise<T | undefined> {
    const head = (await this.store.get(this.key, this.headSchema)) as (T & { pages?: number[] }) | undefined;
    if (head === undefined) return undefined;
    const { pages = [], ...rest } = head;
    const record = rest as unknown as Record<string, unknown>;
    const contents: Record<string, unknown>[] = [];
    const pageSchema = this.pageSchema;
    for (const page of pages) {
      const content = await this.store.get(recordPageKey(this.key, page), pageSchema);
      if (content === undefined) {
        throw new StateStoreError(`state ${this.key} names page ${page}, which is missing: delete ${this.key} and its pages to start the run's record fresh`);
      }
      contents.push(content);
      this.note(content);
    }
    this.pages = [...pages];
    for (const field of this.fields.arrays) record[field] = [...contents.flatMap((c) => (c[field] as unknown[] | undefined) ?? []), ...((record[field] as unknown[] | undefined) ?? [])];
    for (const field of this.fields.maps) record[field] = Object.assign({}, ...contents.map((c) => c[field] ?? {}), record[field] ?? {});
    return record as T;
  }

  /**
   * Remembers what a page holds: the values themselves, which are the record's own (the page was made of
   * them, or the record was read from it).
   */
  private note(content: Record<string, unknown>): void {
    for (const field of this.fields.arrays) {
      const values = this.paged.get(field) ?? new Set<unknown>();
      for (const value of (content[field] as unknown[] | undefined) ?? []) values.add(arrayValue(value));
      this.paged.set(field, values);
    }
    for (const field of this.fields.maps) {
      const entries = this.mapsPaged.get(field) ?? new Map<string, unknown>();
      const map = (content[field] as Record<string, unknown> | undefined) ?? {};
      for (const k in map) entries.set(k, map[k]);
      this.mapsPaged.set(field, entries);
    }
  }

  /** What no page holds yet of each growing field. */
  private unpaged(record: T): Record<string, unknown> {
    const rest: Record<string, unknown> = {};
    for (const field of this.fields.arrays) {
      const paged = this.paged.get(field);
      rest[field] = ((record[field] as unknown[] | undefined) ?? []).filter((v) => !paged?.has(arrayValue(v)));
    }
    for (const field of this.fields.maps) {
      const paged = this.mapsPaged.get(field);
      const map = (record[field] as Record<string, unknown> | undefined) ?? {};
      const left: Record<string, unknown> = {};
      for (const k in map) if (paged?.get(k) !== map[k]) left[k] = map[k];
      rest[field] = left;
    }
    return rest;
  }

  /**
   * Saves the record as it stands: the entries no page holds, as a new page once they weigh
   * `pageBytes`, then the head. Saves run one at a time, each with the record as it stands when its
   * turn comes; one that fails does not stop the next.
   */
  save(record: T): Promise<void> {
    const step = this.saving.catch(() => {}).then(() => this.write(record));
    this.saving = step;
    return step;
  }

  private async write(record: T): Promise<void> {
    let rest = this.unpaged(record);
    if (Buffer.byteLength(JSON.stringify(rest)) >= this.pageBytes) {
      let page = this.pages.length === 0 ? 0 : Math.max(...this.pages) + 1;
      for (let taken = 0; !(await this.store.create(recordPageKey(this.key, page), rest)); taken++) {
        if (taken >= MOST_TAKEN_PAGES) throw new StateStoreError(`state ${this.key}: ${MOST_TAKEN_PAGES} page numbers in a row were taken; the store refuses new keys`);
        page++;
      }
      this.pages.push(page);
      this.note(rest);
      rest = this.unpaged(record);
    }
    await this.store.set(this.key, { ...record, ...rest, pages: this.pages });
  }
}

/** An array's value as a page remembers it: a string or number as itself, anything else as its JSON. */
function arrayValue(value: unknown): unknown {
  return typeof value === "object" && value !== null ? JSON.stringify(value) : value;
}
