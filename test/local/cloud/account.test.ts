import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { AccountFileError, ACCOUNT_FILE, freshAccount, loadAccount, saveAccount } from "../../../local/cloud/account.ts";
import { REHEARSAL_ACCOUNT } from "../../../local/cloud/credentials.ts";
import { runRedirected } from "../../../local/cloud/redirected.ts";
import { startCloudStandIn, type CloudStandIn } from "../../../local/cloud/server.ts";

// An account folder keeps what one rehearsal created for the next one, without the secrets in it.

const ROOT = resolve(".");
const SECRET = "https://hooks.example.com/robot/account-secret-9q2w";

async function scf<T>(standIn: CloudStandIn, body: string): Promise<T> {
  const script = `
    const credential = ${JSON.stringify({ secretId: REHEARSAL_ACCOUNT.secretId, secretKey: REHEARSAL_ACCOUNT.secretKey })};
    const scf = new (require("tencentcloud-sdk-nodejs/tencentcloud/services/scf/v20180416/scf_client.js").Client)({ credential, region: "ap-guangzhou" });
    (async () => { ${body} })().then((r) => process.stdout.write(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`;
  const child = await runRedirected(standIn.url, script, { cwd: ROOT });
  if (child.code !== 0) throw new Error(`child failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as T;
}

const tempDir = (): string => mkdtempSync(join(tmpdir(), "csip-scan-account-"));

describe("an account folder", () => {
  it("gives a second stand-in what the first created, environment values masked to their length", async () => {
    const dir = tempDir();
    const first = await startCloudStandIn({ account: await loadAccount(dir, REHEARSAL_ACCOUNT), settleMs: 0 });
    try {
      const zip = Buffer.from("PK\u0003\u0004 a tiny zip").toString("base64");
      await scf(first, `
        await scf.CreateFunction({ FunctionName: "kept", Runtime: "Nodejs18.15", Handler: "index.main_handler", Code: { ZipFile: "${zip}" },
          Environment: { Variables: [{ Key: "SECOPS_WEBHOOK_URL", Value: "${SECRET}" }] } });
        await scf.CreateTrigger({ FunctionName: "kept", TriggerName: "nightly-prod", Type: "timer", TriggerDesc: "0 0 3 * * * *" });
        return true;`);
      await saveAccount(dir, first.account);
    } finally {
      await first.close();
    }

    const text = readFileSync(join(dir, ACCOUNT_FILE), "utf8");
    expect(text).not.toContain(SECRET);
    const second = await startCloudStandIn({ account: await loadAccount(dir, REHEARSAL_ACCOUNT) });
    try {
      const got = await scf<{ Runtime: string; Environment: unknown; Triggers: { TriggerName: string; TriggerDesc: string }[] }>(second, `return scf.GetFunction({ FunctionName: "kept" });`);
      expect(got.Runtime).toBe("Nodejs18.15");
      expect(got.Environment).toEqual({ Variables: [{ Key: "SECOPS_WEBHOOK_URL", Value: "*".repeat(SECRET.length) }] });
      expect(got.Triggers).toMatchObject([{ TriggerName: "nightly-prod", TriggerDesc: '{"cron":"0 0 3 * * * *"}' }]);
    } finally {
      await second.close();
    }
  });

  it("without an account yet starts a fresh one", async () => {
    expect(await loadAccount(tempDir(), REHEARSAL_ACCOUNT)).toEqual(freshAccount(REHEARSAL_ACCOUNT));
  });

  it.each([
    ["not an account", JSON.stringify({ functions: "none" })],
    ["another AppId's account", JSON.stringify({ ...freshAccount(REHEARSAL_ACCOUNT), appId: "1259999999" })],
  ])("holding %s is an error that names the file", async (_what, content) => {
    const dir = tempDir();
    writeFileSync(join(dir, ACCOUNT_FILE), content);
    const error = await loadAccount(dir, REHEARSAL_ACCOUNT).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccountFileError);
    expect((error as Error).message).toContain(join(dir, ACCOUNT_FILE));
  });
});
