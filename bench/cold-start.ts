import { execFileSync } from "node:child_process";
import { median, printTable } from "./report.ts";

/**
 * Cold start: a fresh Node process importing the bundled handler, against one requiring the whole SDK
 * (the baseline), measured side by side in this run. Medians of repeated fresh processes.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 9);

function measure(script: string): { ms: number; heapMb: number } {
  const probe = `const t=process.hrtime.bigint();${script};const ms=Number(process.hrtime.bigint()-t)/1e6;` +
    `global.gc&&global.gc();console.log(JSON.stringify({ms,heapMb:process.memoryUsage().heapUsed/1048576}))`;
  const out = execFileSync(process.execPath, ["--expose-gc", "-e", probe], { encoding: "utf8" });
  return JSON.parse(out) as { ms: number; heapMb: number };
}

export function benchColdStart(): void {
  execFileSync(process.execPath, ["scripts/build.js"], { stdio: "ignore" });
  const cases = {
    empty: "",
    "whole SDK (baseline)": 'require("tencentcloud-sdk-nodejs")',
    "bundled scheduled-scan": 'require("./dist/scheduled-scan/index.js")',
  };
  const results = Object.entries(cases).map(([name, script]) => {
    const samples = Array.from({ length: RUNS }, () => measure(script));
    return { name, ms: median(samples.map((s) => s.ms)), heapMb: median(samples.map((s) => s.heapMb)) };
  });
  const baseline = results[1]!;
  printTable(
    `cold start: import time and heap, median of ${RUNS} fresh processes`,
    ["case", "import ms", "heap MB", "time vs whole SDK"],
    results.map((r) => [r.name, r.ms.toFixed(1), r.heapMb.toFixed(1), (r.ms / baseline.ms).toFixed(3)]),
  );
}
