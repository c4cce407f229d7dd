import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assetChangeHandler } from "../../functions/asset-change/index.ts";
import { scanResultsHandler } from "../../functions/scan-results/index.ts";
import { scheduledScanHandler } from "../../functions/scheduled-scan/index.ts";
import { freshAccount } from "../../local/cloud/account.ts";
import { utcIso } from "../../local/cloud/clock.ts";
import { DEFAULT_COS_READINGS } from "../../local/cloud/cos.ts";
import { startCloudStandIn, type CloudStandIn } from "../../local/cloud/server.ts";
import { LOCAL_ACCOUNT, randomAccount, type EmulatorAccount } from "../../local/emulator/accounts.ts";
import type { EstateAssetInput } from "../../local/emulator/estate.ts";
import { startEmulator, type Emulator } from "../../local/emulator/server.ts";
import { readEnvironment } from "../../shared/env.ts";
import { silentLogger } from "../../shared/log.ts";
import { clockAt, startListener } from "../helpers.ts";
import runInstances from "../fixtures/events/eventbridge-run-instances.json" with { type: "json" };

// The three functions as SCF runs them (warm: each handler built once and invoked again), on the COS
// store, under each reading the documents leave open that the stand-ins can answer: the 409 of a
// write-once PUT with another code than FileAlreadyExists, and the role's keys rotating between
// invocations and in the middle of one. Each gives the same tasks and the same results as the
// documented reading.

const ESTATE: EstateAssetInput[] = [
  ...Array.from({ length: 5 }, (_, i) => ({ kind: "cvm" as const, id: `ins-read000${i}`, tags: { team: "web" }, risks: [{ kind: "port" as const, level: "high" as const, name: "redis", port: 6379 }] })),
  { kind: "cvm", id: "ins-readrogue", tags: { team: "web" }, authorized: false },
];
const BUCKET = `csip-scan-state-${LOCAL_ACCOUNT.appId}`;
/** Role keys of one account, as SCF would give them one after another. */
const roleKey = (): EmulatorAccount => ({ ...randomAccount(true), appId: LOCAL_ACCOUNT.appId, uin: LOCAL_ACCOUNT.uin });

let emulator: Emulator;
let standIn: CloudStandIn;
let hook: Awaited<ReturnType<typeof startListener>>;
/** Runs before each COS request (a rotation in the middle of an invocation). */
let beforeCos: () => void = () => {};
const dir = mkdtempSync(join(tmpdir(), "csip-scan-readings-"));
const policyFile = join(dir, "policies.yaml");

