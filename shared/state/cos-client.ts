import type { IncomingHttpHeaders } from "node:http";
import { credentialSource, type CredentialSource, type Credentials } from "../csip/credentials.ts";
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
  /** The host to address instead of the bucket's: `service.cos.myqcloud.com` for GET Service (the account's buckets). */
  host?: string;
  /** Fixed keys, or a source read again when COS refuses them (a warm SCF instance's role keys). */
  credentials: Credentials | CredentialSource;
  /** `http://127.0.0.1:PORT`: where to connect instead of the bucket's host (CSIP_SCAN_COS_ENDPOINT). */
  endpoint?: string | undefined;
  timeoutMs: number;
  retry: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
  /** Told of each request COS answered, with its answer (`csip-scan doctor` lists each object it wrote and deleted). */
  onAnswer?: (request: CosRequest, answer: CosAnswer) => void;
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
export function errorCode(body: string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
}

/**
 * Refusals of the keys themselves, after which the keys are read again and the request sent once more
 * with new ones (a refused request did nothing). `InvalidAccessKeyId` is COS's answer to a SecretId it
 * does not know, which is what a role's temporary key becomes when it expires (436/40105; COS's own
 * diagnosis of the code reads "SecretId does not exist, or the temporary key has expired"). Whether COS
 * also answers `ExpiredToken` or `InvalidToken` (S3's names) is unknown; taking them costs nothing.
 * https://cloud.tencent.com/document/product/436/7730
 */
export const COS_REFUSED_KEY_CODES: readonly string[] = ["InvalidAccessKeyId", "ExpiredToken", "InvalidToken"];

/**
 * COS's answers to a signature whose time window does not hold its clock (436/40105): the clock is
 * corrected from the answer and the request signed again, as cos-nodejs-sdk-v5 does (its allowRetry).
 */
function isClockRefusal(code: string | undefined, body: string): boolean {
  return code === "RequestTimeTooSkewed" || (code === "AccessDenied" && /<Message>Request has expired<\/Message>/.test(body));
}

/** cos-nodejs-sdk-v5 corrects its clock only when COS's differs from it by this much or more. */
const CLOCK_SKEW_CORRECTED_MS = 30_000;

/** What one HTTP exchange with COS gave. */
interface Exchange {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The path of a key in a URL: each segment encoded, `/` kept. */
function urlPath(key: string): string {
  return `/${key.split("/").map(encodeURIComponent).join("/")}`;
}

export class CosClient {
  readonly host: string;
  private readonly keys: CredentialSource;
  /**
   * COS's clock minus ours, in ms: 0 until COS refuses a signature for its time, then taken from that
   * answer's `Date` (or its body's `ServerTime`), as cos-nodejs-sdk-v5 keeps its SystemClockOffset.
   */
  clockOffsetMs = 0;

  constructor(private readonly options: CosClientOptions) {
    this.host = options.host ?? `${options.bucket}.cos.${options.region}.myqcloud.com`;
    this.keys = credentialSource(options.credentials);
  }

  /** Signatures are checked against COS's clock, so they use the real time (corrected), whatever clock a run is given. */
  private nowSeconds(): number {
    return (Date.now() + this.clockOffsetMs) / 1000;
  }

  /**
   * After COS refused a signature for its time: the offset from the answer's server time, when ours is
   * 30 s or more away from it (cos-nodejs-sdk-v5's rule). True when it changed, so a new signature may pass.
   */
  private correctClock(answer: Exchange): boolean {
    const serverTime = Date.parse(String(answer.headers.date ?? /<ServerTime>([^<]+)<\/ServerTime>/.exec(answer.body)?.[1] ?? ""));
    if (Number.isNaN(serverTime) || Math.abs(Date.now() + this.clockOffsetMs - serverTime) < CLOCK_SKEW_CORRECTED_MS) return false;
    this.clockOffsetMs = serverTime - Date.now();
    return true;
  }

  /** Sends a request, retrying server errors, timeouts and lost connections; any other unexpected answer is a CloudApiError with COS's code and request id. */
  async send(request: CosRequest): Promise<CosAnswer> {
    const answer = await withRetry((attempt) => this.once(request, attempt), {
      policy: this.options.retry,
      shouldRetry: (error) => error instanceof CloudApiError && error.retryable,
      ...(this.options.sleep ? { sleep: this.options.sleep } : {}),
    });
    this.options.onAnswer?.(request, answer);
    return answer;
  }

  /** A URL anyone holding it may GET the object with, for `validSeconds` (a private page linked from a message). */
  presignedGetUrl(key: string, validSeconds: number): string {
    const credentials = this.keys.current();
    const fields = cosSignature({ method: "GET", path: `/${key}`, query: {}, headers: { host: this.host } }, credentials, this.nowSeconds(), validSeconds);
    const query = new URLSearchParams(fields);
    if (credentials.token) query.set("x-cos-security-token", credentials.token);
    return `https://${this.host}${urlPath(key)}?${query}`;
  }

  /**
   * One try: the request, and, when COS refused the keys as unknown or expired, or the signature for its
   * time, the same request once more with keys read again or a corrected clock. Those refusals did
   * nothing, so they are part of this try, not another.
   */
  private async once(request: CosRequest, attempt: number): Promise<CosAnswer> {
    let used = this.keys.current();
    let answer = await this.exchange(request, used);
    let rereadKeys = false;
    let correctedClock = false;
    for (;;) {
      const code = answer.status >= 400 ? errorCode(answer.body) : undefined;
      if (!rereadKeys && code !== undefined && COS_REFUSED_KEY_CODES.includes(code)) {
        rereadKeys = true;
        if (this.keys.reread(used)) {
          used = this.keys.current();
          answer = await this.exchange(request, used);
          continue;
        }
      } else if (!correctedClock && isClockRefusal(code, answer.body)) {
        correctedClock = true;
        if (this.correctClock(answer)) {
          answer = await this.exchange(request, used);
          continue;
        }
      }
      break;
    }
    const { status, body, headers } = answer;
    const requestId = typeof headers["x-cos-request-id"] === "string" ? headers["x-cos-request-id"] : undefined;
    if ((status >= 200 && status < 300) || request.expect.includes(status)) return { status, headers, body, requestId, attempts: attempt };
    throw new CloudApiError({
      action: `COS ${request.action}`,
      code: errorCode(body) ?? `HTTP${status}`,
      message: `${request.method} ${request.key || "/"} answered ${status}`,
      requestId,
      httpCode: status,
      retryable: RETRYABLE_STATUS(status),
    });
  }

  /** Signs the request with `credentials` and sends it once; an HTTP answer of any status resolves, a failed connection is a CloudApiError. */
  private async exchange(request: CosRequest, credentials: Credentials): Promise<Exchange> {
    const { endpoint, timeoutMs } = this.options;
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
    const fail = (code: string, message: string): CloudApiError => new CloudApiError({ action: `COS ${request.action}`, code, message, retryable: true });
    return new Promise((resolve, reject) => {
      // One options object, no URL argument: some libraries loaded beside the deploy wrap https.request
      // with the older (options, callback) signature only.
      const target = { protocol: url.protocol, hostname: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method: request.method, headers, timeout: timeoutMs };
      const req = send(target, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", () => reject(fail("ConnectionLost", "the answer was cut off")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      });
      req.on("timeout", () => req.destroy(fail("Timeout", `no answer within ${timeoutMs} ms`)));
      req.on("error", (error) => reject(error instanceof CloudApiError ? error : fail("ConnectionFailed", `could not reach COS (${(error as NodeJS.ErrnoException).code ?? "error"})`)));
      req.end(request.body);
    });
  }
}
