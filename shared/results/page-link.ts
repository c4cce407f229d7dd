import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import * as z from "zod";
import { registerSecret } from "../secrets.ts";
import { PAGE_SIGNING_KEY } from "../state/keys.ts";
import type { StateStore } from "../state/store.ts";
import { PAGE_NAME, pageName, PAGES_FOLDER, type PageLink, type PageLinker } from "./publish.ts";

/**
 * The links a results message gives to a policy's page, one kind per way of serving it:
 *
 * - the results-page function's URL (CSIP_SCAN_PAGE_URL): the link carries its own signature, an
 *   HMAC-SHA256 over the policy, the page's path and the expiry, with a key made once in the state store,
 *   so it lasts `results.pageLinkValidFor` whatever the function role's keys do;
 * - a CDN domain in front of the private state bucket (`results.page.cdnDomain`): CDN URL authentication
 *   type A, `sign=timestamp-rand-uid-md5hash` (https://cloud.tencent.com/document/product/228/41623);
 * - a presigned COS URL (shared/results/publish.ts), the fallback, which COS serves as a download on a
 *   bucket made after 2024-01-01 and which dies with the role's session token.
 */

/**
 * Where the pages are in a page URL's path: `/pages/NAME.html`, after whatever prefix a gateway adds, NAME
 * one pageName gives (`nightly.html`, `nightly.ab6b5a4d.html` for `Nightly`).
 */
export const PAGE_PATH = new RegExp(`(?:^|/)${PAGES_FOLDER}(${PAGE_NAME.source})$`);

/** The canonical path of a page, the one the signature covers: `/pages/NAME.html`. */
function pathOf(page: string): string {
  return `/${PAGES_FOLDER}${page}`;
}

/** The canonical path of a policy's page. */
export function pagePath(policy: string): string {
  return pathOf(pageName(policy));
}

/** The query parameters of a signed page link. */
export const LINK_PARAMS = { expires: "expires", signature: "signature" } as const;

/**
 * What the HMAC covers: a version, the page's name without `.html` (the policy's name, for a name without
 * capitals), the page's path and the expiry, one per line. The page's name, not the policy's, since the
 * function that checks a link learns only the path: a name with capitals is not in it.
 */
function signedText(page: string, expires: number): string {
  return `csip-scan-page/v1\n${page.slice(0, -".html".length)}\n${pathOf(page)}\n${expires}`;
}

function signatureOf(key: Buffer, page: string, expires: number): string {
  return createHmac("sha256", key).update(signedText(page, expires)).digest("base64url");
}

/** The link's signature for a policy's page: base64url of HMAC-SHA256 with the page signing key. */
export function pageSignature(key: Buffer, policy: string, expires: number): string {
  return signatureOf(key, pageName(policy), expires);
}

/** A link to a policy's page at `base` (the function URL, or a gateway in front of it), valid until `expires` (Unix seconds). */
export function signedPageUrl(base: string, key: Buffer, policy: string, expires: number): string {
  const query = new URLSearchParams({ [LINK_PARAMS.expires]: String(expires), [LINK_PARAMS.signature]: pageSignature(key, policy, expires) });
  return `${base.replace(/\/+$/, "")}${pagePath(policy)}?${query}`;
}

/** Why a request for a page gets no page, as the status it is answered with. */
export type PageRefusal = { status: 404; reason: "not a page" } | { status: 403; reason: "no signature" | "bad signature" } | { status: 410; reason: "expired" };

/**
 * The page a request may read (its name, under `pages/`), or why not: the path must name a page, the
 * signature must be the one made for that page and expiry (compared in constant time), and the expiry
 * still ahead. The signature is checked before the expiry, so an expired link tells only its holder that
 * it expired.
 */
export function checkPageRequest(key: Buffer, path: string, query: Readonly<Record<string, unknown>>, nowMs: number): { page: string } | PageRefusal {
  const page = PAGE_PATH.exec(path)?.[1];
  if (page === undefined) return { status: 404, reason: "not a page" };
  const expires = query[LINK_PARAMS.expires];
  const given = query[LINK_PARAMS.signature];
  if (typeof expires !== "string" || !/^\d{1,12}$/.test(expires) || typeof given !== "string") return { status: 403, reason: "no signature" };
  const expected = signatureOf(key, page, Number(expires));
  // Digests of both, so the comparison takes the same time whatever the length of what was sent.
  const same = timingSafeEqual(createHash("sha256").update(expected).digest(), createHash("sha256").update(given).digest());
  if (!same) return { status: 403, reason: "bad signature" };
  if (Number(expires) * 1000 <= nowMs) return { status: 410, reason: "expired" };
  return { page };
}

const SigningKeySchema = z.object({ key: z.string().regex(/^[A-Za-z0-9_-]{43}$/), created: z.string() });

