import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryCache } from "../../../shared/assets/inventory.ts";
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
