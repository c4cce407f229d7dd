import { memberParam, type CsipClient } from "../csip/client.ts";
import { DEFAULT_PAGING, readPages, type PageLimits } from "../csip/pager.ts";
import { Compactor } from "./compact.ts";
import { ASSET_KINDS, type Asset, type AssetKind } from "./kinds.ts";

/**
 * Paging limits. CSIP documents no largest page size; 100 is the assumption (the emulator enforces it).
 * `maxPages` caps one kind's walk so that a runaway answer cannot loop for ever: 2,000 pages are
 * 200,000 assets of a kind, more than one invocation holds (bench/memory.ts: about 70,000 CVMs in
 * 128 MB, 100,000 in 256 MB).
 */
export const INVENTORY_PAGING: PageLimits = { ...DEFAULT_PAGING, maxPages: 2000 };

/** The assets of some kinds, as one member scope sees them. */
export interface Inventory {
  readonly kinds: ReadonlySet<AssetKind>;
  readonly assets: readonly Asset[];
  /** The asset with this ID or alias (a CVM's public IP), among the loaded kinds. */
  find(id: string): Asset | undefined;
}

export function buildInventory(kinds: Iterable<AssetKind>, assets: readonly Asset[]): Inventory {
  // Built on the first lookup only: a policy of tags alone never needs it, and at 100,000 assets the
  // index costs some 10 MB.
  let byId: Map<string, Asset> | undefined;
  const index = (): Map<string, Asset> => {
    if (byId) return byId;
    byId = new Map();
    for (const asset of assets) {
      for (const alias of asset.aliases) if (!byId.has(alias)) byId.set(alias, asset);
    }
    // IDs win over aliases: an address listed as a public IP is that asset.
    for (const asset of assets) byId.set(asset.id, asset);
    return byId;
  };
  return { kinds: new Set(kinds), assets, find: (id) => index().get(id) };
}

/**
 * Fetches each (kind, member scope) at most once per run, and shares it among every policy of the run.
 */
export class InventoryCache {
  private readonly pages = new Map<string, Promise<Asset[]>>();
  /** One string table for the run: regions, types, tag names and tag sets repeat across thousands of rows. */
  private readonly compact = new Compactor();
  /** Number of list calls made, for the run summary and the benchmark. */
  calls = 0;

  constructor(
    private readonly csip: CsipClient,
    private readonly paging: PageLimits = INVENTORY_PAGING,
  ) {}

  /** The inventory of `kinds` for the caller's account, or for the member accounts given. */
  async load(kinds: readonly AssetKind[], memberIds?: readonly string[]): Promise<Inventory> {
    const lists = await Promise.all(kinds.map((kind) => this.kind(kind, memberIds)));
    return buildInventory(kinds, lists.length === 1 ? lists[0]! : lists.flat());
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
   * Every asset of one kind, read to the list's end through the one pager. Each page is reduced to
   * what expansion and tasks need of a row as it arrives (shared/assets/compact.ts), so the walk holds
   * no answer: at 100,000 CVMs of about 2 KB each, whole rows would be some 200 MB against SCF's 128.
   */
  private async fetchAll(kind: AssetKind, memberIds?: readonly string[]): Promise<Asset[]> {
    const spec = ASSET_KINDS[kind];
    const assets: Asset[] = [];
    const read = await readPages({
      csip: this.csip,
      action: spec.listAction,
      request: { ...memberParam(memberIds) },
      limits: this.paging,
      failWhenCapped: true,
      onPage: (rows) => {
        for (const row of rows) {
          const asset = this.compact.asset(spec.fromItem(row), row);
          if (asset) assets.push(asset);
        }
      },
    });
    this.calls += read.calls;
    return assets;
  }
}
