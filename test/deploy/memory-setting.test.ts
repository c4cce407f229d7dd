import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { deploySettings } from "../../local/deploy/settings.ts";
import { heapLimitsFor, heapSizeLimitMb, nodeOptionsFor } from "../../shared/config/heap-limits.ts";
import { caught, envOf } from "../helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "csip-scan-memory-setting-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function settingsWith(memory: string) {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `version: 1\n${memory}\npolicies:\n  - { name: nightly, schedule: "0 0 3 * * * *", all: true, scanItems: [port] }\n`);
  return deploySettings(envOf({ CSIP_SCAN_CONFIG: file }));
}

describe("memorySize per function", () => {
  it("defaults to 128 MB each, what bench/memory.ts measures a scheduled run in", async () => {
    const { functions } = await settingsWith("");
    expect(Object.values(functions).map((f) => f.memorySize)).toEqual([128, 128, 128, 128]);
  });

  it("the policy file's `memory` sets one function's size", async () => {
    const { functions } = await settingsWith("memory: { scheduled-scan: 256 }");
    expect(functions["scheduled-scan"]?.memorySize).toBe(256);
    expect(functions["scan-results"]?.memorySize).toBe(128);
  });

  it.each([
    [64, "--max-old-space-size=48 --max-semi-space-size=1"],
    [128, "--max-old-space-size=96 --max-semi-space-size=2"],
    [256, "--max-old-space-size=192 --max-semi-space-size=4"],
    [1024, "--max-old-space-size=768 --max-semi-space-size=16"],
    [3072, "--max-old-space-size=2304 --max-semi-space-size=16"],
  ])("a function of %i MB gets NODE_OPTIONS %s and its memory named, in its own environment", async (mb, flags) => {
    const { functions } = await settingsWith(`memory: { scheduled-scan: ${mb} }`);
    expect(functions["scheduled-scan"]?.environment.variables).toEqual({ NODE_OPTIONS: flags, CSIP_SCAN_MEMORY_MB: String(mb) });
    expect(functions["scan-results"]?.environment.variables).toEqual({ NODE_OPTIONS: "--max-old-space-size=96 --max-semi-space-size=2", CSIP_SCAN_MEMORY_MB: "128" });
  });

  it("the flags hold V8's heap within the function: Node started with them reports a heap limit below its memory", () => {
    for (const mb of [64, 128, 256, 512]) {
      const reported = execFileSync(process.execPath, ["-p", "require('v8').getHeapStatistics().heap_size_limit / 1048576"], {
        env: { PATH: process.env.PATH, NODE_OPTIONS: nodeOptionsFor(mb) },
        encoding: "utf8",
      });
      expect(Number(reported)).toBe(heapSizeLimitMb(heapLimitsFor(mb)));
      expect(Number(reported)).toBeLessThan(mb);
    }
  });

  it.each([
    ["memory: { scheduled-scn: 256 }", "names no function: scheduled-scn"],
    ["memory: { scheduled-scan: 200 }", "SCF takes 64, or 128 to 3072 MB in steps of 128"],
  ])("%s is refused: %s", async (memory, message) => {
    expect(String(await caught(settingsWith(memory)))).toContain(message);
  });
});
