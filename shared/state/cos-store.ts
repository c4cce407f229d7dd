import { randomBytes } from "node:crypto";
import type * as z from "zod";
import { sleep as realSleep } from "../clock.ts";
import { StateStoreError } from "../errors.ts";
import { credentialSource } from "../csip/credentials.ts";
import { CosClient, errorCode, type CosAnswer, type CosClientOptions } from "./cos-client.ts";
import { LeasedStore, type StoredText } from "./leased-store.ts";
import type { StateStore } from "./store.ts";

/**
 * The state store on COS: one JSON object per key under `prefix` in a private bucket, shared by every
 * SCF instance with no VPC or file system to set up.
 *
 * - Once-only markers and the generations of locks are `PUT Object` with `x-cos-forbid-overwrite: true`:
 *   the first writer wins, any other gets a 409, whatever its code (`conflictCode` keeps the last one).
 *   That header holds only on a bucket whose versioning was never enabled, so the store checks the
 *   bucket (GET ?versioning) before its first request and refuses a versioned one.
 *   https://cloud.tencent.com/document/product/436/7749
 * - A record that changes (a run's record, what was told) is written only by the holder of its lock,
 *   through the lease's fence (shared/state/lease.ts), so a holder that stalled past its lease cannot
 *   overwrite what the next one wrote; values written without a lock (the last results of a policy, a
 *   cooldown) are whole values where the later one is the one wanted.
 * - A value that is not a record is an error naming the key and COS's request id, never a fresh start:
 *   starting fresh could create a task or send a message again. Delete the object to start over.
 * - Listings (the open runs) are only for discovery: each run found is then read by its key and its
 *   lock taken, so one a lagging listing shows too late is found on a later look, and one it still
 *   shows after it was closed is found told.
 */

/** The writer of a once-only object, in its metadata: after a lost answer, how a retry knows the 409 is its own write. */
const WRITER = "x-cos-meta-csip-scan-writer";

export interface CosStoreOptions extends CosClientOptions {
  /** The clock leases are stamped and judged by. */
  now?: () => number;
  /** How long a lock's lease lasts unless renewed (default LEASE_MS, a minute). */
  leaseMs?: number;
  /** Where the store's objects live in the bucket: `state/`. */
  prefix: string;
  warn?: (message: string) => void;
}

export class CosStateStore extends LeasedStore implements StateStore {
  readonly client: CosClient;
  private started: Promise<void> | undefined;

