import { createHash } from "node:crypto";
import type {
  AssetViewCFGRisk,
  AssetViewPortRisk,
  AssetViewVULRisk,
  AssetViewWeakPassRisk,
  FilterDataObject,
} from "tencentcloud-sdk-nodejs/tencentcloud/services/csip/v20221121/csip_models.js";
import { SCAN_STATUS, type RiskKind } from "../../shared/csip/actions.ts";
import type { EmulatorAccount } from "./accounts.ts";
import { csipTime, isAnswer, memberScope, page, rulesOf, type Handler, type Params } from "./answers.ts";
import { RISK_LEVELS, type EstateAsset, type EstateRisk, type RiskLevel } from "./estate.ts";
import { INSTANCE_OF } from "./inventory.ts";
import type { EmulatorState } from "./state.ts";

/**
 * The per-asset risk lists (DescribeRiskCenterAssetView{VUL,Port,WeakPassword,CFG}RiskList): the `risks`
 * of the estate's assets, in the SDK models' shapes. One row per kind of risk below.
 */

interface RiskModels {
  vul: AssetViewVULRisk;
  port: AssetViewPortRisk;
  weakPassword: AssetViewWeakPassRisk;
  config: AssetViewCFGRisk;
}

/** One risk of one asset, with what its row needs. */
interface Found {
  asset: EstateAsset;
  risk: EstateRisk;
  account: EmulatorAccount;
  firstTime: string;
  recentTime: string;
}

/** Level texts (the official examples' LevelLists) and the port list's Suggestion: 0 keep, 1 restrict access, 2 block. */
const LEVELS: Record<RiskLevel, { text: string; portSuggestion: number }> = {
  extreme: { text: "严重", portSuggestion: 2 },
  high: { text: "高危", portSuggestion: 2 },
  middle: { text: "中危", portSuggestion: 1 },
  low: { text: "低危", portSuggestion: 0 },
  info: { text: "提示", portSuggestion: 0 },
};

const options = (pairs: [string, string][]): FilterDataObject[] => pairs.map(([Value, Text]) => ({ Text, Value }));

/** The distinct values of a row field, as a filter list. */
const facet =
  <T extends object>(field: keyof T & string) =>
  (rows: T[]): FilterDataObject[] =>
    [...new Set(rows.map((r) => r[field]).filter((v) => v !== undefined && v !== ""))].map((v) => ({ Text: String(v), Value: String(v) }));

/** A risk's Id: the estate's, or one derived from asset, kind and name, so it is the same on every call. */
export function riskId(asset: EstateAsset, risk: EstateRisk): string {
  return risk.id ?? createHash("md5").update(`${asset.id}/${risk.kind}/${risk.name}`).digest("hex");
}

/**
 * What a row names as the affected asset, as the official examples do: the port, weak-password and
 * configuration rows of a CVM name its public address (`AffectAsset` "1.1.1.1", `InstanceId` "ins-…"),
 * the vulnerability row its instance ID; a public IP's and a domain's rows name the address or domain,
 * with the instance behind it as `InstanceId`; a database's, its ID.
 */
function affectedAsset(f: Found): string {
  if (f.asset.kind === "cvm" && f.risk.kind !== "vul" && f.asset.publicIp) return f.asset.publicIp;
  return f.asset.id;
}

/** Fields every risk row has. */
function common(f: Found) {
  const instance = INSTANCE_OF[f.asset.kind](f.asset);
  return {
    Id: riskId(f.asset, f.risk),
    AffectAsset: affectedAsset(f),
    InstanceId: instance.id,
    InstanceName: f.asset.name ?? f.asset.id,
    InstanceType: instance.type,
    Level: f.risk.level,
    Status: 0,
    FirstTime: f.firstTime,
    RecentTime: f.recentTime,
    From: "云安全中心",
    AppId: f.account.appId,
    Uin: f.account.uin,
    Nick: "",
  };
}

interface RiskList<T extends object> {
  row(f: Found): T;
  /** The answer's filter lists besides LevelLists, StatusLists, FromLists and InstanceTypeLists. */
  lists: Record<string, (rows: T[]) => FilterDataObject[]>;
}

