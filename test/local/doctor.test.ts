import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { assetChangeHandler } from "../../functions/asset-change/index.ts";
import { FUNCTION_NAMES } from "../../functions/index.ts";
import type { Handler } from "../../functions/options.ts";
import { resultsPageHandler } from "../../functions/results-page/index.ts";
import { scanResultsHandler } from "../../functions/scan-results/index.ts";
import { scheduledScanHandler } from "../../functions/scheduled-scan/index.ts";
import { freshAccount, type AccountState, type ScfFunction } from "../../local/cloud/account.ts";
import { DEFAULT_COS_READINGS } from "../../local/cloud/cos.ts";
import { serveFunctionUrl, type FunctionUrlReadings } from "../../local/cloud/function-urls.ts";
import { FunctionRunner, type Invocation } from "../../local/cloud/scf-runner.ts";
import { startCloudStandIn, type CloudStandIn } from "../../local/cloud/server.ts";
import { runDoctor, type DoctorReport } from "../../local/doctor/doctor.ts";
import type { Reading } from "../../local/doctor/readings.ts";
import { formatReadings } from "../../local/doctor/table.ts";
import { LOCAL_ACCOUNT, randomAccount, type EmulatorAccount } from "../../local/emulator/accounts.ts";
import { readInventory } from "../../local/emulator/inventory-file.ts";
import { startEmulator, type Emulator } from "../../local/emulator/server.ts";
import { DEFAULT_MAX_PAGE_SIZE } from "../../local/emulator/state.ts";
import { sleep, type Clock } from "../../shared/clock.ts";
import { fixedCredentials } from "../../shared/csip/credentials.ts";
import { readEnvironment } from "../../shared/env.ts";
import { silentLogger } from "../../shared/log.ts";
import { readAccountReadings } from "../../shared/run/account-readings.ts";
import { readPolicyFile } from "../../shared/run/services.ts";
import { CosStateStore } from "../../shared/state/cos-store.ts";
import { ACCOUNT_READINGS } from "../../shared/state/keys.ts";
import { sdkClient } from "../helpers.ts";
import runInstances from "../fixtures/events/eventbridge-run-instances.json" with { type: "json" };

// `csip-scan doctor` against the emulator (the official SDK over HTTP) and the COS stand-in (over HTTP),
// its results page link served by the real results-page function behind the stand-in's Function URL code:
// under each switch of the stand-ins it tells the readings apart, exits as it should, writes only under
// the deployment's prefix, deletes its scratch objects and creates no scan task; and the functions then
// follow what it kept.

const BUCKET = `csip-scan-state-${LOCAL_ACCOUNT.appId}`;
const DEPLOYMENT = "dev-ap-guangzhou";
const PREFIX = `state/${DEPLOYMENT}/`;
/** The results-page function's URL host, as SCF makes it. */
const URL_HOST = `${LOCAL_ACCOUNT.appId}-doctor0001.ap-guangzhou.tencentscf.com`;
const dir = mkdtempSync(join(tmpdir(), "csip-scan-doctor-"));
const policyFile = join(dir, "policies.yaml");

let emulator: Emulator;
let standIn: CloudStandIn;
let pageServer: Server;
let pageUrl: string;
/** The stand-in's Function URL readings, switched by a test: whether SCF's domain forces a download. */
const urlReadings: FunctionUrlReadings = { forceDownload: false };
/** The role's keys of the moment, as SCF gives them and as the cloud takes them. */
let key: EmulatorAccount = LOCAL_ACCOUNT;
/** The emulated time of the functions, the emulator's tasks and doctor. */
let now = Date.parse("2026-11-29T03:00:05Z");
const clock: Clock = { now: () => now, sleep };

/** What SCF gives an invocation of any of the deployment's functions. */
function functionEnv() {
  return readEnvironment({
    CSIP_SCAN_CONFIG: policyFile,
    TENCENTCLOUD_SECRETID: key.secretId,
    TENCENTCLOUD_SECRETKEY: key.secretKey,
    ...(key.token ? { TENCENTCLOUD_SESSIONTOKEN: key.token } : {}),
    CSIP_ENDPOINT: emulator.url,
    CSIP_SCAN_DEPLOYMENT: DEPLOYMENT,
    CSIP_SCAN_STATE_BUCKET: BUCKET,
    CSIP_SCAN_STATE_REGION: "ap-guangzhou",
    CSIP_SCAN_STATE_PREFIX: PREFIX,
    CSIP_SCAN_COS_ENDPOINT: standIn.url,
    CSIP_SCAN_PAGE_URL: pageUrl,
  });
}

