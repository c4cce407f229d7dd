import { ASSET_KINDS, type Asset } from "../assets/kinds.ts";
import { TASK_MODES, type Policy } from "../config/schema.ts";
import { SCAN_ASSET_TYPE, SCAN_NOW, type ScanAssetType } from "../csip/actions.ts";
import type { Models } from "../csip/client.ts";

export type ScanTaskRequest = Models.CreateRiskCenterScanTaskRequest;

/** One CreateRiskCenterScanTask call to make: chunk number (from 1), the request, the assets in it. */
export interface PlannedTask {
  chunk: number;
  request: ScanTaskRequest;
  assets: Asset[];
}

/** CSIP's TaskAssetObject for an asset, from the kind table. */
export function taskAsset(asset: Asset): Models.TaskAssetObject {
  return { Asset: asset.id, AssetName: asset.name, ...ASSET_KINDS[asset.kind].task(asset), Region: asset.region };
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!(size >= 1)) throw new RangeError(`chunk size must be at least 1, got ${size}`);
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** The ScanAssetType of a policy: its targets are listed; typed-in urls; all; all but the excepted groups. */
export function scanAssetType(policy: Policy): ScanAssetType {
  if (policy.urls) return SCAN_ASSET_TYPE.typedIn;
  if (policy.all) return policy.except ? SCAN_ASSET_TYPE.allExcept : SCAN_ASSET_TYPE.all;
  return SCAN_ASSET_TYPE.listed;
}

/** How many assets a request names. */
export function requestSize(request: ScanTaskRequest): number {
  switch (request.ScanAssetType) {
    case SCAN_ASSET_TYPE.typedIn:
      return request.SelfDefiningAssets?.length ?? 0;
    case SCAN_ASSET_TYPE.listed:
      return request.Assets?.length ?? 0;
    default:
      return 0;
  }
}

/**
 * The CreateRiskCenterScanTask requests for one policy run, named by `nameOf(chunk)`
 * (shared/state/keys.ts). `assets` are the expanded targets (listed) or the excepted assets (all
 * except). ScanPlanType is "scan now": the schedule lives in SCF.
 */
export function planScanTasks(policy: Policy, assets: readonly Asset[], nameOf: (chunk: number) => string): PlannedTask[] {
  const type = scanAssetType(policy);
  const common = (chunkNumber: number): ScanTaskRequest => ({
    TaskName: nameOf(chunkNumber),
    ScanAssetType: type,
    ScanItem: [...policy.scanItems],
    ScanPlanType: SCAN_NOW,
    ScanFrom: "csip",
    TaskMode: TASK_MODES[policy.mode],
    ...(policy.memberIds ? { MemberId: [...policy.memberIds] } : {}),
    ...(policy.advanced ? { TaskAdvanceCFG: policy.advanced as Models.TaskAdvanceCFG } : {}),
  });
  switch (type) {
    case SCAN_ASSET_TYPE.all:
      return [{ chunk: 1, request: common(1), assets: [] }];
    case SCAN_ASSET_TYPE.allExcept:
      // Splitting an exclusion list would scan everything once per part: one task holds it all.
      return [{ chunk: 1, request: { ...common(1), Assets: assets.map(taskAsset) }, assets: [...assets] }];
    case SCAN_ASSET_TYPE.typedIn:
      return chunk(policy.urls ?? [], policy.maxAssetsPerTask).map((urls, i) => ({
        chunk: i + 1,
        request: { ...common(i + 1), SelfDefiningAssets: urls },
        assets: [],
      }));
    case SCAN_ASSET_TYPE.listed:
      // Each request is built when it is read, so the 500 requests of 100,000 assets are never all
      // in memory at once (bench/memory.ts): the chunk keeps only its slice of the asset list.
      return chunk(assets, policy.maxAssetsPerTask).map((part, i) => ({
        chunk: i + 1,
        get request(): ScanTaskRequest {
          return { ...common(i + 1), Assets: part.map(taskAsset) };
        },
        assets: part,
      }));
  }
}
