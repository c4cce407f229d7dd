import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeOptionsFor } from "../../shared/config/heap-limits.ts";
import { loadConfig } from "../../shared/config/load.ts";
import { timerName } from "../../shared/state/keys.ts";
import { LOCAL_ACCOUNT } from "../../local/emulator/accounts.ts";
import { startEmulator, type Emulator } from "../../local/emulator/server.ts";
import { envOf, startListener } from "../helpers.ts";
import { readZip } from "./zip.ts";

// The deploy as users run it: the real serverless CLI, offline, in a copy of the project that also
// holds files that must not ship (credentials, tests).

const ROOT = resolve(".");
const work = mkdtempSync(join(tmpdir(), "csip-scan-deploy-"));
const SECRET_URL = "https://hooks.example.com/robot/deploy-secret-path-7f3k";

function copyProject(): void {
  for (const item of ["serverless.yml", "package.json", "scripts", "config", "functions", "shared", "local"]) cpSync(join(ROOT, item), join(work, item), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));
  // What a careless service folder may hold.
  writeFileSync(join(work, ".env"), `TENCENTCLOUD_SECRETKEY=never-ship-this-key\n`);
  writeFileSync(join(work, "credentials"), "[default]\ntencent_secret_key = never-ship-this-key\n");
  mkdirSync(join(work, "test"));
  writeFileSync(join(work, "test", "secret.test.ts"), "never-ship-this-key");
  writeFileSync(
    join(work, "config", "scan-policies.yaml"),
    readFileSync(join(ROOT, "config", "scan-policies.yaml"), "utf8") +
      "\nruntime: Nodejs20.15\nassetChange:\n  ckafka: { instance: ckafka-0a1b2c3d, topic: asset-events, maxMsgNum: 50 }\n",
  );
}

