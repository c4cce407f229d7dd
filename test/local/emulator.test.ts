import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CloudApiError } from "../../shared/errors.ts";
import { LOCAL_ACCOUNT, randomAccount } from "../../local/emulator/accounts.ts";
import { readEstate, type EstateAssetInput } from "../../local/emulator/estate.ts";
import { startEmulator, type Emulator } from "../../local/emulator/server.ts";
import { DEFAULT_MAX_PAGE_SIZE, DEFAULT_SCAN_TIMING } from "../../local/emulator/state.ts";
import { describeSwitches, readingSwitches } from "../../local/emulator/switches.ts";
import { callerIdentity } from "../../local/doctor/identity.ts";
import { fixedCredentials } from "../../shared/csip/credentials.ts";
import { caught, rawCall, sdkClient } from "../helpers.ts";

// Contract tests: the official SDK against the emulator, and an independent signer for what the SDK never sends.

const CURL = { kind: "vul", level: "extreme", name: "Curl 身份认证绕过漏洞(CVE-2023-27536)", cve: "CVE-2023-27536", port: 443 } as const;
const ESTATE: EstateAssetInput[] = [
  {
    kind: "cvm",
    id: "ins-aaaa0001",
    name: "web-1",
    publicIp: "203.0.113.1",
    tags: { env: "prod" },
    risks: [
      CURL,
      { kind: "vul", level: "middle", name: "OpenSSH 命令注入漏洞(CVE-2020-15778)", cve: "CVE-2020-15778", port: 22 },
      { kind: "weakPassword", level: "high", name: "SSH弱口令", port: 22 },
    ],
  },
  { kind: "cvm", id: "ins-aaaa0002", name: "web-2", tags: { env: "prod" }, authorized: false },
  {
    kind: "cvm",
    id: "ins-member01",
    name: "member-web",
    memberId: "mem-1",
    risks: [{ kind: "vul", level: "high", name: "Nginx 越界写漏洞(CVE-2022-41741)", cve: "CVE-2022-41741", port: 80 }],
  },
  {
    kind: "publicIp",
    id: "203.0.113.9",
    type: "CLB",
    instanceId: "lb-9z8y7x6w",
    authorized: false,
    risks: [{ kind: "port", level: "high", name: "redis", port: 6379 }],
  },
  {
    kind: "domain",
    id: "shop.example.com",
    tags: { env: "prod" },
    risks: [{ kind: "vul", level: "low", name: "jQuery 跨站脚本漏洞(CVE-2020-11022)", cve: "CVE-2020-11022", id: "risk-shop-xss" }],
  },
  {
    kind: "db",
    id: "cdb-aaaa0001",
    type: "MYSQL",
    risks: [{ kind: "config", level: "middle", name: "MySQL 未开启 SSL 加密连接", fix: "开启 require_secure_transport。" }],
  },
];

/** The emulated clock: tests move it instead of sleeping. 2026-03-01 10:00:00 in Beijing. */
const T0 = Date.parse("2026-03-01T02:00:00Z");
let clock = T0;

const scanRequest = {
  TaskName: "contract",
  ScanAssetType: 1,
  ScanItem: ["port"],
  ScanPlanType: 1,
  Assets: [{ Asset: "ins-aaaa0001", AssetType: "Instance", InstanceType: "CVM", Region: "ap-guangzhou" }],
};

let emulator: Emulator;
beforeAll(async () => {
  // The rate limit is switched on only where a test is about it.
  emulator = await startEmulator({ estate: ESTATE, rateLimit: false, now: () => clock });
});
afterAll(() => emulator.close());
afterEach(() => {
  emulator.state.tasks = [];
  emulator.state.whenUnauthorized = "no-task";
  emulator.setRateLimit(false);
  emulator.seed(ESTATE);
  emulator.state.scanTiming = { ...DEFAULT_SCAN_TIMING };
  emulator.state.reportDelayMs = 0;
  clock = T0;
});

