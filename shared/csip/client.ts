import type * as Models from "tencentcloud-sdk-nodejs/tencentcloud/services/csip/v20221121/csip_models.js";
import { CloudApiError } from "../errors.ts";
import { credentialSource, type CredentialSource, type Credentials } from "./credentials.ts";
import { isRefusedKey, isRetryableCode } from "./retryable.ts";
import { CSIP_ACTIONS, type CsipAction, type RequestOf, type ResponseOf } from "./actions.ts";

export type { Models };
export type { CsipAction, RequestOf, ResponseOf };

/** The `MemberId` parameter: the member accounts to act for, or nothing for the caller's own account. */
export function memberParam(memberIds: readonly string[] | undefined): { MemberId?: string[] } {
  return memberIds && memberIds.length > 0 ? { MemberId: [...memberIds] } : {};
}

/** The project's one door to the CSIP API. Every failure comes out as a CloudApiError. */
export interface CsipClient {
  call<A extends CsipAction>(action: A, request: RequestOf<A>): Promise<ResponseOf<A>>;
  /** The SecretId the calls are made with: CSIP's rate limits are per account. */
  readonly account?: string;
}

export const OFFICIAL_ENDPOINT = "csip.tencentcloudapi.com";
export const INTL_ENDPOINT = "csip.intl.tencentcloudapi.com";

export interface CsipClientOptions {
  /** Fixed keys, or a source read again when CSIP refuses them (a warm SCF instance's role keys). */
  credentials: Credentials | CredentialSource;
  region: string;
  /** A full URL such as http://127.0.0.1:8123 (CSIP_ENDPOINT); otherwise the official endpoint. */
  endpoint?: string | undefined;
  intl?: boolean;
  /** Per-request timeout in seconds (the SDK's reqTimeout; its default is 60). */
  timeoutSeconds?: number;
}

/** The SDK's csip client module, imported on the first call (memoized): see createCsipClient. */
let sdkModule: Promise<typeof import("tencentcloud-sdk-nodejs/tencentcloud/services/csip/v20221121/csip_client.js")> | undefined;

/**
 * Builds the official SDK client through the deep import of the csip client alone (the whole SDK
 * costs about 700 ms of cold start, this about 136 ms: ../shared/reference/README.md), and imports it
 * only when the first call is made: a bundle's import then costs its own code, not the SDK's
 * (bench/cold-start.ts), and an invocation that makes no call (a timer left by an earlier deploy) never
 * pays for it.
 */
export function createCsipClient(options: CsipClientOptions): CsipClient {
  let endpoint = options.intl ? INTL_ENDPOINT : OFFICIAL_ENDPOINT;
  let protocol = "https://";
  if (options.endpoint) {
    const url = new URL(options.endpoint);
    endpoint = url.host;
    protocol = `${url.protocol}//`;
  }
  const keys = credentialSource(options.credentials);
  // The SDK asks for the keys at every request (its DynamicCredential), so each is signed with the keys of now.
  const credential = { getCredential: async () => keys.current() };
  let client: Promise<Record<CsipAction, (request: unknown) => Promise<unknown>>> | undefined;
  const sdk = (): Promise<Record<CsipAction, (request: unknown) => Promise<unknown>>> =>
    (client ??= (sdkModule ??= import("tencentcloud-sdk-nodejs/tencentcloud/services/csip/v20221121/csip_client.js")).then(
      ({ Client: SdkClient }) =>
        new SdkClient({
          credential,
          region: options.region,
          profile: { httpProfile: { endpoint, protocol, reqTimeout: options.timeoutSeconds ?? 30 } },
        }) as unknown as Record<CsipAction, (request: unknown) => Promise<unknown>>,
    ));
  const once = async (action: CsipAction, request: unknown): Promise<unknown> => {
    try {
      const methods = await sdk();
      return await methods[action].call(methods, request);
    } catch (error) {
      throw toCloudError(action, error);
    }
  };
  return {
    get account() {
      return keys.current().secretId;
    },
    async call(action, request) {
      let answer: unknown;
      const used = keys.current();
      try {
        answer = await once(action, request);
      } catch (error) {
        // Keys refused as unknown or expired: read them again, and once more with new ones.
        if (!(error instanceof CloudApiError && isRefusedKey(error.code) && keys.reread(used))) throw error;
        answer = await once(action, request);
      }
      return checkedAnswer(action, answer) as never;
    },
  };
}

/** The answer if it has the shape the project reads, else a CloudApiError naming the action, the field and the RequestId. */
export function checkedAnswer(action: CsipAction, answer: unknown): unknown {
  const parsed = CSIP_ACTIONS[action].answer.safeParse(answer);
  if (parsed.success) return answer;
  const issue = parsed.error.issues[0]!;
  const requestId = (answer as { RequestId?: unknown } | null)?.RequestId;
  throw new CloudApiError({
    action,
    code: "BadResponse",
    message: `the answer does not have the expected shape at ${issue.path.join(".") || "its top"}: ${issue.message}`,
    requestId: typeof requestId === "string" ? requestId : undefined,
    retryable: false,
  });
}

interface SdkErrorShape {
  message?: string;
  code?: string;
  requestId?: string;
  httpCode?: number;
  name?: string;
  type?: string;
}

/**
 * Maps whatever the SDK threw to a CloudApiError. The SDK throws TencentCloudSDKHttpException with
 * `code` for API errors and `httpCode` for non-200 answers; network failures and timeouts arrive as the
 * same class with only node-fetch's message; a 200 that is not JSON throws node-fetch's FetchError,
 * and JSON without `Response` a TypeError (../shared/reference/README.md).
 */
export function toCloudError(action: string, error: unknown): CloudApiError {
  if (error instanceof CloudApiError) return error;
  const e = (error ?? {}) as SdkErrorShape;
  const message = typeof e.message === "string" ? e.message : String(error);
  let code: string;
  if (e.code) code = e.code;
  else if (e.httpCode) code = `HttpError.${e.httpCode}`;
  else if (error instanceof TypeError || /invalid json|Unexpected token|JSON/i.test(message)) code = "BadResponse";
  else if (/timeout|aborted/i.test(message)) code = "Timeout";
  else code = "NetworkError";
  return new CloudApiError({
    action,
    code,
    message: code === "BadResponse" ? "the answer was not a CSIP API response" : message,
    requestId: e.requestId || undefined,
    httpCode: e.httpCode,
    retryable: isRetryableCode(code),
    cause: error,
  });
}
