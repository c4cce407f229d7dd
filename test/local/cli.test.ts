import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sleep } from "../../shared/clock.ts";
import { parseConfig } from "../../shared/config/load.ts";
import { createCsipClient } from "../../shared/csip/client.ts";
import { readEnvironment } from "../../shared/env.ts";
import { stateStoreFor } from "../../shared/run/services.ts";
import { CosStateStore } from "../../shared/state/cos-store.ts";
import { LOCAL_ACCOUNT } from "../../local/emulator/accounts.ts";
import { startEmulator } from "../../local/emulator/server.ts";
import { startListener } from "../helpers.ts";

// The CLI as people run it: a real process, real exit codes, real output.

const CLI = "bin/csip-scan.js";

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, CSIP_SCAN_LOG_LEVEL: "silent" }, timeout: PROCESS_WAIT_MS });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A policy file in a fresh folder, its state kept beside it (not in the checkout), so a test runs the same every time. */
function tempConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-cli-"));
  const file = join(dir, "policies.yaml");
  writeFileSync(file, `${text.endsWith("\n") ? text : `${text}\n`}state: { path: "${join(dir, "state")}" }\n`);
  return file;
}

/**
 * How long a test waits for a command to say something, or to end, before it fails. Generous, since
 * these are limits, not expectations: a passing test waits only for the event, and on a machine whose
 * cores are busy a CLI process (tsx compiling on load) takes many times its usual second to start.
 */
const OUTPUT_WAIT_MS = 90_000;
const PROCESS_WAIT_MS = 120_000;

/**
 * A command that runs until it is stopped (`start`, `emulator`) or waits on a listener (`notify-test`), as
 * a child process. Its output is complete only once its streams have closed, so `ended()` waits for
 * `close`, not `exit`; every wait has a limit, and `kill()` belongs in a `finally`, so a failed test
 * leaves no process behind.
 */
function spawnCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, CSIP_SCAN_LOG_LEVEL: "silent", ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const output = (): string => `\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    /** The exit code, once the process has ended and its output has been read to the end; fails if it does not end in time. */
    ended(): Promise<number | null> {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the process did not end within ${OUTPUT_WAIT_MS} ms${output()}`)), OUTPUT_WAIT_MS);
      });
      return Promise.race([closed, late]).finally(() => clearTimeout(timer));
    },
    running: () => child.exitCode === null && child.signalCode === null,
    interrupt: () => child.kill("SIGINT"),
    /** Resolves when the output so far satisfies `condition`; fails if the process ends first or says nothing in time. */
    until(what: string, condition: (stdout: string) => boolean, waitMs = OUTPUT_WAIT_MS): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        const finish = (error?: Error): void => {
          clearTimeout(timer);
          child.stdout.off("data", check);
          child.off("close", ended);
          if (error) reject(error);
          else resolve();
        };
        const failure = (why: string): Error => new Error(`${why} before ${what}${output()}`);
        const check = (): void => void (condition(stdout) && finish());
        const ended = (): void => finish(condition(stdout) ? undefined : failure("the process ended"));
        const timer = setTimeout(() => finish(failure(`no output for ${waitMs} ms`)), waitMs);
        child.stdout.on("data", check);
        child.on("close", ended);
        check();
      });
    },
    kill(): void {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** Whether an HTTP server answers at `url` (any answer will do). */
function answers(url: string): Promise<boolean> {
  return fetch(url, { method: "POST", body: "{}", signal: AbortSignal.timeout(OUTPUT_WAIT_MS) }).then(
    async (response) => (await response.arrayBuffer(), true),
    () => false,
  );
}

/** How many lines of `stdout` match `pattern`. */
function countLines(stdout: string, pattern: RegExp): number {
  return stdout.split("\n").filter((line) => pattern.test(line)).length;
}

/**
 * A webhook listener on 127.0.0.1 that leaves each request unanswered until `answer()`: a run delivering
 * to it stays in progress for as long as the test needs. Later requests are answered at once.
 */
async function startHeldListener() {
  const held: ServerResponse[] = [];
  let answering = false;
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received++;
      if (answering) res.end("{}");
      else held.push(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received: () => received,
    answer(): void {
      answering = true;
      for (const res of held.splice(0)) res.end("{}");
    },
    close(): Promise<void> {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// Each test waits on real processes: its limit is the sum of a few generous waits.
describe("csip-scan CLI", { timeout: 4 * PROCESS_WAIT_MS }, () => {
  it("validate exits 0 on the shipped config, and warns of each variable the file names that is unset here", () => {
    const { status, stdout, stderr } = cli("validate");
    expect(status).toBe(0);
    expect(stdout).toMatch(/config\/scan-policies\.yaml: \d+ policies, \d+ asset groups, \d+ notifiers: valid/);
    expect(stderr).toContain("warning: SECOPS_WEBHOOK_URL is not set here (where `npm run deploy` reads it), so the default written in the file is used");
    expect(stderr).toContain("warning: WECOM_WEBHOOK_URL is not set here");
  });

  it("emulator: a malformed inventory is one located line, and a port in use is said as such: exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "csip-scan-inventory-"));
    const file = join(dir, "inventory.yaml");
    writeFileSync(file, "assets:\n  - { kind: cvm, id: ins-1, name: a }\n  - { kind: vm, id: ins-2, name: b }\n");
    const bad = cli("emulator", "--inventory", file);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(new RegExp(`^${file}:3:13 assets\\[1\\]\\.kind: `));
    writeFileSync(file, "assets: [ {kind: cvm\n");
    expect(cli("emulator", "--inventory", file).stderr).toMatch(new RegExp(`^${file}:\\d+:\\d+ not valid YAML: `));
    const taken = await startListener();
    try {
      const port = new URL(taken.url).port;
      const busy = cli("emulator", "--port", port);
      expect([busy.status, busy.stderr.trim()]).toEqual([2, `csip-scan: --port ${port} is in use: choose another, or --port 0 for any free port`]);
    } finally {
      await taken.close();
    }
  });

  it("validate accepts a memory store but warns that it forgets", () => {
    const dir = mkdtempSync(join(tmpdir(), "csip-scan-cli-"));
    const file = join(dir, "policies.yaml");
    writeFileSync(file, `version: 1\nstate: { memory: true }\npolicies:\n  - { name: nightly, schedule: "0 0 3 * * * *", urls: [https://example.com], scanItems: [port] }\n`);
    const { status, stderr } = cli("validate", "--config", file);
    rmSync(dir, { recursive: true, force: true });
    expect(status).toBe(0);
    expect(stderr).toMatch(/^warning: state: \{ memory: true \} remembers nothing across invocations/m);
  });

  it("validate prints one line per mistake with file, line, column and key path, and exits 2", () => {
    const file = tempConfig(`version: 1
timezone: Asia/Nowhere
policies:
  - name: nightly
    schedule: "0 0 3 * * *"
    targets: [web]
    scanItems: [port]
`);
    const { status, stdout, stderr } = cli("validate", "--config", file);
    expect(status).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trim().split("\n")).toEqual([
      `${file}:2:11 timezone: "Asia/Nowhere" is not an IANA time zone such as Asia/Shanghai`,
      `${file}:5:15 policies[0].schedule: SCF cron needs 7 fields (second minute hour day-of-month month day-of-week year), or the legacy 5 (minute hour day-of-month month day-of-week), got 6 in "0 0 3 * * *"`,
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
    expect(result.stderr).toContain("/nonexistent/p.yaml file not found");
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
    // The event's Time is not a fire time of nightly-prod (03:00 in Asia/Shanghai): the slot is the latest one.
    const summary = JSON.parse(stdout) as { policies: string[]; scheduledTime: string; slot: { source: string }; runs: { policy: string; ok: boolean }[]; ok: boolean };
    expect([summary.policies, summary.slot.source, summary.ok]).toEqual([["nightly-prod"], "latest fire time", true]);
    expect(summary.scheduledTime).toMatch(/T19:00:00\.000Z$/);
    expect(summary.runs.map((r) => [r.policy, r.ok])).toEqual([["nightly-prod", true]]);
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
    [["run", "--all", "--tiem", "x"], "csip-scan: run has no option --tiem; did you mean --time?\nusage: csip-scan run"],
    [["plan", "--jsn"], "csip-scan: plan has no option --jsn; did you mean --json?"],
    [["frobnicate"], 'csip-scan: unknown command "frobnicate"\n'],
    [["reslts"], 'csip-scan: unknown command "reslts"; did you mean "results"?'],
    [["emulator", "--inventory", "/nonexistent/inventory.yaml"], "/nonexistent/inventory.yaml file not found (give the emulator's inventory with --inventory FILE)"],
    [["invoke", "scheduled-scan", "--event", "package.json"], "csip-scan: invalid event at Type: is required"],
  ])("%j is invalid input: exit 2", (args, message) => {
    const { status, stderr } = cli(...args);
    expect(status).toBe(2);
    expect(stderr).toContain(message);
  });

  it("invoke never prints the content of an event file it cannot read as JSON: exit 2, one line", () => {
    const dir = mkdtempSync(join(tmpdir(), "csip-scan-cli-event-"));
    try {
      const file = join(dir, "passwd");
      writeFileSync(file, "root:x:0:0:SECRET-FIRST-LINE:/root:/bin/bash\nsecond:x:1:1::/:/bin/false\n");
      const notJson = cli("invoke", "scheduled-scan", "--event", file);
      expect([notJson.status, notJson.stderr]).toEqual([2, `csip-scan: invalid event: ${file} is not a JSON file\n`]);
      expect(notJson.stdout).toBe("");
      const missing = cli("invoke", "scheduled-scan", "--event", join(dir, "nothing.json"));
      expect([missing.status, missing.stderr]).toEqual([2, `csip-scan: invalid event: ${join(dir, "nothing.json")} cannot be read (ENOENT)\n`]);
      const folder = cli("invoke", "scheduled-scan", "--event", dir);
      expect([folder.status, folder.stderr]).toEqual([2, `csip-scan: invalid event: ${dir} cannot be read (EISDIR)\n`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("start fires a policy on its schedule through node-cron, one run at a time, and finishes every run it started", async () => {
    const file = tempConfig(`version: 1
timezone: UTC
policies:
  - { name: every-second, schedule: "* * * * * ? 2020-2099", urls: [a.example.com], scanItems: [port] }
  - { name: never-this-year, schedule: "* * * * * ? 2098", urls: [b.example.com], scanItems: [port] }
`);
    const start = spawnCli(["start", "--no-run-now", "--config", file]);
    try {
      await start.until("every-second has run twice", (stdout) => countLines(stdout, /^OK {2}policy every-second /) >= 2);
      start.interrupt();
      const code = await start.ended();
      expect(code, `${start.stdout}\n${start.stderr}`).toBe(0);
      expect(start.stdout).not.toContain("Running every policy once now");
      // Each run started is a ">>> ... running" line and ends in its summary before the next one starts,
      // and the run in progress at Ctrl-C, if any, still ends in its summary.
      const lines = start.stdout.split("\n").filter((line) => /running every-second$|policy every-second /.test(line));
      const started = lines.filter((line) => line.startsWith(">>> ")).length;
      expect(started).toBeGreaterThanOrEqual(2);
      expect(lines.map((line) => (line.startsWith(">>> ") ? "started" : line.slice(0, line.indexOf(" "))))).toEqual(
        Array.from({ length: started }, () => ["started", "OK"]).flat(),
      );
      // The year field is checked when node-cron fires: 2098 is not now.
      expect(start.stdout).not.toContain("running never-this-year");
    } finally {
      start.kill();
    }
  });

  it("start on Ctrl-C fires no new run, lets the run in progress finish and print its summary, then exits 0", async () => {
    const hook = await startHeldListener();
    const file = tempConfig(`version: 1
timezone: UTC
notifiers:
  hook: { type: webhook, url: "${hook.url}" }
policies:
  - { name: held, schedule: "* * * * * * *", urls: [a.example.com], scanItems: [port], notify: [hook], notifyOn: [summary] }
`);
    const start = spawnCli(["start", "--no-run-now", "--config", file], { CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1" });
    try {
      await start.until("a run of held starts", (stdout) => stdout.includes("running held"));
      const emulator = /LOCAL CSIP EMULATOR at (\S+)/.exec(start.stdout)![1]!;
      // The run is through with CSIP and waits for the listener to answer its summary message.
      await expect.poll(hook.received, { timeout: OUTPUT_WAIT_MS }).toBe(1);
      start.interrupt();
      await start.until("it says it is stopping", (stdout) => stdout.includes("Stopping."));
      // Time enough to close the emulator, were `start` not waiting for the run: the run in progress
      // keeps the emulator it talks to, and the process, until it has finished.
      await sleep(300);
      expect(start.running(), "the process is still running").toBe(true);
      expect(await answers(emulator), "the emulator still answers").toBe(true);
      expect(start.stdout).not.toMatch(/policy held /);

      hook.answer();
      const code = await start.ended();
      expect(code, `${start.stdout}\n${start.stderr}`).toBe(0);
      expect(await answers(emulator), "the emulator is closed at exit").toBe(false);
      const afterStop = start.stdout.slice(start.stdout.indexOf("Stopping."));
      expect(afterStop).toMatch(/^OK {2}policy held .*\n(.*\n)*? {2}notify hook: delivered/m);
      expect(countLines(start.stdout, /^>>> .* running held$/)).toBe(1);
      expect(countLines(start.stdout, /^(OK|FAILED) {2}policy held /)).toBe(1);
      expect(hook.received()).toBe(1);
    } finally {
      start.kill();
      await hook.close();
    }
  });

  it("start without a state setting keeps its records on the local COS stand-in, as SCF does on COS", async () => {
    const dir = mkdtempSync(join(tmpdir(), "csip-scan-cli-"));
    const file = join(dir, "policies.yaml");
    writeFileSync(file, `version: 1\ntimezone: UTC\npolicies:\n  - { name: once, schedule: "0 0 3 1 1 ? 2098", urls: [a.example.com], scanItems: [port] }\n`);
    const start = spawnCli(["start", "--run-now", "--config", file]);
    try {
      await start.until("the first run has ended", (stdout) => /^(OK|FAILED) {2}policy once /m.test(stdout));
      expect(start.stdout).toMatch(/State store: COS bucket csip-scan-state-\d+ on the local COS stand-in at http:\/\/127\.0\.0\.1:\d+/);
      expect(start.stdout).toMatch(/^OK {2}policy once /m);
      start.interrupt();
      expect(await start.ended()).toBe(0);
    } finally {
      start.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("emulator answers each open reading as its flags and variables say; a value it does not take is exit 2", async () => {
    const emulator = spawnCli(["emulator", "--port", "0", "--filter-values", "first-only", "--refuse-filter", "DescribeDomainAssets.SubDomain"], { CSIP_SCAN_EMULATOR_TASK_ORDER: "oldest-first" });
    try {
      await emulator.until("it prints its line to paste", (stdout) => /^export CSIP_ENDPOINT=.*\n/m.test(stdout));
      expect(emulator.stdout).toContain("filters with several values: first-only; refused filters: DescribeDomainAssets.SubDomain; task list: oldest-first");
      const url = /CSIP_ENDPOINT=(\S+)/.exec(emulator.stdout)![1]!;
      const csip = createCsipClient({ credentials: LOCAL_ACCOUNT, region: "ap-guangzhou", endpoint: url });
      const all = await csip.call("DescribeCVMAssets", { Filter: { Limit: 2 } });
      const two = all.Data!.map((r) => r.AssetId!);
      const firstOnly = await csip.call("DescribeCVMAssets", { Filter: { Limit: 100, Filters: [{ Name: "AssetId", Values: two, OperatorType: 7 }] } });
      expect(firstOnly.Data!.map((r) => r.AssetId)).toEqual([two[0]]);
      const refused = await csip.call("DescribeDomainAssets", { Filter: { Limit: 100, Filters: [{ Name: "SubDomain", Values: ["a"], OperatorType: 7 }] } }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: "InvalidParameterValue" });
      emulator.interrupt();
      expect(await emulator.ended()).toBe(0);
    } finally {
      emulator.kill();
    }
    const bad = cli("emulator", "--filter-values", "sometimes");
    expect([bad.status, bad.stderr.trim()]).toEqual([2, 'csip-scan: --filter-values: "sometimes" is not one of ored, first-only, refused']);
    const misspelt = cli("emulator", "--refuse-filter", "DescribeScanTaskList.TaskID");
    expect([misspelt.status, misspelt.stderr.trim()]).toEqual([2, "csip-scan: --refuse-filter: DescribeScanTaskList takes no filter TaskID (it takes TaskId, TaskName, ScanStatus)"]);
  });

  it("emulator serves the demo estate to the official SDK until Ctrl-C", async () => {
    const emulator = spawnCli(["emulator", "--port", "0"]);
    try {
      await emulator.until("it prints its line to paste", (stdout) => /^export CSIP_ENDPOINT=.*\n/m.test(stdout));
      const url = /CSIP_ENDPOINT=(\S+)/.exec(emulator.stdout)![1]!;
      const csip = createCsipClient({ credentials: LOCAL_ACCOUNT, region: "ap-guangzhou", endpoint: url });
      const answer = await csip.call("DescribeDomainAssets", { Filter: { Limit: 100 } });
      expect(answer.Total).toBe(5);
      // One emulator serves the session: with its line pasted (no credentials) commands use it and its
      // state bucket, and notifiers print instead of sending, since the endpoint is on this machine.
      const [, bucket, endpoint] = /^export CSIP_ENDPOINT=\S+ CSIP_SCAN_STATE_BUCKET=(\S+) CSIP_SCAN_COS_ENDPOINT=(\S+)$/m.exec(emulator.stdout)!;
      const session = { CSIP_ENDPOINT: url, CSIP_SCAN_STATE_BUCKET: bucket!, CSIP_SCAN_COS_ENDPOINT: endpoint! };
      const run = spawnCli(["run", "--policy", "nightly-prod", "--time", "2026-11-29T03:00:00Z"], session);
      expect(await run.ended(), run.stderr).toBe(0);
      expect(run.stdout).toContain("notify wecom-ops: delivered (console)");
      expect(run.stdout).not.toContain("LOCAL CSIP EMULATOR");
      expect(run.stderr).toContain(`State store: COS bucket ${bucket} on the local COS stand-in at ${endpoint}`);
      const results = spawnCli(["results", "--policy", "nightly-prod"], session);
      expect(await results.ended(), results.stderr).toBe(0);
      expect(results.stdout).toMatch(/^nightly-prod {2}scheduled 2026-11-29 11:00 \(Asia\/Shanghai\) {2}/m);
      // The session's bucket is the COS store a handler run against the emulator uses.
      const env = readEnvironment({ TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId, TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey, CSIP_SCAN_STATE_BUCKET: bucket, CSIP_SCAN_COS_ENDPOINT: endpoint });
      const config = parseConfig(`version: 1\npolicies:\n  - { name: p, schedule: "0 0 3 * * * *", urls: [a.example.com], scanItems: [port] }\n`, "e.yaml", env);
      const { store } = stateStoreFor(config, env, { warn: () => {} });
      expect(store).toBeInstanceOf(CosStateStore);
      expect(await store.create("probe/emulator", { at: 1 })).toBe(true);
      expect(await store.create("probe/emulator", { at: 2 })).toBe(false);
      emulator.interrupt();
      expect(await emulator.ended()).toBe(0);
    } finally {
      emulator.kill();
    }
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
      const notifyTest = spawnCli(["notify-test", "--notifier", "ops", "--config", file], { CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1" });
      try {
        expect(await notifyTest.ended()).toBe(0);
      } finally {
        notifyTest.kill();
      }
      expect(notifyTest.stdout.trim()).toBe("notifier ops (wecom): delivered");
      expect(JSON.parse(listener.received[0]!.body)).toMatchObject({ msgtype: "markdown", markdown: { content: expect.stringContaining("Test message from csip-scan") } });
    } finally {
      await listener.close();
    }
  });

  it("notify-test prints no robot key when the robot echoes its own URL in its refusal", async () => {
    const key = "cli-echoed-robot-key-5f1c";
    const listener = await startListener((req) => ({ status: 200, body: JSON.stringify({ errcode: 93000, errmsg: `invalid webhook url http://127.0.0.1${req.url}` }) }));
    try {
      const file = tempConfig(`version: 1
notifiers:
  ops: { type: wecom, url: "${listener.url}?key=${key}" }
policies:
  - { name: p, schedule: "0 0 3 * * * *", urls: [a.example.com], scanItems: [port] }
`);
      const notifyTest = spawnCli(["notify-test", "--notifier", "ops", "--config", file], { CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1" });
      try {
        expect(await notifyTest.ended()).toBe(1);
      } finally {
        notifyTest.kill();
      }
      expect(notifyTest.stdout).toContain("notifier ops (wecom): NOT delivered");
      expect(notifyTest.stdout).toContain("errcode 93000");
      expect(`${notifyTest.stdout}${notifyTest.stderr}`).not.toContain(key);
    } finally {
      await listener.close();
    }
  });

  it("invoke scan-results runs the SCF handler on a timer event", () => {
    const { status, stdout } = cli("invoke", "scan-results", "--event", "local/events/results-timer.json");
    expect(status).toBe(0);
    // A fresh emulator holds no task yet: a look that finds nothing open, in the state store.
    expect(JSON.parse(stdout)).toMatchObject({ trigger: "results", source: "state store", open: 0, told: [], ok: true });
  });

  it("results prints a run's tasks, risks, worst findings and report link, sending nothing", async () => {
    const emulator = await startEmulator({
      estate: [{ kind: "cvm", id: "ins-cli00001", name: "web-1", tags: { tier: "web" }, risks: [{ kind: "vul", level: "high", name: "Curl authentication bypass", cve: "CVE-2023-27536" }] }],
      scanTiming: { queuedMs: 0, scanningMs: 0 },
      rateLimit: false,
    });
    const hook = await startListener();
    try {
      const file = tempConfig(`version: 1
notifiers:
  hook: { type: webhook, url: "${hook.url}" }
assetGroups:
  web: { include: [{ tags: { tier: web } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [web], scanItems: [port], notify: [hook] }
`);
      const env = { TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId, TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey, CSIP_ENDPOINT: emulator.url, CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1" };
      const run = spawnCli(["run", "--policy", "nightly", "--time", "2026-11-29T03:00:00Z", "--config", file], env);
      expect(await run.ended()).toBe(0);
      const results = spawnCli(["results", "--config", file, "--json"], env);
      expect(await results.ended()).toBe(0);
      const [report] = JSON.parse(results.stdout) as { policy: string; status: string; riskCount: number; tasks: { reportUrl?: string }[]; findings: { cve?: string }[] }[];
      expect(report).toMatchObject({ policy: "nightly", status: "risks found", riskCount: 1, findings: [{ cve: "CVE-2023-27536" }] });
      expect(report!.tasks[0]!.reportUrl).toMatch(new RegExp(`^${emulator.url}/reports/rpt-`));
      // Nothing was sent but what the run itself said (no results message).
      expect(hook.received.map((r) => (JSON.parse(r.body) as { schema: string }).schema)).not.toContain("csip-scan.results/v1");
      // A second run: each listed run is compared with the one before it, times in the file's zone, the link whole.
      const again = spawnCli(["run", "--policy", "nightly", "--time", "2026-11-30T03:00:00Z", "--config", file], env);
      expect(await again.ended()).toBe(0);
      const text = spawnCli(["results", "--config", file], env);
      expect(await text.ended()).toBe(0);
      const heads = text.stdout.split("\n").filter((line) => line.startsWith("nightly"));
      expect(heads).toEqual([
        "nightly  scheduled 2026-11-30 11:00 (Asia/Shanghai)  risks found, 1 risk(s) (+0 since the run of 2026-11-29 11:00 (Asia/Shanghai))",
        "nightly  scheduled 2026-11-29 11:00 (Asia/Shanghai)  risks found, 1 risk(s)",
      ]);
      expect(text.stdout).toMatch(new RegExp(`report ${emulator.url}/reports/rpt-\\w+\\.pdf`));
    } finally {
      await emulator.close();
      await hook.close();
    }
  });

  it("rehearse-deploy refuses a broken policy file before building or deploying: exit 2", () => {
    const file = tempConfig("version: 1\npolicies: []\n");
    const { status, stderr } = cli("rehearse-deploy", "--config", file);
    expect(status).toBe(2);
    expect(stderr).toContain(`${file}:2:11 policies: must list at least 1 item`);
  });

  it.each(["validate", "plan", "run", "invoke", "emulator", "start", "notify-test", "rehearse-deploy", "results"])("%s --help", (command) => {
    const { status, stdout } = cli(command, "--help");
    expect(status).toBe(0);
    expect(stdout).toContain(`csip-scan ${command}`);
  });

  it("start runs local mode on the emulator and stops cleanly on Ctrl-C", async () => {
    const start = spawnCli(["start"]);
    try {
      await start.until("it waits for the schedules", (stdout) => stdout.includes("Waiting for the schedules"));
      // What the README promises a new user: the demo's WeCom robot's results message, in Chinese, as WeCom shows it.
      await start.until("the WeCom results message", (stdout) => stdout.includes("### csip-scan：策略 nightly-prod 的扫描结果"));
      const wecom = start.stdout.slice(start.stdout.indexOf("### csip-scan：策略 nightly-prod 的扫描结果"));
      expect(wecom).toMatch(/^### csip-scan：策略 nightly-prod 的扫描结果\n计划时间 \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? \(Asia\/Shanghai\)\n发现风险：\d+ 个。\n结果页面（运行 csip-scan 的机器上的文件）: file:\/\/\S+\/pages\/nightly-prod\.html\n\*\*任务：\*\*\n- rmis-\S+ 已完成，/);
      start.interrupt();
      expect(await start.ended(), `${start.stdout}\n${start.stderr}`).toBe(0);
      expect(start.stdout).toContain("LOCAL CSIP EMULATOR");
      expect(start.stdout).toMatch(/nightly-prod\s+"0 0 3 \* \* \* \*"\s+next \d{4}-\d\d-\d\d 03:00 \(Asia\/Shanghai\)/);
      // With the emulator every policy runs once at start, each to its summary.
      expect(countLines(start.stdout, /^>>> .* running nightly-prod$/)).toBe(1);
      expect(countLines(start.stdout, /^(OK|FAILED) {2}policy nightly-prod /)).toBe(1);
      expect(start.stdout).toContain("Stopping.");
    } finally {
      start.kill();
    }
  });
});
