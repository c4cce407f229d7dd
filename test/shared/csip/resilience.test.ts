import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RateLimiter } from "../../../shared/csip/rate-limiter.ts";
import { resilientClient } from "../../../shared/csip/resilient-client.ts";
import { deadlineIn } from "../../../shared/clock.ts";
import { DEFAULTS } from "../../../shared/config/schema.ts";
import { CloudApiError } from "../../../shared/errors.ts";
import { backoffMs } from "../../../shared/retry.ts";
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

describe("backoffMs", () => {
  it("is full jitter under an exponential ceiling that stops at the cap", () => {
    const policy = { baseMs: 100, capMs: 1000, attempts: 9 };
    expect([0, 1, 2, 3, 4, 5].map((retry) => backoffMs(policy, retry, () => 0.999999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffMs(policy, 3, () => 0)).toBe(0);
  });

  it("defaults to 200 ms base, 5 s cap, 5 attempts", () => {
    expect(DEFAULTS.retry).toEqual({ baseMs: 200, capMs: 5000, attempts: 5 });
  });
});

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
  it("spaces calls so that no one-second window holds more than the limit", async () => {
    const limiter = new RateLimiter({ perSecond: 10, marginMs: 20 });
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 25 }, async () => {
      await limiter.acquire("a/Action");
      starts.push(performance.now());
    }));
    starts.sort((a, b) => a - b);
    for (let i = 10; i < starts.length; i++) expect(starts[i]! - starts[i - 10]!).toBeGreaterThanOrEqual(999);
    // Another key has a budget of its own.
    const t = performance.now();
    await limiter.acquire("b/Action");
    expect(performance.now() - t).toBeLessThan(50);
  });
});
