import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCsipClient } from "../../../shared/csip/client.ts";
import { credentialsFrom, credentialsReadFrom, requireCredentials } from "../../../shared/csip/credentials.ts";
import { CredentialsError } from "../../../shared/errors.ts";
import { scrub } from "../../../shared/secrets.ts";
import { LOCAL_ACCOUNT, randomAccount, type EmulatorAccount } from "../../../local/emulator/accounts.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";
import { caught, envOf } from "../../helpers.ts";

describe("credentials", () => {
  it("reads the variables SCF sets, not the SDK's names", () => {
    expect(credentialsFrom(envOf({ TENCENTCLOUD_SECRETID: "AKIDx", TENCENTCLOUD_SECRETKEY: "key-123456", TENCENTCLOUD_SESSIONTOKEN: "tok-123456" }))).toEqual({
      secretId: "AKIDx",
      secretKey: "key-123456",
      token: "tok-123456",
    });
    expect(credentialsFrom(envOf({ TENCENTCLOUD_SECRET_ID: "AKIDx", TENCENTCLOUD_SECRET_KEY: "k" }))).toBeUndefined();
  });

  it("names the variables to set when none or half are set", () => {
    expect(() => requireCredentials(envOf())).toThrow(new CredentialsError(
      "no credentials: set TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY (SCF sets them, with TENCENTCLOUD_SESSIONTOKEN, from the function's role)",
    ));
    expect(() => credentialsFrom(envOf({ TENCENTCLOUD_SECRETID: "AKIDx" }))).toThrow(/set both TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY/);
  });

  it("registers the key and token so that no log line can show them", () => {
    credentialsFrom(envOf({ TENCENTCLOUD_SECRETID: "AKIDx", TENCENTCLOUD_SECRETKEY: "very-secret-key-material", TENCENTCLOUD_SESSIONTOKEN: "session-token-material" }));
    expect(scrub("key=very-secret-key-material token=session-token-material")).toBe("key=*** token=***");
  });
});

describe("errors from the SDK never carry the secret key", () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator();
  });
  afterAll(() => emulator.close());

  it.each([
    ["a wrong key", { ...LOCAL_ACCOUNT, secretKey: "wrong-but-secret-key-value" }],
    ["a wrong token", { ...LOCAL_ACCOUNT, secretKey: LOCAL_ACCOUNT.secretKey, token: "secret-session-token-value" }],
  ])("%s", async (_, credentials) => {
    const client = createCsipClient({ credentials, region: "ap-guangzhou", endpoint: emulator.url });
    const error = await caught(client.call("DescribeCVMAssets", {}));
    const text = `${error.message} ${JSON.stringify(error)}`;
    expect(text).not.toContain(credentials.secretKey);
    expect(text).not.toContain("secret-session-token-value");
  });
});

describe("role keys that rotate under a warm client", () => {
  const first = randomAccount(true);
  const second = { ...randomAccount(true), appId: first.appId, uin: first.uin };
  const envFor = (key: EmulatorAccount) => envOf({ TENCENTCLOUD_SECRETID: key.secretId, TENCENTCLOUD_SECRETKEY: key.secretKey, TENCENTCLOUD_SESSIONTOKEN: key.token! });
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator({ accounts: [first], rateLimit: false });
  });
  afterAll(() => emulator.close());

  it.each([
    ["a new SecretId: the old one is unknown", second, "AuthFailure.SecretIdNotFound"],
    ["the same SecretId with a new token: the old token fails", { ...first, token: `${first.token!}-renewed` }, "AuthFailure.TokenFailure"],
  ])("%s; the keys are read again and the call made once more, with the new ones", async (_, next, code) => {
    emulator.rotateKeys([first]);
    emulator.calls.length = 0;
    let env = envFor(first);
    const client = createCsipClient({ credentials: credentialsReadFrom(() => env), region: "ap-guangzhou", endpoint: emulator.url });
    await client.call("DescribeCVMAssets", {});
    emulator.rotateKeys([next]);
    env = envFor(next);
    await client.call("DescribeCVMAssets", {});
    expect(emulator.calls.map((c) => c.outcome)).toEqual(["OK", code, "OK"]);
    expect(client.account).toBe(next.secretId);
  });

  it("keys the environment still gives unchanged are not sent again: the refusal is the error", async () => {
    emulator.rotateKeys([first]);
    emulator.calls.length = 0;
    const client = createCsipClient({ credentials: credentialsReadFrom(() => envFor(first)), region: "ap-guangzhou", endpoint: emulator.url });
    await client.call("DescribeCVMAssets", {});
    emulator.rotateKeys([second]);
    const error = await caught(client.call("DescribeCVMAssets", {}));
    expect(error.code).toBe("AuthFailure.SecretIdNotFound");
    expect(emulator.calls.map((c) => c.outcome)).toEqual(["OK", "AuthFailure.SecretIdNotFound"]);
  });
});
