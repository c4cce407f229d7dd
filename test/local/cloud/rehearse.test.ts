import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventPattern } from "../../../shared/events/extractors.ts";
import { timerName } from "../../../shared/state/keys.ts";
import { ACCOUNT_FILE } from "../../../local/cloud/account.ts";
import { REHEARSAL_ACCOUNT } from "../../../local/cloud/credentials.ts";
import type { RecordedCall } from "../../../local/cloud/record.ts";
import { formatAccount, rehearseDeploy, type RehearsalResult } from "../../../local/deploy/rehearse.ts";

// The deploy rehearsed end to end: the real `serverless deploy` (the pinned plugin and the project's own),
// in a copy of the project, twice against one account folder: 13 policies on 3 schedules with CKafka (a
// batch of 5,000, over the pinned plugin's 999) and EventBridge, then the same file with one schedule
// removed, whose timer was moved to the $DEFAULT qualifier in between. The stand-in drops every
// connection to the pinned plugin's own host (local/cloud/tools.ts), as if it were unreachable.

const ROOT = resolve(".");
const SECRET_URL = "https://hooks.example.com/robot/rehearsal-secret-path-5d8e";
const work = mkdtempSync(join(tmpdir(), "csip-scan-rehearsal-"));
const accountDir = join(work, "account");

const SCHEDULES = ["0 0 3 * * * *", "0 30 4 ? * SAT *", "0 15 */6 * * * *"];
/** A policy file of 13 policies spread over `schedules`. */
function policyFile(name: string, schedules: readonly string[]): string {
  const policies = Array.from({ length: 13 }, (_, i) => `  - { name: team-${i}, schedule: "${schedules[i % schedules.length]}", targets: [web], scanItems: [port], notify: [secops] }`);
  const file = join(work, name);
  writeFileSync(
    file,
    `version: 1
region: ap-guangzhou
notifiers:
  secops: { type: webhook, url: "\${SECOPS_WEBHOOK_URL}" }
assetGroups:
  web: { include: [{ tags: { tier: web } }] }
assetChange:
  ckafka: { instance: ckafka-0a1b2c3d, topic: asset-events, maxMsgNum: 5000 }
  eventBridge: { bus: default }
policies:
${policies.join("\n")}
`,
  );
  return file;
}

function copyProject(): void {
  for (const item of ["serverless.yml", "package.json", "tsconfig.json", "scripts", "config", "functions", "shared", "local"]) cpSync(join(ROOT, item), join(work, item), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));
}

/** Points a timer of the saved account at the $DEFAULT qualifier, as someone might in the console. */
function moveTimerToDefault(name: string): void {
  const file = join(accountDir, ACCOUNT_FILE);
  const account = JSON.parse(readFileSync(file, "utf8")) as { functions: { Triggers: { TriggerName: string; Qualifier: string }[] }[] };
  for (const f of account.functions) for (const t of f.Triggers) if (t.TriggerName === name) t.Qualifier = "$DEFAULT";
  writeFileSync(file, JSON.stringify(account));
}

const readRecord = (file: string): RecordedCall[] =>
  readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as RecordedCall);
const calls = (record: RecordedCall[], action: string): RecordedCall[] => record.filter((c) => c.action === action);
const env = { ...process.env, SECOPS_WEBHOOK_URL: SECRET_URL, CSIP_SCAN_SCF_ROLE: undefined };

/** What the first rehearsal handed on as it came. */
const streamed: string[] = [];
let first: RehearsalResult;
let second: RehearsalResult;
let firstRecord: RecordedCall[];
let secondRecord: RecordedCall[];

beforeAll(async () => {
  copyProject();
  const rehearse = (config: string, record: string, onOutput?: (text: string) => void) =>
    rehearseDeploy({ configPath: config, projectRoot: work, accountDir, recordFile: join(work, record), env, ...(onOutput ? { onOutput } : {}) });
  first = await rehearse(policyFile("first.yaml", SCHEDULES), "first.jsonl", (text) => streamed.push(text));
  moveTimerToDefault(timerName(SCHEDULES[2]!));
  second = await rehearse(policyFile("second.yaml", SCHEDULES.slice(0, 2)), "second.jsonl");
  firstRecord = readRecord(join(work, "first.jsonl"));
  secondRecord = readRecord(join(work, "second.jsonl"));
}, 200_000);
// The copy links node_modules; removing the link leaves the checkout's alone.
afterAll(() => rmSync(work, { recursive: true, force: true }));

const triggersOf = (result: RehearsalResult, fn: string) =>
  result.account.functions.find((f) => f.FunctionName === `csip-scan-dev-${fn}`)?.Triggers.map((t) => `${t.Type} ${t.TriggerName}`).sort();
const timers = (schedules: readonly string[]) => schedules.map((s) => `timer ${timerName(s)}`).sort();

/** The record's lines that are not Tencent Cloud API or COS calls. */
const offPath = (record: RecordedCall[]) => record.filter((c) => !["cam", "cos", "scf", "tag", "eb"].includes(c.service)).map((c) => `${c.service} ${c.action} ${JSON.stringify(c.params)}`);

