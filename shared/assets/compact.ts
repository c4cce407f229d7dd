import type { Asset, Tag } from "./kinds.ts";

const NO_ALIASES: string[] = [];

/**
 * Keeps what expansion and tasks need of an inventory row, in as little memory as the row allows: a
 * run's regions, instance types, member IDs and tag sets are a few dozen distinct values over tens of
 * thousands of rows, so each is held once and shared. An asset then costs its own ID, name and public
 * address and one small object (measured in bench/memory.ts).
 */
export class Compactor {
  private readonly strings = new Map<string, string>();
  private readonly tagSets = new Map<string, Tag[]>();

  /** The one copy of a repeated string. */
  text(value: string): string {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    this.strings.set(value, value);
    return value;
  }

  /** The one copy of a tag set (the same tags in the same order). */
  tags(tags: readonly Tag[]): Tag[] {
    if (tags.length === 0) return NO_ALIASES as unknown as Tag[];
    const key = JSON.stringify(tags.map((t) => [t.name, t.value]));
    const known = this.tagSets.get(key);
    if (known) return known;
    const shared = tags.map((t) => ({ name: this.text(t.name), value: this.text(t.value) }));
    this.tagSets.set(key, shared);
    return shared;
  }

  /**
   * The asset read from a list row, with its repeated parts shared, as one object literal of fixed
   * fields: V8 then gives every asset the same small layout (a conditional spread would make some of
   * them dictionaries). The row itself is not kept (bench/memory.ts measures a build that keeps it).
   */
  asset(asset: Asset | undefined, _row: Record<string, unknown>): Asset | undefined {
    if (!asset) return undefined;
    return {
      kind: asset.kind,
      id: asset.id,
      name: asset.name === asset.id ? asset.id : asset.name,
      region: this.text(asset.region),
      instanceType: this.text(asset.instanceType),
      tags: this.tags(asset.tags),
      // A copy of exact length: the row's list grew by push, and V8 keeps room for 16 more in each.
      aliases: asset.aliases.length === 0 ? NO_ALIASES : asset.aliases.slice(),
      memberId: asset.memberId ? this.text(asset.memberId) : undefined,
    };
  }
}