/**
 * The key page links are signed with: 32 random bytes, made once in the state store (a write-once
 * create, so of two functions making it at once one wins and both use its key), never put in the
 * environment or a log. Undefined from `readPageSigningKey` while none was made: then no link is valid.
 */
export async function readPageSigningKey(store: Pick<StateStore, "get">): Promise<Buffer | undefined> {
  const value = await store.get(PAGE_SIGNING_KEY, SigningKeySchema);
  if (!value) return undefined;
  registerSecret(value.key);
  return Buffer.from(value.key, "base64url");
}

/** The signing key, made now if the store holds none. */
export async function pageSigningKey(store: Pick<StateStore, "get" | "create">, now: () => number): Promise<Buffer> {
  const existing = await readPageSigningKey(store);
  if (existing) return existing;
  await store.create(PAGE_SIGNING_KEY, { key: randomBytes(32).toString("base64url"), created: new Date(now()).toISOString() });
  const made = await readPageSigningKey(store);
  if (!made) throw new Error(`the page signing key ${PAGE_SIGNING_KEY} was made but cannot be read back`);
  return made;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Links on the results-page function's URL (or a gateway in front of it), signed for `validForSeconds`.
 * The key is read for every link (one small read per told run), so a key deleted to rotate it is replaced
 * and used at once, also by a warm instance.
 */
export function functionUrlLinker(base: string, key: () => Promise<Buffer>, validForSeconds: number, now: () => number): PageLinker {
  return async ({ policy }) => {
    const expires = Math.floor(now() / 1000) + Math.floor(validForSeconds);
    return { url: signedPageUrl(base, await key(), policy, expires), opens: "page", validUntil: iso(expires * 1000) };
  };
}

/**
 * CDN URL authentication type A (228/41623): `sign=timestamp-rand-uid-md5hash`, the hash the MD5 of
 * `uri-timestamp-rand-uid-key`; `timestamp` is when the link was made, and the CDN refuses it after the
 * validity set on the CDN (which docs/results.md says to set to `pageLinkValidFor`); `uid` is unused, 0.
 */
export function cdnTypeASign(uri: string, timestamp: number, rand: string, key: string): string {
  const hash = createHash("md5").update(`${uri}-${timestamp}-${rand}-0-${key}`).digest("hex");
  return `${timestamp}-${rand}-0-${hash}`;
}

/** The path of an object key in a URL: each segment encoded, `/` kept. */
const uriOf = (objectKey: string): string => `/${objectKey.split("/").map(encodeURIComponent).join("/")}`;

/**
 * Links on the team's CDN domain in front of the private state bucket: the page's object key (under the
 * store's prefix) as the path, signed with type A; `rand` is 16 random letters and digits (0 to 100 allowed).
 */
export function cdnLinker(domain: string, authKey: string, prefix: string, validForSeconds: number, now: () => number, rand = () => randomBytes(8).toString("hex")): PageLinker {
  return ({ key }) => {
    const uri = uriOf(`${prefix}${key}`);
    const timestamp = Math.floor(now() / 1000);
    return { url: `https://${domain}${uri}?sign=${cdnTypeASign(uri, timestamp, rand(), authKey)}`, opens: "page", validUntil: iso((timestamp + Math.floor(validForSeconds)) * 1000) };
  };
}

/** What a presigned link needs of the state bucket. */
export interface PresigningBucket {
  presignedGetUrl(key: string, validForSeconds: number): string;
  /** Signed with temporary keys: the link dies with their session token. */
  readonly temporaryKeys: boolean;
}

/**
 * The fallback, a presigned GET on COS's default domain: a bucket made after 2024-01-01 serves it as a
 * download (https://cloud.tencent.com/document/product/436/57456), and with the function role's temporary
 * keys it stops working when their session token expires (436/35153), whichever comes first.
 */
export function presignedLinker(bucket: PresigningBucket, validForSeconds: number, now: () => number): PageLinker {
  return ({ key }) => ({
    url: bucket.presignedGetUrl(key, validForSeconds),
    opens: "download",
    validUntil: iso(now() + validForSeconds * 1000),
    ...(bucket.temporaryKeys ? { expiresWithKeys: true } : {}),
  });
}

/** The linker for a deployed function's settings: the CDN domain, else the page URL, else a presigned link. */
export function pageLinkerFor(
  settings: { cdnDomain?: string | undefined; cdnAuthKey?: string | undefined; pageUrl: string | undefined; prefix: string; validForSeconds: number },
  store: Pick<StateStore, "get" | "create"> & PresigningBucket,
  now: () => number,
): PageLinker {
  if (settings.cdnDomain && settings.cdnAuthKey) return cdnLinker(settings.cdnDomain, settings.cdnAuthKey, settings.prefix, settings.validForSeconds, now);
  if (settings.pageUrl) return functionUrlLinker(settings.pageUrl, () => pageSigningKey(store, now), settings.validForSeconds, now);
  return presignedLinker(store, settings.validForSeconds, now);
}

export type { PageLink };
