import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import type { AssetKind } from "../../shared/assets/kinds.ts";
import type { EmulatorAccount } from "./accounts.ts";
import { isAnswer, memberScope, page, rulesOf, type Handler, type Params } from "./answers.ts";
import type { EstateAsset } from "./estate.ts";

/** The inventory list actions (DescribeCVMAssets, ...) and what other actions need to know of an asset. */

/** The instance behind an asset and its AssetType, as the inventory and the risk lists show them. */
export const INSTANCE_OF: Record<AssetKind, (a: EstateAsset) => { id: string; type: string }> = {
  cvm: (a) => ({ id: a.id, type: "CVM" }),
  publicIp: (a) => ({ id: a.instanceId ?? `eip-${a.id.replace(/[^0-9a-f]/gi, "").slice(-8)}`, type: a.type ?? "EIP" }),
  domain: (a) => ({ id: a.id, type: a.type ?? "CLB" }),
  db: (a) => ({ id: a.id, type: a.type ?? "MYSQL" }),
};

/** Identifiers that name an asset: its ID, and for a CVM its public address. */
export function names(asset: EstateAsset): string[] {
  return asset.kind === "cvm" && asset.publicIp ? [asset.id, asset.publicIp] : [asset.id];
}

const tagList = (a: EstateAsset): { Name: string; Value: string }[] =>
  Object.entries(a.tags).map(([Name, Value]) => ({ Name, Value }));

/** Fields every list item has: tags, member account, owner. */
const owned = (a: EstateAsset, acc: EmulatorAccount): Record<string, unknown> => ({
  Tag: tagList(a),
  MemberId: a.memberId ?? "",
  AppId: Number(acc.appId),
  Uin: acc.uin,
});

/**
 * The official example's CVM row, about 70 fields and 2 KB: every CVM item carries all of them, so a
 * walk of the emulated inventory weighs what a walk of the real one does (bench/memory.ts).
 */
const CVM_EXAMPLE = (createRequire(import.meta.url)("./cvm-row-example.json") as { row: Record<string, unknown> }).row;

/** Items in the SDK models' shapes: CVMAssetVO, IpAssetListVO, DomainAssetVO (lists!), DBAssetVO. */
const ITEM_SHAPES: Record<AssetKind, (a: EstateAsset, account: EmulatorAccount) => Record<string, unknown>> = {
  cvm: (a, acc) => ({
    ...CVM_EXAMPLE,
    AssetId: a.id,
    AssetName: a.name ?? a.id,
    AssetType: INSTANCE_OF.cvm(a).type,
    Region: a.region,
    PublicIp: a.publicIp ?? "",
    PrivateIp: "10.0.0.10",
    ...owned(a, acc),
    InstanceState: "RUNNING",
    CVMStatus: 1,
    AgentStatus: 1,
  }),
  publicIp: (a, acc) => ({
    AssetId: INSTANCE_OF.publicIp(a).id,
    AssetName: a.name ?? a.id,
    PublicIp: a.id,
    AssetType: INSTANCE_OF.publicIp(a).type,
    Region: a.region,
    ...owned(a, acc),
    IsCloud: 1,
    VerifyStatus: a.authorized ? 1 : 0,
  }),
  domain: (a, acc) => ({
    AssetId: [a.id],
    AssetName: [a.name ?? a.id],
    SubDomain: a.id,
    AssetType: [INSTANCE_OF.domain(a).type],
    Region: [a.region],
    ...owned(a, acc),
    IsCloud: 1,
    VerifyStatus: a.authorized ? 1 : 0,
  }),
  db: (a, acc) => ({
    AssetId: a.id,
    AssetName: a.name ?? a.id,
    AssetType: INSTANCE_OF.db(a).type,
    Region: a.region,
    PublicIp: a.publicIp ?? "",
    ...owned(a, acc),
    Status: 1,
  }),
};

/**
 * The assets of one kind a member scope sees, in estate order: kept per estate array and length, so that
 * reading a list of a million a page at a time does not filter the whole estate for each page.
 */
const kindLists = new WeakMap<EstateAsset[], { length: number; lists: Map<string, EstateAsset[]> }>();

function listOf(estate: EstateAsset[], kind: AssetKind, p: Params): EstateAsset[] {
  let kept = kindLists.get(estate);
  if (!kept || kept.length !== estate.length) {
    kept = { length: estate.length, lists: new Map() };
    kindLists.set(estate, kept);
  }
  const key = `${kind}|${JSON.stringify(p.MemberId ?? null)}`;
  let list = kept.lists.get(key);
  if (!list) {
    const inScope = memberScope(p);
    list = estate.filter((a) => a.kind === kind && inScope(a));
    kept.lists.set(key, list);
  }
  return list;
}

export function describeAssets(kind: AssetKind): Handler {
  return (p, context) => {
    const { state, account } = context;
    const result = page(listOf(state.estate, kind, p), p, rulesOf(context), (a) => ITEM_SHAPES[kind](a, account));
    if (isAnswer(result)) return result;
    // An asset arriving during a read joins the estate at the front of its list once a read's first page
    // is answered: the pages after it shift by one and a row repeats, as when the estate changes mid-walk.
    // Only a first page lets it in, so a page of an earlier read still in flight cannot.
    const arriving = state.arrivingDuringRead.filter((a) => a.kind === kind);
    if (arriving.length > 0 && ((p.Filter as { Offset?: number } | undefined)?.Offset ?? 0) === 0) {
      state.arrivingDuringRead = state.arrivingDuringRead.filter((a) => a.kind !== kind);
      state.estate.unshift(...arriving);
    }
    return { response: { Total: result.total, Data: result.page } };
  };
}

/** The sync finds what the estate did not list yet (the real one takes minutes; the emulator, none). */
export const createAssetSyncTask: Handler = (_, { state }) => {
  state.estate.push(...state.pendingSync);
  state.pendingSync = [];
  return { response: { TaskIDs: [`csip-${randomBytes(4).toString("hex")}`] } };
};
