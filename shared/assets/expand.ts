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
  // Sets of the inventory's own asset objects: one object per asset, so no key strings are made (at
  // 100,000 assets those would be some 4 MB).
  const memo = new Map<string, Set<Asset>>();
  const unknown = new Set<string>();

  const select = (selector: Selector, reportUnknown: boolean): Iterable<Asset> => {
    if (selector.tags) {
      const tags = selector.tags;
      return inventory.assets.filter((a) => matchesTags(a, tags));
    }
    if (selector.group !== undefined) return members(selector.group);
    const found: Asset[] = [];
    for (const id of selector.assets ?? []) {
      const asset = inventory.find(id);
      if (asset) found.push(asset);
      else if (reportUnknown) unknown.add(id);
    }
    return found;
  };

  const members = (name: string): Set<Asset> => {
    const cached = memo.get(name);
    if (cached) return cached;
    const result = new Set<Asset>();
    memo.set(name, result);
    const group = Object.hasOwn(groups, name) ? groups[name] : undefined;
    if (!group) return result;
    for (const selector of group.include) for (const asset of select(selector, true)) result.add(asset);
    for (const selector of group.exclude) for (const asset of select(selector, false)) result.delete(asset);
    return result;
  };

  const all = new Set<Asset>();
  const perGroup: Record<string, number> = {};
  for (const name of groupNames) {
    const found = members(name);
    perGroup[name] = found.size;
    for (const asset of found) all.add(asset);
  }
  memo.clear();
  return { assets: [...all].sort(compareAssets), perGroup, unknown: [...unknown].sort() };
}

const KIND_ORDER = new Map(ALL_KINDS.map((kind, i) => [kind, i]));

function compareAssets(a: Asset, b: Asset): number {
  return KIND_ORDER.get(a.kind)! - KIND_ORDER.get(b.kind)! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
