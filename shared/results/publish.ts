import { createHash, randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** Where a policy's results page goes, and the link a results message gives to it. */
export interface PagePublisher {
  /** Stores the policy's page; the link people may open, or undefined when there is none to give. */
  publish(policy: string, html: string): Promise<string | undefined>;
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
      return pathToFileURL(file).href;
    },
  };
}

/**
 * What the page needs of the state bucket (the COS state store gives both): a private object, and a
 * presigned GET link to it.
 */
export interface PageBucket {
  putObject(key: string, body: string, contentType: string): Promise<unknown>;
  presignedGetUrl(key: string, validForSeconds: number): Promise<string> | string;
}

/**
 * SCF: the page as a private object of the state bucket under `pages/`, linked with a presigned GET URL
 * valid for `validForSeconds` (`results.pageLinkValidFor`). Signed with the function role's temporary
 * keys, the link carries their session token and stops working when it expires, whichever comes first
 * (https://cloud.tencent.com/document/product/436/68284).
 */
export function cosPagePublisher(bucket: PageBucket, validForSeconds: number): PagePublisher {
  return {
    async publish(policy, html) {
      const key = `pages/${pageName(policy)}`;
      await bucket.putObject(key, html, "text/html; charset=utf-8");
      return bucket.presignedGetUrl(key, validForSeconds);
    },
  };
}
