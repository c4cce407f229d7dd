import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CloudApiError } from "../../shared/errors.ts";
import { randomAccount } from "../../local/emulator/accounts.ts";
import { startEmulator, type Emulator } from "../../local/emulator/server.ts";
import { caught, rawCall, sdkClient } from "../helpers.ts";

// Contract tests: the official SDK against the emulator, and an independent signer for what the SDK never sends.

const ESTATE = [
  { kind: "cvm", id: "ins-aaaa0001", name: "web-1", publicIp: "203.0.113.1", tags: { env: "prod" } },
  { kind: "cvm", id: "ins-aaaa0002", name: "web-2", tags: { env: "prod" }, authorized: false },
  { kind: "cvm", id: "ins-member01", name: "member-web", memberId: "mem-1" },
  { kind: "publicIp", id: "203.0.113.9", type: "CLB", authorized: false },
  { kind: "domain", id: "shop.example.com", tags: { env: "prod" } },
  { kind: "db", id: "cdb-aaaa0001", type: "MYSQL" },
] as const;

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
  emulator = await startEmulator({ estate: [...ESTATE], rateLimit: false });
});
afterAll(() => emulator.close());
afterEach(() => {
  emulator.state.tasks = [];
  emulator.state.whenUnauthorized = "no-task";
  emulator.setRateLimit(false);
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
    expect(list.Data?.[1]).toMatchObject({ TaskName: "contract", ScanStatus: 1, ScanItem: "port", Assets: scanRequest.Assets });
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
      Assets: [...scanRequest.Assets, { Asset: "ins-aaaa0002" }, { Asset: "ins-unknown" }],
    });
    expect(answer).toMatchObject({ Status: -1, UnAuthAsset: ["ins-aaaa0002", "ins-unknown"] });
    expect(answer.TaskId).toBeUndefined();
    expect(emulator.state.tasks).toHaveLength(0);
  });

  it("creates the task for the authorized assets when set to", async () => {
    emulator.state.whenUnauthorized = "task-with-id";
    const answer = await sdkClient(emulator).call("CreateRiskCenterScanTask", { ...scanRequest, Assets: [...scanRequest.Assets, { Asset: "ins-aaaa0002" }] });
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
    expect(emulator.state.tasks[0]?.ScanStatus).toBe(4);
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
  ])("%s: %s", async (_, request, code) => {
    const error = await caught(sdkClient(emulator).call("CreateRiskCenterScanTask", request as never));
    expect(error).toBeInstanceOf(CloudApiError);
    expect(error).toMatchObject({ code, retryable: false, requestId: expect.any(String) });
  });

  it("accepts a scheduled plan with a 7-field cron", async () => {
    const answer = await sdkClient(emulator).call("CreateRiskCenterScanTask", { ...scanRequest, ScanPlanType: 2, ScanPlanContent: "0 0 3 * * * *" });
    expect(answer.Status).toBe(0);
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

  it.each([
    ["a timestamp 305 s old", { timestamp: Math.floor(Date.now() / 1000) - 305 }, "AuthFailure.SignatureExpire"],
    ["a timestamp 305 s ahead", { timestamp: Math.floor(Date.now() / 1000) + 305 }, "AuthFailure.SignatureExpire"],
    ["another service in the credential scope", { service: "cvm" }, "AuthFailure.SignatureFailure"],
    ["an unsupported region", { region: "xx-nowhere-1" }, "UnsupportedRegion"],
    ["another API version", { version: "2017-03-12" }, "NoSuchVersion"],
    ["a session token the key pair does not have", { token: "not-a-token" }, "AuthFailure.TokenFailure"],
    ["no action", { omitAction: true }, "MissingParameter"],
  ])("rejects %s", async (_, options, code) => {
    const answer = await rawCall(emulator, "DescribeCVMAssets", {}, options);
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
    await new Promise((resolve) => setTimeout(resolve, 1200));
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
