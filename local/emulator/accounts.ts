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
