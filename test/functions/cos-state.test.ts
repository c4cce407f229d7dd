import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { assetChangeHandler } from "../../functions/asset-change/index.ts";
import { scanResultsHandler } from "../../functions/scan-results/index.ts";
import { scheduledScanHandler } from "../../functions/scheduled-scan/index.ts";
import { freshAccount } from "../../local/cloud/account.ts";
import { utcIso } from "../../local/cloud/clock.ts";
import { startCloudStandIn, type CloudStandIn, type CosFault } from "../../local/cloud/server.ts";
import { LOCAL_ACCOUNT } from "../../local/emulator/accounts.ts";
import type { EstateAssetInput } from "../../local/emulator/estate.ts";
import type { Emulator } from "../../local/emulator/server.ts";
import { silentLogger } from "../../shared/log.ts";
import { MEMORY_STORE_WARNING } from "../../shared/run/services.ts";
import { clockAt, startListener, useHandlerWorld } from "../helpers.ts";
import runInstances from "../fixtures/events/eventbridge-run-instances.json" with { type: "json" };

// The functions as SCF runs them after a deploy: no state folder, the deploy's bucket named in the
// environment, the COS stand-in on 127.0.0.1 answering over HTTP. Invocations that share the bucket
// make one task per chunk and tell each notifier once, also when COS errs or loses answers.

const ESTATE: EstateAssetInput[] = [
  ...Array.from({ length: 5 }, (_, i) => ({ kind: "cvm" as const, id: `ins-cos0000${i}`, tags: { team: "web" }, risks: [{ kind: "port" as const, level: "middle" as const, name: "redis", port: 6379 }] })),
  { kind: "cvm", id: "ins-cosrogue", tags: { team: "web" }, authorized: false },
];
const BUCKET = `csip-scan-state-${LOCAL_ACCOUNT.appId}`;

let emulator: Emulator;
let hook: Awaited<ReturnType<typeof startListener>>;
let standIn: CloudStandIn;
let faults: { method: string; key: RegExp; fault: CosFault }[] = [];
const dir = mkdtempSync(join(tmpdir(), "csip-scan-cos-state-"));
let count = 0;

useHandlerWorld(ESTATE, { rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } }, (w) => ({ emulator, hook } = w));

beforeAll(async () => {
  standIn = await startCloudStandIn({
    account: freshAccount(LOCAL_ACCOUNT),
    keys: [LOCAL_ACCOUNT],
    cosFault: ({ method, key }) => {
      const index = faults.findIndex((f) => f.method === method && f.key.test(key));
      return index < 0 ? undefined : faults.splice(index, 1)[0]?.fault;
    },
  });
  Object.assign(process.env, { CSIP_SCAN_STATE_BUCKET: BUCKET, CSIP_SCAN_COS_ENDPOINT: standIn.url });
});
afterAll(async () => {
  delete process.env.CSIP_SCAN_STATE_BUCKET;
  delete process.env.CSIP_SCAN_COS_ENDPOINT;
  await standIn.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  faults = [];
  standIn.account.buckets = [{ Name: BUCKET, Region: "ap-guangzhou", CreationDate: utcIso(Date.now()) }];
  standIn.account.objects = [];
});

/** A policy file with no `state` section: the store is the environment's bucket, as on SCF. */
function world(state = "") {
  const file = join(dir, `p${++count}.yaml`);
  writeFileSync(
    file,
    `version: 1
timezone: UTC
${state}
retry: { baseMs: 1, capMs: 10, attempts: 4 }
results: { checkEvery: 10m, giveUpAfter: 24h }
notifiers:
  a: { type: webhook, url: ${hook.url}/a }
  b: { type: webhook, url: ${hook.url}/b }
assetGroups:
  web: { include: [{ tags: { team: web } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [web], scanItems: [port], maxAssetsPerTask: 2, notify: [a, b], notifyOn: [unauthorized, results], onAssetChange: true }
`,
  );
  process.env.CSIP_SCAN_CONFIG = file;
  return {
    scan: () => scheduledScanHandler({ logger: silentLogger(), clock: clockAt("2026-11-29T03:00:05Z"), throwOnFailure: false })({ Type: "Timer", TriggerName: "nightly", Time: "2026-11-29T03:00:00Z" }, {}),
    change: (ids: string[]) =>
      assetChangeHandler({ logger: silentLogger(), clock: clockAt("2026-11-29T05:00:00Z") })(
        { ...runInstances, id: "evt-cos-1", data: { ...runInstances.data, responseElements: JSON.stringify({ InstanceIdSet: ids }) } },
        {},
      ),
    results: () => scanResultsHandler({ logger: silentLogger(), clock: clockAt("2026-11-29T03:10:00Z"), throwOnFailure: false })({ Type: "Timer", TriggerName: "csip-scan-results", Time: "2026-11-29T03:10:00Z" }, {}),
  };
}

