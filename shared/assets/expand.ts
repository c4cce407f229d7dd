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
 * Decides group membership one asset at a time, as the inventory walk meets them, so that a walk of
 * 100,000 assets keeps none of them: each group is the union of its `include` entries minus its
 * `exclude` entries; `group` entries nest to any depth (cycles are rejected when the config loads).
 *
 * An explicit value names an asset by its ID, or by an alias (a CVM's public IP, the instance behind a
 * public IP) only when no asset of the walk has it as its ID. Until the walk ends that is not known, so
 * an asset one of whose aliases a group lists is held back and decided by `end()`: the held assets are
 * at most a few per listed value.
 */
export class GroupMatcher {
  /** Assets per named group. */
  readonly perGroup: Record<string, number> = {};
  /** Every value an `assets` entry lists, and those listed under a reachable group's `include`. */
  private readonly listed = new Set<string>();
  private readonly listedInIncludes = new Set<string>();
  /** Listed values some asset of the walk has as its ID. */
  private readonly seenAsId = new Set<string>();
  /** Listed values some asset in a group has as an alias. */
  private readonly foundByAlias = new Set<string>();
  private readonly held: Asset[] = [];

  constructor(
    private readonly groupNames: readonly string[],
    private readonly groups: Record<string, AssetGroup>,
  ) {
    for (const name of groupNames) this.perGroup[name] = 0;
    const seen = new Set<string>();
    const visit = (name: string): void => {
      if (seen.has(name)) return;
      seen.add(name);
      const group = this.groupOf(name);
      for (const [selectors, isInclude] of [[group?.include ?? [], true], [group?.exclude ?? [], false]] as const) {
        for (const selector of selectors) {
          for (const value of selector.assets ?? []) {
            this.listed.add(value);
            if (isInclude) this.listedInIncludes.add(value);
          }
          if (selector.group !== undefined) visit(selector.group);
        }
      }
    };
    groupNames.forEach(visit);
  }

  /**
   * Whether the asset is in one of the groups. False also for an asset held back (one a group lists by
   * an alias): `end()` decides those.
   */
  offer(asset: Asset): boolean {
    if (this.listed.has(asset.id)) this.seenAsId.add(asset.id);
    if (asset.aliases.some((alias) => this.listed.has(alias))) {
      this.held.push(asset);
      return false;
    }
    return this.decide(asset);
  }

  /** The held assets that are in one of the groups, now that every ID of the walk is known. */
  end(): Asset[] {
    // A listed alias no asset has as its ID names the held asset, whether or not a group takes it in
    // the end (an include met first by tags, an exclude never reached): it is not unknown.
    for (const asset of this.held) for (const alias of asset.aliases) if (this.listed.has(alias) && !this.seenAsId.has(alias)) this.foundByAlias.add(alias);
    const found = this.held.filter((asset) => this.decide(asset));
    this.held.length = 0;
    return found;
  }

  /** Values an `include` lists that no asset of the walk has as its ID or a counted alias. */
  unknown(): string[] {
    return [...this.listedInIncludes].filter((value) => !this.seenAsId.has(value) && !this.foundByAlias.has(value)).sort();
  }

  private groupOf(name: string): AssetGroup | undefined {
    return Object.hasOwn(this.groups, name) ? this.groups[name] : undefined;
  }

  private decide(asset: Asset): boolean {
    let any = false;
    for (const name of this.groupNames) {
      if (this.isMember(name, asset)) {
        this.perGroup[name] = (this.perGroup[name] ?? 0) + 1;
        any = true;
      }
    }
    return any;
  }

  private isMember(name: string, asset: Asset): boolean {
    const group = this.groupOf(name);
    if (!group) return false;
    return group.include.some((s) => this.selects(s, asset)) && !group.exclude.some((s) => this.selects(s, asset));
  }

  private selects(selector: Selector, asset: Asset): boolean {
    if (selector.tags) return matchesTags(asset, selector.tags);
    if (selector.group !== undefined) return this.isMember(selector.group, asset);
    const values = selector.assets ?? [];
    if (values.includes(asset.id)) return true;
    const alias = asset.aliases.find((a) => values.includes(a) && !this.seenAsId.has(a));
    if (alias === undefined) return false;
    this.foundByAlias.add(alias);
    return true;
  }
}

/** Expands groups over a loaded inventory: the assets, without duplicates, ordered by kind then ID. */
export function expandGroups(groupNames: readonly string[], groups: Record<string, AssetGroup>, inventory: Inventory): Expansion {
  const matcher = new GroupMatcher(groupNames, groups);
  const assets = inventory.assets.filter((asset) => matcher.offer(asset));
  assets.push(...matcher.end());
  return { assets: assets.sort(compareAssets), perGroup: matcher.perGroup, unknown: matcher.unknown() };
}

const KIND_ORDER = new Map(ALL_KINDS.map((kind, i) => [kind, i]));

function compareAssets(a: Asset, b: Asset): number {
  return KIND_ORDER.get(a.kind)! - KIND_ORDER.get(b.kind)! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
