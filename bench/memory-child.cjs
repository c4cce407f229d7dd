// Runs one bundled handler as SCF runs it: a fresh process, the event and a context with the time left
// (and the fields BENCH_CONTEXT adds, such as memory_limit_in_mb).
// Writes what it measured (peak RSS from the kernel's count, time, the summary's figures) to BENCH_OUT.
const { readFileSync, writeFileSync } = require("node:fs");

/**
 * Peak RSS of this program in MB: the kernel's VmHWM, which starts afresh at exec. getrusage's maxRSS
 * does not: it keeps the forked parent's size from before exec, so a large benchmark process would be
 * counted as the child's (1,000 CVMs read 103 MB after the other benchmarks, 71 MB alone).
 */
function peakRssMb() {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // Not Linux: the rusage figure, with the caveat above.
  }
  return process.resourceUsage().maxRSS / 1024;
}

const started = process.hrtime.bigint();
const finish = (fields) => {
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  writeFileSync(process.env.BENCH_OUT, JSON.stringify({ ...fields, ms, maxRssMb: peakRssMb() }));
};
const { main_handler } = require(process.argv[2]);
const deadline = Date.now() + 900_000;
main_handler(JSON.parse(process.env.BENCH_EVENT), { ...JSON.parse(process.env.BENCH_CONTEXT ?? "{}"), getRemainingTimeInMillis: () => deadline - Date.now() })
  .then((summary) => {
    const runs = summary.runs ?? [];
    finish({
      ok: summary.ok,
      tasks: runs.reduce((n, r) => n + r.tasks.length, 0),
      assetsInTasks: runs.reduce((n, r) => n + r.tasks.reduce((m, t) => m + t.assets, 0), 0),
      warnings: runs.flatMap((r) => r.warnings),
      errors: runs.flatMap((r) => r.errors.map((e) => e.message)),
      durationsMs: runs[0]?.durationsMs,
    });
  })
  .catch((error) => finish({ ok: false, errors: [String(error && error.message)], thrown: { name: String(error && error.name), withSummary: Boolean(error && error.summary) } }));
