import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CsipClient } from "../../../shared/csip/client.ts";
import { filterReadingsOf, readingWarnings, tellFilterReadings } from "../../../shared/csip/filter-readings.ts";
import { readFiltered, readPages, settleFilterReading } from "../../../shared/csip/pager.ts";
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

describe("readFiltered under each reading of a filter with several values", () => {
  // 117 CVMs of the estate, in an order that puts absent IDs first, last and between, and three absent.
  const present = Array.from({ length: 117 }, (_, i) => `ins-p${String(i * 2).padStart(7, "0")}`);
  const absent = ["ins-absent01", "ins-absent02", "ins-absent03"];
  const asked = [absent[0]!, ...present.slice(0, 60), absent[1]!, ...present.slice(60), absent[2]!];
  const valuesSent = (): number[] => emulator.callsOf("DescribeCVMAssets").map((c) => ((c.params.Filter as { Filters?: { Values: string[] }[] }).Filters?.[0]?.Values ?? []).length);

  it.each([
    ["ored", undefined],
    ["first-only", undefined],
    ["refused", "InvalidParameter"],
  ] as const)("several values %s: every present ID is found, only the absent ones are missing, and the reading is recorded", async (reading, code) => {
    emulator.state.multiValueFilters = reading;
    try {
      const csip = sdkClient(emulator);
      const read = await readFiltered({ csip, action: "DescribeCVMAssets", request: {}, field: "AssetId", values: asked });
      expect(read.rows.map((r) => String(r.AssetId)).sort()).toEqual([...present].sort());
      expect([read.ignored, read.refused, read.unread, read.capped]).toEqual([undefined, undefined, [], false]);
      // The first value asked is absent: under the other readings no filtered answer held a row, and the list was read whole.
      expect(filterReadingsOf(csip).rows()).toEqual([
        { action: "DescribeCVMAssets", values: reading, names: reading === "ored" ? { AssetId: "honoured" } : {}, ...(code ? { refusalCode: code } : {}), source: "observed" },
      ]);
    } finally {
      emulator.state.multiValueFilters = "ored";
    }
  });

  it("ORed: three batches and not one call more; an absent ID in a batch whose first alone came back costs one probe", async () => {
    const read = await readFiltered({ csip: sdkClient(emulator), action: "DescribeCVMAssets", request: {}, field: "AssetId", values: asked });
    expect(read.calls).toBe(3);
    emulator.calls.length = 0;
    const csip = sdkClient(emulator);
    const one = await readFiltered({ csip, action: "DescribeCVMAssets", request: {}, field: "AssetId", values: [present[0]!, absent[0]!] });
    expect(one.rows.map((r) => r.AssetId)).toEqual([present[0]]);
    // The batch, then the absent ID with the found one last: ORed, the found one comes back.
    expect(one.calls).toBe(2);
    expect(valuesSent()).toEqual([2, 2]);
    expect(filterReadingsOf(csip).values("DescribeCVMAssets")).toBe("ored");
  });

  it("ORed, and nothing of a batch came back: one row of the whole list gives a value to probe with", async () => {
    const csip = sdkClient(emulator);
    const read = await readFiltered({ csip, action: "DescribeCVMAssets", request: {}, field: "AssetId", values: absent });
    expect([read.rows, read.calls]).toEqual([[], 3]);
    expect(filterReadingsOf(csip).values("DescribeCVMAssets")).toBe("ored");
  });

  it("first value only: once seen, each value is asked alone, or the list read whole where that takes fewer calls", async () => {
    emulator.state.multiValueFilters = "first-only";
    try {
      const few = [present[5]!, absent[0]!, present[9]!];
      const read = await readFiltered({ csip: sdkClient(emulator), action: "DescribeCVMAssets", request: {}, field: "AssetId", values: few });
      expect(read.rows.map((r) => r.AssetId).sort()).toEqual([present[5], present[9]]);
      // The batch (first value answered), the probe, then the two left one by one.
      expect(valuesSent()).toEqual([3, 3, 1, 1]);
      emulator.calls.length = 0;
      // 120 values: the 250 rows of the list are 3 pages, fewer than 117 calls of one value.
      const many = await readFiltered({ csip: sdkClient(emulator), action: "DescribeCVMAssets", request: {}, field: "AssetId", values: asked });
      expect(many.rows).toHaveLength(present.length);
      expect(many.calls).toBeLessThanOrEqual(7);
    } finally {
      emulator.state.multiValueFilters = "ored";
    }
  });

  it("told up front that the account does not OR: no call sends several values", async () => {
    emulator.state.multiValueFilters = "refused";
    try {
      const csip = sdkClient(emulator);
      tellFilterReadings(csip, { DescribeCVMAssets: { values: "first-only" } });
      const read = await readFiltered({ csip, action: "DescribeCVMAssets", request: {}, field: "AssetId", values: [present[1]!, present[2]!] });
      expect(read.rows).toHaveLength(2);
      expect(valuesSent()).toEqual([1, 1]);
      expect(filterReadingsOf(csip).rows()).toEqual([{ action: "DescribeCVMAssets", values: "first-only", names: { AssetId: "honoured" }, source: "told" }]);
    } finally {
      emulator.state.multiValueFilters = "ored";
    }
  });

  it("a refused filter name: the list is read without it and matched here, and the refusal's code is kept", async () => {
    emulator.refuseFilter("DescribeCVMAssets", "AssetId");
    try {
      const csip = sdkClient(emulator);
      const read = await readFiltered({ csip, action: "DescribeCVMAssets", request: {}, field: "AssetId", values: asked });
      expect(read.rows).toHaveLength(present.length);
      expect(read.refused).toBe("AssetId");
      expect(filterReadingsOf(csip).rows()).toEqual([{ action: "DescribeCVMAssets", names: { AssetId: "refused" }, refusalCode: "InvalidParameterValue", source: "observed" }]);
      expect(readingWarnings(filterReadingsOf(csip).rows())).toEqual(["DescribeCVMAssets refused the filter AssetId (InvalidParameterValue): the list was read to its end and matched here"]);
    } finally {
      emulator.state.refusedFilters.clear();
    }
  });

  it.each([
    ["ored", {}, { values: "ored", names: { AssetId: "honoured" } }],
    ["first-only", {}, { values: "first-only", names: { AssetId: "honoured" } }],
    ["refused", {}, { values: "refused", names: { AssetId: "honoured" }, refusalCode: "InvalidParameter" }],
    ["ored", { refuse: true }, { names: { AssetId: "refused" }, refusalCode: "InvalidParameterValue" }],
    ["ored", { ignore: true }, { names: { AssetId: "ignored" } }],
  ] as const)("settleFilterReading tells the readings apart with harmless reads: several values %s, %o", async (values, name, expected) => {
    emulator.state.multiValueFilters = values;
    if ("refuse" in name) emulator.refuseFilter("DescribeCVMAssets", "AssetId");
    if ("ignore" in name) emulator.ignoreFilter("DescribeCVMAssets", "AssetId");
    try {
      const reading = await settleFilterReading({ csip: sdkClient(emulator), action: "DescribeCVMAssets", request: {}, field: "AssetId" });
      expect(reading).toEqual({ action: "DescribeCVMAssets", ...expected, source: "observed" });
      expect(emulator.calls.every((c) => c.action === "DescribeCVMAssets")).toBe(true);
    } finally {
      emulator.state.multiValueFilters = "ored";
      emulator.state.refusedFilters.clear();
    }
  });

  it("a failure that is no refusal is not taken for one: the read fails with it", async () => {
    emulator.inject("DescribeCVMAssets", { type: "error", code: "AuthFailure.SecretIdNotFound", message: "no" });
    const error = await caught(readFiltered({ csip: sdkClient(emulator), action: "DescribeCVMAssets", request: {}, field: "AssetId", values: asked }));
    expect(error).toMatchObject({ code: "AuthFailure.SecretIdNotFound" });
    expect(emulator.callsOf("DescribeCVMAssets")).toHaveLength(1);
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
