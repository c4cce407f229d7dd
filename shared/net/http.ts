import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Node's codes for a TLS certificate that does not verify (OpenSSL's X509_V_ERR_* names, as Node gives
 * them, and Node's own host name check). Such a failure does not heal in seconds, so it is not retried.
 * https://nodejs.org/api/tls.html#x509-certificate-error-codes
 */
const CERTIFICATE_FAILURES: ReadonlySet<string> = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_CRL",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECRYPT_CRL_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CRL_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CRL_NOT_YET_VALID",
  "CRL_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "ERROR_IN_CRL_LAST_UPDATE_FIELD",
  "ERROR_IN_CRL_NEXT_UPDATE_FIELD",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_TLS_CERT_ALTNAME_FORMAT",
]);

/** Why a POST did not get an answer. `code` is a Node error code or "Timeout". */
export class HttpFailure extends Error {
  override name = "HttpFailure";
  /** Whether trying again may help: not for a certificate that does not verify. */
  readonly retryable: boolean;
  constructor(readonly code: string) {
    const certificate = CERTIFICATE_FAILURES.has(code);
    super(code === "Timeout" ? "no answer in time" : certificate ? `its TLS certificate was not accepted (${code})` : `could not connect (${code})`);
    this.retryable = !certificate;
  }
}

/**
 * POSTs a body and reads the whole answer. The connection goes to `address`, the address that was
 * checked (so a DNS answer that changes between the check and the connection cannot redirect it),
 * while TLS still verifies the certificate for the URL's host name. Redirects are never followed.
 */
export function post(url: URL, body: string, headers: Record<string, string>, options: { address?: { address: string; family: number }; timeoutMs: number }): Promise<HttpAnswer> {
  const lookup: LookupFunction | undefined = options.address
    ? (_host, opts, callback) => {
        const { address, family } = options.address!;
        if ((opts as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
        else callback(null, address, family);
      }
    : undefined;
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        timeout: options.timeoutMs,
        ...(lookup ? { lookup } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (error: NodeJS.ErrnoException) => reject(new HttpFailure(error.code ?? "ECONNRESET")));
      },
    );
    req.on("timeout", () => req.destroy(new HttpFailure("Timeout")));
    req.on("error", (error: NodeJS.ErrnoException) => reject(error instanceof HttpFailure ? error : new HttpFailure(error.code ?? "network error")));
    req.end(body);
  });
}
