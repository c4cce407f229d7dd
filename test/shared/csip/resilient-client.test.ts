import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { RateLimiter } from "../../../shared/csip/rate-limiter.ts";
import { resilientClient } from "../../../shared/csip/resilient-client.ts";
import { deadlineIn } from "../../../shared/clock.ts";
import { CloudApiError } from "../../../shared/errors.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";
import { caught, sdkClient } from "../../helpers.ts";

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ estate: [{ kind: "cvm", id: "ins-00000001" }], rateLimit: false });
});
afterAll(() => emulator.close());
afterEach(() => {
  emulator.calls.length = 0;
  emulator.clearFaults();
});

/** A client over the emulator whose waits are recorded instead of slept, and whose jitter is at its top. */
function client(attempts = 5, deadline = deadlineIn(60_000, 0)) {
  const delays: number[] = [];
  const csip = resilientClient(sdkClient(emulator), {
    limiter: new RateLimiter({ perSecond: 1000, marginMs: 0 }),
    account: "test",
    retry: { baseMs: 200, capMs: 500, attempts },
    deadline,
    random: () => 0.999,
    sleep: async (ms) => void delays.push(ms),
  });
  return { csip, delays };
}

describe("resilientClient", () => {
  it("RequestLimitExceeded twice, then success: exactly three calls, growing delays within the cap", async () => {
    emulator.inject("DescribeCVMAssets", { type: "error", code: "RequestLimitExceeded" }, 2);
    const { csip, delays } = client();
    await expect(csip.call("DescribeCVMAssets", {})).resolves.toMatchObject({ Total: 1 });
    expect(emulator.callsOf("DescribeCVMAssets")).toHaveLength(3);
    expect(delays).toEqual([199, 399]);
  });

  it("always RequestLimitExceeded: stops after the configured attempts", async () => {
    emulator.inject("DescribeCVMAssets", { type: "error", code: "RequestLimitExceeded.UinLimitExceeded" }, 10);
    const { csip, delays } = client(4);
    const error = await caught(csip.call("DescribeCVMAssets", {}));
    expect(error).toMatchObject({ code: "RequestLimitExceeded.UinLimitExceeded" });
    expect(emulator.callsOf("DescribeCVMAssets")).toHaveLength(4);
    expect(delays).toEqual([199, 399, 499]);
  });

  it.each([
    ["AuthFailure.SignatureFailure", "DescribeCVMAssets"],
    ["InvalidParameter", "DescribeCVMAssets"],
    ["UnauthorizedOperation.NoPermission", "DescribeCVMAssets"],
    ["LimitExceeded.Quota", "DescribeCVMAssets"],
    ["AuthFailure.SignatureFailure", "CreateRiskCenterScanTask"],
    ["InvalidParameterValue", "CreateRiskCenterScanTask"],
    ["InternalError", "CreateRiskCenterScanTask"],
    ["ResourceUnavailable", "CreateRiskCenterScanTask"],
  ] as const)("%s on %s: exactly one call", async (code, action) => {
    emulator.inject(action, { type: "error", code }, 3);
    const { csip } = client();
    const request = action === "CreateRiskCenterScanTask" ? { TaskName: "t", ScanAssetType: 0, ScanItem: ["port"], ScanPlanType: 1 } : {};
    const error = await caught(csip.call(action, request as never));
    expect(error).toBeInstanceOf(CloudApiError);
    expect(error).toMatchObject({ code });
    expect(emulator.callsOf(action)).toHaveLength(1);
  });

  it.each([
    ["InternalError", { type: "error", code: "InternalError" }],
    ["ResourceUnavailable", { type: "error", code: "ResourceUnavailable" }],
    ["HTTP 503", { type: "http", status: 503 }],
    ["a dropped connection", { type: "drop" }],
  ] as const)("a read retries %s", async (_, fault) => {
    emulator.inject("DescribeCVMAssets", fault, 2);
    const { csip } = client();
    await expect(csip.call("DescribeCVMAssets", {})).resolves.toMatchObject({ Total: 1 });
    expect(emulator.callsOf("DescribeCVMAssets")).toHaveLength(3);
  });

  it("a write retries RequestLimitExceeded directly", async () => {
    emulator.inject("CreateRiskCenterScanTask", { type: "error", code: "RequestLimitExceeded" }, 1);
    const { csip } = client();
    await expect(csip.call("CreateRiskCenterScanTask", { TaskName: "t", ScanAssetType: 0, ScanItem: ["port"], ScanPlanType: 1 })).resolves.toMatchObject({ Status: 0 });
    expect(emulator.callsOf("CreateRiskCenterScanTask")).toHaveLength(2);
  });

  it("never waits past the time the function has left", async () => {
    emulator.inject("DescribeCVMAssets", { type: "error", code: "InternalError" }, 5);
    const { csip, delays } = client(5, deadlineIn(300, 0));
    await expect(caught(csip.call("DescribeCVMAssets", {}))).resolves.toMatchObject({ code: "InternalError" });
    // 199 ms fits in 300 ms; 399 ms does not.
    expect(delays).toEqual([199]);
    expect(emulator.callsOf("DescribeCVMAssets")).toHaveLength(2);
  });
});

describe("RateLimiter", () => {
  it("spaces calls so that no one-second window holds more than the limit; another key has its own budget", async () => {
    vi.useFakeTimers();
    try {
      const limiter = new RateLimiter({ perSecond: 10, marginMs: 20 }, () => Date.now());
      const starts: number[] = [];
      const all = Promise.all(
        Array.from({ length: 25 }, async () => {
          await limiter.acquire("a/Action");
          starts.push(Date.now());
        }),
      );
      await vi.runAllTimersAsync();
      await all;
      starts.sort((a, b) => a - b);
      for (let i = 10; i < starts.length; i++) expect(starts[i]! - starts[i - 10]!).toBeGreaterThanOrEqual(1000);
      // (1000 + 20) / 9 ms apart, counted from each real start: 25 starts take 24 spacings, each rounded
      // up to the timer's whole milliseconds.
      expect(starts[24]! - starts[0]!).toBeGreaterThanOrEqual((24 * 1020) / 9);
      expect(starts[24]! - starts[0]!).toBeLessThanOrEqual(24 * Math.ceil(1020 / 9));
      const before = Date.now();
      await limiter.acquire("b/Action");
      expect(Date.now()).toBe(before);
    } finally {
      vi.useRealTimers();
    }
  });

  it("counts the spacing from real starts: after a stall, overdue calls still start one spacing apart", async () => {
    vi.useFakeTimers();
    try {
      // The process stalls for 2 s after the first call: the timers of the calls waiting then all fire
      // at its end, so the limiter's clock reads the stall's end however early each was due.
      const stallEnd = Date.now() + 2_000;
      const now = (): number => Math.max(Date.now(), stallEnd);
      const limiter = new RateLimiter({ perSecond: 10, marginMs: 20 }, now);
      const starts: number[] = [];
      await limiter.acquire("a/Action");
      starts.push(Date.now());
      const waiting = Array.from({ length: 5 }, async () => {
        await limiter.acquire("a/Action");
        starts.push(now());
      });
      await vi.runAllTimersAsync();
      await Promise.all(waiting);
      expect(starts).toHaveLength(6);
      for (let i = 2; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(1020 / 9);
    } finally {
      vi.useRealTimers();
    }
  });
});