describe("success shapes through the SDK", () => {
  it("CreateRiskCenterScanTask creates a task and DescribeScanTaskList lists it, newest first", async () => {
    const csip = sdkClient(emulator);
    const first = await csip.call("CreateRiskCenterScanTask", scanRequest);
    const second = await csip.call("CreateRiskCenterScanTask", { ...scanRequest, TaskName: "second" });
    expect(first).toMatchObject({ TaskId: expect.stringMatching(/^rmis-/), Status: 0, UnAuthAsset: [], RequestId: expect.any(String) });
    const list = await csip.call("DescribeScanTaskList", { Filter: { Limit: 10, Offset: 0 } });
    expect(list.TotalCount).toBe(2);
    expect(list.Data?.map((t) => t.TaskId)).toEqual([second.TaskId, first.TaskId]);
    expect(list.Data?.[1]).toMatchObject({
      TaskName: "contract",
      ScanStatus: 0,
      Percent: 0,
      AssetNumber: 1,
      CompleteAssetNumber: 0,
      ScanItem: "port",
      Assets: scanRequest.Assets,
      InsertTime: "2026-03-01 10:00:00",
      StartTime: "",
      EndTime: "",
      PredictEndTime: "2026-03-01 10:00:08",
      ErrorCode: 0,
      RiskCount: 0,
      ReportNumber: 0,
    });
  });

  it("the reading switches: several values refused or first-only, a name refused, the task list oldest first", async () => {
    const csip = sdkClient(emulator);
    const first = await csip.call("CreateRiskCenterScanTask", scanRequest);
    clock += 1000;
    const second = await csip.call("CreateRiskCenterScanTask", { ...scanRequest, TaskName: "second" });
    const byId = { Limit: 10, Filters: [{ Name: "TaskId", Values: [first.TaskId!, second.TaskId!], OperatorType: 7 }] };
    try {
      emulator.state.taskOrder = "oldest-first";
      expect((await csip.call("DescribeScanTaskList", { Filter: { Limit: 10 } })).Data?.map((t) => t.TaskId)).toEqual([first.TaskId, second.TaskId]);
      emulator.state.multiValueFilters = "first-only";
      expect((await csip.call("DescribeScanTaskList", { Filter: byId })).Data?.map((t) => t.TaskId)).toEqual([first.TaskId]);
      emulator.state.multiValueFilters = "refused";
      expect(await caught(csip.call("DescribeScanTaskList", { Filter: byId }))).toMatchObject({ code: "InvalidParameter" });
      expect((await csip.call("DescribeScanTaskList", { Filter: { ...byId, Filters: [{ ...byId.Filters[0]!, Values: [second.TaskId!] }] } })).TotalCount).toBe(1);
      emulator.refuseFilter("DescribeScanTaskList", "TaskId");
      expect(await caught(csip.call("DescribeScanTaskList", { Filter: { ...byId, Filters: [{ ...byId.Filters[0]!, Values: [second.TaskId!] }] } }))).toMatchObject({
        code: "InvalidParameterValue",
        message: expect.stringContaining("Filter.Filters.Name `TaskId` is not supported"),
      });
    } finally {
      emulator.state.taskOrder = "newest-first";
      emulator.state.multiValueFilters = "ored";
      emulator.state.refusedFilters.clear();
    }
  });

  it("the largest Limit switch: a larger Filter.Limit is refused, as CSIP might (its largest is undocumented)", async () => {
    const csip = sdkClient(emulator);
    emulator.state.maxPageSize = 1;
    try {
      expect((await csip.call("DescribeCVMAssets", { Filter: { Limit: 1 } })).Data).toHaveLength(1);
      expect(await caught(csip.call("DescribeCVMAssets", { Filter: { Limit: 2 } }))).toMatchObject({ code: "InvalidParameterValue", message: expect.stringContaining("Filter.Limit must be between 0 and 1") });
    } finally {
      emulator.state.maxPageSize = DEFAULT_MAX_PAGE_SIZE;
    }
    expect(readingSwitches({ "max-limit": "40" }, {})).toEqual({ maxPageSize: 40 });
    expect(readingSwitches({}, { CSIP_SCAN_EMULATOR_MAX_LIMIT: "50" })).toEqual({ maxPageSize: 50 });
    expect(describeSwitches({ maxPageSize: 50 })).toBe("largest Limit: 50");
    expect(() => readingSwitches({ "max-limit": "0" }, {})).toThrow('--max-limit: "0" is not a whole number of rows such as 50');
  });

  it("answers STS's GetCallerIdentity for the keys that signed it (what `csip-scan doctor` asks)", async () => {
    const role = randomAccount(true);
    const local = await startEmulator({ accounts: [LOCAL_ACCOUNT, role] });
    try {
      const ask = (account: typeof role) => callerIdentity({ credentials: fixedCredentials(account), region: "ap-guangzhou", endpoint: local.url, timeoutSeconds: 5 });
      expect(await ask(LOCAL_ACCOUNT)).toMatchObject({ type: "CAMUser", accountId: LOCAL_ACCOUNT.uin, userId: LOCAL_ACCOUNT.uin });
      expect(await ask(role)).toMatchObject({ type: "AssumedRole", accountId: role.uin, userId: expect.stringMatching(/^\d+:csip-scan$/) });
      expect(await caught(ask(randomAccount()))).toMatchObject({ code: "AuthFailure.SecretIdNotFound" });
    } finally {
      await local.close();
    }
  });

  it("DescribeScanTaskList finds a task by exact TaskName", async () => {
    const csip = sdkClient(emulator);
    await csip.call("CreateRiskCenterScanTask", scanRequest);
    await csip.call("CreateRiskCenterScanTask", { ...scanRequest, TaskName: "contract-2" });
    const list = await csip.call("DescribeScanTaskList", { Filter: { Filters: [{ Name: "TaskName", Values: ["contract"], OperatorType: 7 }] } });
    expect(list.Data?.map((t) => t.TaskName)).toEqual(["contract"]);
  });

  it("lists unauthorized assets with Status -1 and, by default, creates no task", async () => {
    const csip = sdkClient(emulator);
    const answer = await csip.call("CreateRiskCenterScanTask", {
      ...scanRequest,
      Assets: [...scanRequest.Assets, { Asset: "ins-aaaa0002", AssetType: "Instance", InstanceType: "CVM" }, { Asset: "ins-unknown", AssetType: "Instance", InstanceType: "CVM" }],
    });
    expect(answer).toMatchObject({ Status: -1, UnAuthAsset: ["ins-aaaa0002", "ins-unknown"] });
    expect(answer.TaskId).toBeUndefined();
    expect(emulator.state.tasks).toHaveLength(0);
  });

  it("creates the task for the authorized assets when set to", async () => {
    emulator.state.whenUnauthorized = "task-with-id";
    const answer = await sdkClient(emulator).call("CreateRiskCenterScanTask", { ...scanRequest, Assets: [...scanRequest.Assets, { Asset: "ins-aaaa0002", AssetType: "Instance", InstanceType: "CVM" }] });
    expect(answer).toMatchObject({ Status: -1, UnAuthAsset: ["ins-aaaa0002"], TaskId: expect.stringMatching(/^rmis-/) });
    expect(emulator.state.tasks[0]?.Assets).toEqual(scanRequest.Assets);
  });

  it("checks typed-in addresses and URLs against verified public IPs and domains", async () => {
    const answer = await sdkClient(emulator).call("CreateRiskCenterScanTask", {
      TaskName: "urls",
      ScanAssetType: 3,
      ScanItem: ["webcontent"],
      ScanPlanType: 1,
      SelfDefiningAssets: ["https://shop.example.com/login", "203.0.113.9"],
    });
    expect(answer).toMatchObject({ Status: -1, UnAuthAsset: ["203.0.113.9"] });
  });

  it("stops and deletes tasks", async () => {
    const csip = sdkClient(emulator);
    const { TaskId } = await csip.call("CreateRiskCenterScanTask", scanRequest);
    await csip.call("StopRiskCenterTask", { TaskIdList: [{ TaskId: TaskId! }] });
    expect((await csip.call("DescribeScanTaskList", {})).Data?.map((t) => t.ScanStatus)).toEqual([4]);
    await csip.call("DeleteRiskScanTask", { TaskIdList: [{ TaskId: TaskId! }] });
    expect(emulator.state.tasks).toHaveLength(0);
    const missing = await caught(csip.call("DeleteRiskScanTask", { TaskIdList: [{ TaskId: TaskId! }] }));
    expect(missing).toMatchObject({ code: "InvalidParameterValue" });
  });

  it.each([
    ["DescribeCVMAssets", { AssetId: "ins-aaaa0001", PublicIp: "203.0.113.1", Tag: [{ Name: "env", Value: "prod" }], AssetType: "CVM" }],
    ["DescribePublicIpAssets", { PublicIp: "203.0.113.9", AssetType: "CLB", VerifyStatus: 0 }],
    ["DescribeDomainAssets", { AssetId: ["shop.example.com"], SubDomain: "shop.example.com", VerifyStatus: 1 }],
    ["DescribeDbAssets", { AssetId: "cdb-aaaa0001", AssetType: "MYSQL" }],
  ] as const)("%s answers in the SDK model's shape", async (action, item) => {
    const answer = (await sdkClient(emulator).call(action, { Filter: { Limit: 10 } })) as { Total: number; Data: unknown[] };
    expect(answer.Total).toBe(answer.Data.length);
    expect(answer.Data[0]).toMatchObject(item);
  });

  it("scopes inventory to member accounts", async () => {
    const csip = sdkClient(emulator);
    const own = await csip.call("DescribeCVMAssets", {});
    const member = await csip.call("DescribeCVMAssets", { MemberId: ["mem-1"] });
    expect(own.Data?.map((a) => a.AssetId)).toEqual(["ins-aaaa0001", "ins-aaaa0002"]);
    expect(member.Data?.map((a) => [a.AssetId, a.MemberId])).toEqual([["ins-member01", "mem-1"]]);
  });

  it("pages with Filter.Limit and Offset, at most 100 a page", async () => {
    const big = await startEmulator({
      estate: Array.from({ length: 250 }, (_, i) => ({ kind: "cvm" as const, id: `ins-p${String(i).padStart(7, "0")}` })),
      rateLimit: false,
    });
    try {
      const csip = sdkClient(big);
      const pages = [];
      for (let offset = 0; offset < 300; offset += 100) {
        pages.push(await csip.call("DescribeCVMAssets", { Filter: { Limit: 100, Offset: offset } }));
      }
      expect(pages.map((p) => p.Data?.length)).toEqual([100, 100, 50]);
      expect(pages.every((p) => p.Total === 250)).toBe(true);
      expect(new Set(pages.flatMap((p) => p.Data?.map((a) => a.AssetId))).size).toBe(250);
      const tooBig = await caught(csip.call("DescribeCVMAssets", { Filter: { Limit: 101 } }));
      expect(tooBig).toMatchObject({ code: "InvalidParameterValue" });
      expect((await csip.call("DescribeCVMAssets", {})).Data).toHaveLength(10);
    } finally {
      await big.close();
    }
  });
});