describe("a first rehearsal, in a fresh account", () => {
  it("deploys with the plugin's own host unreachable: it never asked it (real-name check, telemetry), and nothing went anywhere but Tencent Cloud", () => {
    expect(first.exitCode, first.output).toBe(0);
    // Only serverless's probe of docker's version, for a telemetry payload it does not send, was refused.
    expect([...offPath(firstRecord), ...offPath(secondRecord)]).toEqual(Array(2).fill('redirect refused process {"target":"docker"}'));
  });

  it("hands on what the build and the deploy print as it comes, secrets masked", () => {
    expect(streamed.length).toBeGreaterThan(1);
    expect(streamed.join("")).toContain("Created function csip-scan-dev-scheduled-scan");
    expect(streamed.join("")).not.toContain(SECRET_URL);
  });

  it("creates the four functions on Nodejs18.15", () => {
    expect(first.account.functions.map((f) => [f.FunctionName, f.Runtime]).sort()).toEqual([
      ["csip-scan-dev-asset-change", "Nodejs18.15"],
      ["csip-scan-dev-results-page", "Nodejs18.15"],
      ["csip-scan-dev-scan-results", "Nodejs18.15"],
      ["csip-scan-dev-scheduled-scan", "Nodejs18.15"],
    ]);
    expect(triggersOf(first, "scan-results")).toEqual([`timer ${timerName("0 */10 * * * * *")}`]);
  });

  it("13 policies on 3 schedules: 3 timers, named from their schedules", () => {
    expect(triggersOf(first, "scheduled-scan")).toEqual(timers(SCHEDULES));
  });

  it("the CKafka trigger exists, named as the pinned plugin would, with its batch of 5,000; the EventBridge target made its own", () => {
    const asset = first.account.functions.find((f) => f.FunctionName === "csip-scan-dev-asset-change")!;
    expect(triggersOf(first, "asset-change")).toEqual(["ckafka ckafka-0a1b2c3d-asset-events", `eb ${first.account.targets[0]!.TargetId}`]);
    expect(JSON.parse(asset.Triggers.find((t) => t.Type === "ckafka")!.TriggerDesc)).toEqual({ maxMsgNum: "5000", offset: "latest", retry: "10000", timeOut: "60", topicName: "asset-events" });
  });

  it("an EventBridge rule on the default bus, its pattern from the extractor table, targets asset-change", () => {
    expect(first.account.rules.map((r) => [r.RuleName, JSON.parse(r.EventPattern)])).toEqual([["csip-scan-asset-change", eventPattern()]]);
    const target = first.account.targets.map((t) => [t.Type, t.TargetDescription.ResourceDescription]);
    expect(target).toEqual([["scf", expect.stringMatching(/^qcs::scf:ap-guangzhou:uin\/\d+:namespace\/default\/function\/csip-scan-dev-asset-change\/\$LATEST$/)]]);
    expect(calls(firstRecord, "CreateRule").map((c) => c.service)).toEqual(["eb"]);
  });

  it("records each call as sent", () => {
    expect(calls(firstRecord, "CreateFunction").map((c) => c.params.FunctionName)).toEqual([
      "csip-scan-dev-scheduled-scan",
      "csip-scan-dev-asset-change",
      "csip-scan-dev-scan-results",
      "csip-scan-dev-results-page",
    ]);
    expect(new Set(firstRecord.map((c) => c.service))).toEqual(new Set(["cam", "cos", "scf", "tag", "eb", "redirect"]));
  });
});

const STATE_BUCKET = `csip-scan-state-${REHEARSAL_ACCOUNT.appId}`;
const stateBucketCalls = (record: RecordedCall[]) => record.filter((c) => c.service === "cos" && c.params.Bucket === STATE_BUCKET).map((c) => `${c.action}${c.error ? ` ${c.error}` : ""}`);

describe("the state store's bucket", () => {
  it("is created once, private, in the deploy region, before any function; a second rehearsal finds it and leaves it", () => {
    expect(stateBucketCalls(firstRecord)).toEqual(["HeadBucket NoSuchBucket", "PutBucket"]);
    expect(calls(firstRecord, "PutBucket").find((c) => c.params.Bucket === STATE_BUCKET)?.params).toMatchObject({ Region: "ap-guangzhou", Acl: "private" });
    const putAt = firstRecord.findIndex((c) => c.action === "PutBucket" && c.params.Bucket === STATE_BUCKET);
    expect(putAt).toBeLessThan(firstRecord.findIndex((c) => c.action === "CreateFunction"));
    expect(stateBucketCalls(secondRecord)).toEqual(["HeadBucket", "GetBucketVersioning"]);
    expect(second.account.buckets.filter((b) => b.Name === STATE_BUCKET)).toEqual([expect.objectContaining({ Region: "ap-guangzhou", Acl: "private" })]);
    expect(second.account.buckets.find((b) => b.Name === STATE_BUCKET)?.Versioning).toBeUndefined();
  });

  it("is named in every function's environment, and the deploy says which CAM resource covers it", () => {
    for (const f of first.account.functions) expect(f.Environment.find((v) => v.Key === "CSIP_SCAN_STATE_BUCKET")?.Value).toBe(STATE_BUCKET);
    expect(first.output).toContain(`qcs::cos:ap-guangzhou:uid/${REHEARSAL_ACCOUNT.appId}:${STATE_BUCKET}/state/*`);
    expect(formatAccount(second.account)).toContain(`${STATE_BUCKET} (ap-guangzhou, private, versioning never enabled, 0 object(s)`);
  });
});

