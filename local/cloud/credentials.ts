import type { EmulatorAccount } from "../emulator/accounts.ts";

/**
 * The one key pair the cloud stand-ins accept. It opens nothing but the stand-ins, so it may be written
 * into the temporary `~/credentials` of a rehearsal and into test files. The AppId must be numeric: the
 * COS SDK builds bucket names as `NAME-APPID` and rejects anything else.
 */
export const REHEARSAL_ACCOUNT: EmulatorAccount = {
  secretId: "AKIDcsipscanrehearsal00000000000",
  secretKey: "csip-scan-rehearsal-secret-key-0",
  appId: "1250000000",
  uin: "100000000001",
};
