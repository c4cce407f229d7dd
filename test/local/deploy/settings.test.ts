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

describe("what the public page function is given", () => {
  it("a role of its own when CSIP_SCAN_PAGE_ROLE names one; every other function the provider's", async () => {
    const file = join(dir, "role.yaml");
    writeFileSync(file, `version: 1\npolicies:\n  - { name: nightly, schedule: "0 0 3 * * * *", all: true, scanItems: [port] }\n`);
    const withRole = await deploySettings(envOf({ CSIP_SCAN_CONFIG: file, CSIP_SCAN_PAGE_ROLE: "csip-scan-page" }));
    expect(Object.entries(withRole.functions).map(([name, f]) => [name, f.role])).toEqual([
      ["scheduled-scan", undefined],
      ["asset-change", undefined],
      ["scan-results", undefined],
      ["results-page", "csip-scan-page"],
    ]);
    expect((await deploySettings(envOf({ CSIP_SCAN_CONFIG: file }))).functions["results-page"]).not.toHaveProperty("role");
  });

  it("of the policy file's variables, only those its state store's keys name", async () => {
    const file = join(dir, "variables.yaml");
    writeFileSync(
      file,
      `version: 1
notifiers:
  secops: { type: webhook, url: "\${SECOPS_WEBHOOK_URL}", secret: "\${SECOPS_SECRET}" }
results: { page: { cdnDomain: reports.example.com, cdnAuthKey: "\${CSIP_SCAN_CDN_KEY}" } }
timeouts: { requestSeconds: "\${REQUEST_SECONDS:-10}" }
state: { cos: { bucket: "\${STATE_BUCKET}" } }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", all: true, scanItems: [port], notify: [secops] }
`,
    );
    const variables = { SECOPS_WEBHOOK_URL: "https://hooks.example.com/x", SECOPS_SECRET: "s3cret-value", CSIP_SCAN_CDN_KEY: "Abc123Key", STATE_BUCKET: "csip-scan-state-1250000000" };
    const settings = await deploySettings(envOf({ CSIP_SCAN_CONFIG: file, ...variables }));
    expect(Object.keys(settings.environment).sort()).toEqual(["CSIP_SCAN_CDN_KEY", "CSIP_SCAN_CONFIG", "SECOPS_SECRET", "SECOPS_WEBHOOK_URL", "STATE_BUCKET"]);
    // REQUEST_SECONDS is named there too, but not set where the deploy runs: no function gets it.
    expect(settings.storeVariables).toEqual(["STATE_BUCKET"]);
  });
});
