import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EB_SERVICE_ROLE, freshAccount, type AccountState } from "../../../local/cloud/account.ts";
import { REHEARSAL_ACCOUNT } from "../../../local/cloud/credentials.ts";
import { runRedirected } from "../../../local/cloud/redirected.ts";
import { startCloudStandIn, type CloudStandIn } from "../../../local/cloud/server.ts";

// The project's deploy plugin's own steps, without the whole `serverless deploy` (test/local/cloud/rehearse.test.ts
// runs that): its hooks called as serverless calls them, on a service as serverless.yml gives it.

const ROOT = resolve(".");
const dir = mkdtempSync(join(tmpdir(), "csip-scan-plugin-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NAMES = ["scheduled-scan", "asset-change", "scan-results", "results-page"] as const;

/** A policy file with an EventBridge rule to make, and the deploying user's credentials file. */
const policyFile = join(dir, "policies.yaml");
writeFileSync(
  policyFile,
  `version: 1
region: ap-guangzhou
assetChange:
  eventBridge: { bus: default }
notifiers:
  secops: { type: webhook, url: "\${SECOPS_WEBHOOK_URL}", secret: "\${SECOPS_SECRET}" }
timeouts: { requestSeconds: "\${REQUEST_SECONDS}" }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", all: true, scanItems: [port], notify: [secops] }
`,
);
/** What the policy file names, set where the deploy runs. */
const VARIABLES = { SECOPS_WEBHOOK_URL: "https://hooks.example.com/robot/plugin-secret", SECOPS_SECRET: "plugin-test-secret", REQUEST_SECONDS: "5" };
const credentialsFile = join(dir, "credentials");
writeFileSync(credentialsFile, `[default]\ntencent_secret_id = ${REHEARSAL_ACCOUNT.secretId}\ntencent_secret_key = ${REHEARSAL_ACCOUNT.secretKey}\n`);

describe("the plugin's hooks", () => {
  let standIn: CloudStandIn;
  let outcome: { refused?: string; after: { error?: string; notices: string[] } };
  /** The state bucket and its PutBucket calls once the refused deploy had run. */
  let afterRefusal: { buckets: unknown[]; putBucket: number };
  /** Each function's environment as the plugin leaves it for the pinned plugin, after the next deploy's before-hook. */
  let environments: Record<string, Record<string, string>>;

  /** The four functions as the pinned plugin leaves them on a first deploy: made, with their variables, no URL yet. */
  function deployedAccount(): AccountState {
    const account = freshAccount(REHEARSAL_ACCOUNT);
    // EventBridge never activated in this account: the rule's target cannot be made.
    account.roles = account.roles.filter((r) => r.RoleName !== EB_SERVICE_ROLE);
    for (const [i, name] of NAMES.entries()) {
      account.functions.push({
        Region: "ap-guangzhou", Namespace: "default", FunctionName: `csip-scan-dev-${name}`, FunctionId: `lam-0000000${i}`, Runtime: "Nodejs18.15",
        Handler: `dist/${name}/index.main_handler`, Description: "", MemorySize: 128, Timeout: 30, Role: "csip-scan-scf", Type: "Event",
        InstallDependency: "FALSE", Environment: [{ Key: "CSIP_SCAN_CONFIG", Value: "/var/user/config/scan-policies.yaml" }], VpcConfig: { VpcId: "", SubnetId: "" },
        CodeLocation: "ZipFile", CodeSize: 1, AddTime: "2026-01-01 00:00:00", ModTime: "2026-01-01 00:00:00", BusyStatus: "Creating", BusyUntil: 0, Triggers: [],
      });
    }
    return account;
  }

  beforeAll(async () => {
    standIn = await startCloudStandIn({ account: deployedAccount(), settleMs: 0 });
    // serverless runs the plugin's hooks in its own process, which the rehearsal's redirect sends to the stand-in.
    // In a child under the rehearsal's redirect, as serverless runs them: the plugin's clients reach the stand-in
    // and nothing else, whatever the code under test does.
    const script = `
const { register } = require("tsx/cjs/api");
const unregister = register();
const { CsipScanDeployPlugin } = require("./local/deploy/plugin.ts");
unregister();
const notices = [];
const plugin = (stage) => {
  const functions = Object.fromEntries(${JSON.stringify(NAMES)}.map((name) => [name, { name: "csip-scan-" + stage + "-" + name, events: [] }]));
  const serverless = { service: { service: "csip-scan", provider: { region: "ap-guangzhou", stage, credentials: ${JSON.stringify(credentialsFile)} }, functions }, classes: { Error } };
  return new CsipScanDeployPlugin(serverless, {}, { log: { notice: (m) => notices.push(m), warning: (m) => notices.push(m) } });
};
(async () => {
  // A pages' URL someone set in this shell for dev, and the next deploy is prod's.
  process.env.CSIP_SCAN_PAGE_URL = "https://dev-reports.example.com";
  const refused = await plugin("prod").hooks["before:deploy:deploy"]().then(() => undefined, (e) => e.message);
  delete process.env.CSIP_SCAN_PAGE_URL;
  const after = await plugin("dev").hooks["after:deploy:deploy"]().then(() => ({ notices }), (e) => ({ error: e.message, notices }));
  return { refused, after };
})().then((r) => process.stdout.write(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`;
    const env = { ...process.env, CSIP_SCAN_CONFIG: policyFile, CSIP_SCAN_PAGE_URL: undefined, ...VARIABLES };
    const child = await runRedirected(standIn.url, script, { cwd: ROOT, env });
    if (child.code !== 0) throw new Error(child.stderr);
    outcome = JSON.parse(child.stdout) as typeof outcome;
    afterRefusal = { buckets: [...standIn.account.buckets], putBucket: standIn.calls.filter((c) => c.action === "PutBucket").length };

    // The next deploy of dev, up to the pinned plugin's: the service as serverless.yml gives it (the shared
    // variables at the provider, each function's node flags), then the plugin's before-hook.
    const next = await runRedirected(
      standIn.url,
      `
const { register } = require("tsx/cjs/api");
const unregister = register();
const { CsipScanDeployPlugin } = require("./local/deploy/plugin.ts");
const { deploySettings } = require("./local/deploy/settings.ts");
const { readEnvironment } = require("./shared/env.ts");
unregister();
(async () => {
  const settings = await deploySettings(readEnvironment());
  const functions = Object.fromEntries(Object.entries(settings.functions).map(([name, f]) => [name, { name: "csip-scan-dev-" + name, events: [], environment: f.environment }]));
  const provider = { region: "ap-guangzhou", stage: "dev", credentials: ${JSON.stringify(credentialsFile)}, environment: { variables: settings.environment } };
  const serverless = { service: { service: "csip-scan", provider, functions }, classes: { Error } };
  await new CsipScanDeployPlugin(serverless, {}, { log: { notice: () => {}, warning: () => {} } }).hooks["before:deploy:deploy"]();
  return Object.fromEntries(Object.entries(functions).map(([name, f]) => [name, f.environment.variables]));
})().then((r) => process.stdout.write(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`,
      { cwd: ROOT, env },
    );
    if (next.code !== 0) throw new Error(next.stderr);
    environments = JSON.parse(next.stdout) as typeof environments;
  }, 60_000);
  afterAll(() => standIn.close());

  it("a pages' URL set for every stage at once (CSIP_SCAN_PAGE_URL) stops the deploy before it changes anything, naming the stage's own variable", () => {
    expect(outcome.refused).toBe(
      "csip-scan: CSIP_SCAN_PAGE_URL is set where you deploy and would apply to whichever stage is deployed: to give stage prod a URL of your own, set CSIP_SCAN_PAGE_URL_PROD (and unset CSIP_SCAN_PAGE_URL); to use the function URL the deploy makes, unset CSIP_SCAN_PAGE_URL; nothing was deployed",
    );
    // Before anything changed: the state bucket, the deploy's first change, was not made.
    expect(afterRefusal).toEqual({ buckets: [], putBucket: 0 });
  });

  it("makes the pages' URL before the steps that may fail: an EventBridge rule that cannot be made leaves the live functions linking their pages", () => {
    expect(outcome.after.error).toMatch(/^csip-scan: the EventBridge rule could not be made: .*activate EventBridge in its console once/);
    const page = standIn.account.functions.find((f) => f.FunctionName === "csip-scan-dev-results-page")!;
    const url = (JSON.parse(page.Triggers.find((t) => t.Type === "http")!.TriggerDesc) as { NetConfig: { ExtranetUrl: string } }).NetConfig.ExtranetUrl;
    expect(url).toMatch(/^https:\/\/1250000000-[a-z0-9]{10}\.ap-guangzhou\.tencentscf\.com$/);
    const pageUrlOf = (name: string) => standIn.account.functions.find((f) => f.FunctionName === `csip-scan-dev-${name}`)!.Environment.find((v) => v.Key === "CSIP_SCAN_PAGE_URL")?.Value;
    expect(NAMES.map(pageUrlOf)).toEqual([url, url, url, undefined]);
  });

  it("gives the page function, which anyone may call, where its policy file and state are and what its state settings name: no webhook, secret or pages' URL", () => {
    const url = environments["scan-results"]!.CSIP_SCAN_PAGE_URL;
    expect(url).toMatch(/^https:\/\/1250000000-/);
    expect(Object.keys(environments["results-page"]!)).toEqual([
      "CSIP_SCAN_CONFIG",
      "CSIP_SCAN_MEMORY_MB",
      "CSIP_SCAN_STATE_BUCKET",
      "CSIP_SCAN_STATE_PREFIX",
      "CSIP_SCAN_STATE_REGION",
      "NODE_OPTIONS",
      "REQUEST_SECONDS",
    ]);
    for (const name of ["scheduled-scan", "asset-change", "scan-results"]) {
      expect(environments[name], name).toMatchObject({ ...VARIABLES, CSIP_SCAN_DEPLOYMENT: "dev-ap-guangzhou", CSIP_SCAN_PAGE_URL: url, CSIP_SCAN_STATE_PREFIX: "state/dev-ap-guangzhou/" });
    }
  });
});
