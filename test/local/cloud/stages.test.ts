import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanResultsHandler } from "../../../functions/scan-results/index.ts";
import { scheduledScanHandler } from "../../../functions/scheduled-scan/index.ts";
import { REHEARSAL_ACCOUNT } from "../../../local/cloud/credentials.ts";
import type { RecordedCall } from "../../../local/cloud/record.ts";
import { startCloudStandIn } from "../../../local/cloud/server.ts";
import { rehearseDeploy, type RehearsalResult } from "../../../local/deploy/rehearse.ts";
import { LOCAL_ACCOUNT } from "../../../local/emulator/accounts.ts";
import { startEmulator } from "../../../local/emulator/server.ts";
import { readEnvironment } from "../../../shared/env.ts";
import { silentLogger } from "../../../shared/log.ts";
import { clockAt, startListener } from "../../helpers.ts";

// Two stages side by side in one account: `rehearse-deploy --stage dev`, then `--stage prod`, into one
// emulated account. Each gets its functions, its folder in the one state bucket, its EventBridge rule and
// its task names; then the functions run as deployed, each with its own environment, and a results look
// of one leaves the other's open runs alone. (A deploy to a second region: test/local/deploy/state-bucket.test.ts.)

const ROOT = resolve(".");
const work = mkdtempSync(join(tmpdir(), "csip-scan-stages-"));
const accountDir = join(work, "account");
const STATE_BUCKET = `csip-scan-state-${REHEARSAL_ACCOUNT.appId}`;

function copyProject(): void {
  for (const item of ["serverless.yml", "package.json", "tsconfig.json", "scripts", "config", "functions", "shared", "local"]) cpSync(join(ROOT, item), join(work, item), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));
}

/** One policy file for every stage, with no region: each deploy's region is its own. */
const policyFile = join(work, "policies.yaml");
writeFileSync(
  policyFile,
  `version: 1
timezone: UTC
notifiers:
  secops: { type: webhook, url: "\${SECOPS_WEBHOOK_URL}" }
assetGroups:
  web: { include: [{ tags: { tier: web } }] }
assetChange:
  eventBridge: { bus: default }
results: { checkEvery: 10m }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [web], scanItems: [port], maxAssetsPerTask: 2, notify: [secops], notifyOn: [results] }
`,
);

const readRecord = (file: string): RecordedCall[] =>
  readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as RecordedCall);

const deploys: Record<"dev" | "prod", { result: RehearsalResult; record: RecordedCall[] }> = {} as never;

