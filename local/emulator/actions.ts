import { randomBytes } from "node:crypto";
import { ALL_KINDS, type AssetKind } from "../../shared/assets/kinds.ts";
import { parseScfCron } from "../../shared/config/scf-cron.ts";
import { SCAN_ITEMS } from "../../shared/config/schema.ts";
import { listActionOf, SCAN_ASSET_TYPE, SCAN_NOW, type CsipAction, type ListAction } from "../../shared/csip/actions.ts";
import type { EmulatorAccount } from "./accounts.ts";
import type { EstateAsset } from "./estate.ts";

/**
 * The emulated actions. Shapes follow the SDK models and the official examples in
 * ../shared/reference/csip-2022-11-21-{api,examples}.json; what the documents leave open is in ASSUMPTIONS.md.
 */

export interface EmulatedTask {
  TaskId: string;
  TaskName: string;
  AppId: string;
  UIN: string;
  Assets: Record<string, unknown>[];
  SelfDefiningAssets: string[];
  ScanAssetType: number;
  ScanItem: string;
  TaskType: number;
  ScanPlanContent: string;
  TaskMode: number;
  ScanFrom: string;
  ScanStatus: number;
  InsertTime: string;
  MemberId: string[];
  /** Milliseconds since the epoch, for newest-first ordering. */
  createdAt: number;
}

/**
 * What CSIP does with a chunk holding unauthorized assets (undocumented, see ASSUMPTIONS.md): creates no
 * task; creates one for the authorized assets and names it in the answer; or creates one and does not
 * name it (so only a look at the task list finds it).
 */
export const UNAUTHORIZED_ANSWERS = ["no-task", "task-with-id", "task-without-id"] as const;
export type UnauthorizedAnswer = (typeof UNAUTHORIZED_ANSWERS)[number];

export interface EmulatorState {
  estate: EstateAsset[];
  /** Assets CSIP has not discovered yet: CreateAssetSyncTask adds them to the estate. */
  pendingSync: EstateAsset[];
  tasks: EmulatedTask[];
  whenUnauthorized: UnauthorizedAnswer;
  maxPageSize: number;
}

interface Context {
  state: EmulatorState;
  account: EmulatorAccount;
  now: number;
}

type Params = Record<string, unknown>;
export type Answer = { response: Record<string, unknown> } | { error: { code: string; message: string } };
type Handler = (params: Params, context: Context) => Answer;

const KNOWN_SCAN_ITEMS = new Set<string>(SCAN_ITEMS);
const SCAN_ASSET_TYPES = new Set<number>(Object.values(SCAN_ASSET_TYPE));

const invalid = (message: string): Answer => ({ error: { code: "InvalidParameterValue", message } });
const missing = (name: string, why: string): Answer => ({
  error: { code: "MissingParameter", message: `The request is missing a required parameter \`${name}\`: ${why}.` },
});

/** CSIP shows times as "2024-10-30 11:18:09" (Beijing time in the examples). */
function csipTime(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace("T", " ");
}

function memberScope(params: Params): (asset: EstateAsset) => boolean {
  const members = Array.isArray(params.MemberId) ? (params.MemberId as string[]) : [];
  return members.length > 0 ? (a) => a.memberId !== undefined && members.includes(a.memberId) : (a) => a.memberId === undefined;
}

function hostOf(value: string): string {
  try {
    return value.includes("://") ? new URL(value).hostname : value;
  } catch {
    return value;
  }
}

/** Identifiers that name an asset: its ID, and for a CVM its public address. */
function names(asset: EstateAsset): string[] {
  return asset.kind === "cvm" && asset.publicIp ? [asset.id, asset.publicIp] : [asset.id];
}

