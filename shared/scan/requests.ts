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
 * (shared/state/keys.ts), planned as the assets come: `add` returns a listed-assets chunk as soon as it
 * is full, so a walk can create it and keep nothing; `end` returns the rest. For all-except, the
 * excepted assets make one task at the end (splitting an exclusion list would scan everything once per
 * part). ScanPlanType is "scan now": the schedule lives in SCF.
 */
export class TaskPlanner {
  readonly type: ScanAssetType;
  /** Assets added. */
  assets = 0;
  /** Chunks planned so far, numbered from 1. */
  chunks = 0;
  private pending: Asset[] = [];

  constructor(
    private readonly policy: Policy,
    private readonly nameOf: (chunk: number) => string,
  ) {
    this.type = scanAssetType(policy);
  }

  /** Adds one asset of the policy's targets (or, for all-except, of its exceptions). */
  add(asset: Asset): PlannedTask | undefined {
    this.assets++;
    this.pending.push(asset);
    if (this.type !== SCAN_ASSET_TYPE.listed || this.pending.length < this.policy.maxAssetsPerTask) return undefined;
    return this.listed(this.takePending());
  }

  /** The chunks still to create once every asset has been added. */
  end(): PlannedTask[] {
    switch (this.type) {
      case SCAN_ASSET_TYPE.all:
        return [{ chunk: ++this.chunks, request: this.common(this.chunks), assets: [] }];
      case SCAN_ASSET_TYPE.allExcept: {
        const assets = this.takePending();
        return [{ chunk: ++this.chunks, request: { ...this.common(this.chunks), Assets: assets.map(taskAsset) }, assets }];
      }
      case SCAN_ASSET_TYPE.typedIn:
        return chunk(this.policy.urls ?? [], this.policy.maxAssetsPerTask).map((urls) => {
          const n = ++this.chunks;
          return { chunk: n, request: { ...this.common(n), SelfDefiningAssets: urls }, assets: [] };
        });
      case SCAN_ASSET_TYPE.listed:
        return this.pending.length > 0 ? [this.listed(this.takePending())] : [];
    }
  }

  private takePending(): Asset[] {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }

  /** A chunk of listed assets; its request is built when read, so it holds only its assets. */
  private listed(part: Asset[]): PlannedTask {
    const n = ++this.chunks;
    const common = (): ScanTaskRequest => this.common(n);
    return {
      chunk: n,
      get request(): ScanTaskRequest {
        return { ...common(), Assets: part.map(taskAsset) };
      },
      assets: part,
    };
  }

  private common(chunkNumber: number): ScanTaskRequest {
    const policy = this.policy;
    return {
      TaskName: this.nameOf(chunkNumber),
      ScanAssetType: this.type,
      ScanItem: [...policy.scanItems],
      ScanPlanType: SCAN_NOW,
      ScanFrom: "csip",
      TaskMode: TASK_MODES[policy.mode],
      ...(policy.memberIds ? { MemberId: [...policy.memberIds] } : {}),
      ...(policy.advanced ? { TaskAdvanceCFG: policy.advanced as Models.TaskAdvanceCFG } : {}),
    };
  }
}

/** Every request for these assets at once (the expanded targets, or the excepted assets for all-except). */
export function planScanTasks(policy: Policy, assets: readonly Asset[], nameOf: (chunk: number) => string): PlannedTask[] {
  const planner = new TaskPlanner(policy, nameOf);
  const planned: PlannedTask[] = [];
  for (const asset of assets) {
    const full = planner.add(asset);
    if (full) planned.push(full);
  }
  return [...planned, ...planner.end()];
}