/** The function behind the Function URL runs here, in this process, rather than from an uploaded zip. */
class InProcessRunner extends FunctionRunner {
  constructor(
    account: AccountState,
    private readonly handler: Handler,
  ) {
    super(account, { standInUrl: "http://127.0.0.1:9", workDir: dir, roleKeys: LOCAL_ACCOUNT });
  }

  override async invoke(_f: ScfFunction, event: unknown): Promise<Invocation> {
    try {
      return { ok: true, result: await this.handler(event, {}) };
    } catch (error) {
      return { ok: false, error: String(error) };
    }
  }
}

/** An account whose results-page function has its Function URL at URL_HOST, open to the public. */
function pageAccount(): AccountState {
  const account = freshAccount(LOCAL_ACCOUNT);
  const netConfig = { EnableIntranet: false, IntranetUrl: "", IntranetHTTPUrl: "", ExtranetUrl: `https://${URL_HOST}`, ExtranetHTTPUrl: `http://${URL_HOST}`, EnableExtranet: true };
  account.functions.push({
    Region: "ap-guangzhou", Namespace: "default", FunctionName: "csip-scan-dev-results-page", FunctionId: "lam-doctor01", Runtime: "Nodejs18.15", Handler: "dist/results-page/index.main_handler",
    Description: "", MemorySize: 128, Timeout: 30, Role: "", Type: "Event", InstallDependency: "FALSE", Environment: [], VpcConfig: { VpcId: "", SubnetId: "" },
    CodeLocation: "", CodeSize: 0, AddTime: "2026-01-01 00:00:00", ModTime: "2026-01-01 00:00:00", BusyStatus: "Active", BusyUntil: 0,
    Triggers: [{ Type: "http", TriggerName: "csip-scan-page", Qualifier: "$LATEST", Enable: 1, TriggerDesc: JSON.stringify({ AuthType: "NONE", NetConfig: netConfig }), AddTime: "2026-01-01 00:00:00", ModTime: "2026-01-01 00:00:00", CustomArgument: "", Description: "" }],
  } as ScfFunction);
  return account;
}

/** The deployment's functions, warm: each built once, as a warm SCF instance keeps its process. */
let scan: Handler;
let change: Handler;

beforeAll(async () => {
  emulator = await startEmulator({ estate: await readInventory("config/emulator-inventory.yaml"), rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 }, now: () => now });
  standIn = await startCloudStandIn({ account: freshAccount(LOCAL_ACCOUNT), keys: [LOCAL_ACCOUNT] });
  standIn.account.buckets = [{ Name: BUCKET, Region: "ap-guangzhou", CreationDate: "2025-03-01T00:00:00Z", Acl: "private" }];
  const account = pageAccount();
  const runner = new InProcessRunner(account, resultsPageHandler({ env: functionEnv, logger: silentLogger(), clock }));
  pageServer = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://page");
      const answer = await serveFunctionUrl({ method: req.method ?? "GET", host: URL_HOST, path: url.pathname, query: url.searchParams, headers: req.headers, body: await buffer(req), remoteAddress: "127.0.0.1" }, account, runner, urlReadings);
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    })();
  });
  await new Promise<void>((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
  pageUrl = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
  writeFileSync(
    policyFile,
    `version: 1
timezone: UTC
retry: { baseMs: 1, capMs: 10, attempts: 3 }
# The emulator limits no rate here: nothing to wait for between calls.
rateLimit: { perSecond: 1000 }
assetGroups:
  web: { include: [{ assets: [ins-7f3k2m9q, ins-8a1d5x2w, ins-2h6j8n3p, ins-bastion1] }] }
  api: { include: [{ tags: { tier: app } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [web], scanItems: [port], maxAssetsPerTask: 2 }
  - { name: on-change, schedule: "0 0 4 * * * *", targets: [api], scanItems: [port], onAssetChange: true }
`,
  );
  const options = { env: functionEnv, logger: silentLogger(), clock, throwOnFailure: false };
  const facts = { node: "v18.15.0", memoryMb: 128, memoryFrom: "context" as const, heapSizeLimitMb: 259, nodeOptions: "--max-old-space-size=96 --max-semi-space-size=2", heapBound: "worker" as const, boundHeapSizeLimitMb: 102, at: "2026-11-29T03:00:01.000Z" };
  scan = scheduledScanHandler({ ...options, coldStart: { function: "scheduled-scan", ...facts } });
  change = assetChangeHandler({ ...options, coldStart: { function: "asset-change", ...facts, heapSizeLimitMb: 91, heapBound: "node" } });
  // Two nights of the policy, a day apart: tasks of two times, done, with their reports.
  for (const night of ["2026-11-29T03:00:00Z", "2026-11-30T03:00:00Z"]) {
    now = Date.parse(night) + 5000;
    expect(await scan({ Type: "Timer", TriggerName: "nightly", Time: night }, {})).toMatchObject({ ok: true });
  }
  now += 60_000;
}, 60_000);

