import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ASSET_KINDS, type Asset } from "../../../shared/assets/kinds.ts";
import type { CsipClient } from "../../../shared/csip/client.ts";
import { currentFindings } from "../../../shared/results/findings.ts";
import { taskStates } from "../../../shared/results/task-states.ts";
import { taskAsset } from "../../../shared/scan/requests.ts";
import { sdkClient } from "../../helpers.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";

let emulator: Emulator;
let csip: CsipClient;
beforeAll(async () => {
  emulator = await startEmulator({
    estate: [
      { kind: "cvm", id: "ins-web00001", publicIp: "203.0.113.10", risks: [{ kind: "port", level: "middle", name: "ssh", port: 22 }, { kind: "vul", level: "high", name: "nginx", cve: "CVE-2022-41741" }] },
      { kind: "publicIp", id: "203.0.113.30", type: "CLB", instanceId: "lb-1x2y3z4a", risks: [{ kind: "port", level: "high", name: "redis", port: 6379 }] },
      { kind: "domain", id: "shop.example.com", risks: [{ kind: "vul", level: "extreme", name: "jQuery XSS", cve: "CVE-2020-11022" }] },
      { kind: "cvm", id: "ins-other001", publicIp: "203.0.113.99", risks: [{ kind: "weakPassword", level: "high", name: "SSH", port: 22 }] },
    ],
    rateLimit: false,
    scanTiming: { queuedMs: 0, scanningMs: 0 },
  });
  csip = sdkClient(emulator);
});
afterAll(() => emulator.close());
afterEach(() => {
  emulator.calls.length = 0;
  emulator.clearFaults();
});

/** A task over these assets, as the scheduled run makes it (the kinds table's TaskAssetObject), read back. */
async function scopeOfTaskOver(assets: Asset[]) {
  const made = await csip.call("CreateRiskCenterScanTask", { TaskName: "t", ScanAssetType: 1, ScanItem: ["port"], ScanPlanType: 1, Assets: assets.map(taskAsset) });
  return (await taskStates(csip, [made.TaskId!])).tasks.get(made.TaskId!)!.scope;
}

const asset = (kind: "cvm" | "publicIp" | "domain", item: Record<string, unknown>): Asset => ASSET_KINDS[kind].fromItem(item)!;

describe("currentFindings", () => {
  it("finds a CVM's risks by InstanceId, a public IP's and a domain's by AffectAsset, as the example rows name them", async () => {
    const scope = await scopeOfTaskOver([
      asset("cvm", { AssetId: "ins-web00001", PublicIp: "203.0.113.10", AssetType: "CVM" }),
      asset("publicIp", { PublicIp: "203.0.113.30", AssetId: "lb-1x2y3z4a", AssetType: "CLB" }),
      asset("domain", { SubDomain: "shop.example.com", AssetId: ["shop.example.com"] }),
    ]);
    const read = await currentFindings(csip, scope);
    expect(read.findings.map((f) => [f.level, f.asset, f.name])).toEqual([
      ["extreme", "shop.example.com", "jQuery XSS"],
      ["high", "203.0.113.30", "open port 6379/tcp (redis)"],
      ["high", "ins-web00001", "nginx"],
      ["middle", "203.0.113.10", "open port 22/tcp (ssh)"],
    ]);
    expect(read.total).toBe(4);
  });

  it("a risk list that ignores the filter is read whole and matched here, with one warning per action", async () => {
    emulator.ignoreFilter("DescribeRiskCenterAssetViewWeakPasswordRiskList", "InstanceId");
    const read = await currentFindings(csip, { assets: ["ins-web00001"], typedIn: [], everything: false });
    expect(read.findings.map((f) => f.asset)).not.toContain("203.0.113.99");
    expect(read.warnings).toEqual(["DescribeRiskCenterAssetViewWeakPasswordRiskList ignored the filter InstanceId: the list was read to its end and matched here"]);
  });

  it("a scan of everything reads every list to its end; a cap is said, with the TotalCount", async () => {
    const whole = await currentFindings(csip, { assets: [], typedIn: [], everything: true });
    expect(whole).toMatchObject({ total: 5 });
    expect(whole.capped).toBeUndefined();
    // Pages of one row, one page a list: the two port risks are not both read.
    const capped = await currentFindings(csip, { assets: [], typedIn: [], everything: true }, undefined, { maxPages: 1, pageSize: 1 });
    expect(capped.total).toBe(5);
    expect(capped.capped).toContain("DescribeRiskCenterAssetViewPortRiskList: 1 of 2");
  });
});