describe("the results-page function's URL", () => {
  const urlOf = (result: RehearsalResult) =>
    (JSON.parse(result.account.functions.find((f) => f.FunctionName === "csip-scan-dev-results-page")!.Triggers.find((t) => t.Type === "http")!.TriggerDesc) as { NetConfig: { ExtranetUrl: string } }).NetConfig.ExtranetUrl;

  it("is made once, after the functions, open and public, and every function is told it; the second rehearsal keeps it", () => {
    expect(calls(firstRecord, "CreateTrigger").filter((c) => c.params.Type === "http").map((c) => [c.params.FunctionName, JSON.parse(String(c.params.TriggerDesc))])).toEqual([
      ["csip-scan-dev-results-page", { AuthType: "NONE", NetConfig: { EnableIntranet: false, EnableExtranet: true } }],
    ]);
    expect(urlOf(second)).toBe(urlOf(first));
    for (const f of second.account.functions) expect(f.Environment.find((v) => v.Key === "CSIP_SCAN_PAGE_URL")?.Value, f.FunctionName).toBe(urlOf(first));
    expect(formatAccount(second.account)).toContain(`http csip-scan-page: function URL ${urlOf(first)} (AuthType NONE)`);
  });
});

describe("a second rehearsal with one schedule removed", () => {
  it("deploys, and updates the functions in place", () => {
    expect(second.exitCode, second.output).toBe(0);
    expect(calls(secondRecord, "CreateFunction")).toEqual([]);
    expect(second.account.functions.map((f) => f.FunctionId).sort()).toEqual(first.account.functions.map((f) => f.FunctionId).sort());
  });

  it("2 timers: the removed schedule's is deleted on its qualifier, the unchanged ones are left in place", () => {
    expect(triggersOf(second, "scheduled-scan")).toEqual(timers(SCHEDULES.slice(0, 2)));
    expect(calls(secondRecord, "DeleteTrigger").map((c) => [c.params.TriggerName, c.params.Qualifier])).toEqual([[timerName(SCHEDULES[2]!), "$DEFAULT"]]);
    expect(calls(secondRecord, "CreateTrigger")).toEqual([]);
  });

  it("keeps the CKafka trigger and the target's, and updates the rule", () => {
    expect(triggersOf(second, "asset-change")).toEqual(triggersOf(first, "asset-change"));
    expect(second.account.rules.map((r) => r.RuleName)).toEqual(["csip-scan-asset-change"]);
    expect(calls(secondRecord, "UpdateRule")).toHaveLength(1);
    expect(second.account.targets).toHaveLength(1);
  });

  it("is shown by formatAccount with names of environment variables, never their values", () => {
    const text = formatAccount(second.account);
    expect(text).toContain("csip-scan-dev-scheduled-scan (ap-guangzhou, namespace default)");
    expect(text).toContain("runtime Nodejs18.15, handler dist/scheduled-scan/index.main_handler, timeout 900 s");
    expect(text).toContain("environment: CSIP_SCAN_CONFIG, SECOPS_WEBHOOK_URL, CSIP_SCAN_STATE_BUCKET");
    for (const s of SCHEDULES.slice(0, 2)) expect(text).toContain(`timer ${timerName(s)}: ${s}`);
    expect(text).toContain("csip-scan-asset-change");
    expect(text).not.toContain("hooks.example.com");
  });
});

describe("secrets", () => {
  it("are in no output, record or account file", () => {
    const files = [join(work, "first.jsonl"), join(work, "second.jsonl"), join(accountDir, ACCOUNT_FILE)].map((f) => readFileSync(f, "utf8"));
    for (const text of [first.output, second.output, ...files]) {
      expect(text).not.toContain(SECRET_URL);
      expect(text).not.toContain(REHEARSAL_ACCOUNT.secretKey);
    }
  });
});

describe("a deploy that would break SCF's limits", () => {
  it("is refused before any call that changes the account", async () => {
    const record = join(work, "refused.jsonl");
    const result = await rehearseDeploy({
      configPath: policyFile("big.yaml", SCHEDULES),
      projectRoot: work,
      recordFile: record,
      env: { ...env, SECOPS_WEBHOOK_URL: `https://hooks.example.com/${"x".repeat(5000)}` },
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toContain("would break SCF's limits, so nothing was deployed");
    expect(result.output).toMatch(/csip-scan-dev-scheduled-scan: its environment is \d+ bytes, over SCF's 4096 \(the largest variable is SECOPS_WEBHOOK_URL\)/);
    const made = readRecord(record).filter((c) => c.service !== "redirect" && !c.action.startsWith("Get") && !c.action.startsWith("List") && !c.action.startsWith("Describe"));
    expect(made.map((c) => c.action)).toEqual([]);
  }, 60_000);
});
