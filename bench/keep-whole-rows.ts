import type { Asset, Tag } from "../shared/assets/kinds.ts";

/** Every asset the walk met, each with its whole row: kept for the life of the process. */
const kept: Asset[] = [];

/**
 * The memory bench's baseline (bench/memory.ts): the same inventory walk, keeping every asset it meets
 * with its whole list row, as the walk did before it made tasks as chunks fill and kept only what
 * expansion and tasks need. Swapped in for shared/assets/compact.ts when the baseline bundle is built;
 * never part of a deployed bundle.
 */
export class Compactor {
  text(value: string): string {
    return value;
  }

  tags(tags: readonly Tag[]): Tag[] {
    return [...tags];
  }

  asset(asset: Asset | undefined, row: Record<string, unknown>): Asset | undefined {
    if (!asset) return undefined;
    const whole = Object.assign({ ...asset }, { row });
    kept.push(whole);
    return whole;
  }
}
