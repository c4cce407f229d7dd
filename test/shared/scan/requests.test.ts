import { describe, expect, it } from "vitest";
import { ASSET_KINDS, type Asset, type AssetKind } from "../../../shared/assets/kinds.ts";
import { PolicySchema, type Policy } from "../../../shared/config/schema.ts";
import { SCAN_ASSET_TYPE, SCAN_NOW } from "../../../shared/csip/actions.ts";
import { chunk, planScanTasks, requestSize, scanAssetType, taskAsset, type ScanTaskRequest } from "../../../shared/scan/requests.ts";
import { scheduledRunNames } from "../../../shared/state/keys.ts";
import cvmAssets from "../../fixtures/csip/describe-cvm-assets.json" with { type: "json" };
import dbAssets from "../../fixtures/csip/describe-db-assets.json" with { type: "json" };
import domainAssets from "../../fixtures/csip/describe-domain-assets.json" with { type: "json" };
import publicIpAssets from "../../fixtures/csip/describe-public-ip-assets.json" with { type: "json" };

// The CreateRiskCenterScanTask requests of a policy run, named as shared/state/keys.ts names them.

const SLOT = new Date("2026-11-29T03:00:00Z");
const names = scheduledRunNames("nightly-prod", SLOT);

/** A policy as the loader gives it: the file's fields with the schema's defaults. */
function policy(fields: Record<string, unknown>): Policy {
  return PolicySchema.parse({ name: "nightly-prod", schedule: "0 0 3 * * * *", scanItems: ["port", "poc"], ...fields });
}

/** A CVM of the inventory, as ASSET_KINDS.cvm reads a DescribeCVMAssets item. */
function cvm(n: number): Asset {
  const id = `ins-${String(n).padStart(8, "0")}`;
  return ASSET_KINDS.cvm.fromItem({ AssetId: id, AssetName: `web-${n}`, PublicIp: `106.52.96.${n}`, AssetType: "CVM", Region: "ap-guangzhou", Tag: [{ Name: "env", Value: "prod" }] })!;
}

/** The one asset of `kind` the first item of the official list example reads as. */
function firstOf(kind: AssetKind, data: readonly Record<string, unknown>[]): Asset {
  return ASSET_KINDS[kind].fromItem(data[0]!)!;
}

/** The TaskAssetObject of a CVM from cvm(n). */
const cvmTask = (n: number) => ({ Asset: `ins-${String(n).padStart(8, "0")}`, AssetName: `web-${n}`, AssetType: "Instance", InstanceType: "CVM", Region: "ap-guangzhou" });

describe("chunk", () => {
  it.each<[number[], number, number[][]]>([
    [[1, 2, 3, 4, 5], 2, [[1, 2], [3, 4], [5]]],
    [[1, 2, 3, 4], 2, [[1, 2], [3, 4]]],
    [[1, 2, 3], 3, [[1, 2, 3]]],
    [[1, 2, 3], 10, [[1, 2, 3]]],
    [[1, 2, 3], 1, [[1], [2], [3]]],
    [[], 2, []],
  ])("%j by %i is %j", (items, size, chunks) => {
    expect(chunk(items, size)).toEqual(chunks);
  });
});

describe("scanAssetType", () => {
  it.each<[string, number, Record<string, unknown>]>([
    ["targets", SCAN_ASSET_TYPE.listed, { targets: ["web"] }],
    ["urls", SCAN_ASSET_TYPE.typedIn, { urls: ["https://www.example.com"] }],
    ["all", SCAN_ASSET_TYPE.all, { all: true }],
    ["all with except", SCAN_ASSET_TYPE.allExcept, { all: true, except: ["staging"] }],
  ])("a policy with %s scans ScanAssetType %i", (_, type, fields) => {
    expect(scanAssetType(policy(fields))).toBe(type);
  });

  it("keeps CreateRiskCenterScanTask's documented values", () => {
    expect(SCAN_ASSET_TYPE).toEqual({ all: 0, listed: 1, allExcept: 2, typedIn: 3 });
    expect(SCAN_NOW).toBe(1);
  });
});

describe("taskAsset", () => {
  // One row per kind, from the first item of the official DescribeXAssets examples.
  it.each<[AssetKind, readonly Record<string, unknown>[], Record<string, string>]>([
    ["cvm", cvmAssets.Data, { Asset: "ins-ggrnxdwj", AssetName: "主机测试2-win", AssetType: "Instance", InstanceType: "CVM", Region: "ap-chengdu" }],
    ["publicIp", publicIpAssets.Data, { Asset: "106.52.96.220", AssetName: "cluster-node-10.26", AssetType: "IP", InstanceType: "CVM", Region: "ap-guangzhou" }],
    ["domain", domainAssets.Data, { Asset: "book.szzucieva.com", AssetName: "book.szzucieva.com", AssetType: "Domain", InstanceType: "Domain", Region: "other" }],
    ["db", dbAssets.Data, { Asset: "postgres-n3rvf26b", AssetName: "Unnamed", AssetType: "Db", InstanceType: "POSTGRES", Region: "ap-guangzhou" }],
  ])("a %s asset", (kind, data, object) => {
    expect(taskAsset(firstOf(kind, data))).toEqual(object);
  });

  it.each<[AssetKind, string]>([
    ["publicIp", "EIP"],
    ["db", "MYSQL"],
  ])("a %s asset without an AssetType is asked for as %s", (kind, instanceType) => {
    const asset: Asset = { kind, id: "x-1", name: "x-1", region: "ap-guangzhou", instanceType: "", tags: [], aliases: [] };
    expect(taskAsset(asset).InstanceType).toBe(instanceType);
  });
});

