import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createCsipClient } from "../../shared/csip/client.ts";
import { LOCAL_ACCOUNT } from "../../local/emulator/accounts.ts";
import { startListener } from "../helpers.ts";

// The CLI as people run it: a real process, real exit codes, real output.

const CLI = "bin/csip-scan.js";

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, CSIP_SCAN_LOG_LEVEL: "silent" }, timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tempConfig(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "csip-scan-cli-")), "policies.yaml");
  writeFileSync(file, text);
  return file;
}

describe("csip-scan CLI", () => {
  it("validate exits 0 on the shipped config", () => {
    const { status, stdout } = cli("validate");
    expect(status).toBe(0);
    expect(stdout).toMatch(/config\/scan-policies\.yaml: \d+ policies, \d+ asset groups, \d+ notifiers: valid/);
  });

  it("validate prints one line per mistake with file, line, column and key path, and exits 2", () => {
    const file = tempConfig(`version: 1
timezone: Asia/Nowhere
policies:
  - name: nightly
    schedule: "0 0 3 * *"
    targets: [web]
    scanItems: [port]
`);
    const { status, stdout, stderr } = cli("validate", "--config", file);
    expect(status).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trim().split("\n")).toEqual([
      `${file}:2:11 timezone: "Asia/Nowhere" is not an IANA time zone such as Asia/Shanghai`,
      `${file}:5:15 policies[0].schedule: SCF cron needs 7 fields (second minute hour day-of-month month day-of-week year), got 5 in "0 0 3 * *"`,
      `${file}:6:15 policies[0].targets[0]: unknown asset group "web" (none are defined)`,
    ]);
  });

  it("validate reports problems of every stage at once: a value, a name, a notifier and a schedule", () => {
    const file = tempConfig(`version: 1
notifiers:
  secops: { type: webhook, url: "https://hooks.example.com/x" }
policies:
  - name: nightly
    schedule: "0 3 * * * *"
    targets: [web]
    scanItems: [portscan]
    notify: [oncall]
`);
    const { status, stderr } = cli("validate", "--config", file);
    expect(status).toBe(2);
    expect(stderr.trim().split("\n").map((line) => line.slice(file.length + 1).replace(/: .*/, ""))).toEqual([
      "6:15 policies[0].schedule",
      "7:15 policies[0].targets[0]",
      "8:17 policies[0].scanItems[0]",
      "9:14 policies[0].notify[0]",
    ]);
  });

  it("CSIP_SCAN_CONFIG points elsewhere, and a missing file is exit 2", () => {
    const result = spawnSync(process.execPath, [CLI, "validate"], { encoding: "utf8", env: { ...process.env, CSIP_SCAN_CONFIG: "/nonexistent/p.yaml" } });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("/nonexistent/p.yaml:0:0 file not found");
  });

  it("plan shows every shipped policy with three fire times and its expanded assets", () => {
    const { status, stdout } = cli("plan", "--json");
    expect(status).toBe(0);
    const plan = JSON.parse(stdout) as { policies: { policy: string; next: string[]; assets: string[] }[] };
    expect(plan.policies.map((p) => p.policy)).toEqual(["nightly-prod", "weekly-data", "public-exposure", "monthly-full"]);
    for (const p of plan.policies) expect(p.next).toHaveLength(3);
    expect(plan.policies[0]!.assets).toContain("cvm:ins-bastion1");
    expect(plan.policies[0]!.assets).not.toContain("cvm:ins-legacy01");
  });

  it("run --dry-run prints the requests and creates nothing", () => {
    const { status, stdout, stderr } = cli("run", "--policy", "nightly-prod", "--dry-run", "--json", "--time", "2026-11-29T19:00:00Z");
    expect(status).toBe(0);
    expect(stderr).toContain("LOCAL CSIP EMULATOR");
    const [summary] = JSON.parse(stdout) as { tasks: unknown[]; requests: { TaskName: string }[]; notifications: unknown[] }[];
    expect(summary!.tasks).toEqual([]);
    expect(summary!.notifications).toEqual([]);
    expect(summary!.requests.map((r) => r.TaskName)).toEqual(["csip-scan:nightly-prod:20261129T190000Z:1"]);
  });

  it("run --all against the demo estate creates tasks and prints unauthorized assets", () => {
    const { status, stdout } = cli("run", "--all");
    expect(status).toBe(0);
    expect(stdout).toContain("OK  policy nightly-prod");
    expect(stdout).toMatch(/task rmis-\w+ "csip-scan:nightly-prod:/);
    expect(stdout).toContain("cvm ins-9c4e7v1b (web-gz-03) ap-guangzhou");
    expect(stdout).toContain("notify secops: delivered (console)");
  });

  it("invoke scheduled-scan runs the SCF handler on an event file", () => {
    const { status, stdout } = cli("invoke", "scheduled-scan", "--event", "test/fixtures/events/timer.json");
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ policy: "nightly-prod", trigger: "timer", scheduledTime: "2026-11-29T03:00:00.000Z", ok: true });
  });

  it("invoke asset-change runs the SCF handler on an event file", () => {
    // The demo event names web-gz-03 of the demo estate: tagged prod/web, and not authorized.
    const { status, stdout } = cli("invoke", "asset-change", "--event", "local/events/run-instances.json");
    expect(status).toBe(0);
    const summary = JSON.parse(stdout) as { assets: string[]; runs: { policy: string; unauthorized: { id: string }[] }[] };
    expect(summary.assets).toEqual(["ins-9c4e7v1b"]);
    expect(summary.runs.map((r) => [r.policy, r.unauthorized.map((a) => a.id)])).toEqual([["nightly-prod", ["ins-9c4e7v1b"]]]);
  });

  it.each([
    [["run"], "csip-scan: name a policy with --policy NAME, or use --all"],
    [["run", "--policy", "nope"], 'csip-scan: unknown policy "nope" (known: nightly-prod, weekly-data, public-exposure, monthly-full)'],
    [["run", "--all", "--tiem", "x"], "csip-scan: Unknown option '--tiem'"],
    [["frobnicate"], 'csip-scan: unknown command "frobnicate"'],
    [["invoke", "scheduled-scan", "--event", "package.json"], "csip-scan: invalid event at Type: Invalid input: expected \"Timer\""],
  ])("%j is invalid input: exit 2", (args, message) => {
    const { status, stderr } = cli(...args);
    expect(status).toBe(2);
    expect(stderr).toContain(message);
  });

  it("start fires a policy on its schedule through node-cron, one run at a time", async () => {
    const file = tempConfig(`version: 1
timezone: UTC
policies:
  - { name: every-second, schedule: "* * * * * ? 2020-2099", urls: [a.example.com], scanItems: [port] }
  - { name: never-this-year, schedule: "* * * * * ? 2098", urls: [b.example.com], scanItems: [port] }
`);
    const child = spawn(process.execPath, [CLI, "start", "--no-run-now", "--config", file], { env: { ...process.env, CSIP_SCAN_LOG_LEVEL: "silent" } });
    let stdout = "";
    let interrupted = false;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!interrupted && (stdout.match(/running every-second/g) ?? []).length >= 2) interrupted = child.kill("SIGINT");
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).not.toContain("Running every policy once now");
    expect(stdout).toContain("OK  policy every-second");
    // The year field is checked when node-cron fires: 2098 is not now.
    expect(stdout).not.toContain("running never-this-year");
  });

  it("emulator serves the demo estate to the official SDK until Ctrl-C", async () => {
    const child = spawn(process.execPath, [CLI, "emulator", "--port", "0"]);
    let stdout = "";
    const url = await new Promise<string>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const found = /CSIP_ENDPOINT=(\S+)/.exec(stdout);
        if (found) resolve(found[1]!);
      });
    });
    const csip = createCsipClient({ credentials: LOCAL_ACCOUNT, region: "ap-guangzhou", endpoint: url });
    const answer = await csip.call("DescribeDomainAssets", { Filter: { Limit: 100 } });
    expect(answer.Total).toBe(5);
    child.kill("SIGINT");
    expect(await new Promise((resolve) => child.on("exit", resolve))).toBe(0);
  });

  it("notify-test sends one test message and prints the answer", async () => {
    const listener = await startListener(() => ({ status: 200, body: '{"errcode":0,"errmsg":"ok"}' }));
    try {
      const file = tempConfig(`version: 1
notifiers:
  ops: { type: wecom, url: "${listener.url}?key=cli-robot-key" }
policies:
  - { name: p, schedule: "0 0 3 * * * *", urls: [a.example.com], scanItems: [port] }
`);
      const child = spawn(process.execPath, [CLI, "notify-test", "--notifier", "ops", "--config", file], { env: { ...process.env, CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1" } });
      let stdout = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      expect(code).toBe(0);
      expect(stdout.trim()).toBe("notifier ops (wecom): delivered");
      expect(JSON.parse(listener.received[0]!.body)).toMatchObject({ msgtype: "markdown", markdown: { content: expect.stringContaining("Test message from csip-scan") } });
    } finally {
      await listener.close();
    }
  });

  it.each(["validate", "plan", "run", "invoke", "emulator", "start", "notify-test"])("%s --help", (command) => {
    const { status, stdout } = cli(command, "--help");
    expect(status).toBe(0);
    expect(stdout).toContain(`csip-scan ${command}`);
  });

  it("start runs local mode on the emulator and stops cleanly on Ctrl-C", async () => {
    const child = spawn(process.execPath, [CLI, "start"], { env: { ...process.env, CSIP_SCAN_LOG_LEVEL: "silent" } });
    let stdout = "";
    let interrupted = false;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!interrupted && stdout.includes("Waiting for the schedules")) interrupted = child.kill("SIGINT");
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(stdout).toContain("LOCAL CSIP EMULATOR");
    expect(stdout).toMatch(/nightly-prod\s+"0 0 3 \* \* \* \*"\s+next \d{4}-\d\d-\d\d 03:00:00 Asia\/Shanghai/);
    expect(stdout).toContain("running nightly-prod");
    expect(stdout).toContain("Stopping.");
  });
});