describe("parameter rules", () => {
  it.each([
    ["missing TaskName", { ...scanRequest, TaskName: undefined }, "MissingParameter"],
    ["unknown parameter", { ...scanRequest, Priority: 1 }, "UnknownParameter"],
    ["unknown nested parameter", { ...scanRequest, Assets: [{ Asset: "ins-aaaa0001", Owner: "me" }] }, "UnknownParameter"],
    ["wrong type", { ...scanRequest, ScanAssetType: "1" }, "InvalidParameter"],
    ["ScanAssetType 1 without Assets", { ...scanRequest, Assets: undefined }, "MissingParameter"],
    ["ScanAssetType 3 without SelfDefiningAssets", { ...scanRequest, ScanAssetType: 3 }, "MissingParameter"],
    ["ScanAssetType 4", { ...scanRequest, ScanAssetType: 4 }, "InvalidParameterValue"],
    ["ScanPlanType 0 without ScanPlanContent", { ...scanRequest, ScanPlanType: 0 }, "MissingParameter"],
    ["ScanPlanContent that is not 7-field cron", { ...scanRequest, ScanPlanType: 2, ScanPlanContent: "0 3 * * *" }, "InvalidParameterValue"],
    ["unknown ScanItem", { ...scanRequest, ScanItem: ["port", "virus"] }, "InvalidParameterValue"],
    ["empty ScanItem", { ...scanRequest, ScanItem: [] }, "InvalidParameterValue"],
    ["TaskMode 3", { ...scanRequest, TaskMode: 3 }, "InvalidParameterValue"],
    // Only the kinds table's TaskAssetObject shapes (shared/assets/kinds.ts TASK_SHAPES).
    ["an asset without AssetType", { ...scanRequest, Assets: [{ Asset: "ins-aaaa0001", InstanceType: "CVM" }] }, "InvalidParameterValue"],
    ["the Terraform test's public IP shape", { ...scanRequest, Assets: [{ Asset: "203.0.113.9", AssetType: "PublicIp", InstanceType: "1" }] }, "InvalidParameterValue"],
    ["an instance that is not a CVM", { ...scanRequest, Assets: [{ Asset: "ins-aaaa0001", AssetType: "Instance", InstanceType: "EIP" }] }, "InvalidParameterValue"],
  ])("%s: %s", async (_, request, code) => {
    const error = await caught(sdkClient(emulator).call("CreateRiskCenterScanTask", request as never));
    expect(error).toBeInstanceOf(CloudApiError);
    expect(error).toMatchObject({ code, retryable: false, requestId: expect.any(String) });
  });

  it("accepts a scheduled plan with a 7-field cron, and the task waits for a schedule the emulator does not keep", async () => {
    const csip = sdkClient(emulator);
    const answer = await csip.call("CreateRiskCenterScanTask", { ...scanRequest, ScanPlanType: 2, ScanPlanContent: "0 0 3 * * * *" });
    expect(answer.Status).toBe(0);
    clock = T0 + 86_400_000;
    expect((await csip.call("DescribeScanTaskList", {})).Data?.map((t) => [t.ScanStatus, t.TaskType])).toEqual([[0, 2]]);
  });

  it.each([
    ["no report or task named", { Type: 0 }, "MissingParameter"],
    ["Type 2", { Type: 2, ReportItemKeyList: [{ TaskLogList: ["rpt-000000000000"] }] }, "InvalidParameterValue"],
    ["no Type", { ReportItemKeyList: [{ TaskLogList: ["rpt-000000000000"] }] }, "MissingParameter"],
    ["an unknown nested parameter", { Type: 0, ReportItemKeyList: [{ TaskLogIds: ["rpt-000000000000"] }] }, "UnknownParameter"],
  ])("DescribeTaskLogURL with %s: %s", async (_, request, code) => {
    expect(await caught(sdkClient(emulator).call("DescribeTaskLogURL", request as never))).toMatchObject({ code });
  });
});

