import { describe, expect, it } from "vitest";
import { deadlineIn } from "../../shared/clock.ts";
import { DEFAULTS } from "../../shared/config/schema.ts";
import { backoffMs, withRetry } from "../../shared/retry.ts";
import { caught } from "../helpers.ts";

describe("backoffMs", () => {
  it("is full jitter under an exponential ceiling that stops at the cap", () => {
    const policy = { baseMs: 100, capMs: 1000, attempts: 9 };
    expect([0, 1, 2, 3, 4, 5].map((retry) => backoffMs(policy, retry, () => 0.999999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffMs(policy, 3, () => 0)).toBe(0);
  });

  it("defaults to 200 ms base, 5 s cap, 5 attempts (stated once, in the config schema)", () => {
    expect(DEFAULTS.retry).toEqual({ baseMs: 200, capMs: 5000, attempts: 5 });
  });
});

describe("withRetry", () => {
  /** Fails `failures` times, then returns the attempt number; waits are recorded, not slept. */
  function flaky(failures: number) {
    const waits: number[] = [];
    const call = async (attempt: number) => {
      if (attempt <= failures) throw new Error(`failure ${attempt}`);
      return attempt;
    };
    return { call, waits, sleep: async (ms: number) => void waits.push(ms) };
  }
  const policy = { baseMs: 100, capMs: 1000, attempts: 4 };

  it("retries what shouldRetry allows, with growing backoff", async () => {
    const { call, waits, sleep } = flaky(2);
    await expect(withRetry(call, { policy, shouldRetry: () => true, random: () => 0.999, sleep })).resolves.toBe(3);
    expect(waits).toEqual([99, 199]);
  });

  it("stops at the attempts and rethrows the last error", async () => {
    const { call, waits, sleep } = flaky(10);
    expect((await caught(withRetry(call, { policy, shouldRetry: () => true, random: () => 0.999, sleep }))).message).toBe("failure 4");
    expect(waits).toHaveLength(3);
  });

  it("does not retry what shouldRetry refuses", async () => {
    const { call, waits, sleep } = flaky(1);
    expect((await caught(withRetry(call, { policy, shouldRetry: () => false, sleep }))).message).toBe("failure 1");
    expect(waits).toEqual([]);
  });

  it("waits as long as the other side asked (Retry-After) instead of the backoff", async () => {
    const { call, waits, sleep } = flaky(1);
    await withRetry(call, { policy, shouldRetry: () => ({ retry: true, waitMs: 7000 }), sleep });
    expect(waits).toEqual([7000]);
  });

  it("gives up instead of waiting past the deadline", async () => {
    const { call, waits, sleep } = flaky(3);
    expect((await caught(withRetry(call, { policy, shouldRetry: () => true, random: () => 0.999, sleep, deadline: deadlineIn(150, 0) }))).message).toBe(
      "failure 2",
    );
    expect(waits).toEqual([99]);
  });
});
