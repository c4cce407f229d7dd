import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scanResultsHandler } from "../functions/scan-results/index.ts";
import { scheduledScanHandler } from "../functions/scheduled-scan/index.ts";
import { startLocalCos } from "../local/cos-local.ts";
import { LOCAL_ACCOUNT } from "../local/emulator/accounts.ts";
import { startEmulator } from "../local/emulator/server.ts";
import { silentLogger } from "../shared/log.ts";
import { printTable } from "./report.ts";

/**
 * What a run's locks cost in COS requests, counted against the COS stand-in: a scheduled run of 50 chunks
 * (100 CVMs, 2 a task) telling 2 notifiers, the results look that tells it, and an empty look. Each
 * request is put in one of three kinds: the lock's own objects (`locks/`: taking, the fence's look at
 * the next generation, release), the holder's copy of its record (`KEY@N`), and everything else. The
 * renewals a longer hold adds are one PUT per 20 s held. The baseline is the same work's other requests.
 */
const CVMS = 100;

export async function benchLeaseRequests(): Promise<void> {
  delete process.env.http_proxy;
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-bench-lease-"));
  const estate = [
    ...Array.from({ length: CVMS }, (_, i) => ({ kind: "cvm" as const, id: `ins-lease${String(i).padStart(3, "0")}`, tags: { team: "web" } })),
    { kind: "cvm" as const, id: "ins-leaserog", tags: { team: "web" }, authorized: false },
  ];
  const emulator = await startEmulator({ estate, rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } });
  const cos = await startLocalCos();
  const hook = createServer((req, res) => req.resume().on("end", () => res.writeHead(200).end("{}")));
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
  const saved = { ...process.env };
  try {
    const config = join(dir, "policies.yaml");
    writeFileSync(
      config,
      `version: 1
timezone: UTC
results: { checkEvery: 10m, giveUpAfter: 24h }
notifiers:
  a: { type: webhook, url: ${url}/a }
  b: { type: webhook, url: ${url}/b }
assetGroups:
  web: { include: [{ tags: { team: web } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [web], scanItems: [port], maxAssetsPerTask: 2, notify: [a, b], notifyOn: [unauthorized, results] }
`,
    );
    Object.assign(process.env, cos.env, {
      TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId,
      TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey,
      CSIP_ENDPOINT: emulator.url,
      CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1",
      CSIP_SCAN_CONFIG: config,
    });
    const slot = "2026-11-29T03:00:00Z";
    const at = (iso: string) => {
      const offset = Date.parse(iso) - Date.now();
      return { now: () => Date.now() + offset, sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };
    };
    const steps: [string, () => Promise<unknown>][] = [
      ["scheduled run, 50 chunks, 2 notifiers", () => scheduledScanHandler({ logger: silentLogger(), clock: at("2026-11-29T03:00:05Z") })({ Type: "Timer", TriggerName: "nightly", Time: slot }, {})],
      ["results look telling it", () => scanResultsHandler({ logger: silentLogger(), clock: at("2026-11-29T03:10:00Z") })({ Type: "Timer", TriggerName: "results", Time: "2026-11-29T03:10:00Z" }, {})],
      ["empty results look", () => scanResultsHandler({ logger: silentLogger(), clock: at("2026-11-29T03:20:00Z") })({ Type: "Timer", TriggerName: "results", Time: "2026-11-29T03:20:00Z" }, {})],
    ];
    const rows: string[][] = [];
    for (const [name, step] of steps) {
      const before = cos.standIn.calls.length;
      await step();
      const calls = cos.standIn.calls.slice(before).filter((c) => c.service === "cos");
      const key = (c: (typeof calls)[number]) => String(c.params.Key ?? "");
      const lock = calls.filter((c) => key(c).startsWith("state/locks/"));
      const copies = calls.filter((c) => /@\d+\.json$/.test(key(c)));
      const other = calls.length - lock.length - copies.length;
      const byAction = (list: typeof calls) => {
        const counts = new Map<string, number>();
        for (const c of list) counts.set(c.action, (counts.get(c.action) ?? 0) + 1);
        return [...counts].map(([action, n]) => `${n} ${action.replace(/Object$/, "")}`).join(", ");
      };
      rows.push([name, String(calls.length), `${lock.length} (${byAction(lock)})`, `${copies.length} (${byAction(copies)})`, String(other), (calls.length / Math.max(other, 1)).toFixed(2)]);
    }
    printTable(
      "COS requests of a run's locks (leases), counted against the stand-in; renewals add 1 PUT per 20 s a lock is held",
      ["work", "COS requests", "lock objects", "record copies", "other (baseline)", "all vs baseline"],
      rows,
    );
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
    hook.closeAllConnections();
    await new Promise((resolve) => hook.close(resolve));
    await cos.close();
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
