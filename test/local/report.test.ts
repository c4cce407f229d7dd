import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../shared/config/load.ts";
import { recordRun } from "../../shared/results/history.ts";
import { FileStateStore } from "../../shared/state/store.ts";
import { writeReport } from "../../local/report.ts";
import { envOf } from "../helpers.ts";
import { finding, results } from "../shared/results/page-fixtures.ts";

// `csip-scan report`: the policies' histories from the state store as one page.

const dir = mkdtempSync(join(tmpdir(), "csip-scan-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = join(dir, "policies.yaml");
writeFileSync(
  file,
  `version: 1
timezone: UTC
state: { path: "${join(dir, "state")}" }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", urls: [203.0.113.10], scanItems: [port] }
  - { name: weekly, schedule: "0 0 4 ? * SAT *", urls: [203.0.113.11], scanItems: [port] }
`,
);

const store = new FileStateStore(join(dir, "state"));
const seeded = (async () => {
  for (const day of ["01", "20", "28"]) await recordRun(store, results(`2026-11-${day}T03:00:00.000Z`, [finding(`f${day}`, { name: `risk of the ${day}th` })]), [finding(`f${day}`, { name: `risk of the ${day}th` })], 30);
})();

// A CLI process (tsx compiling on load) may take many times its usual second on a busy machine: the waits are limits.
describe("csip-scan report", { timeout: 240_000 }, () => {
  it("writes every policy's page with the runs since --since; a policy without runs says so", async () => {
    await seeded;
    const config = (await loadConfig(file, envOf())).config;
    const out = join(dir, "all.html");
    const written = await writeReport(config, { since: "10d", language: "en", out, now: new Date("2026-11-29T00:00:00Z") });
    expect(written).toEqual({ file: out, runs: 2, policies: 2 });
    const html = readFileSync(out, "utf8");
    expect([...html.matchAll(/<tr><td class=t>(2026-11-\d\d)/g)].map((m) => m[1])).toEqual(["2026-11-28", "2026-11-20"]);
    expect(html).toContain("risk of the 28th");
    expect(html).toMatch(/<h2>Policy weekly<\/h2><p>No run of this policy was told in the last 10d.<\/p>/);
    expect(html).toContain('<nav><a href="#p-nightly">nightly</a><a href="#p-weekly">weekly</a></nav>');
  });

  it.each([
    ["into a folder that does not exist", (out: string) => join(out, "missing", "page.html"), (out: string) => `--out ${join(out, "missing", "page.html")}: the folder ${join(out, "missing")} does not exist`],
    ["onto a folder", (out: string) => out, (out: string) => `--out ${out} is a folder: give the name of a file to write`],
    ["under a file", (out: string) => join(out, "a-file", "page.html"), (out: string) => `--out ${join(out, "a-file", "page.html")}: a part of ${join(out, "a-file")} is not a folder`],
  ])("--out %s: exit 2 with one line, and nothing written", async (_, target, said) => {
    const out = mkdtempSync(join(dir, "out-"));
    writeFileSync(join(out, "a-file"), "");
    const run = spawnSync(process.execPath, ["bin/csip-scan.js", "report", "--config", file, "--out", target(out)], {
      encoding: "utf8",
      env: { ...process.env, CSIP_SCAN_LOG_LEVEL: "silent" },
      timeout: 120_000,
    });
    expect([run.status, run.stdout, run.stderr]).toEqual([2, "", `csip-scan: ${said(out)}\n`]);
    expect(readdirSync(out)).toEqual(["a-file"]);
  });

  it("as a command: one policy, in Chinese, to --out", async () => {
    await seeded;
    const out = join(dir, "nightly.html");
    const run = spawnSync(process.execPath, ["bin/csip-scan.js", "report", "--config", file, "--policy", "nightly", "--since", "400d", "--language", "zh", "--out", out], {
      encoding: "utf8",
      env: { ...process.env, CSIP_SCAN_LOG_LEVEL: "silent" },
      timeout: 120_000,
    });
    expect(run.stderr).toBe("");
    expect([run.status, run.stdout]).toEqual([0, `${out}: 1 policy, 3 run(s) since 400d ago (history in ${join(dir, "state")})\n`]);
    expect(readFileSync(out, "utf8")).toContain("<h2>策略 nightly</h2>");
  });
});