const taskNames = () => emulator.state.tasks.map((t) => t.TaskName).sort();
/** Messages per notifier and schema: `a csip-scan.run/v1`. */
const told = () =>
  hook.received
    .map((r) => `${r.url.slice(r.url.lastIndexOf("/") + 1)} ${(JSON.parse(r.body) as { schema?: string }).schema ?? "chat"}`)
    .sort();
const ONCE_EACH = ["a csip-scan.results/v1", "a csip-scan.run/v1", "b csip-scan.results/v1", "b csip-scan.run/v1"];
const CHUNKS = ["csip-scan:nightly:20261129T030000Z:1", "csip-scan:nightly:20261129T030000Z:2", "csip-scan:nightly:20261129T030000Z:3"];

describe("the functions on the COS store", () => {
  it("four scheduled invocations at once, then three looks at once: one task per chunk, one message of each kind per notifier", async () => {
    const w = world();
    const scans = await Promise.all([w.scan(), w.scan(), w.scan(), w.scan()]);
    expect(scans.some((s) => s.ok)).toBe(true);
    expect(taskNames()).toEqual(CHUNKS);
    await Promise.all([w.results(), w.results(), w.results()]);
    expect(told()).toEqual(ONCE_EACH);
    expect(standIn.account.objects.some((o) => o.Key.startsWith("state/run/"))).toBe(true);
  });

  it("three deliveries of one asset-change event at once: one task", async () => {
    const w = world();
    await Promise.all([w.change(["ins-cos00001"]), w.change(["ins-cos00001"]), w.change(["ins-cos00001"])]);
    expect(emulator.state.tasks.map((t) => [t.TaskName.replace(/evt-[0-9a-f]+/, "evt"), t.Assets.map((a) => a.Asset)])).toEqual([["csip-scan:nightly:evt:1", ["ins-cos00001"]]]);
  });

  it("COS errors and lost answers on the way repeat nothing and lose nothing", async () => {
    const w = world();
    faults = [
      { method: "PUT", key: /^state\/locks\/run\//, fault: "lose-answer" },
      { method: "PUT", key: /^state\/run\//, fault: "error" },
      { method: "PUT", key: /^state\/run\//, fault: "lose-answer" },
      { method: "GET", key: /^state\/run\//, fault: "error" },
      { method: "GET", key: /^state\/collections\//, fault: "error" },
      { method: "PUT", key: /^state\/locks\/results\//, fault: "lose-answer" },
      { method: "HEAD", key: /^state\/locks\/run\//, fault: "lose-answer" },
      { method: "PUT", key: /^state\/locks\/results\/.*\/head\.json$/, fault: "error" },
    ];
    await Promise.all([w.scan(), w.scan()]);
    await w.scan();
    expect(taskNames()).toEqual(CHUNKS);
    await Promise.all([w.results(), w.results()]);
    await w.results();
    expect(told()).toEqual(ONCE_EACH);
    expect(faults).toEqual([]);
  });

  it("the results message links the policy's page, a private object of the bucket its presigned link opens", async () => {
    const w = world();
    await w.scan();
    await w.results();
    const results = hook.received.map((r) => JSON.parse(r.body) as { schema?: string; page?: string }).filter((m) => m.schema === "csip-scan.results/v1");
    expect(results).toHaveLength(2);
    const link = new URL(results[0]!.page!);
    // The link names the bucket's real host; the stand-in answers for it on 127.0.0.1, checking the signature.
    expect(link.host).toBe(`${BUCKET}.cos.ap-guangzhou.myqcloud.com`);
    expect(link.pathname).toBe("/state/pages/nightly.html");
    expect(link.searchParams.get("q-signature")).toMatch(/^[0-9a-f]{40}$/);
    const get = (url: URL) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = httpRequest(`${standIn.url}${url.pathname}${url.search}`, { headers: { host: url.host } }, (answer) => {
          let body = "";
          answer.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
          answer.on("end", () => resolve({ status: answer.statusCode ?? 0, body }));
        });
        request.on("error", reject).end();
      });
    const page = await get(link);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^<!doctype html>/i);
    // Without the signature the object is not to be had: the bucket stays private.
    const unsigned = new URL(link.pathname, link);
    expect((await get(unsigned)).status).toBe(403);
  });

  it("a versioned bucket stops the run before any task is made", async () => {
    standIn.account.buckets[0]!.Versioning = "Enabled";
    const summary = await world().scan();
    expect(summary.ok).toBe(false);
    expect(JSON.stringify(summary)).toMatch(/versioning Enabled/);
    expect(taskNames()).toEqual([]);
  });

  it("a memory store says in the summary that it forgets", async () => {
    const summary = await world("state: { memory: true }").scan();
    expect(summary.warnings).toContain(MEMORY_STORE_WARNING);
    expect(standIn.account.objects).toEqual([]);
  });
});
