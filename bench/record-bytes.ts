import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scheduledScanHandler } from "../functions/scheduled-scan/index.ts";
import { LOCAL_COS_REGION, startLocalCos } from "../local/cos-local.ts";
import { LOCAL_ACCOUNT } from "../local/emulator/accounts.ts";
import { startEmulator } from "../local/emulator/server.ts";
import { readEnvironment } from "../shared/env.ts";
import { silentLogger } from "../shared/log.ts";
import { LEGACY_ADOPTED_KEY } from "../shared/run/legacy-state.ts";
import { CosStateStore } from "../shared/state/cos-store.ts";
import { RECORD_PAGE_BYTES } from "../shared/state/paged-record.ts";
import { cvmEstate } from "./memory-run.ts";
import { printTable } from "./report.ts";

/**
 * What a scheduled run's state costs on COS, counted against the COS stand-in (not the folder store):
 * one policy scanning every CVM of the estate, 200 a task, telling a generic webhook on 127.0.0.1 its
 * run message, in a deployment's folder as the deploy sets it. Each size is run twice in the same
 * process: as the functions keep the run's record (a head rewritten at each save, pages written once,
 * shared/state/paged-record.ts), and, as the baseline, the whole record rewritten at each save (pages
 * never made), as before. Figures: COS requests by kind, the bytes PUT, the largest PUT.
 *
 * The request and byte counts do not depend on the rate, so these runs raise the client's limiter to
 * 1,000 calls a second. Then, at CSIP's 20 calls a second, 10,000 and 100,000 CVMs on COS: the time per
 * asset, against the API floor of the list calls. BENCH_RECORD_SIZES (1000,10000,100000) and
 * BENCH_RECORD_LARGE (1000000; 0 leaves it out) choose the sizes; the large one is run without its
 * baseline (some 4 GB of PUTs) unless BENCH_RECORD_LARGE_BASELINE=1.
 */
const SIZES = (process.env.BENCH_RECORD_SIZES ?? "1000,10000,100000").split(",").map(Number);
const LARGE = Number(process.env.BENCH_RECORD_LARGE ?? "1000000");
const LARGE_BASELINE = process.env.BENCH_RECORD_LARGE_BASELINE === "1";
const TIMED = (process.env.BENCH_RECORD_TIMED ?? "10000,100000").split(",").filter(Boolean).map(Number);
const PREFIX = "state/prod-ap-guangzhou/";

interface Measured {
  cvms: number;
  chunks: number;
  requests: number;
  byAction: Map<string, number>;
  putBytes: number;
  largestPut: number;
  /** The largest PUT of the run's record head (the plain key or a lease holder's copy), as against its pages. */
  largestHead: number;
  seconds: number;
  ok: boolean;
}

