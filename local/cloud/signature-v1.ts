import { createHmac } from "node:crypto";

/**
 * Tencent Cloud API signature v1 (HmacSHA1 / HmacSHA256), which the plugin's nested SDK 3.0.270 still uses:
 * https://cloud.tencent.com/document/api/213/15693. The string to sign is
 * `METHOD + HOST + PATH + "?" + k1=v1&k2=v2...` over every parameter but `Signature`, keys sorted, values
 * raw (not URL-encoded), and the signature is the base64 HMAC of it with the secret key.
 */

const ALGORITHMS: Record<string, string> = { HmacSHA1: "sha1", HmacSHA256: "sha256" };

/** Whether `method` is a signature method v1 knows. HmacSHA1 is the default when none is sent. */
export function knownSignatureMethod(method: string | undefined): boolean {
  return method === undefined || Object.hasOwn(ALGORITHMS, method);
}

/** The string the client signed, rebuilt from what arrived. */
function v1StringToSign(method: string, host: string, path: string, params: Record<string, string>): string {
  const pairs = Object.keys(params)
    .filter((k) => k !== "Signature")
    .sort()
    .map((k) => `${k}=${params[k]}`);
  return `${method.toUpperCase()}${host}${path}?${pairs.join("&")}`;
}

/** The signature the client should have sent, given the secret key. */
export function expectedV1Signature(method: string, host: string, path: string, params: Record<string, string>, secretKey: string): string {
  const algorithm = ALGORITHMS[params.SignatureMethod ?? "HmacSHA1"] ?? "sha1";
  return createHmac(algorithm, secretKey).update(Buffer.from(v1StringToSign(method, host, path, params), "utf8")).digest("base64");
}
