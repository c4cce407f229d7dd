import type { IncomingHttpHeaders } from "node:http";
import type { Credentials } from "../csip/credentials.ts";
import { CloudApiError } from "../errors.ts";
import { withRetry, type RetryPolicy } from "../retry.ts";
import { cosAuthorization, cosSignature } from "./cos-signature.ts";

/**
 * The few COS XML API requests the state store makes, signed with the function role's temporary keys
 * (the session token goes in `x-cos-security-token`). Requests go to the bucket's own host
 * (`BUCKET-APPID.cos.REGION.myqcloud.com`), or to `endpoint` with that Host header kept, so the
 * signature still covers it (the COS stand-in on 127.0.0.1 in local mode and tests).
 * https://cloud.tencent.com/document/product/436/7751
 */

export interface CosLocation {
  /** The full bucket name, `NAME-APPID`. */
  bucket: string;
  region: string;
}

export interface CosClientOptions extends CosLocation {
  credentials: Credentials;
  /** `http://127.0.0.1:PORT`: where to connect instead of the bucket's host (CSIP_SCAN_COS_ENDPOINT). */
  endpoint?: string | undefined;
  timeoutMs: number;
  retry: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
}

export interface CosRequest {
  /** The S3-style name of the operation, for errors and logs: `PutObject`, `GetBucketVersioning`. */
  action: string;
  method: "GET" | "PUT" | "HEAD" | "DELETE";
  /** The object key, "" for the bucket itself. */
  key: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  /** Statuses that are answers, not failures (404 for a key that may be missing, 409 for a create). */
  expect: readonly number[];
}

export interface CosAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  requestId: string | undefined;
  /** How many tries it took: above 1, an earlier try may have landed without its answer reaching us. */
  attempts: number;
}

/** COS answers that may heal: server errors and throttling (`503 SlowDown`), https://cloud.tencent.com/document/product/436/7730. */
const RETRYABLE_STATUS = (status: number): boolean => status >= 500 || status === 429;

/** The `<Code>` of a COS XML error body. */
function errorCode(body: string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
}

/** The path of a key in a URL: each segment encoded, `/` kept. */
function urlPath(key: string): string {
  return `/${key.split("/").map(encodeURIComponent).join("/")}`;
}

export class CosClient {
  readonly host: string;

  constructor(private readonly options: CosClientOptions) {
    this.host = `${options.bucket}.cos.${options.region}.myqcloud.com`;
  }

  /** Signatures are checked against COS's clock, so they use the real time, whatever clock a run is given. */
  private nowSeconds(): number {
    return Date.now() / 1000;
  }

  /** Sends a request, retrying server errors, timeouts and lost connections; any other unexpected answer is a CloudApiError with COS's code and request id. */
  send(request: CosRequest): Promise<CosAnswer> {
    return withRetry((attempt) => this.once(request, attempt), {
      policy: this.options.retry,
      shouldRetry: (error) => error instanceof CloudApiError && error.retryable,
      ...(this.options.sleep ? { sleep: this.options.sleep } : {}),
    });
  }

  /** A URL anyone holding it may GET the object with, for `validSeconds` (a private page linked from a message). */
  presignedGetUrl(key: string, validSeconds: number): string {
    const { credentials } = this.options;
    const fields = cosSignature({ method: "GET", path: `/${key}`, query: {}, headers: { host: this.host } }, credentials, this.nowSeconds(), validSeconds);
    const query = new URLSearchParams(fields);
    if (credentials.token) query.set("x-cos-security-token", credentials.token);
    return `https://${this.host}${urlPath(key)}?${query}`;
  }

  private async once(request: CosRequest, attempt: number): Promise<CosAnswer> {
    const { credentials, endpoint, timeoutMs } = this.options;
    const query = request.query ?? {};
    const signed: Record<string, string> = { host: this.host, ...request.headers };
    if (request.body !== undefined) signed["content-length"] = String(Buffer.byteLength(request.body));
    const authorization = cosAuthorization({ method: request.method, path: `/${request.key}`, query, headers: signed }, credentials, this.nowSeconds());
    const headers: Record<string, string> = { ...signed, authorization, ...(credentials.token ? { "x-cos-security-token": credentials.token } : {}) };
    const search = new URLSearchParams(query).toString().replace(/=(?=&|$)/g, "");
    const base = new URL(endpoint ?? `https://${this.host}`);
    const url = new URL(`${urlPath(request.key)}${search ? `?${search}` : ""}`, base);
    // Loaded at the first request: https brings tls, a cost every cold start would pay (bench/cold-start.ts).
    const { request: send } = url.protocol === "https:" ? await import("node:https") : await import("node:http");
    const fail = (code: string, message: string, requestId?: string, status?: number): CloudApiError =>
      new CloudApiError({ action: `COS ${request.action}`, code, message, requestId, httpCode: status, retryable: status === undefined || RETRYABLE_STATUS(status) });
    return new Promise((resolve, reject) => {
      // One options object, no URL argument: some libraries loaded beside the deploy wrap https.request
      // with the older (options, callback) signature only.
      const target = { protocol: url.protocol, hostname: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method: request.method, headers, timeout: timeoutMs };
      const req = send(target, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", () => reject(fail("ConnectionLost", "the answer was cut off")));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const body = Buffer.concat(chunks).toString("utf8");
          const requestId = typeof res.headers["x-cos-request-id"] === "string" ? res.headers["x-cos-request-id"] : undefined;
          if ((status >= 200 && status < 300) || request.expect.includes(status)) {
            resolve({ status, headers: res.headers, body, requestId, attempts: attempt });
            return;
          }
          reject(fail(errorCode(body) ?? `HTTP${status}`, `${request.method} ${request.key || "/"} answered ${status}`, requestId, status));
        });
      });
      req.on("timeout", () => req.destroy(fail("Timeout", `no answer within ${timeoutMs} ms`)));
      req.on("error", (error) => reject(error instanceof CloudApiError ? error : fail("ConnectionFailed", `could not reach COS (${(error as NodeJS.ErrnoException).code ?? "error"})`)));
      req.end(request.body);
    });
  }
}
