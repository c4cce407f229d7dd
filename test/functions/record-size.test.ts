import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scheduledScanHandler } from "../../functions/scheduled-scan/index.ts";
import { startLocalCos, type LocalCos } from "../../local/cos-local.ts";
import { LOCAL_ACCOUNT } from "../../local/emulator/accounts.ts";
import { startEmulator, type Emulator } from "../../local/emulator/server.ts";
import { readEnvironment } from "../../shared/env.ts";
import { silentLogger } from "../../shared/log.ts";
import { runRecord } from "../../shared/run/policy-run.ts";
import { RECORD_PAGE_BYTES } from "../../shared/state/paged-record.ts";
import { CosStateStore } from "../../shared/state/cos-store.ts";
import { scheduledRunNames } from "../../shared/state/keys.ts";
import { clockAt, startListener } from "../helpers.ts";

// The run's record on the COS stand-in, as a deployed function keeps it: saved after every task, yet no
// save uploads more than the record's head and its last entries, whatever the number of chunks. The
// whole record would grow by a task's entry at each save, and the bytes uploaded with the square of the
// estate (docs/reliability-and-security.md, "Sizing one invocation").

const CHUNKS = 100;
const PREFIX = "state/prod-ap-guangzhou/";
const SLOT = "2026-11-29T03:00:00Z";

let emulator: Emulator;
let cos: LocalCos;
let hook: Awaited<ReturnType<typeof startListener>>;
const dir = mkdtempSync(join(tmpdir(), "csip-scan-record-size-"));

beforeAll(async () => {
  delete process.env.http_proxy;
  emulator = await startEmulator({
    estate: Array.from({ length: CHUNKS }, (_, i) => ({ kind: "cvm" as const, id: `ins-size${String(i).padStart(4, "0")}`, tags: { env: "prod" } })),
    rateLimit: false,
  });
  cos = await startLocalCos();
  hook = await startListener();
  writeFileSync(
    join(dir, "policies.yaml"),
    `version: 1
timezone: UTC
notifiers:
  siem: { type: webhook, url: ${hook.url} }
assetGroups:
  prod: { include: [{ tags: { env: prod } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [prod], scanItems: [port], maxAssetsPerTask: 1, notify: [siem], notifyOn: [summary] }
`,
  );
});
afterAll(async () => {
  await hook.close();
  await cos.close();
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = () =>
  readEnvironment({
    ...cos.env,
    CSIP_SCAN_CONFIG: join(dir, "policies.yaml"),
    CSIP_SCAN_DEPLOYMENT: "prod-ap-guangzhou",
    CSIP_SCAN_STATE_PREFIX: PREFIX,
    TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId,
    TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey,
    CSIP_ENDPOINT: emulator.url,
    CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1",
  });
const scan = () => scheduledScanHandler({ env, logger: silentLogger(), clock: clockAt("2026-11-29T03:00:05Z") })({ Type: "Timer", TriggerName: "nightly", Time: SLOT }, {});

describe("a run's record on COS, saved after every task", () => {
  const key = scheduledRunNames("nightly", new Date(SLOT), "prod-ap-guangzhou").recordKey;
  /** The PUTs of the record: its head (the plain key and the lease holders' copies) and its pages. */
  const puts = () => {
    const all = cos.standIn.calls.filter((c) => c.service === "cos" && c.action === "PutObject").map((c) => ({ key: String(c.params.Key), bytes: Number(c.params.ContentLength) }));
    const head = all.filter((p) => p.key === `${PREFIX}${key}.json` || /^.*@\d+\.json$/.test(p.key.slice(`${PREFIX}${key}`.length)));
    const pages = all.filter((p) => p.key.startsWith(`${PREFIX}${key}/pages/`));
    return { head, pages };
  };

  it("writes a head of bounded size at each save, and each page once", async () => {
    const summary = await scan();
    expect(summary.ok).toBe(true);
    expect(emulator.callsOf("CreateRiskCenterScanTask")).toHaveLength(CHUNKS);
    const { head, pages } = puts();
    // A save per task at least, and the whole record well over a page.
    expect(head.length).toBeGreaterThan(CHUNKS);
    const store = new CosStateStore({ bucket: cos.env.CSIP_SCAN_STATE_BUCKET, region: "ap-guangzhou", prefix: PREFIX, credentials: LOCAL_ACCOUNT, endpoint: cos.standIn.url, timeoutMs: 10_000, retry: { baseMs: 1, capMs: 5, attempts: 4 } });
    const record = (await runRecord(store, key).load())!;
    expect(Object.keys(record.tasks)).toHaveLength(CHUNKS);
    expect(Buffer.byteLength(JSON.stringify(record))).toBeGreaterThan(3 * RECORD_PAGE_BYTES);
    // No head written on the way weighed more than a page and a task's entries.
    expect(Math.max(...head.map((p) => p.bytes))).toBeLessThan(RECORD_PAGE_BYTES + 2_048);
    expect(pages.length).toBeGreaterThan(2);
    expect(new Set(pages.map((p) => p.key)).size).toBe(pages.length);
  });

  it("a later delivery of the same slot reads the record from its pages and makes no task", async () => {
    const summary = await scan();
    expect(summary.ok).toBe(true);
    expect(emulator.callsOf("CreateRiskCenterScanTask")).toHaveLength(CHUNKS);
    expect(summary.runs[0]!.tasks).toHaveLength(CHUNKS);
    expect(hook.received).toHaveLength(1);
  });
});
