import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryCache } from "../../../shared/assets/inventory.ts";
import type { Asset } from "../../../shared/assets/kinds.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";
import { sdkClient } from "../../helpers.ts";

const HOSTS = 250;
let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({
    estate: Array.from({ length: HOSTS }, (_, i) => ({ kind: "cvm" as const, id: `ins-i${String(i).padStart(7, "0")}`, tags: { env: "prod" } })),
    rateLimit: false,
  });
});
afterAll(() => emulator.close());

/** Two policies of one run walking the CVMs at once; the ids each met, in order, and the list calls made. */
async function twoWalks(replayLimit: number): Promise<{ met: string[][]; calls: number }> {
  const cache = new InventoryCache(sdkClient(emulator), undefined, replayLimit);
  const from = emulator.calls.length;
  const met = await Promise.all(
    [0, 1].map(async () => {
      const ids: string[] = [];
      await cache.walk(["cvm"], undefined, (page: readonly Asset[]) => {
        ids.push(...page.map((a) => a.id));
      });
      return ids;
    }),
  );
  return { met, calls: emulator.calls.slice(from).filter((c) => c.action === "DescribeCVMAssets").length };
}

describe("InventoryCache.walk", () => {
  const listOrder = Array.from({ length: HOSTS }, (_, i) => `ins-i${String(i).padStart(7, "0")}`);

  it("a walk within the replay limit is replayed to the run's other policies: one walk of 3 pages", async () => {
    const { met, calls } = await twoWalks(1000);
    expect(met).toEqual([listOrder, listOrder]);
    expect(calls).toBe(3);
  });

  it("a walk beyond the replay limit keeps nothing: each policy walks for itself, in the same order", async () => {
    const { met, calls } = await twoWalks(100);
    expect(met).toEqual([listOrder, listOrder]);
    expect(calls).toBe(6);
  });
});