describe("signature and common errors", () => {
  it("rejects a wrong secret key", async () => {
    const error = await caught(sdkClient(emulator, { ...randomAccount(), secretId: "AKIDcsipscanlocalemulator0000000" }).call("DescribeCVMAssets", {}));
    expect(error).toMatchObject({ code: "AuthFailure.SignatureFailure", retryable: false });
  });

  it("rejects an unknown SecretId", async () => {
    const error = await caught(sdkClient(emulator, randomAccount()).call("DescribeCVMAssets", {}));
    expect(error).toMatchObject({ code: "AuthFailure.SecretIdNotFound" });
  });

  it("verifies the independent signer's requests, so the check is the documented one", async () => {
    const answer = await rawCall(emulator, "DescribeDbAssets", {});
    expect(answer.Response.Error).toBeUndefined();
    expect(answer.Response.Total).toBe(1);
  });

  // Options are made as each test starts: a timestamp taken when the table is read would age with the
  // tests before it, and on a busy machine "ahead" would no longer be ahead enough.
  it.each([
    ["a timestamp 320 s old", () => ({ timestamp: Math.floor(Date.now() / 1000) - 320 }), "AuthFailure.SignatureExpire"],
    ["a timestamp 320 s ahead", () => ({ timestamp: Math.floor(Date.now() / 1000) + 320 }), "AuthFailure.SignatureExpire"],
    ["another service in the credential scope", () => ({ service: "cvm" }), "AuthFailure.SignatureFailure"],
    ["an unsupported region", () => ({ region: "xx-nowhere-1" }), "UnsupportedRegion"],
    ["another API version", () => ({ version: "2017-03-12" }), "NoSuchVersion"],
    ["a session token the key pair does not have", () => ({ token: "not-a-token" }), "AuthFailure.TokenFailure"],
    ["no action", () => ({ omitAction: true }), "MissingParameter"],
  ])("rejects %s", async (_, options, code) => {
    const answer = await rawCall(emulator, "DescribeCVMAssets", {}, options());
    expect(answer.Response.Error?.Code).toBe(code);
    expect(answer.Response.RequestId).toEqual(expect.any(String));
  });

  it("rejects an unknown action", async () => {
    expect((await rawCall(emulator, "DescribeEverything", {})).Response.Error?.Code).toBe("InvalidAction");
  });

  it("needs the session token of temporary credentials", async () => {
    const role = randomAccount(true);
    const withRole = await startEmulator({ accounts: [role] });
    try {
      expect((await sdkClient(withRole, role).call("DescribeCVMAssets", {})).Total).toBe(0);
      const error = await caught(sdkClient(withRole, { ...role, token: "expired" }).call("DescribeCVMAssets", {}));
      expect(error).toMatchObject({ code: "AuthFailure.TokenFailure" });
      const { token: _token, ...withoutToken } = role;
      expect(await caught(sdkClient(withRole, withoutToken).call("DescribeCVMAssets", {}))).toMatchObject({ code: "AuthFailure.TokenFailure" });
    } finally {
      await withRole.close();
    }
  });
});

describe("rate limit", () => {
  it("answers the 21st call in one second with RequestLimitExceeded, per action", async () => {
    emulator.setRateLimit(20);
    const csip = sdkClient(emulator);
    const answers = await Promise.allSettled(Array.from({ length: 21 }, () => csip.call("DescribeDbAssets", {})));
    const rejected = answers.filter((a) => a.status === "rejected");
    expect(rejected).toHaveLength(1);
    expect((rejected[0] as PromiseRejectedResult).reason).toMatchObject({ code: "RequestLimitExceeded", retryable: true });
    // Another action has its own window.
    await expect(csip.call("DescribeDomainAssets", {})).resolves.toBeTruthy();
  });

  it("can be switched off", async () => {
    const csip = sdkClient(emulator);
    const answers = await Promise.allSettled(Array.from({ length: 30 }, () => csip.call("DescribePublicIpAssets", {})));
    expect(answers.every((a) => a.status === "fulfilled")).toBe(true);
  });
});

