import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FUNCTION_NAMES } from "../functions/index.ts";
import { median, printTable } from "./report.ts";

/**
 * Cold start: a fresh Node process importing the bundled handler, against one requiring the whole SDK
 * (the baseline), measured side by side in this run. Medians of repeated fresh processes. The
 * results-page function, which a person waits on, is also timed through its first request; and every
 * bundle's size, which SCF loads whole.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 9);

/** Times `script` in a fresh process; an asynchronous one calls `done()` when it has finished. */
function measure(script: string, async = false): { ms: number; heapMb: number } {
  const report = `const ms=Number(process.hrtime.bigint()-t)/1e6;global.gc&&global.gc();console.log(JSON.stringify({ms,heapMb:process.memoryUsage().heapUsed/1048576}))`;
  const probe = async ? `const t=process.hrtime.bigint();const done=()=>{${report}};${script}` : `const t=process.hrtime.bigint();${script};${report}`;
  const out = execFileSync(process.execPath, ["--expose-gc", "-e", probe], { encoding: "utf8" });
  return JSON.parse(out) as { ms: number; heapMb: number };
}

export function benchColdStart(): void {
  execFileSync(process.execPath, ["scripts/build.js"], { stdio: "ignore" });
  const cases = {
    empty: "",
    "whole SDK (baseline)": 'require("tencentcloud-sdk-nodejs")',
    "bundled scheduled-scan": 'require("./dist/scheduled-scan/index.js")',
    // A person waits on this one's cold start: at most 0.15 times the whole SDK (issue 27).
    "bundled results-page": 'require("./dist/results-page/index.js")',
  };
  const results = Object.entries(cases).map(([name, script]) => {
    const samples = Array.from({ length: RUNS }, () => measure(script));
    return { name, ms: median(samples.map((s) => s.ms)), heapMb: median(samples.map((s) => s.heapMb)) };
  });
  // What the person clicking waits for beyond the import: the first request reads the policy file and
  // builds the store (an in-memory one here, so no COS request is timed), then answers.
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-bench-cold-"));
  const config = join(dir, "policies.yaml");
  writeFileSync(config, 'version: 1\nstate: { memory: true }\npolicies:\n  - { name: nightly, schedule: "0 0 3 * * * *", all: true, scanItems: [port] }\n');
  const firstRequest =
    `process.env.CSIP_SCAN_CONFIG=${JSON.stringify(config)};process.env.CSIP_SCAN_LOG_LEVEL="silent";` +
    'require("./dist/results-page/index.js").main_handler({httpMethod:"GET",path:"/pages/nightly.html",queryString:{}}).then(done)';
  const samples = Array.from({ length: RUNS }, () => measure(firstRequest, true));
  results.push({ name: "results-page import + first request", ms: median(samples.map((s) => s.ms)), heapMb: median(samples.map((s) => s.heapMb)) });
  rmSync(dir, { recursive: true, force: true });
  const baseline = results[1]!;
  printTable(
    `cold start: import time and heap, median of ${RUNS} fresh processes`,
    ["case", "ms", "heap MB", "time vs whole SDK"],
    results.map((r) => [r.name, r.ms.toFixed(1), r.heapMb.toFixed(1), (r.ms / baseline.ms).toFixed(3)]),
  );
  printTable(
    "bundle sizes (SCF runs each file as is)",
    ["bundle", "KiB", "share of 1 MB"],
    FUNCTION_NAMES.map((name) => {
      const bytes = statSync(`dist/${name}/index.js`).size;
      return [`dist/${name}/index.js`, (bytes / 1024).toFixed(0), (bytes / (1024 * 1024)).toFixed(3)];
    }),
  );
}
