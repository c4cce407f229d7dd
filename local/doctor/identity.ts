import { toCloudError } from "../../shared/csip/client.ts";
import type { CredentialSource } from "../../shared/csip/credentials.ts";

/**
 * Who a key pair is, as STS's GetCallerIdentity answers it (https://cloud.tencent.com/document/api/1312/66098):
 * the caller's ARN, its root account's UIN, its own ID and its type (`CAMUser`, a role's…). It works with a
 * CAM user's long-term keys and with a role's temporary ones. Asked through the official SDK's STS client
 * alone (a deep import, as the CSIP client is), only by `csip-scan doctor`.
 */
export interface CallerIdentity {
  arn: string;
  accountId: string;
  userId: string;
  type: string;
  requestId: string | undefined;
}

export const STS_ENDPOINT = "sts.tencentcloudapi.com";
export const STS_INTL_ENDPOINT = "sts.intl.tencentcloudapi.com";

/**
 * Asks STS who `credentials` are. `endpoint`: a full URL to ask instead (the local emulator answers
 * GetCallerIdentity for the account it serves). A failure is a CloudApiError with STS's code and RequestId.
 */
export async function callerIdentity(options: { credentials: CredentialSource; region: string; endpoint?: string | undefined; intl?: boolean; timeoutSeconds: number }): Promise<CallerIdentity> {
  let endpoint = options.intl ? STS_INTL_ENDPOINT : STS_ENDPOINT;
  let protocol = "https://";
  if (options.endpoint) {
    const url = new URL(options.endpoint);
    endpoint = url.host;
    protocol = `${url.protocol}//`;
  }
  try {
    const { Client } = await import("tencentcloud-sdk-nodejs/tencentcloud/services/sts/v20180813/sts_client.js");
    const sts = new Client({
      credential: { getCredential: async () => options.credentials.current() },
      region: options.region,
      profile: { httpProfile: { endpoint, protocol, reqTimeout: options.timeoutSeconds } },
    });
    const answer = await sts.GetCallerIdentity();
    return { arn: answer.Arn ?? "", accountId: answer.AccountId ?? "", userId: answer.UserId ?? "", type: answer.Type ?? "", requestId: answer.RequestId };
  } catch (error) {
    throw toCloudError("GetCallerIdentity", error);
  }
}