describe("injected faults and how the client reports them", () => {
  it.each([
    ["an API error code", { type: "error", code: "InternalError" }, { code: "InternalError", retryable: true }],
    ["RequestLimitExceeded with a sub-code", { type: "error", code: "RequestLimitExceeded.UinLimitExceeded" }, { code: "RequestLimitExceeded.UinLimitExceeded", retryable: true }],
    ["an auth failure", { type: "error", code: "AuthFailure.UnauthorizedOperation" }, { code: "AuthFailure.UnauthorizedOperation", retryable: false }],
    ["HTTP 502", { type: "http", status: 502 }, { code: "HttpError.502", httpCode: 502, retryable: true }],
    ["HTTP 404", { type: "http", status: 404 }, { code: "HttpError.404", httpCode: 404, retryable: false }],
    ["a dropped connection", { type: "drop" }, { code: "NetworkError", retryable: true }],
    ["a 200 that is not JSON", { type: "notJson" }, { code: "BadResponse", retryable: false }],
  ] as const)("%s", async (_, fault, expected) => {
    emulator.inject("DescribeCVMAssets", fault);
    const error = await caught(sdkClient(emulator).call("DescribeCVMAssets", {}));
    expect(error).toBeInstanceOf(CloudApiError);
    expect(error).toMatchObject({ action: "DescribeCVMAssets", ...expected });
    // The fault is used up: the next call succeeds.
    await expect(sdkClient(emulator).call("DescribeCVMAssets", {})).resolves.toMatchObject({ Total: 2 });
  });

  it("a slow answer times out in the client, and the emulator still did the work", async () => {
    emulator.inject("CreateRiskCenterScanTask", { type: "slow", ms: 1500 });
    const error = await caught(sdkClient(emulator, undefined, { timeoutSeconds: 0.5 }).call("CreateRiskCenterScanTask", scanRequest));
    expect(error).toMatchObject({ code: "Timeout", retryable: true });
    // Once the request is over in the emulator, its work is done.
    await emulator.settle();
    expect(emulator.state.tasks.map((t) => t.TaskName)).toEqual(["contract"]);
  });

  it("fails the next N calls, then answers", async () => {
    emulator.inject("DescribeDbAssets", { type: "error", code: "ResourceUnavailable" }, 2);
    const csip = sdkClient(emulator);
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await csip.call("DescribeDbAssets", {}).then(() => "OK", (e: CloudApiError) => e.code));
    expect(outcomes).toEqual(["ResourceUnavailable", "ResourceUnavailable", "OK"]);
  });

  it("records every call with its action, parameters, time and outcome", async () => {
    const before = emulator.calls.length;
    await sdkClient(emulator).call("DescribeDomainAssets", { Filter: { Limit: 5 } });
    const call = emulator.calls[before];
    expect(call).toMatchObject({ action: "DescribeDomainAssets", params: { Filter: { Limit: 5 } }, outcome: "OK" });
    expect(Math.abs(call!.at - Date.now())).toBeLessThan(5000);
  });
});

/** One task as DescribeScanTaskList shows it, found by its exact TaskId (a member's, by naming the member). */
async function taskInfo(taskId: string, memberIds?: string[]) {
  const list = await sdkClient(emulator).call("DescribeScanTaskList", {
    ...(memberIds ? { MemberId: memberIds } : {}),
    Filter: { Filters: [{ Name: "TaskId", Values: [taskId], OperatorType: 7 }] },
  });
  expect(list.TotalCount).toBe(1);
  return list.Data![0]!;
}

async function createTask(request: Record<string, unknown> = {}): Promise<string> {
  const answer = await sdkClient(emulator).call("CreateRiskCenterScanTask", { ...scanRequest, ...request });
  expect(answer.Status).toBe(0);
  return answer.TaskId!;
}

const ALL_OWN = { ScanAssetType: 0, Assets: undefined };
const estateAsset = (id: string) => emulator.state.estate.find((a) => a.id === id)!;

