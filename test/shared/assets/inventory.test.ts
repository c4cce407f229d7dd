import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryCache, pagesWithin } from "../../../shared/assets/inventory.ts";
import type { Asset } from "../../../shared/assets/kinds.ts";
import type { CsipClient } from "../../../shared/csip/client.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";
import { caught, sdkClient } from "../../helpers.ts";

const HOSTS = 250;
let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({
    estate: Array.from({ length: HOSTS }, (_, i) => ({ kind: "cvm" as const, id: `ins-i${String(i).padStart(7, "0")}`, tags: { env: "prod" } })),
    rateLimit: false,
  });
});
afterAll(() => emulator.close());

const LIST_ORDER = Array.from({ length: HOSTS }, (_, i) => `ins-i${String(i).padStart(7, "0")}`);
/** A join wait that never ends: a read that starts did so because every walker had joined or left. */
const NEVER = (): Promise<void> => new Promise(() => {});
const cvmCalls = (from: number) => emulator.calls.slice(from).filter((c) => c.action === "DescribeCVMAssets").length;
/** Collects the IDs a walker is handed, in order. */
const collector = () => {
  const ids: string[] = [];
  return { ids, onPage: (page: readonly Asset[]) => void ids.push(...page.map((a) => a.id)) };
};

describe("InventoryCache walkers", () => {
  it("policies that said they would walk a list share one read of it, each handed every page in list order", async () => {
    const cache = new InventoryCache(sdkClient(emulator), undefined, NEVER);
    const from = emulator.calls.length;
    const walkers = [0, 1, 2].map(() => cache.walker(["cvm"], undefined));
    const seen = walkers.map(collector);
    await Promise.all(walkers.map((w, i) => w.walk(seen[i]!.onPage)));
    expect(seen.map((s) => s.ids)).toEqual([LIST_ORDER, LIST_ORDER, LIST_ORDER]);
    expect(cvmCalls(from)).toBe(3);
  });

  it("a walker that leaves without walking does not hold the others back", async () => {
    const cache = new InventoryCache(sdkClient(emulator), undefined, NEVER);
    const going = cache.walker(["cvm"], undefined);
    const staying = cache.walker(["cvm"], undefined);
    const seen = collector();
    const walked = staying.walk(seen.onPage);
    going.leave();
    await walked;
    expect(seen.ids).toEqual(LIST_ORDER);
  });

  it("a walker that comes after the join wait reads the list on its own", async () => {
    const cache = new InventoryCache(sdkClient(emulator), undefined, async () => {}, 0);
    const from = emulator.calls.length;
    const first = cache.walker(["cvm"], undefined);
    const late = cache.walker(["cvm"], undefined);
    const a = collector();
    const b = collector();
    await first.walk(a.onPage);
    await late.walk(b.onPage);
    expect([a.ids, b.ids]).toEqual([LIST_ORDER, LIST_ORDER]);
    expect(cvmCalls(from)).toBe(6);
  });

  it("one walker failing on a page leaves the others walking to the end, and is handed no further page", async () => {
    const cache = new InventoryCache(sdkClient(emulator), undefined, NEVER);
    const [failing, going] = [cache.walker(["cvm"], undefined), cache.walker(["cvm"], undefined)];
    const seen = collector();
    let handed = 0;
    const [error] = await Promise.all([
      caught(
        failing.walk(() => {
          handed++;
          throw new Error("the state store is down");
        }),
      ),
      going.walk(seen.onPage),
    ]);
    expect(String(error)).toContain("the state store is down");
    expect(seen.ids).toEqual(LIST_ORDER);
    expect(handed).toBe(1);
  });

  it("a list cut short by the page cap fails the walk, even from a server answering smaller pages than asked", async () => {
    const sdk = sdkClient(emulator);
    // The real SDK, asking for 40 rows whatever the pager's Limit.
    const small: CsipClient = { call: (action, request) => sdk.call(action, { ...request, Filter: { ...(request as { Filter?: object }).Filter, Limit: 40 } } as never) };
    const cache = new InventoryCache(small, { pageSize: 100, maxPages: 3, concurrency: 6 });
    const error = await caught(cache.walker(["cvm"], undefined).walk(() => {}));
    expect(String(error)).toContain("DescribeCVMAssets stopped at 120 of 250 rows after 3 calls (the page cap)");
  });
});

describe("a list that repeats a row while it is read", () => {
  it("hands each asset over once, and counts the repeat: an asset joining the list's start after the first page shifts the rest by one", async () => {
    const shifting = await startEmulator({
      estate: Array.from({ length: HOSTS }, (_, i) => ({ kind: "cvm" as const, id: `ins-i${String(i).padStart(7, "0")}`, tags: { env: "prod" } })),
      rateLimit: false,
    });
    try {
      shifting.addDuringRead({ kind: "cvm", id: "ins-joined01", tags: { env: "prod" } });
      // One page at a time, so that the asset joins before the second page is asked for.
      const cache = new InventoryCache(sdkClient(shifting), { pageSize: 100, maxPages: 2000, concurrency: 1 }, NEVER);
      const seen = collector();
      const walked = await cache.walker(["cvm"], undefined).walk(seen.onPage);
      // The second page begins with the first page's last row again; the newcomer sits before the offset.
      expect(shifting.callsOf("DescribeCVMAssets")).toHaveLength(3);
      expect(seen.ids).toEqual(LIST_ORDER);
      expect(walked).toEqual({ repeated: 1 });
    } finally {
      await shifting.close();
    }
  });
});

describe("the page cap of a run's walk", () => {
  it("is the pages the time left can read at the list rate: at CSIP's 20 a second, 900 s read some 16,000 pages, far past 200,000 rows", () => {
    expect(pagesWithin(900_000, 1020 / 19).maxPages).toBe(16_764);
    expect(pagesWithin(10, 1020 / 19).maxPages).toBe(1);
  });

  it("refuses a list whose pages the time left cannot read, before walking it, and says why", async () => {
    const cache = new InventoryCache(sdkClient(emulator), undefined, NEVER, undefined, () => pagesWithin(2_500, 1_000));
    const from = emulator.calls.length;
    const error = await caught(cache.walker(["cvm"], undefined).walk(() => {}));
    expect(String(error)).toContain("DescribeCVMAssets lists 250 rows, more than 200 (2 pages of 100): the function's 3 s left read at most 2 pages at 1 calls a second");
    expect(cvmCalls(from)).toBe(1);
  });

  it("walks a list the time left can read, whatever INVENTORY_PAGING.maxPages says", async () => {
    const cache = new InventoryCache(sdkClient(emulator), { pageSize: 100, maxPages: 1, concurrency: 6 }, NEVER, undefined, () => pagesWithin(900_000, 50));
    const seen = collector();
    await cache.walker(["cvm"], undefined).walk(seen.onPage);
    expect(seen.ids).toEqual(LIST_ORDER);
  });
});
