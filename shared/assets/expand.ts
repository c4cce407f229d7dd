import type { AssetGroup, Config, Policy, Selector } from "../config/schema.ts";
import type { Inventory } from "./inventory.ts";
import { ALL_KINDS, kindsForId, type Asset, type AssetKind } from "./kinds.ts";

export interface Expansion {
  /** The assets, without duplicates, ordered by kind then ID. */
  assets: Asset[];
  /** Assets per named group. */
  perGroup: Record<string, number>;
  /** Explicit IDs in an `include` that the inventory does not know. */
  unknown: string[];
}

/** The groups a policy expands: its targets, or for `all` the groups it excepts. */
export function policyGroups(policy: Policy): string[] {
  return policy.targets ?? policy.except ?? [];
}

/** The asset kinds the inventory must hold to expand these groups: tags need every kind, IDs only theirs. */
export function kindsNeeded(groupNames: readonly string[], groups: Config["assetGroups"]): AssetKind[] {
  const kinds = new Set<AssetKind>();
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const group = Object.hasOwn(groups, name) ? groups[name] : undefined;
    if (!group) return;
    for (const selector of [...group.include, ...group.exclude]) {
      if (selector.tags) for (const kind of ALL_KINDS) kinds.add(kind);
      for (const id of selector.assets ?? []) for (const kind of kindsForId(id)) kinds.add(kind);
      if (selector.group !== undefined) visit(selector.group);
    }
  };
  groupNames.forEach(visit);
  return ALL_KINDS.filter((kind) => kinds.has(kind));
}

/** Whether an asset carries every listed tag key with one of the listed values. */
export function matchesTags(asset: Asset, selector: Record<string, string | string[]>): boolean {
  return Object.entries(selector).every(([key, wanted]) => {
    const values = Array.isArray(wanted) ? wanted : [wanted];
    return asset.tags.some((tag) => tag.name === key && values.includes(tag.value));
  });
}

/**
 * Expands groups into concrete assets: each group is the union of its `include` entries minus its
 * `exclude` entries; `group` entries nest to any depth (cycles are rejected when the config loads).
 */
export function expandGroups(
  groupNames: readonly string[],
  groups: Record<string, AssetGroup>,
  inventory: Inventory,
): Expansion {
  const memo = new Map<string, Map<string, Asset>>();
  const unknown = new Set<string>();

  const select = (selector: Selector, reportUnknown: boolean): Asset[] => {
    if (selector.tags) return inventory.assets.filter((a) => matchesTags(a, selector.tags!));
    if (selector.group !== undefined) return [...members(selector.group).values()];
    const found: Asset[] = [];
    for (const id of selector.assets ?? []) {
      const asset = inventory.find(id);
      if (asset) found.push(asset);
      else if (reportUnknown) unknown.add(id);
    }
    return found;
  };

  const members = (name: string): Map<string, Asset> => {
    const cached = memo.get(name);
    if (cached) return cached;
    const result = new Map<string, Asset>();
    memo.set(name, result);
    const group = Object.hasOwn(groups, name) ? groups[name] : undefined;
    if (!group) return result;
    for (const selector of group.include) for (const asset of select(selector, true)) result.set(key(asset), asset);
    for (const selector of group.exclude) for (const asset of select(selector, false)) result.delete(key(asset));
    return result;
  };

  const all = new Map<string, Asset>();
  const perGroup: Record<string, number> = {};
  for (const name of groupNames) {
    const found = members(name);
    perGroup[name] = found.size;
    for (const [k, asset] of found) all.set(k, asset);
  }
  return { assets: [...all.values()].sort(compareAssets), perGroup, unknown: [...unknown].sort() };
}

const key = (asset: Asset): string => `${asset.kind}:${asset.id}`;

function compareAssets(a: Asset, b: Asset): number {
  return ALL_KINDS.indexOf(a.kind) - ALL_KINDS.indexOf(b.kind) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