  constructor(private readonly options: CosStoreOptions) {
    super({ now: options.now ?? Date.now, sleep: options.sleep ?? realSleep, ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}) }, options.warn);
    this.client = new CosClient(options);
  }
  /**
   * The error code of the last 409 a write-once PUT got (`x-cos-forbid-overwrite`), as COS wrote it in
   * the answer ("" when it wrote none); undefined until one came. Taken as "the key exists" whatever it says.
   */
  conflictCode: string | undefined;

  /** The bucket, as messages name it. */
  get bucket(): string {
    return this.options.bucket;
  }


  /** The bucket's versioning, checked once per process; a failed check is tried again next time. */
  start(): Promise<void> {
    this.started ??= this.checkVersioning();
    this.started.catch(() => (this.started = undefined));
    return this.started;
  }

  private async checkVersioning(): Promise<void> {
    const answer = await this.client.send({ action: "GetBucketVersioning", method: "GET", key: "", query: { versioning: "" }, expect: [] });
    const status = /<Status>([^<]*)<\/Status>/.exec(answer.body)?.[1];
    if (status) {
      throw new StateStoreError(
        `COS bucket ${this.options.bucket} has versioning ${status}: x-cos-forbid-overwrite does not hold there, so locks and once-only markers would not; use a bucket whose versioning was never enabled`,
        { requestId: answer.requestId },
      );
    }
  }

  async durable(): Promise<boolean> {
    await this.start();
    return true;
  }

  protected override ready(): Promise<void> {
    return this.start();
  }

  private objectKey(key: string): string {
    return `${this.options.prefix}${key}.json`;
  }

  /** A value that is not a record is an error naming its key and COS's request id, never a fresh start. */
  protected override decode<T>(key: string, stored: StoredText, schema: z.ZodType<T>): T {
    return this.parse(key, { body: stored.text, requestId: stored.requestId }, schema);
  }

  private parse<T>(key: string, answer: Pick<CosAnswer, "body" | "requestId">, schema: z.ZodType<T>): T {
    let value: unknown;
    try {
      value = JSON.parse(answer.body);
    } catch {
      throw new StateStoreError(`state ${key} in COS bucket ${this.options.bucket} is not JSON; delete ${this.objectKey(key)} to start it fresh`, { requestId: answer.requestId });
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    throw new StateStoreError(`state ${key} in COS bucket ${this.options.bucket} does not have the expected shape; delete ${this.objectKey(key)} to start it fresh`, {
      requestId: answer.requestId,
    });
  }

  protected async readText(key: string): Promise<StoredText | undefined> {
    const answer = await this.client.send({ action: "GetObject", method: "GET", key: this.objectKey(key), expect: [404] });
    return answer.status === 404 ? undefined : { text: answer.body, requestId: answer.requestId };
  }

  protected async writeText(key: string, text: string): Promise<void> {
    await this.client.send({ action: "PutObject", method: "PUT", key: this.objectKey(key), headers: { "content-type": "application/json" }, body: text, expect: [] });
  }

  protected createText(key: string, text: string): Promise<boolean> {
    return this.createObject(this.objectKey(key), text);
  }

  protected async hasText(key: string): Promise<boolean> {
    return (await this.client.send({ action: "HeadObject", method: "HEAD", key: this.objectKey(key), expect: [404] })).status !== 404;
  }

  protected async removeText(key: string): Promise<void> {
    await this.client.send({ action: "DeleteObject", method: "DELETE", key: this.objectKey(key), expect: [404] });
  }

  /**
   * PUT with `x-cos-forbid-overwrite`. A 409 after a try whose answer was lost may be that try's own
   * write: the writer token in the object's metadata tells.
   */
  private async createObject(objectKey: string, body: string): Promise<boolean> {
    const writer = randomBytes(12).toString("hex");
    const answer = await this.client.send({
      action: "PutObject",
      method: "PUT",
      key: objectKey,
      headers: { "content-type": "application/json", "x-cos-forbid-overwrite": "true", [WRITER]: writer },
      body,
      expect: [409],
    });
    if (answer.status !== 409) return true;
    // Any 409 means the key exists: no Tencent page names the code (FileAlreadyExists is Aliyun OSS's,
    // IBM COS says ObjectAlreadyExists), so it is kept for people to see, never read.
    this.conflictCode = errorCode(answer.body) ?? "";
    if (answer.attempts === 1) return false;
    const held = await this.client.send({ action: "HeadObject", method: "HEAD", key: objectKey, expect: [404] });
    return held.status === 200 && held.headers[WRITER] === writer;
  }

  /** A collection's values live under `collections/NAME/`, one object per id. */
  private collectionPrefix(collection: string): string {
    return `${this.options.prefix}collections/${collection}/`;
  }

  protected async putText(collection: string, id: string, text: string): Promise<void> {
    await this.client.send({
      action: "PutObject",
      method: "PUT",
      key: `${this.collectionPrefix(collection)}${id}.json`,
      headers: { "content-type": "application/json" },
      body: text,
      expect: [],
    });
  }

  protected async removeFromCollection(collection: string, id: string): Promise<void> {
    await this.client.send({ action: "DeleteObject", method: "DELETE", key: `${this.collectionPrefix(collection)}${id}.json`, expect: [404] });
  }

  /** Lists the collection's keys page by page, then reads each; one gone since the listing is skipped. */
  async list<T>(collection: string, schema: z.ZodType<T>): Promise<T[]> {
    await this.start();
    const prefix = this.collectionPrefix(collection);
    const keys: string[] = [];
    for (let marker = ""; ; ) {
      const page = await this.client.send({ action: "GetBucket", method: "GET", key: "", query: { prefix, marker, "max-keys": "1000" }, expect: [] });
      const found = [...page.body.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => unescapeXml(m[1]!));
      keys.push(...found);
      if (!/<IsTruncated>true<\/IsTruncated>/.test(page.body) || found.length === 0) break;
      marker = unescapeXml(/<NextMarker>([^<]+)<\/NextMarker>/.exec(page.body)?.[1] ?? found.at(-1)!);
    }
    const values: T[] = [];
    for (const key of keys) {
      const answer = await this.client.send({ action: "GetObject", method: "GET", key, expect: [404] });
      if (answer.status === 404) continue;
      try {
        values.push(this.parse(key.slice(this.options.prefix.length), answer, schema));
      } catch (error) {
        this.warn(`${(error as Error).message}; skipped`);
      }
    }
    return values;
  }

  /** Writes an object as is (a results page), under the store's prefix: `KEY`, not `KEY.json`. */
  async putObject(key: string, body: string, contentType: string): Promise<void> {
    await this.start();
    await this.client.send({ action: "PutObject", method: "PUT", key: `${this.options.prefix}${key}`, headers: { "content-type": contentType }, body, expect: [] });
  }

  /** The object `putObject(key, ...)` wrote, as text; undefined when there is none (the results-page function reads pages so). */
  async getObject(key: string): Promise<string | undefined> {
    await this.start();
    const answer = await this.client.send({ action: "GetObject", method: "GET", key: `${this.options.prefix}${key}`, expect: [404] });
    return answer.status === 404 ? undefined : answer.body;
  }

  /** A URL that GETs the object `putObject(key, ...)` wrote, for `validForSeconds`; the bucket stays private. */
  presignedGetUrl(key: string, validForSeconds: number): string {
    return this.client.presignedGetUrl(`${this.options.prefix}${key}`, validForSeconds);
  }

  /** Whether the store signs with temporary keys (a session token): a presigned URL then dies with the token. */
  get temporaryKeys(): boolean {
    return credentialSource(this.options.credentials).current().token !== undefined;
  }

  /** Where the store's objects live in the bucket (`state/`): a CDN link names an object by its full key. */
  get prefix(): string {
    return this.options.prefix;
  }

}

function unescapeXml(text: string): string {
  return text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))).replace(/&(lt|gt|amp|apos|quot);/g, (_, name: string) => ({ lt: "<", gt: ">", amp: "&", apos: "'", quot: '"' })[name as "lt"]);
}
