import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scheduledScanHandler } from "../../functions/scheduled-scan/index.ts";
import { startLocalCos, type LocalCos } from "../../local/cos-local.ts";
import type { EstateAssetInput } from "../../local/emulator/estate.ts";
import type { Emulator } from "../../local/emulator/server.ts";
import type { Clock } from "../../shared/clock.ts";
import { silentLogger } from "../../shared/log.ts";
import { LEASE_MS, LeaseSchema } from "../../shared/state/lease.ts";
import { useHandlerWorld } from "../helpers.ts";

// SCF's retry after a crash: `kill -9` of a real scheduled-scan process while it holds its run's lock (a
// notifier that does not answer), then the retry, in a 300 s function. The crashed holder's lease lapses
// within a minute, so the retry takes the lock, redoes only what is missing (the stored message, with
// its webhook-id) and finishes within 150 s of its start. The retry's time is emulated: its sleeps move
// its clock on at once, and the work between them counts as the real time it takes.

const ESTATE: EstateAssetInput[] = [
  ...Array.from({ length: 3 }, (_, i) => ({ kind: "cvm" as const, id: `ins-crash00${i}`, tags: { team: "web" } })),
  { kind: "cvm", id: "ins-crashrog", tags: { team: "web" }, authorized: false },
];

let emulator: Emulator;
let cos: LocalCos;
const dir = mkdtempSync(join(tmpdir(), "csip-scan-crash-"));

useHandlerWorld(ESTATE, { rateLimit: false }, (w) => ({ emulator } = w));

beforeAll(async () => {
  cos = await startLocalCos();
  Object.assign(process.env, cos.env);
});
afterAll(async () => {
  delete process.env.CSIP_SCAN_STATE_BUCKET;
  delete process.env.CSIP_SCAN_COS_ENDPOINT;
  delete process.env.CSIP_SCAN_CONFIG;
  await cos.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A notifier that leaves its first requests unanswered until told, and answers the others. */
async function startNotifier() {
  const received: IncomingHttpHeaders[] = [];
  const waiting: ServerResponse[] = [];
  let answering = false;
  let first!: () => void;
  const reached = new Promise<void>((resolve) => (first = resolve));
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received.push(req.headers);
      first();
      if (answering) res.writeHead(200).end("{}");
      else waiting.push(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    reached,
    answer: () => (answering = true),
    close: () => {
      for (const res of waiting) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A clock whose sleeps pass at once: the time a retry spends waiting is counted without being waited. */
function emulatedClock(): Clock & { elapsedMs(): number } {
  const start = Date.now();
  let slept = 0;
  return {
    now: () => Date.now() + slept,
    sleep: async (ms) => {
      slept += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
    elapsedMs: () => Date.now() + slept - start,
  };
}

describe("a retry after a crash", () => {
  it("takes the lock once the crashed holder's lease lapses and finishes within 150 s of its start in a 300 s function", { timeout: 120_000 }, async () => {
    const notifier = await startNotifier();
    try {
      const config = join(dir, "policies.yaml");
      writeFileSync(
        config,
        `version: 1
timezone: UTC
retry: { baseMs: 1, capMs: 10, attempts: 4 }
notifiers:
  hook: { type: webhook, url: ${notifier.url} }
assetGroups:
  web: { include: [{ tags: { team: web } }] }
policies:
  - { name: nightly, schedule: "0 */5 * * * * *", targets: [web], scanItems: [port], maxAssetsPerTask: 2, notify: [hook], notifyOn: [unauthorized] }
`,
      );
      process.env.CSIP_SCAN_CONFIG = config;
      const slot = new Date(Math.floor(Date.now() / 300_000) * 300_000);
      const eventFile = join(dir, "timer.json");
      writeFileSync(eventFile, JSON.stringify({ Type: "Timer", TriggerName: "nightly", Time: slot.toISOString() }));

      // The first invocation, a real process: killed with SIGKILL while it waits on the notifier, holding the lock.
      const child = spawn(process.execPath, ["bin/csip-scan.js", "invoke", "scheduled-scan", "--event", eventFile, "--config", config], {
        env: { ...process.env, CSIP_SCAN_LOG_LEVEL: "silent", http_proxy: "", HTTP_PROXY: "" },
        stdio: "ignore",
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_, signal) => resolve(signal)));
      await Promise.race([notifier.reached, exited.then(() => Promise.reject(new Error("the first invocation ended before it reached the notifier")))]);
      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
      const tasksBefore = emulator.state.tasks.map((t) => t.TaskName).sort();
      const leases = () =>
        cos.standIn.account.objects
          .filter((o) => /^state\/locks\/run\/.*\/\d+\.json$/.test(o.Key))
          .map((o) => LeaseSchema.parse(JSON.parse(Buffer.from(o.Body!, "base64").toString())))
          .sort((a, b) => a.generation - b.generation);
      const crashed = leases();
      expect(crashed).toEqual([expect.objectContaining({ generation: 1 })]);
      expect(crashed[0]!.released).toBeUndefined();

      // SCF's retry, at once.
      notifier.answer();
      const clock = emulatedClock();
      const startedAt = clock.now();
      const summary = await scheduledScanHandler({ logger: silentLogger(), clock, throwOnFailure: false })(
        { Type: "Timer", TriggerName: "nightly", Time: slot.toISOString() },
        { time_limit_in_ms: 300_000 },
      );
      const tookMs = clock.elapsedMs();

      expect(summary.ok).toBe(true);
      expect(tookMs).toBeLessThanOrEqual(150_000);
      // It waited for the lease rather than taking a live one: its lock is the next generation, taken after the expiry.
      expect(tookMs).toBeGreaterThanOrEqual(crashed[0]!.expires - startedAt);
      expect(crashed[0]!.expires - startedAt).toBeLessThanOrEqual(LEASE_MS);
      expect(leases().map((l) => [l.generation, l.released ?? false])).toEqual([
        [1, false],
        [2, true],
      ]);
      // Only what was missing: no new task, and the stored message again, with the same webhook-id.
      expect(emulator.state.tasks.map((t) => t.TaskName).sort()).toEqual(tasksBefore);
      expect(tasksBefore).toHaveLength(2);
      expect(notifier.received).toHaveLength(2);
      expect(notifier.received[1]!["webhook-id"]).toBe(notifier.received[0]!["webhook-id"]);
    } finally {
      await notifier.close();
    }
  });
});
