import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { deploySettings } from "../../local/deploy/settings.ts";
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
    ["memory: { scheduled-scn: 256 }", "names no function: scheduled-scn"],
    ["memory: { scheduled-scan: 200 }", "SCF takes 64, or 128 to 3072 MB in steps of 128"],
  ])("%s is refused: %s", async (memory, message) => {
    expect(String(await caught(settingsWith(memory)))).toContain(message);
  });
});
