import { memberParam, type CsipClient } from "../csip/client.ts";
import { DEFAULT_PAGING, readPages, type PageLimits } from "../csip/pager.ts";
import { Compactor } from "./compact.ts";
import { ALL_KINDS, ASSET_KINDS, type Asset, type AssetKind } from "./kinds.ts";

/**
 * Paging limits. CSIP documents no largest page size; 100 is the assumption (the emulator enforces it).
 * `maxPages` caps one kind's walk so that a runaway answer cannot loop for ever: 2,000 pages are
 * 200,000 assets of a kind, some 100 s of list calls at CSIP's 20 a second, about twice what one
 * invocation should walk (the README's sizing table).
 */
export const INVENTORY_PAGING: PageLimits = { ...DEFAULT_PAGING, maxPages: 2000 };

/** The assets of some kinds, as one member scope sees them, held whole (the CLI's plan, changed assets). */
export interface Inventory {
  readonly kinds: ReadonlySet<AssetKind>;
  readonly assets: readonly Asset[];
}

export function buildInventory(kinds: Iterable<AssetKind>, assets: readonly Asset[]): Inventory {
  return { kinds: new Set(kinds), assets };
}

/**
 * A walk of the assets of one kind that later policies of the same run may replay instead of walking
 * again, while it stays small: up to this many assets are kept (about 4 MB at 10,000), beyond them the
 * kept ones are let go and each policy walks for itself.
 */
export const REPLAY_LIMIT = 10_000;

/** The assets of one page, in list order; the walk waits for a returned promise. */
export type AssetPage = (assets: readonly Asset[]) => void | Promise<void>;

/**
 * Walks the inventory for the policies of a run. A walk hands each page's assets over as it arrives, in
 * list order, and keeps nothing of them beyond `REPLAY_LIMIT`: a policy creates its tasks as chunks
 * fill, so memory does not grow with the estate (bench/memory.ts). A small kind's walk is kept, and
 * the other policies of the run that need that kind in that member scope replay it.
 */
export class InventoryCache {
  private readonly walks = new Map<string, Promise<Asset[] | undefined>>();
  /** One string table for the run: regions, types, tag names and tag sets repeat across thousands of rows. */
  private readonly compact = new Compactor();
  /** Number of list calls made, for the run summary and the benchmark. */
  calls = 0;

  constructor(
    private readonly csip: CsipClient,
    private readonly paging: PageLimits = INVENTORY_PAGING,
    private readonly replayLimit = REPLAY_LIMIT,
  ) {}

  /** The inventory of `kinds` for the caller's account, or for the member accounts given, held whole. */
  async load(kinds: readonly AssetKind[], memberIds?: readonly string[]): Promise<Inventory> {
    const assets: Asset[] = [];
    await this.walk(kinds, memberIds, (page) => {
      assets.push(...page);
    });
    return buildInventory(kinds, assets);
  }

  /** Hands over the assets of `kinds`, one kind after another in the table's order, page by page. */
  async walk(kinds: readonly AssetKind[], memberIds: readonly string[] | undefined, onPage: AssetPage): Promise<void> {
    for (const kind of ALL_KINDS.filter((k) => kinds.includes(k))) await this.walkKind(kind, memberIds, onPage);
  }

  private async walkKind(kind: AssetKind, memberIds: readonly string[] | undefined, onPage: AssetPage): Promise<void> {
    const key = `${kind}|${[...(memberIds ?? [])].sort().join(",")}`;
    const earlier = this.walks.get(key);
    const kept = earlier ? await earlier.catch(() => undefined) : undefined;
    if (kept) {
      await onPage(kept);
      return;
    }
    let finished!: (assets: Asset[] | undefined) => void;
    this.walks.set(key, new Promise((resolve) => (finished = resolve)));
    let keeping: Asset[] | undefined = [];
    try {
      await this.readKind(kind, memberIds, async (page) => {
        if (keeping && keeping.length + page.length <= this.replayLimit) keeping.push(...page);
        else keeping = undefined;
        await onPage(page);
      });
    } catch (error) {
      // A failed walk is not kept: the next policy of the run tries again.
      keeping = undefined;
      throw error;
    } finally {
      finished(keeping);
    }
  }

  /**
   * Every asset of one kind, read to the list's end through the one pager. Each page is reduced to
   * what expansion and tasks need of a row as it arrives (shared/assets/compact.ts), so the walk holds
   * no answer: at 100,000 CVMs of about 2 KB each, whole rows would be some 200 MB against SCF's 128.
   */
  private async readKind(kind: AssetKind, memberIds: readonly string[] | undefined, onPage: AssetPage): Promise<void> {
    const spec = ASSET_KINDS[kind];
    const read = await readPages({
      csip: this.csip,
      action: spec.listAction,
      request: { ...memberParam(memberIds) },
      limits: this.paging,
      failWhenCapped: true,
      onPage: (rows) => {
        const assets: Asset[] = [];
        for (const row of rows) {
          const asset = this.compact.asset(spec.fromItem(row), row);
          if (asset) assets.push(asset);
        }
        return onPage(assets);
      },
    });
    this.calls += read.calls;
  }
}
