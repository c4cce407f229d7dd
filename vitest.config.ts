import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Most of the suite waits (child processes, the deploy rehearsals, whose pinned plugin sleeps a second
    // per status check, emulated scans, backoff): on this 2-core machine three workers keep both cores busy
    // where two left a third of the time idle (the whole suite 198 s against 241 s on a quiet machine).
    maxWorkers: 3,
  },
});