beforeAll(async () => {
  emulator = await startEmulator({ estate: ESTATE, rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } });
  hook = await startListener();
  standIn = await startCloudStandIn({ account: freshAccount(LOCAL_ACCOUNT), keys: [LOCAL_ACCOUNT], cosFault: () => void beforeCos() });
  writeFileSync(
    policyFile,
    `version: 1
timezone: UTC
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
});
afterAll(async () => {
  await Promise.all([emulator.close(), hook.close(), standIn.close()]);
  rmSync(dir, { recursive: true, force: true });
});

/** The environment SCF gives an invocation: the role's keys of the moment, the deploy's bucket. */
function environmentWith(key: EmulatorAccount) {
  return readEnvironment({
    CSIP_SCAN_CONFIG: policyFile,
    TENCENTCLOUD_SECRETID: key.secretId,
    TENCENTCLOUD_SECRETKEY: key.secretKey,
    ...(key.token ? { TENCENTCLOUD_SESSIONTOKEN: key.token } : {}),
    CSIP_ENDPOINT: emulator.url,
    CSIP_SCAN_STATE_BUCKET: BUCKET,
    CSIP_SCAN_COS_ENDPOINT: standIn.url,
    CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1",
  });
}

/**
 * A fresh account and a warm instance of each function: the handlers are built once, so services
 * (clients, store) live across their invocations as in a warm SCF instance. `keys` is the key every
 * service takes now; `rotate` gives the cloud and the environment of later invocations a new one.
 */
function instance(first: EmulatorAccount) {
  emulator.state.tasks = [];
  emulator.calls.length = 0;
  hook.received.length = 0;
  standIn.account.buckets = [{ Name: BUCKET, Region: "ap-guangzhou", CreationDate: utcIso(Date.now()) }];
  standIn.account.objects = [];
  standIn.calls.length = 0;
  beforeCos = () => {};
  let key = first;
  const rotate = (next: EmulatorAccount = roleKey()) => {
    key = next;
    emulator.rotateKeys([key]);
    standIn.rotateKeys([key]);
  };
  rotate(first);
  const options = { env: () => environmentWith(key), logger: silentLogger(), throwOnFailure: false };
  const scan = scheduledScanHandler({ ...options, clock: clockAt("2026-11-29T03:00:05Z") });
  const change = assetChangeHandler({ ...options, clock: clockAt("2026-11-29T05:00:00Z") });
  const look = scanResultsHandler({ ...options, clock: clockAt("2026-11-29T03:10:00Z") });
  return {
    rotate,
    scan: () => scan({ Type: "Timer", TriggerName: "nightly", Time: "2026-11-29T03:00:00Z" }, {}),
    change: () => change({ ...runInstances, id: "evt-readings-1", data: { ...runInstances.data, responseElements: JSON.stringify({ InstanceIdSet: ["ins-read0001"] }) } }, {}),
    look: () => look({ Type: "Timer", TriggerName: "csip-scan-results", Time: "2026-11-29T03:10:00Z" }, {}),
  };
}

/** What a reading's runs made and told: the tasks and their assets, each notifier's messages, the results told. */
async function outcome(run: () => Promise<{ summaries: { ok: boolean }[]; told: unknown[] }>) {
  const { summaries, told } = await run();
  await emulator.settle();
  return {
    ok: summaries.every((s) => s.ok),
    tasks: emulator.state.tasks.map((t) => `${t.TaskName.replace(/evt-[0-9a-f]+/, "evt")} ${t.Assets.map((a) => a.Asset).join(",")}`).sort(),
    messages: hook.received
      .map((r) => `${r.url.slice(r.url.lastIndexOf("/") + 1)} ${(JSON.parse(r.body) as { schema?: string }).schema ?? "chat"}`)
      .sort(),
    told,
  };
}

/** A scheduled run (two deliveries at once, so its locks and markers meet 409s), an asset change, then two looks at once. */
function scheduledChangeAndLooks(i: ReturnType<typeof instance>) {
  return async () => {
    const scans = await Promise.all([i.scan(), i.scan()]);
    const change = await i.change();
    const looks = await Promise.all([i.look(), i.look()]);
    return { summaries: [...scans, change, ...looks], told: toldBy(looks) };
  };
}

/**
 * The same, each function invoked twice in turn (SCF's redelivery of the same event), `between` each
 * invocation and the next: every warm instance's second invocation comes after it.
 */
function invokedTwiceEach(i: ReturnType<typeof instance>, between: () => void) {
  return async () => {
    const summaries = [];
    const looks = [];
    for (const invoke of [i.scan, i.change, i.look]) {
      for (let n = 0; n < 2; n++) {
        const summary = await invoke();
        summaries.push(summary);
        if ("told" in summary && Array.isArray(summary.told)) looks.push(summary as { told: { policy: string; status: string; riskCount: number }[] });
        between();
      }
    }
    return { summaries, told: toldBy(looks) };
  };
}

const toldBy = (looks: { told: { policy: string; status: string; riskCount: number }[] }[]) => looks.flatMap((l) => l.told.map((t) => `${t.policy} ${t.status} ${t.riskCount}`)).sort();

let documented: Awaited<ReturnType<typeof outcome>>;

describe("the documented reading", () => {
  it("a scheduled run, an asset change and its results: the baseline the other readings must match", async () => {
    standIn.cosReadings.conflictCode = DEFAULT_COS_READINGS.conflictCode;
    documented = await outcome(scheduledChangeAndLooks(instance(LOCAL_ACCOUNT)));
    expect(documented.ok).toBe(true);
    expect(documented.tasks).toEqual([
      "csip-scan:nightly:20261129T030000Z:1 ins-read0000,ins-read0001",
      "csip-scan:nightly:20261129T030000Z:2 ins-read0002,ins-read0003",
      "csip-scan:nightly:20261129T030000Z:3 ins-read0004",
      "csip-scan:nightly:evt:1 ins-read0001",
    ]);
    expect(documented.told).toEqual(["nightly risks found 1", "nightly risks found 5"]);
    // Two deliveries at once met each other's write-once objects: the 409s the other reading recodes.
    expect(standIn.calls.filter((c) => c.error === "FileAlreadyExists").length).toBeGreaterThan(0);
  });
});

describe("COS answers the 409 of a write-once PUT with another code", () => {
  it.each(["ObjectAlreadyExists", "PathConflict"])("%s: the same tasks and results, each told once", async (code) => {
    standIn.cosReadings.conflictCode = code;
    try {
      const seen = await outcome(scheduledChangeAndLooks(instance(LOCAL_ACCOUNT)));
      expect(seen).toEqual(documented);
      expect(standIn.calls.filter((c) => c.error === code).length).toBeGreaterThan(0);
    } finally {
      standIn.cosReadings.conflictCode = DEFAULT_COS_READINGS.conflictCode;
    }
  });
});

describe("the role's keys rotate under a warm instance", () => {
  it("between invocations: each invocation reads the keys SCF gives it, and the next succeeds with the new ones", async () => {
    const i = instance(roleKey());
    const seen = await outcome(invokedTwiceEach(i, () => i.rotate()));
    expect(seen).toEqual(documented);
    // The old keys were never sent once the new ones were given: read at the invocation, not refused first.
    expect(emulator.calls.filter((c) => c.outcome.startsWith("AuthFailure"))).toEqual([]);
    expect(standIn.calls.filter((c) => c.error === "InvalidAccessKeyId")).toEqual([]);
  });

  it("in the middle of an invocation: the refused keys are read again, and CSIP and COS go on with the new ones", async () => {
    const i = instance(roleKey());
    let cosRequests = 0;
    // The role's keys change while the scheduled run works: after its fourth COS request, and again after its twentieth.
    beforeCos = () => {
      cosRequests++;
      if (cosRequests === 4 || cosRequests === 20) i.rotate();
    };
    const seen = await outcome(scheduledChangeAndLooks(i));
    expect(seen).toEqual(documented);
    expect(standIn.calls.filter((c) => c.error === "InvalidAccessKeyId").length).toBeGreaterThan(0);
  });
});