describe("tasks over emulated time", () => {
  it("a scan-now task waits, scans with growing progress, and is done with its risks counted", async () => {
    // Every own authorized asset: ins-aaaa0001 (3 risks), shop.example.com (1), cdb-aaaa0001 (1).
    const taskId = await createTask(ALL_OWN);
    const at = async (ms: number) => {
      clock = T0 + ms;
      const t = await taskInfo(taskId);
      return [t.ScanStatus, t.Percent, t.CompleteAssetNumber, t.StartTime, t.EndTime, t.RiskCount, t.ReportNumber];
    };
    expect(await at(0)).toEqual([0, 0, 0, "", "", 0, 0]);
    expect(await at(1_999)).toEqual([0, 0, 0, "", "", 0, 0]);
    expect(await at(2_000)).toEqual([1, 0, 0, "2026-03-01 10:00:02", "", 0, 0]);
    expect(await at(5_000)).toEqual([1, 50, 1, "2026-03-01 10:00:02", "", 0, 0]);
    expect(await at(6_500)).toEqual([1, 75, 2, "2026-03-01 10:00:02", "", 0, 0]);
    expect(await at(8_000)).toEqual([2, 100, 3, "2026-03-01 10:00:02", "2026-03-01 10:00:08", 5, 1]);
    expect(await taskInfo(taskId)).toMatchObject({ AssetNumber: 3, ErrorCode: 0, ErrorInfo: "ok", CompleteNumber: 1, ScanAssetType: 0, Assets: [] });
  });

  it("scanTiming 0 ends a task at once", async () => {
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 0 };
    const taskId = await createTask();
    expect(await taskInfo(taskId)).toMatchObject({ ScanStatus: 2, Percent: 100, StartTime: "2026-03-01 10:00:00", EndTime: "2026-03-01 10:00:00", RiskCount: 3 });
  });

  it("a task holding an asset with scanError ends in error, with that ErrorInfo, no risks and no report", async () => {
    estateAsset("cdb-aaaa0001").scanError = "Connection refused: the database did not accept the scanner";
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 1_000 };
    const taskId = await createTask({ Assets: [...scanRequest.Assets, { Asset: "cdb-aaaa0001", AssetType: "Db", InstanceType: "MYSQL" }] });
    clock = T0 + 1_000;
    expect(await taskInfo(taskId)).toMatchObject({
      ScanStatus: 3,
      ErrorCode: 1,
      ErrorInfo: "Connection refused: the database did not accept the scanner",
      AssetNumber: 2,
      CompleteAssetNumber: 1,
      Percent: 50,
      RiskCount: 0,
      ReportNumber: 0,
      EndTime: "2026-03-01 10:00:01",
    });
    expect((await sdkClient(emulator).call("DescribeTaskLogList", {})).TotalCount).toBe(0);
  });

  it("RiskCount is fixed when the task ends; a task that ends after the risks changed counts the new ones", async () => {
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 0 };
    const first = await createTask();
    const web = estateAsset("ins-aaaa0001");
    const before = web.risks;
    web.risks = []; // the task ended within its create request: this comes too late for it
    expect((await taskInfo(first)).RiskCount).toBe(3);
    web.risks = before;
    web.risks = [...(web.risks ?? []), { kind: "port", level: "middle", name: "mysql", port: 3306 }];
    const second = await createTask();
    expect([(await taskInfo(first)).RiskCount, (await taskInfo(second)).RiskCount]).toEqual([3, 4]);
    web.risks = [];
    expect([(await taskInfo(first)).RiskCount, (await taskInfo(second)).RiskCount]).toEqual([3, 4]);
  });

  it("StopRiskCenterTask freezes a scanning task at 4; a task already done stays done", async () => {
    const csip = sdkClient(emulator);
    const scanning = await createTask(ALL_OWN);
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 0 };
    const done = await createTask();
    clock = T0 + 3_500; // a quarter of the 6 s scan
    await csip.call("StopRiskCenterTask", { TaskIdList: [{ TaskId: scanning }, { TaskId: done }] });
    clock = T0 + 60_000;
    expect(await taskInfo(scanning)).toMatchObject({
      ScanStatus: 4,
      Percent: 25,
      CompleteAssetNumber: 0,
      StartTime: "2026-03-01 10:00:02",
      EndTime: "2026-03-01 10:00:03",
      RiskCount: 0,
      ReportNumber: 0,
    });
    expect(await taskInfo(done)).toMatchObject({ ScanStatus: 2, RiskCount: 3, ReportNumber: 1 });
    expect((await csip.call("DescribeTaskLogList", {})).Data?.map((r) => r.TaskCenterTaskId)).toEqual([done]);
  });

  it.each([
    ["ScanAssetType 1: the listed assets", {}, 1, 3],
    ["ScanAssetType 0: every authorized asset of the account", ALL_OWN, 3, 5],
    ["ScanAssetType 0 with MemberId: the member's assets", { ...ALL_OWN, MemberId: ["mem-1"] }, 1, 1],
    ["ScanAssetType 2: all but the listed", { ScanAssetType: 2 }, 2, 2],
    ["ScanAssetType 3: the assets whose address or domain was typed in", { ScanAssetType: 3, Assets: undefined, SelfDefiningAssets: ["https://shop.example.com/login", "203.0.113.1"] }, 2, 4],
  ])("%s", async (_, request, assetNumber, riskCount) => {
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 0 };
    const taskId = await createTask(request);
    expect(await taskInfo(taskId, (request as { MemberId?: string[] }).MemberId)).toMatchObject({ AssetNumber: assetNumber, CompleteAssetNumber: assetNumber, RiskCount: riskCount, ScanStatus: 2 });
  });

  it("DescribeScanTaskList filters on the new fields too (ScanStatus)", async () => {
    const waiting = await createTask();
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 0 };
    await createTask({ TaskName: "done at once" });
    const list = await sdkClient(emulator).call("DescribeScanTaskList", { Filter: { Filters: [{ Name: "ScanStatus", Values: ["0"], OperatorType: 7 }] } });
    expect(list.Data?.map((t) => t.TaskId)).toEqual([waiting]);
  });
});

/** Checks that a PDF's cross-reference table points at its objects. */
function expectValidPdf(pdf: Buffer): void {
  const text = pdf.toString("latin1");
  expect(text.startsWith("%PDF-1.4\n")).toBe(true);
  expect(text.endsWith("%%EOF\n")).toBe(true);
  const xrefAt = Number(/startxref\n(\d+)\n%%EOF\n$/.exec(text)?.[1]);
  expect(text.slice(xrefAt, xrefAt + 5)).toBe("xref\n");
  const [, count] = /^xref\n0 (\d+)\n/.exec(text.slice(xrefAt)) ?? [];
  const entries = text.slice(xrefAt).split("\n").slice(3, 2 + Number(count));
  expect(entries).toHaveLength(5);
  entries.forEach((entry, i) => {
    const offset = Number(entry.slice(0, 10));
    expect(text.slice(offset).startsWith(`${i + 1} 0 obj\n`)).toBe(true);
  });
}

