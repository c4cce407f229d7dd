import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTIONS } from "../../../functions/index.ts";
import { loadConfig } from "../../../shared/config/load.ts";
import { ACCOUNT_FILE } from "../../../local/cloud/account.ts";
import { REHEARSAL_ACCOUNT } from "../../../local/cloud/credentials.ts";
import type { RecordedCall } from "../../../local/cloud/record.ts";
import { formatAccount, rehearseDeploy, type RehearsalResult } from "../../../local/deploy/rehearse.ts";
import { envOf } from "../../helpers.ts";

// The rehearsal end to end: the real `serverless deploy` on the shipped policy file, twice against one account
// folder, in a copy of the project (the build writes dist/, the deploy .serverless/).

const ROOT = resolve(".");
const SHIPPED = join(ROOT, "config", "scan-policies.yaml");
const SECRET_URL = "https://hooks.example.com/robot/rehearsal-secret-path-5d8e";
const work = mkdtempSync(join(tmpdir(), "csip-scan-rehearsal-"));
const accountDir = join(work, "account");

function copyProject(): void {
  for (const item of ["serverless.yml", "package.json", "tsconfig.json", "scripts", "config", "functions", "shared", "local"]) cpSync(join(ROOT, item), join(work, item), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));
}

const readRecord = (file: string): RecordedCall[] =>
  readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as RecordedCall);

const calls = (record: RecordedCall[], action: string): RecordedCall[] => record.filter((c) => c.action === action);

let first: RehearsalResult;
let second: RehearsalResult;
let firstRecord: RecordedCall[];
let secondRecord: RecordedCall[];
/** The timers the function table says the shipped policy file deploys (one per policy, or per schedule). */
let timers: { type: string; name: string; cron: string }[];

beforeAll(async () => {
  copyProject();
  const { config } = await loadConfig(SHIPPED, envOf());
  timers = FUNCTIONS["scheduled-scan"].triggers(config).map((event) => {
    const { name, parameters } = event.timer as { name: string; parameters: { cronExpression: string } };
    return { type: "timer", name, cron: parameters.cronExpression };
  });
  const env = { ...process.env, SECOPS_WEBHOOK_URL: SECRET_URL, CSIP_SCAN_SCF_ROLE: undefined };
  const rehearse = (record: string) => rehearseDeploy({ configPath: SHIPPED, projectRoot: work, accountDir, recordFile: join(work, record), env });
  first = await rehearse("first.jsonl");
  second = await rehearse("second.jsonl");
  firstRecord = readRecord(join(work, "first.jsonl"));
  secondRecord = readRecord(join(work, "second.jsonl"));
}, 170_000);
// The copy links node_modules; removing the link leaves the checkout's alone.
afterAll(() => rmSync(work, { recursive: true, force: true }));

const timersOf = (result: RehearsalResult) =>
  result.account.functions
    .find((f) => f.FunctionName === "csip-scan-dev-scheduled-scan")
    ?.Triggers.map((t) => ({ type: t.Type, name: t.TriggerName, cron: (JSON.parse(t.TriggerDesc) as { cron: string }).cron }));

describe("a first rehearsal, in a fresh account", () => {
  it("deploys: exit 0, and no request went anywhere but the stand-in", () => {
    expect(first.exitCode, first.output).toBe(0);
    expect(first.output).not.toMatch(/refused/);
  });

  it("creates both functions on Nodejs18.15", () => {
    expect(first.account.functions.map((f) => [f.FunctionName, f.Runtime]).sort()).toEqual([
      ["csip-scan-dev-asset-change", "Nodejs18.15"],
      ["csip-scan-dev-scheduled-scan", "Nodejs18.15"],
    ]);
  });

  it("gives the scheduled scan the timers of the function table, with their names and crons", () => {
    expect(timers.length).toBeGreaterThan(0);
    expect(timersOf(first)).toEqual(timers);
  });

  it("records each call as sent: CreateFunction per function, CreateTrigger per timer", () => {
    expect(calls(firstRecord, "CreateFunction").map((c) => [c.params.FunctionName, c.params.Runtime])).toEqual([
      ["csip-scan-dev-scheduled-scan", "Nodejs18.15"],
      ["csip-scan-dev-asset-change", "Nodejs18.15"],
    ]);
    expect(calls(firstRecord, "CreateTrigger").map((c) => ({ type: c.params.Type, name: c.params.TriggerName, cron: c.params.TriggerDesc }))).toEqual(timers);
    expect(new Set(firstRecord.map((c) => c.service))).toEqual(new Set(["cam", "cos", "scf", "tag"]));
    expect(calls(firstRecord, "PutObject")).not.toHaveLength(0);
  });
});

describe("a second rehearsal on the same account folder", () => {
  it("finds the functions there and updates them instead", () => {
    expect(second.exitCode, second.output).toBe(0);
    expect(calls(secondRecord, "CreateFunction")).toEqual([]);
    expect(calls(secondRecord, "UpdateFunctionCode").map((c) => c.params.FunctionName)).toEqual(["csip-scan-dev-scheduled-scan", "csip-scan-dev-asset-change"]);
    expect(second.account.functions.map((f) => f.FunctionId).sort()).toEqual(first.account.functions.map((f) => f.FunctionId).sort());
  });

  it("still holds the same timers (the plugin deletes and recreates them)", () => {
    expect(calls(secondRecord, "DeleteTrigger")).toHaveLength(timers.length);
    expect(timersOf(second)).toEqual(timers);
  });

  it("is shown by formatAccount with names of environment variables, never their values", () => {
    const text = formatAccount(second.account);
    expect(text).toContain("csip-scan-dev-scheduled-scan (ap-guangzhou, namespace default)");
    expect(text).toContain("runtime Nodejs18.15, handler dist/scheduled-scan/index.main_handler, timeout 900 s");
    expect(text).toContain("environment: CSIP_SCAN_CONFIG, SECOPS_WEBHOOK_URL");
    for (const t of timers) expect(text).toContain(`timer ${t.name}: ${t.cron}`);
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