function serverless(command: string, ...args: string[]): string {
  const result = spawnSync(process.execPath, ["scripts/serverless.js", command, ...args], {
    cwd: work,
    encoding: "utf8",
    env: { ...process.env, SECOPS_WEBHOOK_URL: SECRET_URL, CSIP_SCAN_CONFIG: "" },
    timeout: 120_000,
  });
  if (result.status !== 0) throw new Error(`serverless ${command} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

let printed: { provider: Record<string, unknown>; functions: Record<string, { handler: string; events: Record<string, { name: string; parameters: Record<string, unknown> }>[] }> };
let zip: Map<string, Buffer>;

beforeAll(() => {
  copyProject();
  execFileSync(process.execPath, [join(ROOT, "scripts/build.js")], { cwd: work, stdio: "ignore" });
  printed = JSON.parse(serverless("print", "--format", "json")) as typeof printed;
  serverless("package");
  zip = readZip(readFileSync(join(work, ".serverless", "csip-scan.zip")));
}, 180_000);

describe("serverless package, offline", () => {
  it("holds the bundles and the policy file only, each bundle under 1 MB", () => {
    const bundles = ["dist/asset-change/index.js", "dist/results-page/index.js", "dist/scan-results/index.js", "dist/scheduled-scan/index.js"];
    expect([...zip.keys()].sort()).toEqual([...bundles.slice(0, 1), "dist/config/scan-policies.yaml", "dist/package.json", ...bundles.slice(1)]);
    // The very file the deploy read, where CSIP_SCAN_CONFIG points the functions.
    expect(zip.get("dist/config/scan-policies.yaml")!.toString("utf8")).toBe(readFileSync(join(work, "config", "scan-policies.yaml"), "utf8"));
    for (const name of bundles) expect(zip.get(name)!.length).toBeLessThan(1024 * 1024);
  });

  it("ships no secret", () => {
    for (const [name, content] of zip) {
      expect(content.toString("utf8"), name).not.toContain("never-ship-this-key");
      expect(content.toString("utf8"), name).not.toContain("deploy-secret-path");
    }
  });

  it("gives every schedule its timer, named from it, with its cron", async () => {
    const { config } = await loadConfig(join(work, "config", "scan-policies.yaml"), envOf());
    const timers = printed.functions["scheduled-scan"]!.events.map((e) => e.timer!);
    expect(timers).toEqual(config.policies.map((p) => ({ name: timerName(p.schedule), parameters: { cronExpression: p.schedule, enable: true } })));
  });

  it("gives the asset-change function its CKafka trigger from the config", () => {
    expect(printed.functions["asset-change"]!.events).toEqual([
      // Named as serverless-tencent-scf requires: the CKafka instance.
      { ckafka: { name: "ckafka-0a1b2c3d", parameters: { name: "ckafka-0a1b2c3d", topic: "asset-events", maxMsgNum: 50, offset: "latest", enable: true } } },
    ]);
  });

  it("takes runtime, region and environment from the config and the deployer's variables", () => {
    expect(printed.provider).toMatchObject({
      name: "tencent",
      runtime: "Nodejs20.15",
      region: "ap-guangzhou",
      memorySize: 128,
      role: "csip-scan-scf",
      environment: { variables: { CSIP_SCAN_CONFIG: "/var/user/dist/config/scan-policies.yaml", SECOPS_WEBHOOK_URL: SECRET_URL } },
    });
  });
});

describe("each packaged function's own environment", () => {
  it("holds the node flags of its memory and names the memory, beside the provider's shared variables", () => {
    for (const name of ["scheduled-scan", "asset-change", "scan-results"]) {
      expect((printed.functions[name] as { environment?: unknown }).environment).toEqual({ variables: { NODE_OPTIONS: nodeOptionsFor(128), CSIP_SCAN_MEMORY_MB: "128" } });
    }
  });
});

describe("the packaged handlers", () => {
  let emulator: Emulator;
  let hook: Awaited<ReturnType<typeof startListener>>;
  const unpacked = join(work, "unpacked");
  beforeAll(async () => {
    emulator = await startEmulator({ estate: [{ kind: "cvm", id: "ins-zip00001", tags: { env: "prod", tier: "web" } }], rateLimit: false });
    hook = await startListener();
    for (const [name, content] of zip) {
      mkdirSync(dirname(join(unpacked, name)), { recursive: true });
      writeFileSync(join(unpacked, name), content);
    }
  });
  afterAll(async () => {
    await emulator.close();
    await hook.close();
  });

  it.each([
    ["scheduled-scan", { Type: "Timer", TriggerName: "nightly-prod", Time: "2026-11-29T19:00:00Z" }],
    ["asset-change", { specversion: "1.0", id: "zip-1", type: "cvm:CloudEvent:ApiCall", source: "cvm.cloud.tencent", data: { eventName: "RunInstances", responseElements: { InstanceIdSet: ["ins-zip00001"] } } }],
    ["scan-results", { Type: "Timer", TriggerName: "csip-scan-results", Time: "2026-11-29T19:10:00Z" }],
  ])("%s resolves and runs from the zip with no node_modules beside it", async (fn, event) => {
    const script = `require("./dist/${fn}/index.js").main_handler(${JSON.stringify(event)}, { getRemainingTimeInMillis: () => 60000 })` +
      `.then((s) => console.log(JSON.stringify(s)), (e) => { console.error(e.message); process.exit(1); })`;
    // Asynchronously: the emulator answering the child lives in this process.
    const child = spawn(process.execPath, ["-e", script], {
      cwd: unpacked,
      env: {
        PATH: process.env.PATH,
        TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId,
        TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey,
        CSIP_ENDPOINT: emulator.url,
        CSIP_SCAN_CONFIG: join(unpacked, "dist", "config", "scan-policies.yaml"),
        CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1",
        SECOPS_WEBHOOK_URL: hook.url,
        CSIP_SCAN_LOG_LEVEL: "silent",
        // As deployed, with NODE_OPTIONS not applied: the function runs its work in a worker bounded to 128 MB.
        CSIP_SCAN_MEMORY_MB: "128",
      },
    });
    const result = { stdout: "", stderr: "" };
    child.stdout.on("data", (chunk: Buffer) => (result.stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (result.stderr += chunk.toString()));
    await new Promise((done) => child.on("exit", done));
    expect(result.stderr).toBe("");
    const summary = JSON.parse(result.stdout) as { ok: boolean };
    expect(summary.ok).toBe(true);
  });
});