async function measure(cvms: number, options: { pageBytes: number; perSecond: number }): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-bench-record-"));
  const emulator = await startEmulator({ estate: cvmEstate(cvms), rateLimit: options.perSecond === 20 ? 20 : false, scanTiming: { queuedMs: 3_600_000, scanningMs: 3_600_000 } });
  const cos = await startLocalCos();
  const hook = createServer((req, res) => req.resume().on("end", () => res.writeHead(200).end("{}")));
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  try {
    writeFileSync(
      join(dir, "policies.yaml"),
      `version: 1
timezone: UTC
rateLimit: { perSecond: ${options.perSecond}, marginMs: 20 }
notifiers:
  siem: { type: webhook, url: http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook }
assetGroups:
  prod: { include: [{ tags: { env: prod } }] }
policies:
  - { name: everything, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port], notify: [siem], notifyOn: [summary] }
`,
    );
    const env = readEnvironment({
      ...cos.env,
      CSIP_SCAN_CONFIG: join(dir, "policies.yaml"),
      CSIP_SCAN_DEPLOYMENT: "prod-ap-guangzhou",
      CSIP_SCAN_STATE_PREFIX: PREFIX,
      TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId,
      TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey,
      CSIP_ENDPOINT: emulator.url,
      CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1",
    });
    // A deployment that has run this version before: the previous version's state is taken over once, not at every run.
    const store = new CosStateStore({ bucket: cos.env.CSIP_SCAN_STATE_BUCKET, region: LOCAL_COS_REGION, prefix: PREFIX, credentials: LOCAL_ACCOUNT, endpoint: cos.standIn.url, timeoutMs: 10_000, retry: { baseMs: 1, capMs: 5, attempts: 4 } });
    await store.create(LEGACY_ADOPTED_KEY, { at: 0, moved: 0 });
    const before = cos.standIn.calls.length;
    const handler = scheduledScanHandler({ env: () => env, logger: silentLogger(), throwOnFailure: false, recordPageBytes: options.pageBytes });
    const started = performance.now();
    const summary = await handler({ Type: "Timer", TriggerName: "bench", Time: new Date().toISOString(), Message: "everything" }, { getRemainingTimeInMillis: () => 3_600_000 });
    const seconds = (performance.now() - started) / 1000;
    const calls = cos.standIn.calls.slice(before).filter((c) => c.service === "cos");
    const byAction = new Map<string, number>();
    for (const c of calls) byAction.set(c.action, (byAction.get(c.action) ?? 0) + 1);
    const putCalls = calls.filter((c) => c.action === "PutObject");
    const puts = putCalls.map((c) => Number(c.params.ContentLength ?? 0));
    const heads = putCalls.filter((c) => /^run\/[^/]*?(@\d+)?\.json$/.test(String(c.params.Key).slice(PREFIX.length))).map((c) => Number(c.params.ContentLength ?? 0));
    return {
      cvms,
      chunks: summary.runs[0]?.tasks.length ?? 0,
      requests: calls.length,
      byAction,
      putBytes: puts.reduce((a, b) => a + b, 0),
      largestPut: Math.max(0, ...puts),
      largestHead: Math.max(0, ...heads),
      seconds,
      ok: summary.ok,
    };
  } finally {
    hook.closeAllConnections();
    await new Promise((resolve) => hook.close(resolve));
    await cos.close();
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const mb = (bytes: number): string => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} KB`);
const actions = (m: Measured): string => ["PutObject", "HeadObject", "GetObject"].map((a) => `${m.byAction.get(a) ?? 0} ${a.replace(/Object$/, "")}`).join(", ");

export async function benchRecordBytes(): Promise<void> {
  delete process.env.http_proxy;
  const rows: string[][] = [];
  const sizes = [...SIZES, ...(LARGE > 0 ? [LARGE] : [])];
  let first: Measured | undefined;
  for (const cvms of sizes) {
    const paged = await measure(cvms, { pageBytes: RECORD_PAGE_BYTES, perSecond: 1000 });
    first ??= paged;
    const baseline = cvms === LARGE && !LARGE_BASELINE ? undefined : await measure(cvms, { pageBytes: Number.POSITIVE_INFINITY, perSecond: 1000 });
    rows.push([
      cvms.toLocaleString("en-US"),
      String(paged.chunks),
      `${paged.requests} (${actions(paged)})`,
      mb(paged.putBytes),
      (paged.putBytes / first.putBytes).toFixed(1),
      mb(paged.largestPut),
      mb(paged.largestHead),
      baseline ? `${baseline.requests}` : "-",
      baseline ? mb(baseline.putBytes) : "-",
      baseline ? mb(baseline.largestPut) : "-",
      baseline ? (paged.putBytes / baseline.putBytes).toFixed(3) : "-",
      paged.seconds.toFixed(1),
      paged.ok && (baseline?.ok ?? true) ? "ok" : "FAILED",
    ]);
  }
  printTable(
    `A scheduled run's COS requests and bytes, on the COS stand-in (pages of ${RECORD_PAGE_BYTES / 1024} KB; limiter at 1,000 a second); baseline: the whole record at each save`,
    ["CVMs", "chunks", "COS requests", "PUT", "vs first", "largest PUT", "largest head", "baseline requests", "baseline PUT", "baseline largest", "PUT vs baseline", "s", "runs"],
    rows,
  );

  const timed: string[][] = [];
  for (const cvms of TIMED) {
    const m = await measure(cvms, { pageBytes: RECORD_PAGE_BYTES, perSecond: 20 });
    // The floor: the list calls at 20 a second (100 rows a call); the creates run beside them at their own 20.
    const floor = Math.ceil(cvms / 100) / 20;
    timed.push([cvms.toLocaleString("en-US"), m.seconds.toFixed(1), floor.toFixed(1), (m.seconds / floor).toFixed(2), ((m.seconds * 1000) / cvms).toFixed(3), Math.floor((890 / m.seconds) * cvms).toLocaleString("en-US"), m.ok ? "ok" : "FAILED"]);
  }
  if (timed.length > 0) {
    printTable(
      "The same run at CSIP's 20 calls a second, on the COS stand-in: time against the list calls' floor",
      ["CVMs", "s", "floor s", "vs floor", "ms per asset", "assets in 890 s (900 s less the reserve)", "runs"],
      timed,
    );
  }
}
