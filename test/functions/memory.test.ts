import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { V8_FLAGS_FOR_128_MB } from "../../bench/memory.ts";
import { runBundle, type BundleRun } from "../../bench/memory-run.ts";
import { heapLimitsFor, heapSizeLimitMb, nodeOptionsFor } from "../../shared/config/heap-limits.ts";

/**
 * The deployed bundle in a V8 heap sized for SCF's 128 MB, at 20,000 CVMs of real row size: the whole
 * process must stay within the function's memory. Keeping whole rows, the same run peaks at about
 * 140 MB (and dies of heap exhaustion from about 50,000 CVMs); bench/memory.ts gives the figures up to
 * 100,000.
 */
const dir = mkdtempSync(join(tmpdir(), "csip-scan-bundle-"));
beforeAll(() => {
  execFileSync(process.execPath, ["scripts/build.js", dir], { stdio: "ignore" });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the scheduled-scan bundle in 128 MB", () => {
  it(`walks 20,000 CVMs and makes a task per 200 within 128 MB of peak RSS (node ${V8_FLAGS_FOR_128_MB.join(" ")})`, async () => {
    const run = await runBundle({ bundle: join(dir, "scheduled-scan", "index.js"), cvms: 20_000, nodeFlags: V8_FLAGS_FOR_128_MB });
    expect(run.errors).toEqual([]);
    expect(run).toMatchObject({ ok: true, tasks: 100, assetsInTasks: 20_000, listCalls: 203, creates: 100 });
    expect(run.maxRssMb).toBeLessThan(128);
  }, 60_000);
});

describe("a deployed function holds its own heap", () => {
  const bundle = () => join(dir, "scheduled-scan", "index.js");
  const warnings = (run: BundleRun) => run.logs.filter((line) => line.level === 40).map((line) => String(line.msg));
  const heapWarnings = (run: BundleRun) => warnings(run).filter((w) => w.startsWith("V8's heap may grow"));

  it("without node flags V8's heap could outgrow 128 MB: it says so, keeps the facts, and walks in a worker held to the limits for 128 MB", async () => {
    const run = await runBundle({ bundle: bundle(), cvms: 1_000, env: { CSIP_SCAN_MEMORY_MB: "128" }, logLevel: "info" });
    expect(run).toMatchObject({ ok: true, tasks: 5, assetsInTasks: 1_000 });
    expect(run.coldStart).toMatchObject({
      function: "scheduled-scan",
      runtime: "Nodejs18.15",
      node: process.version,
      memoryMb: 128,
      memoryFrom: "environment",
      heapBound: "worker",
      boundHeapSizeLimitMb: heapSizeLimitMb(heapLimitsFor(128)),
    });
    expect(run.coldStart!.heapSizeLimitMb).toBeGreaterThan(128);
    expect(Date.parse(run.coldStart!.at)).not.toBeNaN();
    expect(heapWarnings(run)).toEqual([
      `V8's heap may grow to ${run.coldStart!.heapSizeLimitMb} MB in a function of 128 MB: Node did not apply NODE_OPTIONS (not set); the work runs in a worker thread whose heap is held to 102 MB`,
    ]);
    expect(run.logs.find((line) => line.msg === "cold start")?.coldStart).toEqual(run.coldStart);
  }, 60_000);

  it("with the deploy's NODE_OPTIONS applied the heap fits: no warning, and the walk runs as it is", async () => {
    const run = await runBundle({ bundle: bundle(), cvms: 1_000, env: { CSIP_SCAN_MEMORY_MB: "128", NODE_OPTIONS: nodeOptionsFor(128) }, logLevel: "info" });
    expect(run).toMatchObject({ ok: true, tasks: 5 });
    expect(run.coldStart).toMatchObject({ memoryMb: 128, heapSizeLimitMb: 102, nodeOptions: nodeOptionsFor(128), heapBound: "node" });
    expect(run.coldStart).not.toHaveProperty("boundHeapSizeLimitMb");
    expect(heapWarnings(run)).toEqual([]);
  }, 60_000);

  it("SCF's context names the memory before the deploy's variable does", async () => {
    const run = await runBundle({ bundle: bundle(), cvms: 200, env: { CSIP_SCAN_MEMORY_MB: "128" }, context: { memory_limit_in_mb: 256 } });
    expect(run.ok).toBe(true);
    expect(run.coldStart).toMatchObject({ memoryMb: 256, memoryFrom: "context", heapBound: "worker", boundHeapSizeLimitMb: heapSizeLimitMb(heapLimitsFor(256)) });
  }, 60_000);

  it("with no memory known nothing is compared or bounded, and the facts say so", async () => {
    const run = await runBundle({ bundle: bundle(), cvms: 200, logLevel: "info" });
    expect(run.ok).toBe(true);
    expect(run.coldStart).toMatchObject({ heapBound: "none" });
    expect(run.coldStart).not.toHaveProperty("memoryMb");
    expect(heapWarnings(run)).toEqual([]);
  }, 60_000);

  it("a worker that runs out of its heap fails the invocation with an error that says so, and the process lives to answer", async () => {
    // 8 MB is no SCF size: it makes a heap of 9 MB, too small for the walk.
    const run = await runBundle({ bundle: bundle(), cvms: 2_000, env: { CSIP_SCAN_MEMORY_MB: "8" } });
    expect(run.ok).toBe(false);
    expect(run.errors).toEqual([expect.stringMatching(/^the function's work stopped in its worker, whose heap is held to 9 MB for the function's 8 MB: .*out of memory/)]);
  }, 60_000);

  it("a run that fails in the worker fails the invocation as it would have failed inline: its error, with the run's summary, so that SCF retries", async () => {
    const run = await runBundle({
      bundle: bundle(),
      cvms: 200,
      env: { CSIP_SCAN_MEMORY_MB: "128" },
      prepare: (emulator) => emulator.inject("DescribeCVMAssets", { type: "error", code: "InvalidParameter", message: "no" }),
    });
    expect(run.ok).toBe(false);
    expect(run.thrown).toEqual({ name: "RunFailedError", withSummary: true });
    expect(run.errors[0]).toContain("InvalidParameter");
  }, 60_000);
});
