import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * TC3-HMAC-SHA256 as Tencent documents it: https://cloud.tencent.com/document/api/664/90809
 * (signature v3). Rebuilds the canonical request and the string to sign from what arrived.
 */

export interface SignedRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface ParsedAuthorization {
  secretId: string;
  date: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AUTH = /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([^/]+)\/tc3_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

export function parseAuthorization(header: string | undefined): ParsedAuthorization | undefined {
  const match = header ? AUTH.exec(header) : null;
  if (!match) return undefined;
  return {
    secretId: match[1]!,
    date: match[2]!,
    service: match[3]!,
    signedHeaders: match[4]!.split(";"),
    signature: match[5]!,
  };
}

const sha256 = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string): Buffer => createHmac("sha256", key).update(data).digest();

function header(request: SignedRequest, name: string): string {
  const value = request.headers[name];
  return (Array.isArray(value) ? value.join(",") : (value ?? "")).trim();
}

/** The host as the SDK signs it: the Host header without its port. */
export function signedHost(request: SignedRequest): string {
  return header(request, "host").replace(/:\d+$/, "").toLowerCase();
}

/** The signature the client should have sent, given the secret key. */
export function expectedSignature(
  request: SignedRequest,
  auth: Pick<ParsedAuthorization, "date" | "service" | "signedHeaders">,
  secretKey: string,
  timestamp: string,
): string {
  const canonicalHeaders = auth.signedHeaders
    .map((name) => `${name}:${(name === "host" ? signedHost(request) : header(request, name)).toLowerCase()}\n`)
    .join("");
  const canonicalRequest = [
    request.method,
    request.path,
    request.query,
    canonicalHeaders,
    auth.signedHeaders.join(";"),
    sha256(request.body),
  ].join("\n");
  const scope = `${auth.date}/${auth.service}/tc3_request`;
  const stringToSign = ["TC3-HMAC-SHA256", timestamp, scope, sha256(canonicalRequest)].join("\n");
  const signing = hmac(hmac(hmac(`TC3${secretKey}`, auth.date), auth.service), "tc3_request");
  return createHmac("sha256", signing).update(stringToSign).digest("hex");
}

export function sameSignature(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
