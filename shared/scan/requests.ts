import { ASSET_KINDS, type Asset } from "../assets/kinds.ts";
import { TASK_MODES, type Policy } from "../config/schema.ts";
import type { Models } from "../csip/client.ts";

export type ScanTaskRequest = Models.CreateRiskCenterScanTaskRequest;

/** One CreateRiskCenterScanTask call to make: chunk number (from 1), the request, the assets in it. */
export interface PlannedTask {
  chunk: number;
  request: ScanTaskRequest;
  assets: Asset[];
}

/**
 * The task name: policy, scheduled time and chunk. Deterministic, so a retried invocation can find
 * the task it already created (CSIP has no idempotency token). CSIP documents no length limit or
 * character set for TaskName; policy names are at most 60 characters, so this stays under 90.
 */
export function taskName(policy: string, scheduledTime: Date, chunk: number): string {
  const stamp = scheduledTime.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
  return `csip-scan:${policy}:${stamp}:${chunk}`;
}

/** CSIP's TaskAssetObject for an asset, from the kind table. */
export function taskAsset(asset: Asset): Models.TaskAssetObject {
  return { Asset: asset.id, AssetName: asset.name, ...ASSET_KINDS[asset.kind].task(asset), Region: asset.region };
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** ScanAssetType: 1 targets, 3 urls, 0 all, 2 all but the excepted groups. */
export function scanAssetType(policy: Policy): 0 | 1 | 2 | 3 {
  if (policy.urls) return 3;
  if (policy.all) return policy.except ? 2 : 0;
  return 1;
}

/**
 * The CreateRiskCenterScanTask requests for one policy run, named by `nameOf(chunk)` (see taskName).
 * `assets` are the expanded targets
 * (ScanAssetType 1) or the excepted assets (ScanAssetType 2). ScanPlanType is 1, "scan now":
 * the schedule lives in SCF.
 */
export function planScanTasks(policy: Policy, assets: readonly Asset[], nameOf: (chunk: number) => string): PlannedTask[] {
  const type = scanAssetType(policy);
  const common = (chunkNumber: number): ScanTaskRequest => ({
    TaskName: nameOf(chunkNumber),
    ScanAssetType: type,
    ScanItem: [...policy.scanItems],
    ScanPlanType: 1,
    ScanFrom: "csip",
    TaskMode: TASK_MODES[policy.mode],
    ...(policy.memberIds ? { MemberId: [...policy.memberIds] } : {}),
    ...(policy.advanced ? { TaskAdvanceCFG: policy.advanced as Models.TaskAdvanceCFG } : {}),
  });
  switch (type) {
    case 0:
      return [{ chunk: 1, request: common(1), assets: [] }];
    case 2:
      // Splitting an exclusion list would scan everything once per part: one task holds it all.
      return [{ chunk: 1, request: { ...common(1), Assets: assets.map(taskAsset) }, assets: [...assets] }];
    case 3:
      return chunk(policy.urls ?? [], policy.maxAssetsPerTask).map((urls, i) => ({
        chunk: i + 1,
        request: { ...common(i + 1), SelfDefiningAssets: urls },
        assets: [],
      }));
    case 1:
      return chunk(assets, policy.maxAssetsPerTask).map((part, i) => ({
        chunk: i + 1,
        request: { ...common(i + 1), Assets: part.map(taskAsset) },
        assets: part,
      }));
  }
}
