import type { Asset, Tag } from "../shared/assets/kinds.ts";

/**
 * The memory bench's baseline (bench/memory.ts): the same inventory walk, keeping each whole list row
 * beside its asset, as the walk did before it kept only what expansion and tasks need. Swapped in for
 * shared/assets/compact.ts when the baseline bundle is built; never part of a deployed bundle.
 */
export class Compactor {
  text(value: string): string {
    return value;
  }

  tags(tags: readonly Tag[]): Tag[] {
    return [...tags];
  }

  asset(asset: Asset | undefined, row: Record<string, unknown>): Asset | undefined {
    return asset ? Object.assign({ ...asset }, { row }) : undefined;
  }
}