afterAll(async () => {
  await Promise.all([emulator.close(), standIn.close(), new Promise((resolve) => pageServer.close(resolve))]);
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  emulator.state.multiValueFilters = "ored";
  emulator.state.refusedFilters = new Set();
  emulator.state.taskOrder = "newest-first";
  emulator.state.maxPageSize = DEFAULT_MAX_PAGE_SIZE;
  standIn.cosReadings.conflictCode = DEFAULT_COS_READINGS.conflictCode;
  urlReadings.forceDownload = false;
});

/**
 * Runs doctor as the deployment's own keys would, and checks what every run of it must hold: no scan task
 * made and no call but reads (and STS's who-am-I); every COS object request under the prefix; the objects
 * it says it wrote and deleted are exactly those the stand-in saw; no scratch object left behind.
 */
async function doctor(): Promise<DoctorReport & { exit: number; row(name: string): Reading }> {
  const env = functionEnv();
  const tasks = emulator.state.tasks.length;
  const csipFrom = emulator.calls.length;
  const cosFrom = standIn.calls.length;
  const report = await runDoctor({
    config: await readPolicyFile(policyFile, env),
    env,
    sdk: sdkClient(emulator, key),
    credentials: fixedCredentials(key),
    stsEndpoint: emulator.url,
    cos: { credentials: fixedCredentials(key), endpoint: standIn.url, region: "ap-guangzhou" },
    prefix: PREFIX,
    functions: FUNCTION_NAMES,
    clock,
  });
  expect(emulator.state.tasks.length).toBe(tasks);
  expect(emulator.calls.slice(csipFrom).filter((c) => !c.action.startsWith("Describe") && c.action !== "GetCallerIdentity")).toEqual([]);
  const cos = standIn.calls.slice(cosFrom).filter((c) => c.service === "cos");
  expect(cos.filter((c) => c.params.Key !== undefined && !String(c.params.Key).startsWith(PREFIX))).toEqual([]);
  const changed = cos.filter((c) => (c.action === "PutObject" || c.action === "DeleteObject") && !c.error);
  expect(report.touched.map((t) => `${t.change} ${t.key}`)).toEqual(changed.map((c) => `${c.action === "PutObject" ? "written" : "deleted"} ${String(c.params.Key)}`));
  expect(standIn.account.objects.filter((o) => /csip-scan-doctor-|forbid-overwrite-/.test(o.Key))).toEqual([]);
  return {
    ...report,
    exit: report.readings.every((r) => r.handled) ? 0 : 1,
    row: (name) => report.readings.find((r) => r.name === name)!,
  };
}

const store = () => new CosStateStore({ bucket: BUCKET, region: "ap-guangzhou", prefix: PREFIX, credentials: key, endpoint: standIn.url, timeoutMs: 5000, retry: { baseMs: 1, capMs: 10, attempts: 2 } });

