import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeOptionsFor } from "../../../shared/config/heap-limits.ts";
import { eventPattern } from "../../../shared/events/extractors.ts";
import { timerName } from "../../../shared/state/keys.ts";
import { ACCOUNT_FILE } from "../../../local/cloud/account.ts";
import { REHEARSAL_ACCOUNT } from "../../../local/cloud/credentials.ts";
import type { RecordedCall } from "../../../local/cloud/record.ts";
import { formatAccount, rehearseDeploy, type RehearsalResult } from "../../../local/deploy/rehearse.ts";
import { readZip } from "../../../local/cloud/zip.ts";

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
memory: { scheduled-scan: 256 }
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

/**
 * Adds to the saved account a second target of the rule on the function's $DEFAULT qualifier, as an
 * earlier deploy made it: the next deploy deletes it (a path of docs/cam-deploy-policy.json's DeleteTarget).
 */
function addDefaultTarget(): void {
  const file = join(accountDir, ACCOUNT_FILE);
  const account = JSON.parse(readFileSync(file, "utf8")) as { targets: { TargetId: string; TargetDescription: { ResourceDescription: string } }[] };
  const [target] = account.targets;
  account.targets.push({ ...target!, TargetId: "target-default-qualifier", TargetDescription: { ResourceDescription: target!.TargetDescription.ResourceDescription.replace("$LATEST", "$DEFAULT") } });
  writeFileSync(file, JSON.stringify(account));
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
// The page function, which anyone may call through its URL, gets a role of its own.
const env = { ...process.env, SECOPS_WEBHOOK_URL: SECRET_URL, CSIP_SCAN_SCF_ROLE: undefined, CSIP_SCAN_PAGE_ROLE: "csip-scan-page", CSIP_SCAN_PAGE_URL: undefined };

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
  addDefaultTarget();
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
    expect(first.account.rules.map((r) => [r.RuleName, JSON.parse(r.EventPattern)])).toEqual([["csip-scan-dev-asset-change", eventPattern()]]);
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

describe("the policy file the deploy read", () => {
  it("is in the package, and every function is pointed at it: not config/scan-policies.yaml, which the package does not hold", () => {
    for (const [result, name] of [[first, "first.yaml"], [second, "second.yaml"]] as const) {
      for (const f of result.account.functions) expect(f.Environment.find((v) => v.Key === "CSIP_SCAN_CONFIG")?.Value, f.FunctionName).toBe(`/var/user/dist/config/${name}`);
      // The package this rehearsal uploaded (the stand-in keeps its bytes while it runs).
      const uploaded = result.account.objects.filter((o) => o.Key.endsWith(".zip") && o.Body !== undefined);
      expect(uploaded).toHaveLength(1);
      const zip = readZip(Buffer.from(uploaded[0]!.Body!, "base64"));
      expect(zip.get(`dist/config/${name}`)?.toString("utf8")).toBe(readFileSync(join(work, name), "utf8"));
      expect([...zip.keys()].filter((k) => !k.startsWith("dist/"))).toEqual([]);
    }
  });
});

describe("the state store's bucket", () => {
  it("is created once, private, in the deploy region, before any function; a second rehearsal finds it and leaves it", () => {
    // GET Service lists every bucket of the account with its region: none of that name yet.
    expect(calls(firstRecord, "GetService")[0]?.params).toEqual({});
    expect(stateBucketCalls(firstRecord)).toEqual(["PutBucket"]);
    expect(calls(firstRecord, "PutBucket").find((c) => c.params.Bucket === STATE_BUCKET)?.params).toMatchObject({ Region: "ap-guangzhou", Acl: "private" });
    const putAt = firstRecord.findIndex((c) => c.action === "PutBucket" && c.params.Bucket === STATE_BUCKET);
    expect(putAt).toBeLessThan(firstRecord.findIndex((c) => c.action === "CreateFunction"));
    expect(stateBucketCalls(secondRecord)).toEqual(["GetBucketVersioning"]);
    expect(second.account.buckets.filter((b) => b.Name === STATE_BUCKET)).toEqual([expect.objectContaining({ Region: "ap-guangzhou", Acl: "private" })]);
    expect(second.account.buckets.find((b) => b.Name === STATE_BUCKET)?.Versioning).toBeUndefined();
  });

  it("is named in every function's environment with the deployment's folder, and the deploy says which CAM resource covers it", () => {
    for (const f of first.account.functions) {
      expect(Object.fromEntries(f.Environment.filter((v) => v.Key.startsWith("CSIP_SCAN_S") || v.Key === "CSIP_SCAN_DEPLOYMENT").map((v) => [v.Key, v.Value]))).toEqual({
        // The page function names no task: it is told only where its state is.
        ...(f.FunctionName === "csip-scan-dev-results-page" ? {} : { CSIP_SCAN_DEPLOYMENT: "dev-ap-guangzhou" }),
        CSIP_SCAN_STATE_BUCKET: STATE_BUCKET,
        CSIP_SCAN_STATE_REGION: "ap-guangzhou",
        CSIP_SCAN_STATE_PREFIX: "state/dev-ap-guangzhou/",
      });
    }
    const bucket = `qcs::cos:ap-guangzhou:uid/${REHEARSAL_ACCOUNT.appId}:${STATE_BUCKET}`;
    expect(first.output).toContain(`${bucket}/state/dev-ap-guangzhou/*`);
    expect(first.output).toContain(
      `csip-scan-dev-results-page runs with the role csip-scan-page, which needs docs/cam-page-policy.json's statements: GetObject on ${bucket}/state/dev-ap-guangzhou/pages/* and ${bucket}/state/dev-ap-guangzhou/results-page/signing-key.json, PutObject on ${bucket}/state/dev-ap-guangzhou/cold-start/results-page.json, GetBucketVersioning on ${bucket}/*`,
    );
    expect(formatAccount(second.account)).toContain(`${STATE_BUCKET} (ap-guangzhou, private, versioning never enabled, 0 object(s)`);
  });
});

describe("each function's heap", () => {
  const variable = (result: RehearsalResult, fn: string, key: string) =>
    result.account.functions.find((f) => f.FunctionName === `csip-scan-dev-${fn}`)?.Environment.find((v) => v.Key === key)?.Value;

  it("each function gets the node flags of its own memory, and the variables every function shares", () => {
    for (const result of [first, second]) {
      expect(result.account.functions.map((f) => [f.FunctionName, f.MemorySize]).sort()).toEqual([
        ["csip-scan-dev-asset-change", 128],
        ["csip-scan-dev-results-page", 128],
        ["csip-scan-dev-scan-results", 128],
        ["csip-scan-dev-scheduled-scan", 256],
      ]);
      expect(variable(result, "scheduled-scan", "NODE_OPTIONS")).toBe(nodeOptionsFor(256));
      expect(variable(result, "scheduled-scan", "CSIP_SCAN_MEMORY_MB")).toBe("256");
      for (const fn of ["asset-change", "results-page", "scan-results"]) {
        expect(variable(result, fn, "NODE_OPTIONS")).toBe(nodeOptionsFor(128));
        expect(variable(result, fn, "CSIP_SCAN_MEMORY_MB")).toBe("128");
      }
      for (const fn of ["scheduled-scan", "asset-change", "scan-results"]) {
        expect(variable(result, fn, "SECOPS_WEBHOOK_URL")).toBe(SECRET_URL);
        expect(variable(result, fn, "CSIP_SCAN_STATE_BUCKET")).toBe(STATE_BUCKET);
      }
    }
  });

  it("the page function, which anyone may call, gets where its policy file and state are and its node flags: no webhook, no other variable", () => {
    for (const result of [first, second]) {
      const page = result.account.functions.find((f) => f.FunctionName === "csip-scan-dev-results-page")!;
      expect(page.Environment.map((v) => v.Key)).toEqual(["CSIP_SCAN_CONFIG", "CSIP_SCAN_MEMORY_MB", "CSIP_SCAN_STATE_BUCKET", "CSIP_SCAN_STATE_PREFIX", "CSIP_SCAN_STATE_REGION", "NODE_OPTIONS"]);
      expect(JSON.stringify(page.Environment)).not.toContain("hooks.example.com");
    }
    const made = calls(firstRecord, "CreateFunction").find((c) => c.params.FunctionName === "csip-scan-dev-results-page")!;
    expect((made.params.Environment as { Variables: { Key: string }[] }).Variables.map((v) => v.Key)).not.toContain("SECOPS_WEBHOOK_URL");
  });

  it("the record shows each function's node flags and memory as they were sent, and nothing secret", () => {
    const sent = calls(firstRecord, "CreateFunction").map((c) => {
      const variables = (c.params.Environment as { Variables: { Key: string; Value: string }[] }).Variables;
      return [c.params.FunctionName, variables.find((v) => v.Key === "NODE_OPTIONS")?.Value, variables.find((v) => v.Key === "CSIP_SCAN_MEMORY_MB")?.Value];
    });
    expect(sent.sort()).toEqual([
      ["csip-scan-dev-asset-change", nodeOptionsFor(128), "128"],
      ["csip-scan-dev-results-page", nodeOptionsFor(128), "128"],
      ["csip-scan-dev-scan-results", nodeOptionsFor(128), "128"],
      ["csip-scan-dev-scheduled-scan", nodeOptionsFor(256), "256"],
    ]);
    expect(JSON.stringify(firstRecord)).not.toContain(SECRET_URL);
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
    for (const f of second.account.functions) {
      // The page function makes no link.
      expect(f.Environment.find((v) => v.Key === "CSIP_SCAN_PAGE_URL")?.Value, f.FunctionName).toBe(f.FunctionName === "csip-scan-dev-results-page" ? undefined : urlOf(first));
    }
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
    expect(second.account.rules.map((r) => r.RuleName)).toEqual(["csip-scan-dev-asset-change"]);
    expect(calls(secondRecord, "UpdateRule")).toHaveLength(1);
    // The rule's target on $DEFAULT an earlier deploy made is deleted; the $LATEST one stays.
    expect(calls(secondRecord, "DeleteTarget").map((c) => c.params.TargetId)).toEqual(["target-default-qualifier"]);
    expect(second.account.targets).toHaveLength(1);
  });

  it("is shown by formatAccount with names of environment variables, never their values", () => {
    const text = formatAccount(second.account);
    expect(text).toContain("csip-scan-dev-scheduled-scan (ap-guangzhou, namespace default)");
    expect(text).toContain("runtime Nodejs18.15, handler dist/scheduled-scan/index.main_handler, timeout 900 s");
    expect(text).toContain(
      "environment: CSIP_SCAN_CONFIG, CSIP_SCAN_DEPLOYMENT, CSIP_SCAN_MEMORY_MB, CSIP_SCAN_PAGE_URL, CSIP_SCAN_STATE_BUCKET, CSIP_SCAN_STATE_PREFIX, CSIP_SCAN_STATE_REGION, NODE_OPTIONS, SECOPS_WEBHOOK_URL",
    );
    for (const s of SCHEDULES.slice(0, 2)) expect(text).toContain(`timer ${timerName(s)}: ${s}`);
    expect(text).toContain("csip-scan-dev-asset-change");
    expect(text).not.toContain("hooks.example.com");
  });
});

const DEPLOY_POLICY = JSON.parse(readFileSync("docs/cam-deploy-policy.json", "utf8")) as { statement: { effect: string; action: string[]; resource: string[] }[] };

/**
 * What the deploy asks for that the deploy user is not given: the pinned plugin tries, at each function,
 * to make SCF's configuration role SCF_QcsRole and attach its policy (deploy/lib/deployFunction.js addRole),
 * and goes on when that fails. Rights to make roles and attach policies would let the deploy user grant
 * itself anything; SCF's console makes that role once, for the root account (docs/deploying.md).
 */
const NOT_GRANTED = ["cam:ListPolicies", "cam:CreateRole", "cam:AttachRolePolicy"];

/** What no request shows but CAM checks: passing the functions' role to SCF (CreateFunction's Role). */
const IMPLIED = ["cam:PassRole"];

/** The CAM resource of a recorded call, as docs/cam-deploy-policy.json names resources; "*" where it names none. */
function resourceOf(call: RecordedCall): string {
  const p = call.params as Record<string, string | undefined>;
  if (call.service === "scf" && p.FunctionName) return `qcs::scf:ap-guangzhou:uin/${REHEARSAL_ACCOUNT.uin}:namespace/${p.Namespace ?? "default"}/function/${p.FunctionName}`;
  if (call.service === "cos" && p.Bucket) return `qcs::cos:${p.Region}:uid/${REHEARSAL_ACCOUNT.appId}:${p.Bucket}/${p.Key ?? "*"}`;
  return "*";
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Whether a statement's resource pattern (`*` any text, `<UIN>` and `<APPID>` the account's) covers a resource. */
function covers(pattern: string, resource: string): boolean {
  const filled = pattern.replaceAll("<UIN>", REHEARSAL_ACCOUNT.uin).replaceAll("<APPID>", REHEARSAL_ACCOUNT.appId);
  return new RegExp(`^${filled.split("*").map(escapeRegExp).join(".*")}$`).test(resource);
}

describe("docs/cam-deploy-policy.json, the deploy user's least privilege", () => {
  const apiCalls = () => [...firstRecord, ...secondRecord].filter((c) => ["cam", "cos", "scf", "tag", "eb"].includes(c.service));

  it("allows exactly the actions the rehearsed deploys called, but the pinned plugin's attempt to make SCF's own role", () => {
    const called = new Set(apiCalls().map((c) => `${c.service}:${c.action}`));
    for (const action of NOT_GRANTED) expect(called, action).toContain(action);
    const granted = DEPLOY_POLICY.statement.flatMap((s) => s.action);
    expect(DEPLOY_POLICY.statement.every((s) => s.effect === "allow")).toBe(true);
    expect(new Set(granted.filter((a) => !IMPLIED.includes(a)))).toEqual(new Set([...called].filter((a) => !NOT_GRANTED.includes(a))));
    // Among them HeadBucket's successor GET Service, PUT Bucket and GET Bucket versioning of the state
    // bucket, and the pinned plugin's own upload of its code package to a bucket of its own.
    expect(granted).toEqual(expect.arrayContaining(["cos:GetService", "cos:PutBucket", "cos:GetBucketVersioning", "cos:PutObject"]));
  });

  it("on the resources each call touched: csip-scan's functions, the state bucket, the plugin's code bucket", () => {
    for (const call of apiCalls().filter((c) => !NOT_GRANTED.includes(`${c.service}:${c.action}`))) {
      const resource = resourceOf(call);
      const statements = DEPLOY_POLICY.statement.filter((s) => s.action.includes(`${call.service}:${call.action}`));
      expect(statements.some((s) => s.resource.some((pattern) => (resource === "*" ? pattern === "*" : covers(pattern, resource)))), `${call.service}:${call.action} on ${resource}`).toBe(true);
    }
    // Nothing broader than a call needed: no statement with a resource of its own covers another deployment's name.
    expect(covers("qcs::scf:*:uin/<UIN>:namespace/default/function/csip-scan-*", `qcs::scf:ap-guangzhou:uin/${REHEARSAL_ACCOUNT.uin}:namespace/default/function/billing-api`)).toBe(false);
  });

  it("lets the deploy pass to SCF the roles its functions are made with: the functions', and the page function's own", () => {
    const roles = new Set(calls(firstRecord, "CreateFunction").map((c) => String(c.params.Role)));
    expect(Object.fromEntries(first.account.functions.map((f) => [f.FunctionName, f.Role]))).toEqual({
      "csip-scan-dev-scheduled-scan": "csip-scan-scf",
      "csip-scan-dev-asset-change": "csip-scan-scf",
      "csip-scan-dev-scan-results": "csip-scan-scf",
      "csip-scan-dev-results-page": "csip-scan-page",
    });
    const passRole = DEPLOY_POLICY.statement.find((s) => s.action.includes("cam:PassRole"))!;
    expect(passRole.resource).toEqual([...roles].map((role) => `qcs::cam::uin/<UIN>:roleName/${role}`));
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