const createRiskCenterScanTask: Handler = (p, { state, account, now }) => {
  const scanAssetType = p.ScanAssetType as number;
  const scanPlanType = p.ScanPlanType as number;
  if (!SCAN_ASSET_TYPES.has(scanAssetType)) return invalid("ScanAssetType must be 0, 1, 2 or 3.");
  const assets = (p.Assets as Record<string, unknown>[] | undefined) ?? [];
  const selfDefining = (p.SelfDefiningAssets as string[] | undefined) ?? [];
  if ((scanAssetType === SCAN_ASSET_TYPE.listed || scanAssetType === SCAN_ASSET_TYPE.allExcept) && assets.length === 0) {
    return missing("Assets", "ScanAssetType 1 and 2 need Assets");
  }
  if (scanAssetType === SCAN_ASSET_TYPE.typedIn && selfDefining.length === 0) {
    return missing("SelfDefiningAssets", "ScanAssetType 3 needs SelfDefiningAssets");
  }
  if (![0, 1, 2, 3].includes(scanPlanType)) return invalid("ScanPlanType must be 0, 1, 2 or 3.");
  const content = typeof p.ScanPlanContent === "string" ? p.ScanPlanContent : "";
  if (scanPlanType !== SCAN_NOW) {
    if (!content) return missing("ScanPlanContent", "ScanPlanType 0, 2 and 3 need ScanPlanContent");
    if (!parseScfCron(content).ok) return invalid("ScanPlanContent must be a 7-field cron expression.");
  }
  const items = p.ScanItem as string[];
  if (items.length === 0 || items.some((i) => !KNOWN_SCAN_ITEMS.has(i))) {
    return invalid(`ScanItem values must be among ${SCAN_ITEMS.join(", ")}.`);
  }
  const mode = (p.TaskMode as number | undefined) ?? 0;
  if (![0, 1, 2].includes(mode)) return invalid("TaskMode must be 0, 1 or 2.");
  if (typeof p.TaskName !== "string" || p.TaskName.trim() === "") return invalid("TaskName must not be empty.");

  // Assets CSIP does not know, or knows as not authorized, come back in UnAuthAsset with Status -1.
  const inScope = state.estate.filter(memberScope(p));
  const authorizedNames = new Set(inScope.filter((a) => a.authorized).flatMap(names));
  const authorized = (id: string): boolean => authorizedNames.has(id);
  const named =
    scanAssetType === SCAN_ASSET_TYPE.listed ? assets.map((a) => String(a.Asset ?? "")) : scanAssetType === SCAN_ASSET_TYPE.typedIn ? selfDefining : [];
  const unauthorized = named.filter((id) => !authorized(scanAssetType === SCAN_ASSET_TYPE.typedIn ? hostOf(id) : id));
  if (unauthorized.length > 0 && state.whenUnauthorized === "no-task") {
    return { response: { Status: -1, UnAuthAsset: unauthorized } };
  }
  const task: EmulatedTask = {
    TaskId: `rmis-${randomBytes(4).toString("hex")}`,
    TaskName: p.TaskName,
    AppId: account.appId,
    UIN: account.uin,
    Assets: scanAssetType === SCAN_ASSET_TYPE.listed ? assets.filter((a) => !unauthorized.includes(String(a.Asset))) : assets,
    SelfDefiningAssets: selfDefining.filter((s) => !unauthorized.includes(s)),
    ScanAssetType: scanAssetType,
    ScanItem: items.join(","),
    TaskType: scanPlanType,
    ScanPlanContent: content,
    TaskMode: mode,
    ScanFrom: typeof p.ScanFrom === "string" ? p.ScanFrom : "csip",
    ScanStatus: scanPlanType === SCAN_NOW ? 1 : 0,
    InsertTime: csipTime(now),
    MemberId: (p.MemberId as string[] | undefined) ?? [],
    createdAt: now,
  };
  state.tasks.push(task);
  if (unauthorized.length > 0 && state.whenUnauthorized === "task-without-id") return { response: { Status: -1, UnAuthAsset: unauthorized } };
  return { response: { TaskId: task.TaskId, Status: unauthorized.length > 0 ? -1 : 0, UnAuthAsset: unauthorized } };
};

interface FilterParams {
  Limit?: number;
  Offset?: number;
  Filters?: { Name: string; Values: string[]; OperatorType?: number }[];
}

/** Filter.Limit (default 10, at most maxPageSize) and Offset paging; Filters match item fields, 7 exact and 9 fuzzy. */
function page<T extends Record<string, unknown>>(
  items: T[],
  filter: FilterParams | undefined,
  maxPageSize: number,
): { page: T[]; total: number } | Answer {
  const limit = filter?.Limit ?? 10;
  const offset = filter?.Offset ?? 0;
  if (limit < 0 || limit > maxPageSize) return invalid(`Filter.Limit must be between 0 and ${maxPageSize}.`);
  if (offset < 0) return invalid("Filter.Offset must not be negative.");
  let matched = items;
  for (const f of filter?.Filters ?? []) {
    const fuzzy = f.OperatorType === 9;
    matched = matched.filter((item) => {
      const raw = item[f.Name];
      const values = (Array.isArray(raw) ? raw : [raw]).map(String);
      return values.some((v) => f.Values.some((want) => (fuzzy ? v.includes(want) : v === want)));
    });
  }
  return { page: matched.slice(offset, offset + limit), total: matched.length };
}

const describeScanTaskList: Handler = (p, { state, account }) => {
  const mine = state.tasks
    .filter((t) => t.AppId === account.appId)
    .sort((a, b) => b.createdAt - a.createdAt)
    .map(({ createdAt: _createdAt, MemberId: _memberId, ...task }) => ({ ...task, AssetNumber: task.Assets.length }));
  const result = page(mine, p.Filter as FilterParams | undefined, state.maxPageSize);
  if ("error" in result || "response" in result) return result;
  return {
    response: {
      TotalCount: result.total,
      Data: result.page,
      UINList: [account.uin],
      TaskModeList: [
        { Text: "标准体检", Value: "0" },
        { Text: "快速体检", Value: "1" },
        { Text: "高级体检", Value: "2" },
      ],
    },
  };
};

