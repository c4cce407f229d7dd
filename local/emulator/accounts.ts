import { randomBytes } from "node:crypto";

/** A key pair the emulators accept. `token` makes it a temporary (role) credential that needs X-TC-Token. */
export interface EmulatorAccount {
  secretId: string;
  secretKey: string;
  token?: string;
  appId: string;
  uin: string;
}

/** The key pair local mode and tests use unless they bring their own. It opens nothing but the emulator. */
export const LOCAL_ACCOUNT: EmulatorAccount = {
  secretId: "AKIDcsipscanlocalemulator0000000",
  secretKey: "csip-scan-local-emulator-secret-key",
  appId: "1250000000",
  uin: "100000000001",
};

/** A fresh random key pair, for tests that want a credential nobody else uses. */
export function randomAccount(withToken = false): EmulatorAccount {
  const account: EmulatorAccount = {
    secretId: `AKID${randomBytes(12).toString("hex")}`,
    secretKey: randomBytes(16).toString("hex"),
    appId: "1250000001",
    uin: "100000000002",
  };
  return withToken ? { ...account, token: randomBytes(24).toString("hex") } : account;
}

/** STS's API version, whose GetCallerIdentity the emulator also answers (for `csip-scan doctor`). */
export const STS_VERSION = "2018-08-13";

/**
 * STS GetCallerIdentity's answer for a key pair (https://cloud.tencent.com/document/api/1312/66098): its
 * fields and the example of a CAM user's long-term keys are documented; the Arn and Type of a role's
 * temporary keys are not shown in the examples found, so those here are a guess (ASSUMPTIONS.md).
 * `csip-scan doctor` decides "temporary" by the session token, never by these.
 */
export function callerIdentity(account: EmulatorAccount): Record<string, string> {
  if (account.token) {
    const roleId = "4611686018427387905";
    return { Arn: `qcs::sts:${account.uin}:assumed-role/${roleId}/csip-scan`, AccountId: account.uin, UserId: `${roleId}:csip-scan`, PrincipalId: account.uin, Type: "AssumedRole" };
  }
  return { Arn: `qcs::cam:${account.uin}:uin/${account.uin}`, AccountId: account.uin, UserId: account.uin, PrincipalId: account.uin, Type: "CAMUser" };
}