beforeAll(async () => {
  copyProject();
  const env = { ...process.env, SECOPS_WEBHOOK_URL: "https://hooks.example.com/robot/stages", CSIP_SCAN_SCF_ROLE: undefined, CSIP_SCAN_PAGE_URL: undefined, TENCENTCLOUD_REGION: undefined };
  const rehearse = async (stage: keyof typeof deploys) => {
    const recordFile = join(work, `${stage}.jsonl`);
    const result = await rehearseDeploy({ configPath: policyFile, projectRoot: work, accountDir, recordFile, env, stage });
    deploys[stage] = { result, record: readRecord(recordFile) };
  };
  await rehearse("dev");
  await rehearse("prod");
}, 240_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A deployed function's environment as the deploy set it, by region and name. */
function environmentOf(result: RehearsalResult, region: string, name: string): Record<string, string> {
  const f = result.account.functions.find((fn) => fn.Region === region && fn.FunctionName === name);
  if (!f) throw new Error(`no function ${name} in ${region}`);
  return Object.fromEntries(f.Environment.map((v) => [v.Key, v.Value]));
}

const LOCATION = ["CSIP_SCAN_DEPLOYMENT", "CSIP_SCAN_STATE_BUCKET", "CSIP_SCAN_STATE_REGION", "CSIP_SCAN_STATE_PREFIX"];
const locationOf = (result: RehearsalResult, region: string, name: string) =>
  Object.fromEntries(Object.entries(environmentOf(result, region, name)).filter(([key]) => LOCATION.includes(key)));

describe("two stages deployed into one account", () => {
  it("each succeeds, and makes its own four functions", () => {
    for (const { result } of Object.values(deploys)) expect(result.exitCode, result.output).toBe(0);
    expect(deploys.prod.result.account.functions.map((f) => `${f.Region} ${f.FunctionName}`).sort()).toEqual(
      ["ap-guangzhou csip-scan-dev", "ap-guangzhou csip-scan-prod"].flatMap((p) => ["asset-change", "results-page", "scan-results", "scheduled-scan"].map((f) => `${p}-${f}`)),
    );
  });

  it("name a state location of their own in their functions' environment: one bucket, a folder each", () => {
    expect(locationOf(deploys.dev.result, "ap-guangzhou", "csip-scan-dev-scan-results")).toEqual({
      CSIP_SCAN_DEPLOYMENT: "dev-ap-guangzhou",
      CSIP_SCAN_STATE_BUCKET: STATE_BUCKET,
      CSIP_SCAN_STATE_REGION: "ap-guangzhou",
      CSIP_SCAN_STATE_PREFIX: "state/dev-ap-guangzhou/",
    });
    expect(locationOf(deploys.prod.result, "ap-guangzhou", "csip-scan-prod-scan-results")).toEqual({
      CSIP_SCAN_DEPLOYMENT: "prod-ap-guangzhou",
      CSIP_SCAN_STATE_BUCKET: STATE_BUCKET,
      CSIP_SCAN_STATE_REGION: "ap-guangzhou",
      CSIP_SCAN_STATE_PREFIX: "state/prod-ap-guangzhou/",
    });
  });

  it("make the state bucket once: the later deploy finds it through GET Service", () => {
    const stateCalls = (record: RecordedCall[]) => record.filter((c) => c.service === "cos" && c.params.Bucket === STATE_BUCKET).map((c) => `${c.action} ${String(c.params.Region)}`);
    expect(stateCalls(deploys.dev.record)).toEqual(["PutBucket ap-guangzhou"]);
    expect(stateCalls(deploys.prod.record)).toEqual(["GetBucketVersioning ap-guangzhou"]);
    expect(deploys.prod.result.account.buckets.filter((b) => b.Name === STATE_BUCKET).map((b) => b.Region)).toEqual(["ap-guangzhou"]);
  });

  it("keep an EventBridge rule each, named after its function and targeting it alone", () => {
    const { rules, targets } = deploys.prod.result.account;
    const described = rules.map((r) => `${r.Region} ${r.RuleName} -> ${targets.filter((t) => t.RuleId === r.RuleId).map((t) => String(t.TargetDescription.ResourceDescription).split("/function/")[1]).join(", ")}`);
    expect(described.sort()).toEqual([
      "ap-guangzhou csip-scan-dev-asset-change -> csip-scan-dev-asset-change/$LATEST",
      "ap-guangzhou csip-scan-prod-asset-change -> csip-scan-prod-asset-change/$LATEST",
    ]);
  });
});

describe("the deployed functions of two stages, run side by side", () => {
  it("a results look of one tells its own run and leaves the other's open runs and tasks alone", async () => {
    const emulator = await startEmulator({
      estate: [1, 2, 3].map((n) => ({ kind: "cvm" as const, id: `ins-stage00${n}`, tags: { tier: "web" } })),
      rateLimit: false,
      scanTiming: { queuedMs: 0, scanningMs: 0 },
    });
    const hook = await startListener();
    // The bucket the deploys made, served on 127.0.0.1 to the emulator's key.
    const cos = await startCloudStandIn({ account: { ...deploys.prod.result.account, objects: [] }, keys: [LOCAL_ACCOUNT] });
    try {
      /** A deployment's functions as SCF runs them: its environment from the deploy, the local stand-ins for the cloud. */
      const functionsOf = (result: RehearsalResult, region: string, stage: string) => {
        const env = readEnvironment({
          ...environmentOf(result, region, `csip-scan-${stage}-scan-results`),
          CSIP_SCAN_CONFIG: policyFile,
          SECOPS_WEBHOOK_URL: `${hook.url}/${stage}-${region}`,
          TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId,
          TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey,
          TENCENTCLOUD_REGION: region,
          CSIP_ENDPOINT: emulator.url,
          CSIP_SCAN_COS_ENDPOINT: cos.url,
          CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1",
        });
        const options = { env: () => env, logger: silentLogger(), throwOnFailure: false };
        return {
          scan: () => scheduledScanHandler({ ...options, clock: clockAt("2026-11-29T03:00:05Z") })({ Type: "Timer", TriggerName: "csip-scan-0_0_3_x_x_x_x-cc3761", Time: "2026-11-29T03:00:00Z" }, {}),
          look: () => scanResultsHandler({ ...options, clock: clockAt("2026-11-29T03:10:00Z") })({ Type: "Timer", TriggerName: "csip-scan-results", Time: "2026-11-29T03:10:00Z" }, {}),
        };
      };
      const dev = functionsOf(deploys.dev.result, "ap-guangzhou", "dev");
      const prod = functionsOf(deploys.prod.result, "ap-guangzhou", "prod");
      // The same policy at the same time in both stages: the same run, but each stage's own tasks.
      expect((await dev.scan()).ok).toBe(true);
      expect((await prod.scan()).ok).toBe(true);
      expect(emulator.state.tasks.map((t) => t.TaskName).sort()).toEqual([
        "csip-scan-dev-ap-guangzhou:nightly:20261129T030000Z:1",
        "csip-scan-dev-ap-guangzhou:nightly:20261129T030000Z:2",
        "csip-scan-prod-ap-guangzhou:nightly:20261129T030000Z:1",
        "csip-scan-prod-ap-guangzhou:nightly:20261129T030000Z:2",
      ]);
      const openRuns = () => cos.account.objects.filter((o) => o.Key.includes("/collections/results-open/")).map((o) => o.Key).sort();
      expect(openRuns()).toEqual([
        "state/dev-ap-guangzhou/collections/results-open/run/csip-scan-dev-ap-guangzhou:nightly:20261129T030000Z.json",
        "state/prod-ap-guangzhou/collections/results-open/run/csip-scan-prod-ap-guangzhou:nightly:20261129T030000Z.json",
      ]);

      const devLook = await dev.look();
      expect(devLook.told.map((t) => [t.policy, t.status])).toEqual([["nightly", "all clear"]]);
      expect(devLook.duplicatesRemoved).toEqual([]);
      // prod's run is still open, its tasks untouched (neither stopped nor deleted), and nothing was told to it.
      expect(openRuns()).toEqual(["state/prod-ap-guangzhou/collections/results-open/run/csip-scan-prod-ap-guangzhou:nightly:20261129T030000Z.json"]);
      expect(emulator.state.tasks.filter((t) => t.TaskName.startsWith("csip-scan-prod-")).map((t) => t.end?.status)).toEqual([2, 2]);
      expect(emulator.callsOf("StopRiskCenterTask")).toEqual([]);
      expect(hook.received.map((r) => r.url)).toEqual(["/hook/dev-ap-guangzhou"]);

      const prodLook = await prod.look();
      expect(prodLook.told.map((t) => [t.policy, t.status])).toEqual([["nightly", "all clear"]]);
      expect(openRuns()).toEqual([]);
      expect(hook.received.map((r) => r.url)).toEqual(["/hook/dev-ap-guangzhou", "/hook/prod-ap-guangzhou"]);
    } finally {
      await cos.close();
      await hook.close();
      await emulator.close();
    }
  });
});