describe("reports", () => {
  it("a done task's report is listed, linked, and served as a PDF without a signature", async () => {
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 0 };
    const csip = sdkClient(emulator);
    const taskId = await createTask({ TaskName: "nightly" });
    const list = await csip.call("DescribeTaskLogList", { Filter: { Limit: 10 } });
    expect(list).toMatchObject({ TotalCount: 1, NotViewNumber: 1, ReportTemplateNumber: 1 });
    const report = list.Data![0]!;
    expect(report).toEqual({
      TaskLogId: expect.stringMatching(/^rpt-[0-9a-f]{12}$/),
      TaskLogName: "nightly",
      TaskName: "nightly",
      TaskCenterTaskId: taskId,
      AssetsNumber: 1,
      RiskNumber: 3,
      Status: 2,
      Time: "2026-03-01 10:00:00",
      StartTime: "2026-03-01 10:00:00",
      AppId: "1250000000",
      UIN: "100000000001",
      ReportType: 1,
      TemplateId: 1,
    });

    const links = await csip.call("DescribeTaskLogURL", { Type: 1, ReportItemKeyList: [{ TaskLogList: [report.TaskLogId!] }] });
    expect(links.Data).toEqual([{ URL: `${emulator.url}/reports/${report.TaskLogId}.pdf`, LogId: report.TaskLogId, TaskLogName: "nightly", AppId: "1250000000" }]);
    expect((await csip.call("DescribeTaskLogList", {})).NotViewNumber).toBe(0);
    const byTask = await csip.call("DescribeTaskLogURL", { Type: 0, ReportTaskIdList: [{ TaskIdList: [taskId] }], ReportItemKeyList: [{ TaskLogList: [report.TaskLogId!] }] });
    expect(byTask.Data?.map((d) => d.LogId)).toEqual([report.TaskLogId]);

    const response = await fetch(links.Data![0]!.URL!);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/pdf");
    const pdf = Buffer.from(await response.arrayBuffer());
    expectValidPdf(pdf);
    expect(pdf.toString("latin1")).toContain(`(Task: ${taskId} nightly) Tj`);
    expect(pdf.toString("latin1")).toContain("(Risks: 3) Tj");
  });

  it("names the IDs that are neither a listed report nor a task of the caller, and serves nothing for them", async () => {
    const csip = sdkClient(emulator);
    const error = await caught(
      csip.call("DescribeTaskLogURL", { Type: 0, ReportItemKeyList: [{ TaskLogList: ["rpt-000000000000"] }], ReportTaskIdList: [{ TaskIdList: ["rmis-00000000"] }] }),
    );
    expect(error).toMatchObject({ code: "InvalidParameterValue", message: expect.stringContaining("rpt-000000000000, rmis-00000000") });
    const missingPdf = await fetch(`${emulator.url}/reports/rpt-000000000000.pdf`);
    expect(missingPdf.status).toBe(404);
    expect(await missingPdf.text()).toContain("<Code>NoSuchKey</Code>");
  });

  it("lists reports newest first, in pages, filtered by TaskCenterTaskId", async () => {
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 0 };
    const csip = sdkClient(emulator);
    const ids = [];
    for (let i = 0; i < 3; i++) {
      clock = T0 + i * 60_000;
      ids.push(await createTask({ TaskName: `run-${i}` }));
    }
    const first = await csip.call("DescribeTaskLogList", { Filter: { Limit: 2, Offset: 0 } });
    const second = await csip.call("DescribeTaskLogList", { Filter: { Limit: 2, Offset: 2 } });
    expect([first.TotalCount, second.TotalCount]).toEqual([3, 3]);
    expect([...first.Data!, ...second.Data!].map((r) => [r.TaskName, r.Time])).toEqual([
      ["run-2", "2026-03-01 10:02:00"],
      ["run-1", "2026-03-01 10:01:00"],
      ["run-0", "2026-03-01 10:00:00"],
    ]);
    const one = await csip.call("DescribeTaskLogList", { Filter: { Filters: [{ Name: "TaskCenterTaskId", Values: [ids[1]!], OperatorType: 7 }] } });
    expect(one.Data?.map((r) => r.TaskCenterTaskId)).toEqual([ids[1]]);
  });

  it("a report is neither listed nor linked until reportDelayMs after the task is done", async () => {
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 0 };
    emulator.state.reportDelayMs = 30_000;
    const csip = sdkClient(emulator);
    const taskId = await createTask();
    const linksByTask = () => csip.call("DescribeTaskLogURL", { Type: 0, ReportTaskIdList: [{ TaskIdList: [taskId] }] });
    clock = T0 + 29_999;
    expect(await taskInfo(taskId)).toMatchObject({ ScanStatus: 2, ReportNumber: 0 });
    expect((await csip.call("DescribeTaskLogList", {})).TotalCount).toBe(0);
    expect((await linksByTask()).Data).toEqual([]);
    clock = T0 + 30_000;
    expect((await taskInfo(taskId)).ReportNumber).toBe(1);
    expect((await csip.call("DescribeTaskLogList", {})).Data?.map((r) => r.Time)).toEqual(["2026-03-01 10:00:30"]);
    const links = await linksByTask();
    expect(links.Data).toHaveLength(1);
    expect((await fetch(links.Data![0]!.URL!)).status).toBe(200);
  });

  it("reports belong to the calling account", async () => {
    const other = randomAccount();
    const shared = await startEmulator({ accounts: [LOCAL_ACCOUNT, other], rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 }, estate: ESTATE });
    try {
      const { TaskId } = await sdkClient(shared).call("CreateRiskCenterScanTask", scanRequest);
      expect((await sdkClient(shared).call("DescribeTaskLogList", {})).TotalCount).toBe(1);
      expect((await sdkClient(shared, other).call("DescribeTaskLogList", {})).TotalCount).toBe(0);
      const error = await caught(sdkClient(shared, other).call("DescribeTaskLogURL", { Type: 0, ReportTaskIdList: [{ TaskIdList: [TaskId!] }] }));
      expect(error).toMatchObject({ code: "InvalidParameterValue" });
    } finally {
      await shared.close();
    }
  });
});

