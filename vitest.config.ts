import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Most of the suite waits (child processes, the deploy rehearsal, emulated scans, backoff): on a
    // 2-core machine vitest's default of one worker leaves a core idle. Two workers keep both busy.
    maxWorkers: 2,
  },
});
