import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { deploySettings } from "../../../local/deploy/settings.ts";
import { ConfigError } from "../../../shared/errors.ts";
import { envOf } from "../../helpers.ts";

// The SCF runtime comes from the policy file's `runtime`: serverless.yml reads it through deploySettings.

const dir = mkdtempSync(join(tmpdir(), "csip-scan-settings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function settingsOf(extra: string) {
  const file = join(dir, `p-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `version: 1\n${extra}assetGroups:\n  web: { include: [{ tags: { tier: web } }] }\npolicies:\n  - { name: nightly, schedule: "0 0 3 * * * *", targets: [web], scanItems: [port] }\n`,
  );
  return deploySettings(envOf({ CSIP_SCAN_CONFIG: file }));
}

describe("the runtime setting", () => {
  it("defaults to Nodejs18.15, the newest Node.js runtime SCF's CreateFunction reference lists", async () => {
    expect((await settingsOf("")).runtime).toBe("Nodejs18.15");
  });

  it("takes a newer Node.js runtime the console offers", async () => {
    expect((await settingsOf("runtime: Nodejs20.15\n")).runtime).toBe("Nodejs20.15");
  });

  it.each(["Nodejs16.13", "Python3.9", "nodejs18.15"])("refuses %s: the bundles need Node 18 or newer", async (runtime) => {
    const error = await settingsOf(`runtime: ${runtime}\n`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toContain("must be an SCF Node.js runtime of Node 18 or newer");
  });
});
