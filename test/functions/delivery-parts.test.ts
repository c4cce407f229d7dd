import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { scanResultsHandler } from "../../functions/scan-results/index.ts";
import { scheduledScanHandler } from "../../functions/scheduled-scan/index.ts";
import type { RunFailedError } from "../../shared/errors.ts";
import { silentLogger } from "../../shared/log.ts";
import type { ScanResultsSummary } from "../../shared/run/scan-results.ts";
import type { TimerSummary } from "../../shared/run/timer-run.ts";
import type { EstateAssetInput } from "../../local/emulator/estate.ts";
import { caught, clockAt, startListener, useHandlerWorld, type Captured } from "../helpers.ts";
import { cvmWithLongFindings } from "../fixtures/estates.ts";

// A message too long for one WeCom robot message goes in parts; a part the robot refuses is sent again
// on the retry, and only it and those after it: the parts the robot has are not sent twice.

/** 170 unauthorized CVMs (the run's message lists each) and one CVM with 30 long findings (the results'). */
const ESTATE: EstateAssetInput[] = [
  ...Array.from({ length: 170 }, (_, i) => ({ kind: "cvm" as const, id: `ins-un${String(i).padStart(6, "0")}`, name: `unauthorized-web-server-${i}`, tags: { team: "web" }, authorized: false })),
  cvmWithLongFindings("ins-risky001"),
];

const dir = mkdtempSync(join(tmpdir(), "csip-scan-parts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;

useHandlerWorld(ESTATE, { rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } }, () => {});

/** A WeCom robot on 127.0.0.1 that refuses the first delivery of the part whose title has `(` and `refuse` (`2/3)`), once. */
async function robot(refuse: string) {
  let refused = false;
  const robot = await startListener((req) => {
    if (!refused && contentOf(req).includes(`(${refuse}`)) {
      refused = true;
      return { status: 200, body: JSON.stringify({ errcode: 93017, errmsg: "refused by the test" }) };
    }
    return { status: 200, body: JSON.stringify({ errcode: 0, errmsg: "ok" }) };
  });
  return robot;
}

const contentOf = (req: Captured): string => (JSON.parse(req.body) as { markdown: { content: string } }).markdown.content;
/** Each request's part label (`1/3`), as its title says it. */
const labels = (received: readonly Captured[]): string[] => received.map((r) => /^### .*\((\d+\/\d+)\)$/m.exec(contentOf(r))?.[1] ?? "whole");

function policyFile(url: string, group: string): string {
  const n = ++count;
  const file = join(dir, `p${n}.yaml`);
  writeFileSync(
    file,
    `version: 1
timezone: UTC
state: { path: ${join(dir, `state-${n}`)} }
results: { checkEvery: 10m, giveUpAfter: 24h, topFindings: 30 }
notifiers:
  robot: { type: wecom, url: "${url}" }
assetGroups:
  web: { include: [{ tags: { team: web } }] }
  risky: { include: [{ tags: { team: risky } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [${group}], scanItems: [port], notify: [robot] }
`,
  );
  process.env.CSIP_SCAN_CONFIG = file;
  return file;
}

const EVENT = { Type: "Timer", TriggerName: "nightly", Time: "2026-11-29T03:00:00Z" };

describe("a message in parts", () => {
  it("a WeCom run message split in three whose second part is refused: the retry sends parts 2 and 3 only, with the webhook-ids they had", async () => {
    const wecom = await robot("2/3)");
    try {
      policyFile(wecom.url, "web");
      const handler = scheduledScanHandler({ logger: silentLogger(), clock: clockAt("2026-11-29T03:00:30Z") });
      const first = ((await caught(handler(EVENT, {}))) as unknown as RunFailedError).summary as TimerSummary;
      expect(first.runs[0]!.notifications).toEqual([expect.objectContaining({ notifier: "robot", delivered: false })]);
      expect(labels(wecom.received)).toEqual(["1/3", "2/3"]);

      const second = await handler(EVENT, {});
      expect(second.runs[0]!.notifications).toEqual([{ notifier: "robot", delivered: true, parts: 3, sentBefore: [1] }]);
      expect(labels(wecom.received)).toEqual(["1/3", "2/3", "2/3", "3/3"]);
      // The refused part again, the same bytes under the same id; each part its own id.
      const [one, refused, again, three] = wecom.received;
      expect(again!.body).toBe(refused!.body);
      expect(again!.headers["webhook-id"]).toBe(refused!.headers["webhook-id"]);
      expect(new Set([one, again, three].map((r) => r!.headers["webhook-id"])).size).toBe(3);
      for (const r of wecom.received) expect(r.headers["webhook-id"]).toMatch(/^msg_[0-9a-f]{32}$/);

      // A third delivery of the timer sends nothing.
      const third = await handler(EVENT, {});
      expect(third.runs[0]!.notifications).toEqual([{ notifier: "robot", delivered: true, via: "sent before" }]);
      expect(wecom.received).toHaveLength(4);
    } finally {
      await wecom.close();
    }
  });

  it("a results message split in parts whose second part is refused: the next look sends the parts after the first only", async () => {
    const wecom = await robot("2/");
    try {
      policyFile(wecom.url, "risky");
      await scheduledScanHandler({ logger: silentLogger(), clock: clockAt("2026-11-29T03:00:30Z") })(EVENT, {});
      const look = (now: string) => scanResultsHandler({ logger: silentLogger(), clock: clockAt(now), throwOnFailure: false })({ Type: "Timer", TriggerName: "csip-scan-results", Time: now }, {}) as Promise<ScanResultsSummary>;
      const first = await look("2026-11-29T03:10:00Z");
      expect(first.told[0]!.notifications).toEqual([expect.objectContaining({ notifier: "robot", delivered: false })]);
      const parts = Number(/^1\/(\d+)$/.exec(labels(wecom.received)[0]!)?.[1]);
      expect(parts).toBeGreaterThanOrEqual(3);
      expect(labels(wecom.received)).toEqual(["1", "2"].map((p) => `${p}/${parts}`));

      const second = await look("2026-11-29T03:20:00Z");
      expect(second.told[0]!.notifications).toEqual([{ notifier: "robot", delivered: true, parts, sentBefore: [1] }]);
      expect(labels(wecom.received)).toEqual([1, 2, ...Array.from({ length: parts - 1 }, (_, i) => i + 2)].map((p) => `${p}/${parts}`));
      expect(wecom.received[2]!.headers["webhook-id"]).toBe(wecom.received[1]!.headers["webhook-id"]);

      const third = await look("2026-11-29T03:30:00Z");
      expect(third.told).toEqual([]);
      expect(wecom.received).toHaveLength(parts + 1);
    } finally {
      await wecom.close();
    }
  });
});
