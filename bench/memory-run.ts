import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LOCAL_ACCOUNT } from "../local/emulator/accounts.ts";
import type { EstateAssetInput } from "../local/emulator/estate.ts";
import { startEmulator, type Emulator } from "../local/emulator/server.ts";
import { ColdStartSchema, type ColdStart } from "../shared/run/cold-start.ts";
import { coldStartKey } from "../shared/state/keys.ts";
import { FileStateStore } from "../shared/state/store.ts";

/**
 * One scheduled run of the bundled handler in a child process, as SCF calls it, against the emulator
 * in this process holding `cvms` CVMs of realistic size (about 70 fields each, padded from the
 * official DescribeCVMAssets example). One policy scans them all, 200 a task. Shared by bench/memory.ts
 * and the CI test of the 128 MB run.
 */
export interface BundleRun {
  ok: boolean;
  maxRssMb: number;
  ms: number;
  tasks: number;
  assetsInTasks: number;
  warnings: string[];
  errors: string[];
  durationsMs?: { inventory: number; tasks: number; notify: number; total: number };
  /** List calls and creates the emulator answered. */
  listCalls: number;
  creates: number;
  /** The handler's log lines (JSON), when `logLevel` asked for them. */
  logs: Record<string, unknown>[];
  /** The cold-start facts the function kept in its state store. */
  coldStart?: ColdStart;
  /** What the handler threw: the error's name, and whether it carried the run's summary. */
  thrown?: { name: string; withSummary: boolean };
}

export interface BundleRunOptions {
  /** The bundled handler, e.g. dist/scheduled-scan/index.js. */
  bundle: string;
  cvms: number;
  /** The child's V8 heap (--max-old-space-size), in MB. */
  heapMb?: number;
  /** More node flags for the child (e.g. --max-semi-space-size). */
  nodeFlags?: string[];
  /** The emulator's rate limit per action (CSIP's 20/s), or false (then the client's limiter is raised to 1,000/s). */
  rateLimit?: number | false;
  /**
   * The function's environment besides the run's own, as the deploy sets it: CSIP_SCAN_MEMORY_MB (what
   * the function compares its heap with), NODE_OPTIONS (node flags the child then starts with, as where
   * SCF applies them).
   */
  env?: Record<string, string>;
  /** SCF's context fields besides the time left (`memory_limit_in_mb`). */
  context?: Record<string, unknown>;
  /** CSIP_SCAN_LOG_LEVEL; the default, silent, returns no logs. */
  logLevel?: string;
  /** Called with the emulator before the run (faults a test injects). */
  prepare?: (emulator: Emulator) => void;
}

/** A CVM estate: 50 teams, every host in prod, each with a public address in the benchmark range. */
export function cvmEstate(count: number): EstateAssetInput[] {
  return Array.from({ length: count }, (_, i) => ({
    kind: "cvm" as const,
    id: `ins-m${i.toString(36).padStart(7, "0")}`,
    name: `host-${i}`,
    region: i % 2 === 0 ? "ap-guangzhou" : "ap-shanghai",
    publicIp: `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
    tags: { env: "prod", team: `t${i % 50}` },
  }));
}

export async function runBundle(options: BundleRunOptions): Promise<BundleRun> {
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-memory-"));
  const emulator = await startEmulator({
    estate: cvmEstate(options.cvms),
    rateLimit: options.rateLimit ?? false,
    // Tasks do not end during the run: nothing but the run's own calls costs the emulator time.
    scanTiming: { queuedMs: 3_600_000, scanningMs: 3_600_000 },
  });
  try {
    options.prepare?.(emulator);
    const perSecond = options.rateLimit === false || options.rateLimit === undefined ? 1000 : options.rateLimit;
    const config = join(dir, "policies.yaml");
    writeFileSync(
      config,
      [
        "version: 1",
        `rateLimit: { perSecond: ${perSecond}, marginMs: 20 }`,
        `state: { path: ${JSON.stringify(join(dir, "state"))} }`,
        "assetGroups:",
        "  prod: { include: [{ tags: { env: prod } }] }",
        "policies:",
        '  - { name: everything, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port] }',
        "",
      ].join("\n"),
    );
    const out = join(dir, "out.json");
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      CSIP_SCAN_CONFIG: config,
      CSIP_ENDPOINT: emulator.url,
      CSIP_SCAN_LOG_LEVEL: options.logLevel ?? "silent",
      ...options.env,
      TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId,
      TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey,
      TENCENTCLOUD_REGION: "ap-guangzhou",
      BENCH_OUT: out,
      BENCH_EVENT: JSON.stringify({ Type: "Timer", TriggerName: "bench", Time: new Date().toISOString(), Message: "everything" }),
      BENCH_CONTEXT: JSON.stringify(options.context ?? {}),
    };
    let stdout = "";
    const args = [...(options.heapMb ? [`--max-old-space-size=${options.heapMb}`] : []), ...(options.nodeFlags ?? []), resolve("bench/memory-child.cjs"), resolve(options.bundle)];
    await new Promise<void>((done, fail) => {
      execFile(process.execPath, args, { env, maxBuffer: 1 << 26 }, (error, printed, stderr) => {
        stdout = printed;
        try {
          readFileSync(out);
          done();
        } catch {
          fail(new Error(`the child wrote no figures: ${error?.message ?? ""} ${stderr.slice(-2000)}`));
        }
      });
    });
    const measured = JSON.parse(readFileSync(out, "utf8")) as Omit<BundleRun, "listCalls" | "creates" | "logs" | "coldStart">;
    const coldStart = await new FileStateStore(join(dir, "state"), () => {}).get(coldStartKey("scheduled-scan"), ColdStartSchema);
    return {
      ...measured,
      logs: stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
      ...(coldStart ? { coldStart } : {}),
      listCalls: emulator.calls.filter((c) => /^Describe\w+Assets$/.test(c.action) && c.outcome === "OK").length,
      creates: emulator.callsOf("CreateRiskCenterScanTask").filter((c) => c.outcome === "OK").length,
    };
  } finally {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
