import { memberParam, type CsipClient } from "../csip/client.ts";
import { CsipScanError } from "../errors.ts";
import { ASSET_KINDS, type Asset, type AssetKind } from "./kinds.ts";

/**
 * Paging limits. CSIP documents no largest page size; 100 is the assumption (the emulator enforces it).
 * `maxPages` caps one kind's walk so that a runaway answer cannot loop for ever.
 */
export const INVENTORY_PAGING = { pageSize: 100, maxPages: 1000 } as const;

/** The assets of some kinds, as one member scope sees them. */
export interface Inventory {
  readonly kinds: ReadonlySet<AssetKind>;
  readonly assets: readonly Asset[];
  /** The asset with this ID or alias (a CVM's public IP), among the loaded kinds. */
  find(id: string): Asset | undefined;
}

export function buildInventory(kinds: Iterable<AssetKind>, assets: readonly Asset[]): Inventory {
  const byId = new Map<string, Asset>();
  for (const asset of assets) {
    for (const alias of asset.aliases) if (!byId.has(alias)) byId.set(alias, asset);
  }
  // IDs win over aliases: an address listed as a public IP is that asset.
  for (const asset of assets) byId.set(asset.id, asset);
  return { kinds: new Set(kinds), assets, find: (id) => byId.get(id) };
}

/**
 * Fetches each (kind, member scope) at most once per run, and shares it among every policy of the run.
 */
export class InventoryCache {
  private readonly pages = new Map<string, Promise<Asset[]>>();
  /** Number of list calls made, for the run summary and the benchmark. */
  calls = 0;

  constructor(
    private readonly csip: CsipClient,
    private readonly paging: { pageSize: number; maxPages: number } = INVENTORY_PAGING,
  ) {}

  /** The inventory of `kinds` for the caller's account, or for the member accounts given. */
  async load(kinds: readonly AssetKind[], memberIds?: readonly string[]): Promise<Inventory> {
    const lists = await Promise.all(kinds.map((kind) => this.kind(kind, memberIds)));
    return buildInventory(kinds, lists.flat());
  }

  private kind(kind: AssetKind, memberIds?: readonly string[]): Promise<Asset[]> {
    const key = `${kind}|${[...(memberIds ?? [])].sort().join(",")}`;
    let pending = this.pages.get(key);
    if (!pending) {
      pending = this.fetchAll(kind, memberIds);
      // A failed fetch is not cached: the next policy of the run tries again.
      pending.catch(() => this.pages.delete(key));
      this.pages.set(key, pending);
    }
    return pending;
  }

  /**
   * Every asset of one kind. The first page gives the total; the other pages are then requested at
   * once, so the walk runs at the rate limiter's pace even when each call takes a while (one after
   * another, 150 ms a call would use a third of CSIP's 20 per second). A list that grew meanwhile is
   * read on, page by page, to its end.
   */
  private async fetchAll(kind: AssetKind, memberIds?: readonly string[]): Promise<Asset[]> {
    const spec = ASSET_KINDS[kind];
    const { pageSize, maxPages } = this.paging;
    const page = async (n: number): Promise<{ items: Record<string, unknown>[]; total: number }> => {
      this.calls++;
      const answer = (await this.csip.call(spec.listAction, {
        ...memberParam(memberIds),
        Filter: { Limit: pageSize, Offset: n * pageSize },
      })) as { Total?: number; TotalCount?: number; Data?: Record<string, unknown>[] };
      return { items: answer.Data ?? [], total: answer.Total ?? answer.TotalCount ?? 0 };
    };
    const first = await page(0);
    const pagesTotal = Math.ceil(first.total / pageSize);
    if (pagesTotal > maxPages) {
      throw new CsipScanError(`${spec.listAction} has more than ${maxPages * pageSize} ${spec.label} assets; raise INVENTORY_PAGING.maxPages`);
    }
    const pages = [first];
    if (first.items.length === pageSize) {
      pages.push(...(await Promise.all(Array.from({ length: Math.max(0, pagesTotal - 1) }, (_, i) => page(i + 1)))));
      // The list grew while it was read (a later page counts more): read on to its end.
      const grown = (): boolean => pages[pages.length - 1]!.items.length === pageSize && Math.max(...pages.map((p) => p.total)) > pages.length * pageSize;
      while (grown() && pages.length < maxPages) pages.push(await page(pages.length));
    }
    return pages.flatMap((p) => p.items.map((item) => spec.fromItem(item)).filter((a): a is Asset => a !== undefined));
  }
}