describe("csip-scan doctor under the documented readings", () => {
  it("handles every reading, says what this account showed, and keeps it for the functions", async () => {
    const report = await doctor();
    expect(report.readings.filter((r) => !r.handled)).toEqual([]);
    expect(report.exit).toBe(0);
    expect(formatReadings(report.readings)).toMatchSnapshot();
    expect(report.kept).toEqual({ bucket: BUCKET, key: `${PREFIX}${ACCOUNT_READINGS}.json` });
    // Written under the prefix: the 409's scratch key and the scratch page (each deleted), the page signing key
    // (made with the page's link, since the functions had made no link yet), and the record.
    expect(report.touched.map((t) => `${t.change} ${t.key.replace(/[0-9a-f]{8,12}(?=\.)/, "*")}`)).toEqual([
      `written ${PREFIX}doctor/forbid-overwrite-*.json`,
      `deleted ${PREFIX}doctor/forbid-overwrite-*.json`,
      `written ${PREFIX}pages/csip-scan-doctor-*.html`,
      `written ${PREFIX}results-page/signing-key.json`,
      `deleted ${PREFIX}pages/csip-scan-doctor-*.html`,
      `written ${PREFIX}doctor/readings.json`,
    ]);
    const kept = await readAccountReadings(store());
    expect(kept).toMatchObject({ at: new Date(now).toISOString(), stateBucket: { bucket: BUCKET, region: "ap-guangzhou", versioning: "never enabled", conflictCode: "FileAlreadyExists" }, pageLink: { opens: "page" } });
    expect(kept!.lists.DescribeScanTaskList).toEqual({ values: "ored", names: { TaskId: "honoured", TaskName: "honoured" }, order: "newest-first" });
  });
});

