import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { printTable } from "./report.ts";
import { runBundle, type BundleRun } from "./memory-run.ts";

/**
 * Memory at scale: the bundled scheduled-scan handler (dist/scheduled-scan/index.js), called as SCF
 * calls it in a child process, walks an emulated estate of 1,000, 10,000 and 100,000 CVMs of real row
 * size and creates a task per 200 as the walk fills them. The child's V8 heap is sized for a 128 MB
 * function; the emulator enforces CSIP's 20 calls a second per action. The baseline, built and measured
 * in the same run, is the same walk keeping every whole row it meets (bench/keep-whole-rows.ts in place
 * of shared/assets/compact.ts).
 * Time is set against the API floor: the list calls and the creates, each at 20 a second.
 */
const SIZES = (process.env.BENCH_MEMORY_SIZES ?? "1000,10000,100000").split(",").map(Number);
/**
 * A V8 heap for a 128 MB function: an old space of 96 MB, leaving room for the runtime, the code and
 * the buffers beside it, and a young generation of 2 MB semi-spaces (V8's default on a large machine is
 * 16 MB each, which alone would hold some 30 MB of garbage between collections).
 */
export const HEAP_FOR_128_MB = 96;
export const V8_FLAGS_FOR_128_MB = [`--max-old-space-size=${HEAP_FOR_128_MB}`, "--max-semi-space-size=2"];
const RATE = 20;

async function baselineBundle(dir: string): Promise<string> {
  const outfile = join(dir, "baseline", "index.js");
  await build({
    entryPoints: ["functions/scheduled-scan/index.ts"],
    outfile,
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    minify: true,
    legalComments: "none",
    alias: { "whatwg-url": "./scripts/shims/whatwg-url.cjs", "form-data": "./scripts/shims/form-data.cjs" },
    logLevel: "warning",
    plugins: [
      {
        name: "keep-whole-rows",
        setup(b) {
          b.onResolve({ filter: /\/compact\.ts$/ }, () => ({ path: resolve("bench/keep-whole-rows.ts") }));
        },
      },
    ],
  });
  writeFileSync(join(dir, "baseline", "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);
  return outfile;
}

function row(label: string, cvms: number, r: BundleRun, first: BundleRun | undefined): string[] {
  if (!r.ok && Number.isNaN(r.ms)) return [label, cvms.toLocaleString("en-US"), r.errors.join("; ").slice(0, 60), "-", "-", "-", "-", "-"];
  const floorS = (r.listCalls + r.creates) / RATE;
  return [
    label,
    cvms.toLocaleString("en-US"),
    r.ok ? "ok" : `FAILED: ${r.errors.join("; ").slice(0, 60)}`,
    r.maxRssMb.toFixed(0),
    first ? (r.maxRssMb / first.maxRssMb).toFixed(2) : "1.00",
    (r.ms / 1000).toFixed(1),
    floorS.toFixed(1),
    (r.ms / 1000 / floorS).toFixed(2),
  ];
}

export async function benchMemory(): Promise<void> {
  delete process.env.http_proxy;
  delete process.env.https_proxy;
  execFileSync(process.execPath, ["scripts/build.js"], { stdio: "ignore" });
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-bench-memory-"));
  try {
    const baseline = await baselineBundle(dir);
    const rows: string[][] = [];
    const firsts: Record<string, BundleRun> = {};
    for (const cvms of SIZES) {
      for (const [label, bundle] of [["project", "dist/scheduled-scan/index.js"], ["baseline (every whole row kept)", baseline]] as const) {
        process.stdout.write(`memory: measuring ${label}, ${cvms} CVMs, node ${V8_FLAGS_FOR_128_MB.join(" ")}, ${RATE} calls/s per action...\n`);
        const r = await runBundle({ bundle, cvms, nodeFlags: V8_FLAGS_FOR_128_MB, rateLimit: RATE }).catch((error: unknown): BundleRun => {
          const died = /heap out of memory/i.test(String(error)) ? "died: JavaScript heap out of memory" : String(error).split("\n")[0]!;
          return { ok: false, maxRssMb: Number.NaN, ms: Number.NaN, tasks: 0, assetsInTasks: 0, warnings: [], errors: [died], listCalls: 0, creates: 0 };
        });
        firsts[label] ??= r;
        rows.push(row(label, cvms, r, firsts[label]));
      }
    }
    printTable(
      `memory: bundled scheduled-scan in a child process, node ${V8_FLAGS_FOR_128_MB.join(" ")}, emulator at ${RATE}/s per action, one policy over every CVM, 200 a task`,
      ["walk", "CVMs", "run", "peak RSS MB", "vs first size", "time s", "API floor s", "time / floor"],
      rows,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
