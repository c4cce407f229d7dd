import { CRASH_FUNCTIONS, CrashWorld, INVARIANTS, STORES, type CaseResult, type CrashFunction } from "../test/crash-harness.ts";
import { printTable } from "./report.ts";

/**
 * Every crash point of the three functions, on the folder store and on the COS stand-in: each function's
 * bundle in a process of its own, killed with SIGKILL at its Nth request to CSIP, COS or a notifier
 * (N = 1 to what an uncrashed run makes), before the request takes effect and after it took effect with
 * its answer lost; then SCF's retries, and the four invariants (test/crash-harness.ts). Prints every case,
 * then per function and store the points explored, the invariants held and the time, as a ratio against
 * an uncrashed run of the same function measured in the same run. `npm run bench crash-points FUNCTION`
 * explores one function.
 */
export async function benchCrashPoints(only: string | undefined = process.argv[3]): Promise<void> {
  for (const name of ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]) delete process.env[name];
  const functions = CRASH_FUNCTIONS.filter((fn) => only === undefined || fn === only);
  if (functions.length === 0) throw new Error(`no function "${only}" (known: ${CRASH_FUNCTIONS.join(", ")})`);
  const world = await CrashWorld.start();
  const cases: string[][] = [];
  const totals: string[][] = [];
  const broken: CaseResult[] = [];
  try {
    for (const fn of functions) {
      for (const store of STORES) {
        const referenceStarted = Date.now();
        const reference = await world.reference(fn, store);
        const referenceMs = Date.now() - referenceStarted;
        if (reference.result.violations.length > 0) broken.push(reference.result);
        const started = Date.now();
        let held = 0;
        let explored = 0;
        let longestRetriesMs = 0;
        for (let request = 1; request <= reference.requests; request++) {
          for (const when of ["before", "after"] as const) {
            const result = await world.crash(reference, { when, request });
            explored++;
            longestRetriesMs = Math.max(longestRetriesMs, result.retriesMs);
            if (result.violations.length === 0) held++;
            else broken.push(result);
            cases.push(row(fn, store, `#${request} ${when}`, result));
          }
        }
        const ms = Date.now() - started;
        totals.push([
          fn,
          store,
          String(reference.requests),
          String(explored),
          `${held}/${explored}`,
          String(explored * INVARIANTS.length - brokenChecks(broken, fn, store)),
          `${(longestRetriesMs / 1000).toFixed(1)} s`,
          `${(ms / 1000).toFixed(0)} s`,
          (ms / explored / referenceMs).toFixed(1),
        ]);
      }
    }
  } finally {
    await world.close();
  }
  printTable("Crash points: the first attempt killed at its Nth request, then SCF's retries", ["function", "store", "kill point", "request", "outcome", "invariants"], cases);
  printTable(
    `Crash points explored and invariants held (${INVARIANTS.join(", ")}); time per case against an uncrashed run of the same function`,
    ["function", "store", "requests (K)", "points (2K)", "cases with every invariant held", "invariant checks held", "longest retries (emulated)", "time", "per case vs uncrashed run"],
    totals,
  );
  for (const result of broken) {
    console.log(`\nBROKEN ${result.fn} on ${result.store}, killed ${result.killed ? `${result.killed.when} #${result.killed.request} ${result.killed.upstream} ${result.killed.label}` : "nowhere"}:`);
    for (const v of result.violations) console.log(`  ${v.invariant}: ${v.message}`);
  }
  if (broken.length > 0) process.exitCode = 1;
}

function row(fn: CrashFunction, store: string, point: string, result: CaseResult): string[] {
  const request = result.killed ? `${result.killed.upstream} ${result.killed.label}` : `(not reached: the attempt made ${result.requests})`;
  const invariants = result.violations.length === 0 ? `${INVARIANTS.length} held` : `BROKEN: ${[...new Set(result.violations.map((v) => v.invariant))].join(", ")}`;
  return [fn, store, point, request.length > 72 ? `${request.slice(0, 71)}…` : request, result.outcome.replace(/^killed; /, ""), invariants];
}

/** Invariant checks that failed, one per invariant per case. */
function brokenChecks(broken: readonly CaseResult[], fn: CrashFunction, store: string): number {
  const counted: readonly string[] = INVARIANTS;
  return broken.filter((r) => r.fn === fn && r.store === store).reduce((n, r) => n + new Set(r.violations.map((v) => v.invariant).filter((i) => counted.includes(i))).size, 0);
}