describe("csip-scan doctor tells each reading of the stand-ins apart", () => {
  it("several values answered by the first only", async () => {
    emulator.state.multiValueFilters = "first-only";
    const report = await doctor();
    expect(report.row("several filter values")).toMatchObject({
      handled: true,
      observed: "every list (10): only the first value answered",
    });
    expect(report.exit).toBe(0);
    expect((await readAccountReadings(store()))!.lists.DescribeCVMAssets).toMatchObject({ values: "first-only" });
  });

  it("several values refused", async () => {
    emulator.state.multiValueFilters = "refused";
    const report = await doctor();
    expect(report.row("several filter values").observed).toBe("every list (10): several values refused (InvalidParameter)");
    expect(report.exit).toBe(0);
  });

  it("a filter name refused", async () => {
    emulator.refuseFilter("DescribeScanTaskList", "TaskName");
    const report = await doctor();
    expect(report.row("filter names")).toMatchObject({ handled: true, observed: expect.stringMatching(/^refused: DescribeScanTaskList\.TaskName \(InvalidParameterValue\); honoured: the other 16 names$/) });
    expect(report.exit).toBe(0);
    expect((await readAccountReadings(store()))!.lists.DescribeScanTaskList).toMatchObject({ names: { TaskId: "honoured", TaskName: "refused" } });
  });

  it("the task list oldest first", async () => {
    emulator.state.taskOrder = "oldest-first";
    const report = await doctor();
    expect(report.row("task list order")).toMatchObject({ handled: true, observed: "oldest first (4 tasks on its first page)", does: "a results look reads the task list to its end" });
  });

  it("another code for the 409 of a write-once PUT", async () => {
    standIn.cosReadings.conflictCode = "ObjectAlreadyExists";
    const report = await doctor();
    expect(report.row("forbid-overwrite 409")).toMatchObject({ handled: true, observed: "409 ObjectAlreadyExists" });
    expect((await readAccountReadings(store()))!.stateBucket).toMatchObject({ conflictCode: "ObjectAlreadyExists" });
  });

  it("a largest Limit below the project's page", async () => {
    emulator.state.maxPageSize = 40;
    const report = await doctor();
    expect(report.row("largest Limit")).toMatchObject({
      handled: true,
      observed: "every list (10): refused Limit 100 (InvalidParameterValue) and took 40",
    });
    expect(report.exit).toBe(0);
    expect((await readAccountReadings(store()))!.lists.DescribeDbAssets).toMatchObject({ largestLimit: 40 });
  });

  it("a list that answers fewer rows than the Limit asked while holding more: its pages are that size", async () => {
    emulator.inject("DescribeDbAssets", { type: "answer", response: { Total: 5, Data: [{ AssetId: "cdb-short001" }, { AssetId: "cdb-short002" }] } });
    const report = await doctor();
    expect(report.row("largest Limit")).toMatchObject({ handled: true, observed: "DescribeDbAssets: answered 2 rows of 100 asked; the other 9 lists: took Limit 100" });
    expect((await readAccountReadings(store()))!.lists.DescribeDbAssets).toMatchObject({ largestLimit: 2 });
  });

  it("a results page link that downloads: not handled, since the messages promise a page", async () => {
    urlReadings.forceDownload = true;
    const report = await doctor();
    expect(report.row("results page link")).toMatchObject({
      handled: false,
      observed: "downloads (200): Content-Disposition: attachment makes the browser save it as a file",
      does: expect.stringContaining("put a CDN domain in front"),
    });
    expect(report.exit).toBe(1);
    expect((await readAccountReadings(store()))!.pageLink).toEqual({ opens: "download" });
  });

  it("role keys that rotate: a warm function keeps when it was given new ones, and doctor with the old keys is refused", async () => {
    const first = { ...randomAccount(true), appId: LOCAL_ACCOUNT.appId, uin: LOCAL_ACCOUNT.uin };
    const second = { ...randomAccount(true), appId: LOCAL_ACCOUNT.appId, uin: LOCAL_ACCOUNT.uin };
    const rotate = (next: EmulatorAccount) => {
      key = next;
      emulator.rotateKeys([next]);
      standIn.rotateKeys([next]);
    };
    try {
      rotate(first);
      const warm = scanResultsHandler({ env: functionEnv, logger: silentLogger(), clock, throwOnFailure: false, coldStart: { function: "scan-results", node: "v18.15.0", heapSizeLimitMb: 91, heapBound: "node", at: new Date(now).toISOString() } });
      const tick = { Type: "Timer", TriggerName: "csip-scan-results", Time: "2026-11-30T03:10:00Z" };
      expect(await warm(tick, {})).toMatchObject({ ok: true });
      rotate(second);
      now += 2 * 3600_000;
      expect(await warm(tick, {})).toMatchObject({ ok: true });
      const report = await doctor();
      expect(report.row("role keys")).toMatchObject({
        handled: true,
        observed: expect.stringMatching(/^scan-results was given new keys in a warm instance at 2026-11-30 05:01:05 \(UTC\), after the ones before had served it 2 h; these keys' own expiry cannot be seen: a session token does not name it$/),
      });
      expect(report.row("credentials").observed).toMatch(/^temporary keys \(with a session token\) of AssumedRole /);
      // Keys the cloud no longer takes: doctor says so, and exits 1.
      key = first;
      const refused = await doctor();
      expect(refused.row("credentials")).toMatchObject({ handled: false, observed: expect.stringContaining("AuthFailure.SecretIdNotFound") });
      expect(refused.exit).toBe(1);
    } finally {
      rotate(LOCAL_ACCOUNT);
    }
  });

  it("a versioned state bucket: not handled, nothing written to it", async () => {
    const bucket = standIn.account.buckets[0]!;
    bucket.Versioning = "Suspended";
    try {
      const report = await doctor();
      expect(report.row("bucket versioning")).toMatchObject({ handled: false, observed: "versioning Suspended" });
      expect(report.touched).toEqual([]);
      expect(report.kept).toEqual({ not: `the state bucket ${BUCKET} cannot hold the store` });
      expect(report.exit).toBe(1);
    } finally {
      delete bucket.Versioning;
    }
  });
});

describe("the functions follow what doctor kept", () => {
  /** The Values of each filtered call of `action` since `from`. */
  const valuesSent = (action: string, from: number) =>
    emulator.calls
      .slice(from)
      .filter((c) => c.action === action)
      .flatMap((c) => ((c.params.Filter as { Filters?: { Values: string[] }[] } | undefined)?.Filters ?? []).map((f) => f.Values.length));

  const changed = (ids: string[], id: string) => change({ ...runInstances, id, data: { ...runInstances.data, responseElements: JSON.stringify({ InstanceIdSet: ids }) } }, {});

  it("where the account answers only the first of several values, a function sends one value a call from its first read", async () => {
    emulator.state.multiValueFilters = "first-only";
    // Without a record, the first read sends both values, and the account shows what it does only then.
    await store().set(ACCOUNT_READINGS, { at: new Date(now).toISOString(), lists: {} });
    let from = emulator.calls.length;
    expect(await changed(["ins-4m8n2p5r", "ins-5n9p3q6s"], "evt-doctor-before")).toMatchObject({ ok: true });
    expect(valuesSent("DescribeCVMAssets", from)[0]).toBe(2);

    await doctor();
    from = emulator.calls.length;
    expect(await changed(["ins-4m8n2p5r", "ins-5n9p3q6s"], "evt-doctor-after")).toMatchObject({ ok: true });
    const sent = valuesSent("DescribeCVMAssets", from);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent.every((n) => n === 1)).toBe(true);
  });

  it("where the account takes fewer rows a page, a function asks that many, and runs where it failed before", async () => {
    emulator.state.maxPageSize = 40;
    await store().set(ACCOUNT_READINGS, { at: new Date(now).toISOString(), lists: {} });
    now = Date.parse("2026-12-01T03:00:05Z");
    const night = { Type: "Timer", TriggerName: "nightly", Time: "2026-12-01T03:00:00Z" };
    const before = emulator.calls.length;
    expect(await scan(night, {})).toMatchObject({ ok: false });
    expect(emulator.calls.slice(before).some((c) => c.outcome === "InvalidParameterValue")).toBe(true);

    await doctor();
    const from = emulator.calls.length;
    expect(await scan(night, {})).toMatchObject({ ok: true });
    const calls = emulator.calls.slice(from);
    expect(calls.filter((c) => c.outcome !== "OK")).toEqual([]);
    const limits = calls.map((c) => (c.params.Filter as { Limit?: number } | undefined)?.Limit).filter((l): l is number => l !== undefined);
    expect(limits.length).toBeGreaterThan(0);
    expect(Math.max(...limits)).toBe(40);
  });
});