function taskIds(p: Params): string[] {
  return ((p.TaskIdList as { TaskId: string }[] | undefined) ?? []).map((t) => t.TaskId);
}

const stopRiskCenterTask: Handler = (p, { state, account }) => {
  const ids = taskIds(p);
  const tasks = state.tasks.filter((t) => t.AppId === account.appId && ids.includes(t.TaskId));
  if (tasks.length !== ids.length) return invalid("TaskIdList names a task that does not exist.");
  for (const task of tasks) task.ScanStatus = 4;
  return { response: { Status: 0 } };
};

const deleteRiskScanTask: Handler = (p, { state, account }) => {
  const ids = taskIds(p);
  const before = state.tasks.length;
  state.tasks = state.tasks.filter((t) => !(t.AppId === account.appId && ids.includes(t.TaskId)));
  if (before - state.tasks.length !== ids.length) return invalid("TaskIdList names a task that does not exist.");
  return { response: {} };
};

const tagList = (a: EstateAsset): { Name: string; Value: string }[] =>
  Object.entries(a.tags).map(([Name, Value]) => ({ Name, Value }));

/** Fields every list item has: tags, member account, owner. */
const owned = (a: EstateAsset, acc: EmulatorAccount): Record<string, unknown> => ({
  Tag: tagList(a),
  MemberId: a.memberId ?? "",
  AppId: Number(acc.appId),
  Uin: acc.uin,
});

/** Items in the SDK models' shapes: CVMAssetVO, IpAssetListVO, DomainAssetVO (lists!), DBAssetVO. */
const ITEM_SHAPES: Record<AssetKind, (a: EstateAsset, account: EmulatorAccount) => Record<string, unknown>> = {
  cvm: (a, acc) => ({
    AssetId: a.id,
    AssetName: a.name ?? a.id,
    AssetType: "CVM",
    Region: a.region,
    PublicIp: a.publicIp ?? "",
    PrivateIp: "10.0.0.10",
    ...owned(a, acc),
    InstanceState: "RUNNING",
    CVMStatus: 1,
    AgentStatus: 1,
  }),
  publicIp: (a, acc) => ({
    AssetId: a.instanceId ?? `eip-${a.id.replace(/[^0-9a-f]/gi, "").slice(-8)}`,
    AssetName: a.name ?? a.id,
    PublicIp: a.id,
    AssetType: a.type ?? "EIP",
    Region: a.region,
    ...owned(a, acc),
    IsCloud: 1,
    VerifyStatus: a.authorized ? 1 : 0,
  }),
  domain: (a, acc) => ({
    AssetId: [a.id],
    AssetName: [a.name ?? a.id],
    SubDomain: a.id,
    AssetType: [a.type ?? "CLB"],
    Region: [a.region],
    ...owned(a, acc),
    IsCloud: 1,
    VerifyStatus: a.authorized ? 1 : 0,
  }),
  db: (a, acc) => ({
    AssetId: a.id,
    AssetName: a.name ?? a.id,
    AssetType: a.type ?? "MYSQL",
    Region: a.region,
    PublicIp: a.publicIp ?? "",
    ...owned(a, acc),
    Status: 1,
  }),
};

function describeAssets(kind: AssetKind): Handler {
  return (p, { state, account }) => {
    const items = state.estate
      .filter((a) => a.kind === kind)
      .filter(memberScope(p))
      .map((a) => ITEM_SHAPES[kind](a, account));
    const result = page(items, p.Filter as FilterParams | undefined, state.maxPageSize);
    if ("error" in result || "response" in result) return result;
    return { response: { Total: result.total, Data: result.page } };
  };
}

/** The sync finds what the estate did not list yet (the real one takes minutes; the emulator, none). */
const createAssetSyncTask: Handler = (_, { state }) => {
  state.estate.push(...state.pendingSync);
  state.pendingSync = [];
  return { response: { TaskIDs: [`csip-${randomBytes(4).toString("hex")}`] } };
};

/** Every action of the project's action table (shared/csip/actions.ts): the type makes a missing one an error. */
export const actionHandlers: Record<CsipAction, Handler> = {
  ...(Object.fromEntries(ALL_KINDS.map((kind) => [listActionOf(kind), describeAssets(kind)])) as Record<ListAction, Handler>),
  CreateRiskCenterScanTask: createRiskCenterScanTask,
  DescribeScanTaskList: describeScanTaskList,
  StopRiskCenterTask: stopRiskCenterTask,
  DeleteRiskScanTask: deleteRiskScanTask,
  CreateAssetSyncTask: createAssetSyncTask,
};
