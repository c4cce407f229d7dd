// npm run bench: figures, each a ratio against a baseline measured in the same run. Not a test.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchAssetChange } from "./asset-change.ts";
import { benchColdStart } from "./cold-start.ts";
import { benchCrashPoints } from "./crash-points.ts";
import { benchLeaseRequests } from "./lease-requests.ts";
import { benchPage } from "./page.ts";
import { benchMemory } from "./memory.ts";
import { benchRateLimit } from "./rate-limit.ts";
import { benchRecordBytes } from "./record-bytes.ts";
import { benchResults } from "./results.ts";
import { benchStateStore } from "./state-store.ts";
import { benchTimers } from "./timers.ts";

const only = process.argv[2];
const benches: Record<string, () => void | Promise<void>> = {
  "cold-start": benchColdStart,
  "rate-limit": benchRateLimit,
  "asset-change": benchAssetChange,
  timers: benchTimers,
  results: benchResults,
  page: benchPage,
  "state-store": benchStateStore,
  "lease-requests": benchLeaseRequests,
  "record-bytes": benchRecordBytes,
  memory: benchMemory,
  "crash-points": benchCrashPoints,
};
// The state folders and files the benchmarks make go in one folder of their own, removed at the end.
const ownTemp = mkdtempSync(join(tmpdir(), "csip-scan-bench-run-"));
for (const name of ["TMPDIR", "TMP", "TEMP"]) process.env[name] = ownTemp;
try {
  for (const [name, run] of Object.entries(benches)) {
    if (!only || only === name) {
      console.log(`\n== ${name}: measuring (npm run bench ${name} runs it alone) ==`);
      await run();
    }
  }
} finally {
  rmSync(ownTemp, { recursive: true, force: true });
}