const RISK_LISTS: { [K in RiskKind]: RiskList<RiskModels[K]> } = {
  vul: {
    row: (f) => ({
      ...common(f),
      VULName: f.risk.name,
      CVE: f.risk.cve ?? "",
      Fix: f.risk.fix ?? "建议关注厂商公告或升级到最新版本。",
      Port: f.risk.port !== undefined ? String(f.risk.port) : "",
      IsSupportDetect: true,
      IsSupportRepair: false,
      EMGCVulType: 0,
    }),
    lists: { VULTypeLists: facet("VULType") },
  },
  port: {
    row: (f) => ({
      ...common(f),
      Port: f.risk.port ?? 0,
      Protocol: "tcp",
      Service: f.risk.name,
      Component: f.risk.name,
      Suggestion: LEVELS[f.risk.level].portSuggestion,
      XspmStatus: 0,
    }),
    lists: { SuggestionLists: () => options([["0", "保持现状"], ["1", "限制访问"], ["2", "封禁端口"]]) },
  },
  weakPassword: {
    row: (f) => ({
      ...common(f),
      PasswordType: f.risk.name,
      VULType: "弱口令",
      Fix: f.risk.fix ?? "修改对应用户的密码为足够强度的密码。",
      ...(f.risk.port !== undefined ? { Port: f.risk.port } : {}),
    }),
    lists: { PasswordTypeLists: facet("PasswordType") },
  },
  config: {
    row: (f) => ({
      ...common(f),
      CFGName: f.risk.name,
      CFGFix: f.risk.fix ?? "请按安全基线修改该配置。",
      CheckType: "基础安全",
    }),
    lists: { CFGNameLists: facet("CFGName"), CheckTypeLists: facet("CheckType") },
  },
};

const COMMON_LISTS = {
  StatusLists: () => options([["0", "未处理"], ["1", "已处置"], ["2", "已忽略"]]),
  LevelLists: () => options(RISK_LEVELS.map((l) => [l, LEVELS[l].text])),
  FromLists: facet<{ From?: string }>("From"),
  InstanceTypeLists: facet<{ InstanceType?: string }>("InstanceType"),
};

/** The request's Tags (TagKey, TagValue): an asset must carry every one. */
function taggedWith(params: Params): (asset: EstateAsset) => boolean {
  const tags = (params.Tags as { TagKey?: string; TagValue?: string }[] | undefined) ?? [];
  return (a) => tags.every((t) => t.TagKey !== undefined && a.tags[t.TagKey] === t.TagValue);
}

/** RecentTime: when the last done task that scanned the asset ended, else when the emulator started. */
function recentTime(asset: EstateAsset, state: EmulatorState): number {
  const ends = state.tasks.filter((t) => t.end?.status === SCAN_STATUS.done && t.covered.includes(asset.id)).map((t) => t.end!.at);
  return Math.max(state.startedAt, ...ends);
}

export function describeRisks<K extends RiskKind>(kind: K): Handler {
  const list = RISK_LISTS[kind] as RiskList<RiskModels[K]>;
  return (p, context) => {
    const { state, account } = context;
    const rows = state.estate
      .filter(memberScope(p))
      .filter(taggedWith(p))
      .flatMap((asset) =>
        (asset.risks ?? [])
          .filter((risk) => risk.kind === kind)
          .map((risk) =>
            list.row({ asset, risk, account, firstTime: csipTime(state.startedAt), recentTime: csipTime(recentTime(asset, state)) }),
          ),
      );
    const result = page(rows, p, rulesOf(context));
    if (isAnswer(result)) return result;
    const lists: Record<string, (rows: RiskModels[K][]) => FilterDataObject[]> = { ...COMMON_LISTS, ...list.lists };
    const filterLists = Object.fromEntries(Object.entries(lists).map(([name, of]) => [name, of(rows)]));
    return { response: { TotalCount: result.total, Data: result.page, ...filterLists } };
  };
}
