// npm run bench: figures, each a ratio against a baseline measured in the same run. Not a test.
import { benchAssetChange } from "./asset-change.ts";
import { benchColdStart } from "./cold-start.ts";
import { benchPage } from "./page.ts";
import { benchMemory } from "./memory.ts";
import { benchRateLimit } from "./rate-limit.ts";
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
  memory: benchMemory,
};
for (const [name, run] of Object.entries(benches)) {
  if (!only || only === name) {
    console.log(`\n== ${name}: measuring (npm run bench ${name} runs it alone) ==`);
    await run();
  }
}
