import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Why a POST did not get an answer. `code` is a Node error code or "Timeout". */
export class HttpFailure extends Error {
  override name = "HttpFailure";
  constructor(readonly code: string) {
    super(code === "Timeout" ? "no answer in time" : `could not connect (${code})`);
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