describe("docs/cam-doctor-policy.json", () => {
  it("allows exactly what doctor calls: CSIP's lists, STS's who-am-I, and COS on the state bucket, its objects under state/ only", async () => {
    const policy = JSON.parse(readFileSync("docs/cam-doctor-policy.json", "utf8")) as { statement: { effect: string; action: string[]; resource: string[] }[] };
    const csipFrom = emulator.calls.length;
    const cosFrom = standIn.calls.length;
    await doctor();
    const called = new Set(emulator.calls.slice(csipFrom).map((c) => `${c.action === "GetCallerIdentity" ? "sts" : "csip"}:${c.action}`));
    const cos = standIn.calls.slice(cosFrom).filter((c) => c.service === "cos");
    const region = "ap-guangzhou";
    const resources = (s: { resource: string[] }) => s.resource.map((r) => r.replaceAll("<REGION>", region).replaceAll("<APPID>", LOCAL_ACCOUNT.appId));
    const statement = (prefix: string) => policy.statement.filter((s) => s.action.some((a) => a.startsWith(prefix)));
    expect(statement("csip:").flatMap((s) => s.action).concat(statement("sts:").flatMap((s) => s.action)).sort()).toEqual([...called].sort());
    expect(statement("csip:").concat(statement("sts:")).every((s) => s.effect === "allow" && resources(s).join() === "*")).toBe(true);
    const service = cos.filter((c) => c.params.Bucket === undefined);
    const onBucket = cos.filter((c) => c.params.Bucket !== undefined && c.params.Key === undefined);
    const onObjects = cos.filter((c) => c.params.Key !== undefined);
    expect(statement("cos:").map((s) => [new Set(s.action), resources(s)])).toEqual([
      [new Set(service.map((c) => `cos:${c.action}`)), ["*"]],
      [new Set(onBucket.map((c) => `cos:${c.action}`)), [`qcs::cos:${region}:uid/${LOCAL_ACCOUNT.appId}:${BUCKET}/*`]],
      [new Set(onObjects.map((c) => `cos:${c.action}`)), [`qcs::cos:${region}:uid/${LOCAL_ACCOUNT.appId}:${BUCKET}/state/*`]],
    ]);
  });
});

