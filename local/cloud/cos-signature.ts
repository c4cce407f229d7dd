import { createHash, createHmac } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * COS request signatures (q-sign-algorithm=sha1), as https://cloud.tencent.com/document/product/436/7778
 * describes and cos-nodejs-sdk-v5 computes them (sdk/util.js getAuth):
 * SignKey = HMAC-SHA1(SecretKey, KeyTime); HttpString = method \n path \n params \n headers \n;
 * StringToSign = "sha1" \n SignTime \n SHA1(HttpString) \n; Signature = HMAC-SHA1(SignKey, StringToSign).
 * The Host header is part of what is signed, so it must be the real bucket host, not 127.0.0.1.
 */

export interface CosAuthorization {
  secretId: string;
  signTime: [number, number];
  keyTime: string;
  headerList: string[];
  urlParamList: string[];
  signature: string;
}

/** The fields of a `q-sign-algorithm=sha1&q-ak=...` Authorization header, or undefined when it is not one. */
export function parseCosAuthorization(header: string | undefined): CosAuthorization | undefined {
  if (!header) return undefined;
  const fields = new URLSearchParams(header);
  const signTime = /^(\d+);(\d+)$/.exec(fields.get("q-sign-time") ?? "");
  const secretId = fields.get("q-ak");
  const signature = fields.get("q-signature");
  const keyTime = fields.get("q-key-time");
  if (fields.get("q-sign-algorithm") !== "sha1" || !signTime || !secretId || !signature || !keyTime) return undefined;
  const list = (name: string): string[] => (fields.get(name) ?? "").split(";").filter(Boolean);
  return {
    secretId,
    signTime: [Number(signTime[1]), Number(signTime[2])],
    keyTime,
    headerList: list("q-header-list"),
    urlParamList: list("q-url-param-list"),
    signature,
  };
}

/** encodeURIComponent plus the characters COS also escapes (`!'()*`). */
function camSafe(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha1 = (data: string): string => createHash("sha1").update(Buffer.from(data, "utf8")).digest("hex");
const hmacSha1 = (key: string, data: string): string => createHmac("sha1", key).update(data).digest("hex");

/** The signature the client should have sent for this request, given the secret key. */
export function expectedCosSignature(
  request: { method: string; path: string; query: URLSearchParams; headers: IncomingHttpHeaders },
  auth: CosAuthorization,
  secretKey: string,
): string {
  const query = new Map([...request.query].map(([k, v]) => [k.toLowerCase(), v]));
  const header = (name: string): string => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(",") : (value ?? "");
  };
  const params = auth.urlParamList.map((k) => `${k}=${camSafe(query.get(k) ?? "")}`).join("&");
  const headers = auth.headerList.map((k) => `${k}=${camSafe(header(k))}`).join("&");
  const httpString = [request.method.toLowerCase(), decodeURIComponent(request.path), params, headers, ""].join("\n");
  const signTime = `${auth.signTime[0]};${auth.signTime[1]}`;
  const stringToSign = ["sha1", signTime, sha1(httpString), ""].join("\n");
  return hmacSha1(hmacSha1(secretKey, auth.keyTime), stringToSign);
}
