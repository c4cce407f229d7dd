import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { V8_FLAGS_FOR_128_MB } from "../../bench/memory.ts";
import { runBundle } from "../../bench/memory-run.ts";

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
