import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import type { AssetKind } from "../../shared/assets/kinds.ts";
import type { EmulatorAccount } from "./accounts.ts";
import { isAnswer, memberScope, page, rulesOf, type Handler } from "./answers.ts";
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

export function describeAssets(kind: AssetKind): Handler {
  return (p, context) => {
    const { state, account } = context;
    const inScope = memberScope(p);
    const assets = state.estate.filter((a) => a.kind === kind && inScope(a));
    const result = page(assets, p, rulesOf(context), (a) => ITEM_SHAPES[kind](a, account));
    if (isAnswer(result)) return result;
    return { response: { Total: result.total, Data: result.page } };
  };
}

/** The sync finds what the estate did not list yet (the real one takes minutes; the emulator, none). */
export const createAssetSyncTask: Handler = (_, { state }) => {
  state.estate.push(...state.pendingSync);
  state.pendingSync = [];
  return { response: { TaskIDs: [`csip-${randomBytes(4).toString("hex")}`] } };
};
