import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CsipClient } from "../../../shared/csip/client.ts";
import { readFiltered, readPages } from "../../../shared/csip/pager.ts";
import { caught, sdkClient } from "../../helpers.ts";
import { toEstateAssets } from "../../../local/emulator/estate.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";

const HOSTS = 250;
let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({
    estate: Array.from({ length: HOSTS }, (_, i) => ({ kind: "cvm" as const, id: `ins-p${String(i).padStart(7, "0")}`, publicIp: `198.18.0.${i}` })),
    rateLimit: false,
  });
});
afterAll(() => emulator.close());
afterEach(() => {
  emulator.calls.length = 0;
  emulator.clearFaults();
});

describe("readPages", () => {
  it("reads a list to its end, a page at a time, and keeps nothing itself", async () => {
    const ids: string[] = [];
    const read = await readPages({
      csip: sdkClient(emulator),
      action: "DescribeCVMAssets",
      request: {},
      onPage: (rows) => {
        ids.push(...rows.map((r) => String(r.AssetId)));
      },
    });
    expect(read).toEqual({ total: HOSTS, rows: HOSTS, calls: 3, capped: false });
    expect(new Set(ids).size).toBe(HOSTS);
    expect(emulator.callsOf("DescribeCVMAssets").map((c) => (c.params.Filter as { Offset: number }).Offset).sort((a, b) => a - b)).toEqual([0, 100, 200]);
  });

  it("hands pages over in list order when a later page answers first, and waits for each handover", async () => {
    // The second call (offset 100) answers 300 ms late, after the third (offset 200).
    emulator.inject("DescribeCVMAssets", { type: "slow", ms: 0 });
    emulator.inject("DescribeCVMAssets", { type: "slow", ms: 300 });
    const handed: number[] = [];
    let handling = 0;
    const read = await readPages({
      csip: sdkClient(emulator),
      action: "DescribeCVMAssets",
      request: {},
      onPage: async (_rows, offset) => {
        expect(handling).toBe(0);
        handling++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        handed.push(offset);
        handling--;
      },
    });
    expect(handed).toEqual([0, 100, 200]);
    expect(read.rows).toBe(HOSTS);
    const arrival = emulator.calls.filter((c) => c.action === "DescribeCVMAssets").map((c) => (c.params.Filter as { Offset: number }).Offset);
    expect(arrival).toEqual([0, 100, 200]);
  });

  it("hands no page over after one that failed: the read fails with that page's error", async () => {
    emulator.inject("DescribeCVMAssets", { type: "slow", ms: 0 });
    emulator.inject("DescribeCVMAssets", { type: "error", code: "InvalidParameter", message: "no" });
    const handed: number[] = [];
    const error = await caught(
      readPages({
        csip: sdkClient(emulator),
        action: "DescribeCVMAssets",
        request: {},
        onPage: (_rows, offset) => {
          handed.push(offset);
        },
      }),
    );
    expect(error).toMatchObject({ code: "InvalidParameter" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(handed).toEqual([0]);
  });

  it("reads on to the new end of a list that grows during the read", async () => {
    const estate = emulator.state.estate;
    try {
      const ids = new Set<string>();
      const read = await readPages({
        csip: sdkClient(emulator),
        action: "DescribeCVMAssets",
        request: {},
        onPage: (rows, offset) => {
          rows.forEach((r) => ids.add(String(r.AssetId)));
          // 150 CVMs appear after the first page: the list is 400 long now, not the 250 it first said.
          if (offset === 0) emulator.state.estate = [...estate, ...toEstateAssets(Array.from({ length: 150 }, (_, i) => ({ kind: "cvm" as const, id: `ins-g${String(i).padStart(7, "0")}` })))];
        },
      });
      expect(read).toEqual({ total: 400, rows: 400, calls: 4, capped: false });
      expect(ids.size).toBe(400);
    } finally {
      emulator.state.estate = estate;
    }
  });

  it("stops at its cap and says so, or refuses a list longer than the cap when asked to", async () => {
    const read = await readPages({ csip: sdkClient(emulator), action: "DescribeCVMAssets", request: {}, limits: { maxPages: 2 }, onPage: () => {} });
    expect(read).toMatchObject({ rows: 200, calls: 2, capped: true });
    const error = await caught(readPages({ csip: sdkClient(emulator), action: "DescribeCVMAssets", request: {}, limits: { maxPages: 2 }, failWhenCapped: true, onPage: () => {} }));
    expect(String(error)).toContain("DescribeCVMAssets lists 250 rows, more than 200");
  });
});

describe("readFiltered", () => {
  const wanted = ["ins-p0000007", "ins-p0000249"];

  it("asks with the filter, and trusts an answer that honours it", async () => {
    const read = await readFiltered({ csip: sdkClient(emulator), action: "DescribeCVMAssets", request: {}, field: "AssetId", values: wanted });
    expect(read.rows.map((r) => r.AssetId).sort()).toEqual(wanted);
    expect(read.ignored).toBeUndefined();
    expect(read.calls).toBe(1);
  });

  it("a server that ignores the filter: the whole list is read and matched here, once, with the filter named", async () => {
    emulator.ignoreFilter("DescribeCVMAssets", "AssetId");
    const read = await readFiltered({ csip: sdkClient(emulator), action: "DescribeCVMAssets", request: {}, field: "AssetId", values: wanted, batch: 1 });
    expect(read.rows.map((r) => r.AssetId).sort()).toEqual(wanted);
    expect(read.ignored).toBe("AssetId");
    // One whole read (3 pages) for both values, not one per batch.
    expect(read.calls).toBe(3);
  });

  it("the emulator refuses a filter name it does not know, so a misspelt one fails", async () => {
    const error = await caught(readFiltered({ csip: sdkClient(emulator), action: "DescribeCVMAssets", request: {}, field: "InstanceID", values: wanted }));
    expect(error).toMatchObject({ code: "InvalidParameterValue" });
  });
});

describe("readPages with a server whose pages are smaller than asked", () => {
  it("reads on from where each page ended, to the TotalCount", async () => {
    // The real SDK against the emulator, asking for 40 rows whatever the pager's Limit: a server that
    // answers smaller pages than asked.
    const sdk = sdkClient(emulator);
    const csip: CsipClient = {
      call: (action, request) => sdk.call(action, { ...request, Filter: { ...(request as { Filter?: object }).Filter, Limit: 40 } } as never),
    };
    try {
      const ids = new Set<string>();
      const read = await readPages({ csip, action: "DescribeCVMAssets", request: {}, onPage: (rows) => rows.forEach((r) => ids.add(String(r.AssetId))) });
      expect(ids.size).toBe(HOSTS);
      expect(read).toMatchObject({ total: HOSTS, rows: HOSTS, calls: 7, capped: false });
    } finally {
      emulator.calls.length = 0;
    }
  });
});