describe("planScanTasks", () => {
  it("splits listed targets by maxAssetsPerTask: 5 assets by 2 are chunks 1..3", () => {
    const assets = [1, 2, 3, 4, 5].map(cvm);
    const plan = planScanTasks(policy({ targets: ["web"], maxAssetsPerTask: 2 }), assets, names.taskName);
    expect(plan.map((t) => t.chunk)).toEqual([1, 2, 3]);
    expect(plan.map((t) => t.request.TaskName)).toEqual([
      "csip-scan:nightly-prod:20261129T030000Z:1",
      "csip-scan:nightly-prod:20261129T030000Z:2",
      "csip-scan:nightly-prod:20261129T030000Z:3",
    ]);
    expect(plan.map((t) => t.request.Assets)).toEqual([[cvmTask(1), cvmTask(2)], [cvmTask(3), cvmTask(4)], [cvmTask(5)]]);
    expect(plan.map((t) => t.assets)).toEqual([assets.slice(0, 2), assets.slice(2, 4), assets.slice(4)]);
    for (const task of plan) expect(task.request.TaskName.startsWith(names.taskPrefix)).toBe(true);
  });

  it("writes every field of a listed request", () => {
    const [task, ...rest] = planScanTasks(policy({ targets: ["web"] }), [cvm(1)], names.taskName);
    expect(rest).toEqual([]);
    expect(task!.request).toEqual({
      TaskName: "csip-scan:nightly-prod:20261129T030000Z:1",
      ScanAssetType: 1,
      ScanItem: ["port", "poc"],
      ScanPlanType: 1,
      ScanFrom: "csip",
      TaskMode: 0,
      Assets: [cvmTask(1)],
    } satisfies ScanTaskRequest);
  });

  it("keeps the default of 200 assets per task", () => {
    const plan = planScanTasks(policy({ targets: ["web"] }), Array.from({ length: 201 }, (_, i) => cvm(i)), names.taskName);
    expect(plan.map((t) => t.request.Assets!.length)).toEqual([200, 1]);
  });

  it("makes no request for listed targets that expanded to nothing", () => {
    expect(planScanTasks(policy({ targets: ["web"] }), [], names.taskName)).toEqual([]);
  });

  it("asks for all assets in one request without Assets", () => {
    const plan = planScanTasks(policy({ all: true, maxAssetsPerTask: 2 }), [], names.taskName);
    expect(plan).toEqual([
      {
        chunk: 1,
        assets: [],
        request: { TaskName: "csip-scan:nightly-prod:20261129T030000Z:1", ScanAssetType: 0, ScanItem: ["port", "poc"], ScanPlanType: 1, ScanFrom: "csip", TaskMode: 0 },
      },
    ]);
    expect("Assets" in plan[0]!.request).toBe(false);
  });

  it("keeps all excepted assets in one request, whatever maxAssetsPerTask says", () => {
    const excepted = [1, 2, 3, 4, 5].map(cvm);
    const plan = planScanTasks(policy({ all: true, except: ["staging"], maxAssetsPerTask: 2 }), excepted, names.taskName);
    expect(plan).toHaveLength(1);
    expect(plan[0]!.chunk).toBe(1);
    expect(plan[0]!.request.ScanAssetType).toBe(SCAN_ASSET_TYPE.allExcept);
    expect(plan[0]!.request.TaskName).toBe("csip-scan:nightly-prod:20261129T030000Z:1");
    expect(plan[0]!.request.Assets).toEqual([1, 2, 3, 4, 5].map(cvmTask));
    expect(plan[0]!.assets).toEqual(excepted);
  });

  it("splits typed-in urls into SelfDefiningAssets chunks, with no Assets", () => {
    const urls = ["https://www.example.com", "106.52.96.220", "api.example.com", "https://shop.example.com/login", "10.0.0.1"];
    const plan = planScanTasks(policy({ urls, maxAssetsPerTask: 2 }), [], names.taskName);
    expect(plan.map((t) => [t.chunk, t.request.TaskName, t.request.ScanAssetType, t.request.SelfDefiningAssets, t.assets])).toEqual([
      [1, "csip-scan:nightly-prod:20261129T030000Z:1", 3, ["https://www.example.com", "106.52.96.220"], []],
      [2, "csip-scan:nightly-prod:20261129T030000Z:2", 3, ["api.example.com", "https://shop.example.com/login"], []],
      [3, "csip-scan:nightly-prod:20261129T030000Z:3", 3, ["10.0.0.1"], []],
    ]);
    for (const task of plan) expect("Assets" in task.request).toBe(false);
  });

  it.each([
    ["standard", 0],
    ["quick", 1],
    ["advanced", 2],
  ])("mode %s asks for TaskMode %i", (mode, taskMode) => {
    const [task] = planScanTasks(policy({ targets: ["web"], mode }), [cvm(1)], names.taskName);
    expect(task!.request.TaskMode).toBe(taskMode);
  });

  it.each<[string, Record<string, unknown>, readonly Asset[]]>([
    ["listed", { targets: ["web"] }, [cvm(1), cvm(2), cvm(3)]],
    ["all", { all: true }, []],
    ["all except", { all: true, except: ["staging"] }, [cvm(1), cvm(2), cvm(3)]],
    ["typed-in", { urls: ["a.example.com", "b.example.com", "c.example.com"] }, []],
  ])("every %s request scans now (ScanPlanType 1) from csip, with the policy's items", (_, fields, assets) => {
    const plan = planScanTasks(policy({ ...fields, scanItems: ["weakpass", "configrisk"], maxAssetsPerTask: 2 }), assets, names.taskName);
    expect(plan.length).toBeGreaterThan(0);
    for (const { request } of plan) expect([request.ScanPlanType, request.ScanFrom, request.ScanItem]).toEqual([1, "csip", ["weakpass", "configrisk"]]);
  });

  it("passes memberIds as MemberId on every chunk", () => {
    const plan = planScanTasks(policy({ targets: ["web"], memberIds: ["mem-625c522c0913c901", "mem-625c229153c9c001"], maxAssetsPerTask: 1 }), [cvm(1), cvm(2)], names.taskName);
    expect(plan.map((t) => t.request.MemberId)).toEqual([
      ["mem-625c522c0913c901", "mem-625c229153c9c001"],
      ["mem-625c522c0913c901", "mem-625c229153c9c001"],
    ]);
  });

  it("passes advanced as TaskAdvanceCFG, exactly as written", () => {
    const advanced = {
      PortRisk: [{ PortSets: "22,3389", CheckType: 0, Detail: "remote access", Enable: 1 }],
      VulRisk: [{ RiskId: "CVE-2021-44228", Enable: 1 }],
      WeakPwdRisk: [{ CheckItemId: 1, Enable: 0 }],
      CFGRisk: [{ ItemId: "cfg-1", Enable: 1, ResourceType: "cvm" }],
    };
    const [task] = planScanTasks(policy({ targets: ["web"], mode: "advanced", advanced }), [cvm(1)], names.taskName);
    expect([task!.request.TaskMode, task!.request.TaskAdvanceCFG]).toEqual([2, advanced]);
  });

  it("leaves MemberId and TaskAdvanceCFG out when the policy has none", () => {
    const [task] = planScanTasks(policy({ targets: ["web"] }), [cvm(1)], names.taskName);
    expect(["MemberId" in task!.request, "TaskAdvanceCFG" in task!.request]).toEqual([false, false]);
  });

  it("copies the policy's lists, so changing a request leaves the policy as it was", () => {
    const p = policy({ targets: ["web"], memberIds: ["mem-1"] });
    const [task] = planScanTasks(p, [cvm(1)], names.taskName);
    task!.request.ScanItem.push("webcontent");
    task!.request.MemberId!.push("mem-2");
    expect([p.scanItems, p.memberIds]).toEqual([["port", "poc"], ["mem-1"]]);
  });
});

describe("requestSize", () => {
  it.each<[string, Record<string, unknown>, readonly Asset[], number[]]>([
    ["listed", { targets: ["web"], maxAssetsPerTask: 2 }, [1, 2, 3, 4, 5].map(cvm), [2, 2, 1]],
    ["typed-in", { urls: ["a.example.com", "b.example.com", "c.example.com"], maxAssetsPerTask: 2 }, [], [2, 1]],
    ["all", { all: true }, [], [0]],
    ["all except (the excepted assets are not scanned)", { all: true, except: ["staging"] }, [cvm(1), cvm(2)], [0]],
  ])("of %s requests", (_, fields, assets, sizes) => {
    expect(planScanTasks(policy(fields), assets, names.taskName).map((t) => requestSize(t.request))).toEqual(sizes);
  });

  it("counts a listed or typed-in request without its list as 0", () => {
    const bare = (ScanAssetType: number): ScanTaskRequest => ({ TaskName: names.taskName(1), ScanAssetType, ScanItem: ["port"], ScanPlanType: SCAN_NOW });
    expect([requestSize(bare(SCAN_ASSET_TYPE.listed)), requestSize(bare(SCAN_ASSET_TYPE.typedIn))]).toEqual([0, 0]);
  });
});