describe("csip-scan doctor, the command", () => {
  /** The CLI as people run it, in a process of its own; asynchronous, since the emulator and the stand-in answer from this one. */
  function cli(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ["bin/csip-scan.js", ...args], { env: { ...process.env, CSIP_SCAN_LOG_LEVEL: "silent", ...env } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
  }
  /** A session of local mode: the emulator and the state bucket of this file, without credentials. */
  const session = () => ({ CSIP_SCAN_CONFIG: policyFile, CSIP_ENDPOINT: emulator.url, CSIP_SCAN_STATE_BUCKET: BUCKET, CSIP_SCAN_COS_ENDPOINT: standIn.url });

  it("--json: a row of name, assumed, observed and handled per reading, what it touched under the stage's folder; exit 0", async () => {
    const { status, stdout, stderr } = await cli(["doctor", "--stage", "dev", "--json"], session());
    expect(stderr).toContain(`State store: COS bucket ${BUCKET} on the local COS stand-in`);
    expect(status).toBe(0);
    const report = JSON.parse(stdout) as { readings: Reading[]; touched: { key: string; change: string }[]; kept: unknown };
    expect(report.readings.map((r) => Object.keys(r))).toEqual(report.readings.map(() => ["name", "assumed", "observed", "handled", "does"]));
    expect(report.readings.map((r) => [r.name, r.handled])).toEqual([
      ["credentials", true],
      ["role keys", true],
      ["CSIP", true],
      ["largest Limit", true],
      ["several filter values", true],
      ["filter names", true],
      ["task list order", true],
      ["state bucket", true],
      ["bucket versioning", true],
      ["forbid-overwrite 409", true],
      ["results page link", true],
      ...FUNCTION_NAMES.map((fn) => [`cold start: ${fn}`, true]),
    ]);
    expect(report.readings[0]!.observed).toMatch(/^the local emulator's test key \(no TENCENTCLOUD_SECRETID set\) of CAMUser /);
    expect(report.readings.find((r) => r.name === "results page link")!.observed).toBe("files on this machine: no link to open");
    expect(report.touched.every((t) => t.key.startsWith(PREFIX))).toBe(true);
    expect(report.kept).toEqual({ bucket: BUCKET, key: `${PREFIX}${ACCOUNT_READINGS}.json` });
  });

  it("the table, and exit 1 when a reading is not handled (CSIP not answering)", async () => {
    emulator.inject("DescribeScanTaskList", { type: "error", code: "FailedOperation", message: "Cloud Security Center is not enabled." });
    const { status, stdout } = await cli(["doctor", "--stage", "dev"], session());
    expect(status).toBe(1);
    expect(stdout).toMatch(/^x CSIP +\| Cloud Security Center enabled, and \| DescribeScanTaskList failed with/m);
    expect(stdout).toMatch(/\| NOT HANDLED: nothing runs until CSIP\n/);
    expect(stdout).toContain("1 of 15 readings are not handled (marked x): CSIP.");
    expect(stdout).toContain("Not kept for the functions: CSIP did not answer, so there is nothing to keep of it (a record kept before stays).");
    expect(stdout).toMatch(/Objects of the state bucket this run wrote and deleted \(nothing else; no scan task was created\):\n {2}written state\/dev-ap-guangzhou\/doctor\/forbid-overwrite-[0-9a-f]+\.json\n {2}deleted /);
  });

  it.each([
    [["--stage", "not a stage"], 'csip-scan: --stage "not a stage" must be letters, digits, _ or -, such as prod'],
    [["--satge", "dev"], "csip-scan: doctor has no option --satge; did you mean --stage?"],
  ])("bad input is exit 2: %j", async (args, message) => {
    const { status, stderr } = await cli(["doctor", ...args], session());
    expect([status, stderr.split("\n")[0]]).toEqual([2, message]);
  });

  it("the CLI's own commands follow what doctor kept, as the functions do: plan reads at the account's largest Limit where it failed before", async () => {
    emulator.state.maxPageSize = 40;
    await store().set(ACCOUNT_READINGS, { at: new Date(now).toISOString(), lists: {} });
    const inDeployment = { ...session(), CSIP_SCAN_STATE_PREFIX: PREFIX };
    const before = await cli(["plan", "--json"], inDeployment);
    expect(before.status).not.toBe(0);
    expect(before.stderr).toContain("InvalidParameterValue");

    expect((await cli(["doctor", "--stage", "dev", "--json"], session())).status).toBe(0);
    const from = emulator.calls.length;
    const after = await cli(["plan", "--json"], inDeployment);
    expect([after.status, after.stderr]).toEqual([0, expect.any(String)]);
    const plan = JSON.parse(after.stdout) as { policies: { policy: string; assets: string[] }[] };
    expect(plan.policies.find((p) => p.policy === "nightly")!.assets.length).toBeGreaterThan(0);
    const limits = emulator.calls.slice(from).map((c) => (c.params.Filter as { Limit?: number } | undefined)?.Limit).filter((l): l is number => l !== undefined);
    expect(limits.length).toBeGreaterThan(0);
    expect(Math.max(...limits)).toBe(40);
  });

  it("a bad policy file is exit 2, every problem located, before anything is called", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "version: 1\npolicies:\n  - { name: nightly, schedule: every night, targets: [nowhere] }\n");
    const calls = emulator.calls.length;
    const { status, stderr } = await cli(["doctor", "--config", bad], session());
    expect(status).toBe(2);
    expect(stderr).toContain(`${bad}:3:`);
    expect(emulator.calls.length).toBe(calls);
  });
});
