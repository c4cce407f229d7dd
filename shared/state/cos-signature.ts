import { createHash, createHmac } from "node:crypto";

/**
 * COS's request signature (q-sign-algorithm=sha1), as https://cloud.tencent.com/document/product/436/7778
 * describes it: SignKey = HMAC-SHA1(SecretKey, KeyTime); HttpString = method \n path \n params \n headers \n;
 * StringToSign = "sha1" \n SignTime \n SHA1(HttpString) \n; Signature = HMAC-SHA1(SignKey, StringToSign).
 * Signed here rather than with cos-nodejs-sdk-v5: the SDK alone bundles to about 810 KiB and imports in
 * about a third of the whole Tencent Cloud SDK's time, which breaks both of a function's budgets.
 */

export interface CosKeys {
  secretId: string;
  secretKey: string;
}

export interface SignedRequest {
  method: string;
  /** The object key's path as COS sees it, not URL-encoded: `/state/run/x.json`. */
  path: string;
  query: Readonly<Record<string, string>>;
  /** The headers to sign, among them `host`. */
  headers: Readonly<Record<string, string>>;
}

/** encodeURIComponent plus the characters COS also escapes (`!'()*`). */
function camSafe(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha1 = (data: string): string => createHash("sha1").update(data, "utf8").digest("hex");
const hmacSha1 = (key: string, data: string): string => createHmac("sha1", key).update(data).digest("hex");

/** Lower-cased, sorted `name=value` pairs and the `;`-joined list of their names. */
function canonical(values: Readonly<Record<string, string>>): { list: string; text: string } {
  const entries = Object.entries(values)
    .map(([k, v]) => [camSafe(k.toLowerCase()), camSafe(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { list: entries.map(([k]) => k).join(";"), text: entries.map(([k, v]) => `${k}=${v}`).join("&") };
}

/**
 * The signature's fields, valid for `validSeconds` from one second before `nowSeconds` (rounded), as
 * cos-nodejs-sdk-v5's getAuth starts them, so that a server clock a little behind ours still takes
 * them; as an Authorization header or as query parameters.
 */
export function cosSignature(request: SignedRequest, keys: CosKeys, nowSeconds: number, validSeconds: number): Record<string, string> {
  const start = Math.round(nowSeconds) - 1;
  const time = `${start};${start + validSeconds}`;
  const params = canonical(request.query);
  const headers = canonical(request.headers);
  const httpString = [request.method.toLowerCase(), request.path, params.text, headers.text, ""].join("\n");
  const stringToSign = ["sha1", time, sha1(httpString), ""].join("\n");
  return {
    "q-sign-algorithm": "sha1",
    "q-ak": keys.secretId,
    "q-sign-time": time,
    "q-key-time": time,
    "q-header-list": headers.list,
    "q-url-param-list": params.list,
    "q-signature": hmacSha1(hmacSha1(keys.secretKey, time), stringToSign),
  };
}

/** The Authorization header of a request. */
export function cosAuthorization(request: SignedRequest, keys: CosKeys, nowSeconds: number, validSeconds = 600): string {
  return Object.entries(cosSignature(request, keys, nowSeconds, validSeconds))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}
