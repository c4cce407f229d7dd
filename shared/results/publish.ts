import { createHash, randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * A link to a policy's page, and what a person gets who clicks it: the message says so in its words
 * (shared/notify/message.ts), so that no link promises more than it holds.
 */
export interface PageLink {
  url: string;
  /**
   * `page`: the browser shows it (the results-page function, a CDN domain); `download`: the browser saves
   * it as a file (COS's default domain, buckets made after 2024-01-01); `file`: a file on the machine
   * that ran csip-scan (local mode).
   */
  opens: "page" | "download" | "file";
  /** When the link stops working, ISO 8601 UTC; absent for a file. */
  validUntil?: string;
  /** It may stop sooner: signed with temporary keys, a presigned link dies with their session token. */
  expiresWithKeys?: boolean;
}

/** Where a policy's results page goes, and the link a results message gives to it. */
export interface PagePublisher {
  /** Stores the policy's page; the link people may open, or undefined when there is none to give. */
  publish(policy: string, html: string): Promise<PageLink | undefined>;
}

/**
 * The name of a policy's page: policy names are letters, digits, `_` and `-` (the config checks them). A
 * disk that ignores case (macOS, Windows, a mounted share) would make `Nightly` and `nightly` one file:
 * a name with capitals is written in lower case, with a short hash of its exact form after a dot, which
 * no policy name has.
 */
export function pageName(policy: string): string {
  const plain = policy.replace(/[^A-Za-z0-9_-]/g, "_");
  if (plain === plain.toLowerCase()) return `${plain}.html`;
  return `${plain.toLowerCase()}.${createHash("sha256").update(policy).digest("hex").slice(0, 8)}.html`;
}

/**
 * The names pageName gives a policy name (TRIGGER_NAME: a letter first, then up to 59 letters, digits, `_`
 * and `-`), and no other: lower case, then the hash of a name with capitals. The results-page function
 * serves only these (shared/results/page-link.ts PAGE_PATH).
 */
export const PAGE_NAME = /[a-z][a-z0-9_-]{0,59}(?:\.[0-9a-f]{8})?\.html/;

/**
 * Local mode: the page as a file in `dir` (written whole, then renamed, so a reader never sees half),
 * linked as a file:// URL that opens on this machine.
 */
export function folderPagePublisher(dir: string): PagePublisher {
  return {
    async publish(policy, html) {
      const file = resolve(join(dir, pageName(policy)));
      const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      await mkdir(dir, { recursive: true });
      await writeFile(temp, html);
      await rename(temp, file);
      return { url: pathToFileURL(file).href, opens: "file" };
    },
  };
}

/** What the page needs of the state bucket (the COS state store gives it): a private object. */
export interface PageBucket {
  putObject(key: string, body: string, contentType: string): Promise<unknown>;
}

/** Makes the link to a page object of the state bucket (`key` under the store's prefix: `pages/NAME.html`). */
export type PageLinker = (page: { policy: string; key: string }) => Promise<PageLink> | PageLink;

/** The folder of the pages in the state bucket, under the store's prefix. */
export const PAGES_FOLDER = "pages/";

/** The key of a policy's page in the state bucket, under the store's prefix. */
export function pageKey(policy: string): string {
  return `${PAGES_FOLDER}${pageName(policy)}`;
}

/**
 * SCF: the page as a private object of the state bucket under `pages/`, linked as `link` says: through
 * the results-page function, a CDN domain or a presigned URL (shared/results/page-link.ts).
 */
export function cosPagePublisher(bucket: PageBucket, link: PageLinker): PagePublisher {
  return {
    async publish(policy, html) {
      const key = pageKey(policy);
      await bucket.putObject(key, html, "text/html; charset=utf-8");
      return link({ policy, key });
    },
  };
}