describe("risk lists", () => {
  it.each([
    [
      "DescribeRiskCenterAssetViewVULRiskList",
      {
        AffectAsset: "ins-aaaa0001",
        InstanceId: "ins-aaaa0001",
        InstanceName: "web-1",
        InstanceType: "CVM",
        Level: "extreme",
        VULName: "Curl 身份认证绕过漏洞(CVE-2023-27536)",
        CVE: "CVE-2023-27536",
        Port: "443",
        Fix: expect.any(String),
        Status: 0,
        Id: expect.stringMatching(/^[0-9a-f]{32}$/),
        FirstTime: "2026-03-01 10:00:00",
        RecentTime: "2026-03-01 10:00:00",
        AppId: "1250000000",
        Uin: "100000000001",
      },
    ],
    [
      "DescribeRiskCenterAssetViewPortRiskList",
      { AffectAsset: "203.0.113.9", InstanceId: "lb-9z8y7x6w", InstanceType: "CLB", Port: 6379, Protocol: "tcp", Service: "redis", Suggestion: 2, Level: "high", Status: 0 },
    ],
    [
      "DescribeRiskCenterAssetViewWeakPasswordRiskList",
      // As the official example row: the CVM's address as AffectAsset, the CVM as InstanceId.
      { AffectAsset: "203.0.113.1", InstanceId: "ins-aaaa0001", InstanceType: "CVM", PasswordType: "SSH弱口令", Port: 22, Level: "high", Fix: "修改对应用户的密码为足够强度的密码。" },
    ],
    [
      "DescribeRiskCenterAssetViewCFGRiskList",
      { AffectAsset: "cdb-aaaa0001", InstanceId: "cdb-aaaa0001", InstanceType: "MYSQL", CFGName: "MySQL 未开启 SSL 加密连接", CFGFix: "开启 require_secure_transport。", Level: "middle" },
    ],
  ] as const)("%s answers in the SDK model's shape", async (action, row) => {
    const answer = (await sdkClient(emulator).call(action, { Filter: { Limit: 1 } })) as { TotalCount: number; Data: unknown[]; LevelLists: unknown[] };
    expect(answer.Data).toEqual([expect.objectContaining(row)]);
    expect(answer.LevelLists).toEqual([
      { Text: "严重", Value: "extreme" },
      { Text: "高危", Value: "high" },
      { Text: "中危", Value: "middle" },
      { Text: "低危", Value: "low" },
      { Text: "提示", Value: "info" },
    ]);
  });

  it("scopes to member accounts, filters on InstanceId and AffectAsset, pages, and keeps Ids stable", async () => {
    const csip = sdkClient(emulator);
    const vul = (request: Parameters<typeof csip.call<"DescribeRiskCenterAssetViewVULRiskList">>[1]) => csip.call("DescribeRiskCenterAssetViewVULRiskList", request);
    const own = await vul({ Filter: { Limit: 10 } });
    expect(own.TotalCount).toBe(3);
    expect(own.Data?.map((r) => [r.AffectAsset, r.CVE])).toEqual([
      ["ins-aaaa0001", "CVE-2023-27536"],
      ["ins-aaaa0001", "CVE-2020-15778"],
      ["shop.example.com", "CVE-2020-11022"],
    ]);
    expect((await vul({ MemberId: ["mem-1"] })).Data?.map((r) => [r.InstanceId, r.CVE])).toEqual([["ins-member01", "CVE-2022-41741"]]);
    const byInstance = await vul({ Filter: { Filters: [{ Name: "InstanceId", Values: ["ins-aaaa0001"], OperatorType: 7 }] } });
    expect(byInstance.TotalCount).toBe(2);
    const byAsset = await vul({ Filter: { Filters: [{ Name: "AffectAsset", Values: ["shop.example.com"], OperatorType: 7 }] } });
    expect(byAsset.Data?.map((r) => [r.Id, r.InstanceType])).toEqual([["risk-shop-xss", "CLB"]]);
    const paged = await vul({ Filter: { Limit: 1, Offset: 1 } });
    expect([paged.TotalCount, paged.Data?.map((r) => r.Id)]).toEqual([3, [own.Data![1]!.Id]]);
    expect(new Set(own.Data?.map((r) => r.Id)).size).toBe(3);
    expect(await caught(vul({ Filter: { Limit: 101 } }))).toMatchObject({ code: "InvalidParameterValue" });
  });

  it("filters on the assets' Tags", async () => {
    const csip = sdkClient(emulator);
    expect((await csip.call("DescribeRiskCenterAssetViewCFGRiskList", {})).TotalCount).toBe(1);
    expect((await csip.call("DescribeRiskCenterAssetViewCFGRiskList", { Tags: [{ TagKey: "env", TagValue: "prod" }] })).TotalCount).toBe(0);
    expect((await csip.call("DescribeRiskCenterAssetViewVULRiskList", { Tags: [{ TagKey: "env", TagValue: "prod" }] })).TotalCount).toBe(3);
  });

  it("shows the estate's risks as they are now, with RecentTime from the last done task that scanned the asset", async () => {
    emulator.state.scanTiming = { queuedMs: 0, scanningMs: 0 };
    const csip = sdkClient(emulator);
    clock = T0 + 3_600_000;
    await createTask();
    estateAsset("ins-aaaa0001").risks = [CURL];
    const rows = (await csip.call("DescribeRiskCenterAssetViewVULRiskList", { Filter: { Filters: [{ Name: "InstanceId", Values: ["ins-aaaa0001"], OperatorType: 7 }] } })).Data;
    expect(rows?.map((r) => [r.CVE, r.FirstTime, r.RecentTime])).toEqual([["CVE-2023-27536", "2026-03-01 10:00:00", "2026-03-01 11:00:00"]]);
  });
});

describe("the demo estate", () => {
  it("has risks on a public IP and on a domain, so local mode shows findings read by AffectAsset", async () => {
    const estate = await readEstate("config/emulator-inventory.yaml");
    expect(estate.some((a) => a.kind === "publicIp" && (a.risks ?? []).length > 0)).toBe(true);
    expect(estate.some((a) => a.kind === "domain" && (a.risks ?? []).length > 0)).toBe(true);
  });
});
