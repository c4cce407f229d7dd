import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { ToldReading } from "../../../shared/csip/filter-readings.ts";
import { createLogger } from "../../../shared/log.ts";
import { storedReadings, toldFrom, type ListReading } from "../../../shared/run/account-readings.ts";
import { ACCOUNT_READINGS } from "../../../shared/state/keys.ts";
import { CosStateStore } from "../../../shared/state/cos-store.ts";
import { MemoryStateStore } from "../../../shared/state/memory-store.ts";
import { freshAccount } from "../../../local/cloud/account.ts";
import { startCloudStandIn } from "../../../local/cloud/server.ts";
import { LOCAL_ACCOUNT } from "../../../local/emulator/accounts.ts";

// What a run's client is told of doctor's record: only what gives the same rows if the account changed since.

describe("toldFrom", () => {
  it.each<[string, ListReading, ToldReading | undefined]>([
    ["several values ORed: not told (the code checks it)", { values: "ored" }, undefined],
    ["only the first value answered: one value a call", { values: "first-only" }, { values: "first-only" }],
    ["several values refused: one value a call", { values: "refused", refusalCode: "InvalidParameter" }, { values: "refused" }],
    ["a name honoured: not told", { names: { TaskId: "honoured" } }, undefined],
    ["a name ignored or refused: the list read whole", { names: { TaskId: "honoured", TaskName: "refused", ScanStatus: "ignored" } }, { names: { TaskName: "refused", ScanStatus: "ignored" } }],
    ["the task list's order: not told (a results look checks it)", { order: "newest-first" }, undefined],
    ["a largest Limit: that many rows a page", { largestLimit: 40 }, { largestLimit: 40 }],
  ])("%s", (_, list, told) => {
    expect(toldFrom({ at: "2026-12-01T00:00:00Z", lists: { DescribeScanTaskList: list } })).toEqual(told ? { DescribeScanTaskList: told } : {});
  });

  it("drops a list the code does not read (a record of another version)", () => {
    expect(toldFrom({ at: "2026-12-01T00:00:00Z", lists: { DescribeSomethingElse: { values: "first-only" } } })).toEqual({});
  });
});

describe("storedReadings", () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "warn", destination: new Writable({ write: (chunk: Buffer, _, done) => (lines.push(chunk.toString()), done()) }) });

  it("none kept: nothing told", async () => {
    expect(await storedReadings({ store: new MemoryStateStore(), logger })).toBeUndefined();
  });

  it("a record that does not read (COS's store refuses it) is a warning, and nothing is told", async () => {
    const bucket = `csip-scan-state-${LOCAL_ACCOUNT.appId}`;
    const standIn = await startCloudStandIn({ account: { ...freshAccount(LOCAL_ACCOUNT), buckets: [{ Name: bucket, Region: "ap-guangzhou", CreationDate: "2025-01-01T00:00:00Z" }] }, keys: [LOCAL_ACCOUNT] });
    try {
      const store = new CosStateStore({ bucket, region: "ap-guangzhou", prefix: "state/", credentials: LOCAL_ACCOUNT, endpoint: standIn.url, timeoutMs: 5000, retry: { baseMs: 1, capMs: 10, attempts: 2 } });
      await store.set(ACCOUNT_READINGS, { lists: "not a record" });
      expect(await storedReadings({ store, logger })).toBeUndefined();
      expect(lines.join("")).toContain("the readings csip-scan doctor kept were not read");
    } finally {
      await standIn.close();
    }
  });
});
