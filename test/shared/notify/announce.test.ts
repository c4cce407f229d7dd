import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../../shared/config/load.ts";
import { createLogger } from "../../../shared/log.ts";
import { sleep } from "../../../shared/clock.ts";
import { runScheduledScan } from "../../../shared/run/scheduled-scan.ts";
import { announceRun, NotifyProgressSchema, type NotifyProgress } from "../../../shared/notify/announce.ts";
import { networkDelivery, type Deliver } from "../../../shared/notify/deliver.ts";
import type { RunFacts } from "../../../shared/notify/report.ts";
import { MemoryStateStore } from "../../../shared/state/memory-store.ts";
import { LeaseLostError } from "../../../shared/errors.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";
import { LOCAL_WEBHOOKS, runWith, sdkClient, startListener } from "../../helpers.ts";

let emulator: Emulator;
let hook: Awaited<ReturnType<typeof startListener>>;
beforeAll(async () => {
  emulator = await startEmulator({
    estate: [
      { kind: "cvm", id: "ins-auth0001", tags: { env: "prod" } },
      { kind: "cvm", id: "ins-unau0001", tags: { env: "prod" }, authorized: false },
      { kind: "cvm", id: "ins-unau0002", tags: { env: "prod" }, authorized: false },
    ],
    rateLimit: false,
  });
  hook = await startListener();
});
afterAll(async () => {
  await emulator.close();
  await hook.close();
});
beforeEach(() => {
  hook.received.length = 0;
});

function config(extra = "") {
  return parseConfig(
    `version: 1
state: { path: ${mkdtempSync(join(tmpdir(), "csip-scan-announce-"))} }
notifiers:
  hook: { type: webhook, url: "${hook.url}", secret: announce-signing-secret }
assetGroups:
  prod: { include: [{ tags: { env: prod } }] }
policies:
  - name: hourly
    schedule: "0 0 * * * * *"
    targets: [prod]
    scanItems: [port]
    notify: [hook]
    remindAfter: 24h
${extra}`,
    "announce.yaml",
    LOCAL_WEBHOOKS,
  );
}

describe("announcing unauthorized assets across runs", () => {
  it("when the set changes, and again after remindAfter while it stays the same (fake clock)", async () => {
    const cfg = config();
    let clock = Date.parse("2026-11-29T00:00:00Z");
    const run = async (hoursLater: number) => {
      clock += hoursLater * 3_600_000;
      return runScheduledScan(runWith(cfg, sdkClient(emulator), { clock: { now: () => clock, sleep } }), { policy: "hourly", scheduledTime: new Date(clock), trigger: "timer" });
    };
    const sent = (): string[][] => hook.received.map((r) => (JSON.parse(r.body) as { unauthorizedAssets: { id: string }[] }).unauthorizedAssets.map((a) => a.id));

    await run(0);
    expect(sent()).toEqual([["ins-unau0001", "ins-unau0002"]]);
    await run(1);
    await run(22);
    expect(sent()).toHaveLength(1);
    await run(1); // 24 hours after the first message: a reminder.
    expect(sent()).toHaveLength(2);
    emulator.state.estate = emulator.state.estate.map((a) => (a.id === "ins-unau0002" ? { ...a, authorized: true } : a));
    await run(1); // The set changed: news at once.
    expect(sent()).toEqual([["ins-unau0001", "ins-unau0002"], ["ins-unau0001", "ins-unau0002"], ["ins-unau0001"]]);
    await run(1);
    expect(sent()).toHaveLength(3);
  });
});

describe("secrets", () => {
  it("no log line, summary or error shows a webhook URL key, secret, token or signature", async () => {
    const secrets = {
      robotKey: "wecom-robot-key-0a1b2c3d",
      dingToken: "dingtalk-access-token-9z8y",
      dingSecret: "SECdingtalk-signing-secret",
      webhookSecret: "announce-signing-secret",
      feishuHook: "feishu-hook-id-7q6w5e",
    };
    const cfg = parseConfig(
      `version: 1
state: { path: ${mkdtempSync(join(tmpdir(), "csip-scan-secrets-"))} }
notifiers:
  wecom: { type: wecom, url: "${hook.url}/cgi-bin/webhook/send?key=${secrets.robotKey}" }
  ding: { type: dingtalk, url: "${hook.url}/robot/send?access_token=${secrets.dingToken}", secret: ${secrets.dingSecret} }
  lark: { type: feishu, url: "${hook.url}/open-apis/bot/v2/hook/${secrets.feishuHook}" }
  plain: { type: webhook, url: "${hook.url}", secret: ${secrets.webhookSecret} }
  nowhere: { type: webhook, url: "http://127.0.0.1:9/${secrets.robotKey}-unreachable" }
assetGroups:
  prod: { include: [{ tags: { env: prod } }] }
policies:
  - { name: hourly, schedule: "0 0 * * * * *", targets: [prod], scanItems: [port], notify: [wecom, ding, lark, plain, nowhere], notifyOn: [summary] }
`,
      "secrets.yaml",
      LOCAL_WEBHOOKS,
    );
    const sink = new PassThrough();
    let logged = "";
    sink.on("data", (chunk: Buffer) => (logged += chunk.toString()));
    const run = runWith(cfg, sdkClient(emulator), { logger: createLogger({ level: "debug", destination: sink }) });
    // The listener refuses the robots with a code, so their errors are in the summary and the log too.
    const summary = await runScheduledScan(run, { policy: "hourly", scheduledTime: new Date(), trigger: "timer" });
    run.logger.error({ notifiers: cfg.notifiers }, "a careless log line with the whole notifier config");
    const everything = `${logged}\n${JSON.stringify(summary)}`;
    expect(summary.notifications.filter((n) => !n.delivered).map((n) => n.notifier)).toContain("nowhere");
    expect(logged).toContain("careless");
    for (const secret of Object.values(secrets)) expect(everything).not.toContain(secret);
    // Nor a DingTalk signature, which is computed per message.
    expect(everything).not.toMatch(/sign=[A-Za-z0-9%]{20,}/);
  });
});

describe("saving what each notifier got", () => {
  const twoHooks = () =>
    parseConfig(
      `version: 1
state: { memory: true }
notifiers:
  a: { type: webhook, url: "${hook.url}/a" }
  b: { type: webhook, url: "${hook.url}/b" }
policies:
  - { name: hourly, schedule: "0 0 * * * * *", urls: ["https://www.example.com/"], scanItems: [port], notify: [a, b], notifyOn: [summary] }
`,
      "saves.yaml",
      LOCAL_WEBHOOKS,
    );
  const facts: RunFacts = { policy: "hourly", trigger: "timer", scheduledTime: "2026-11-29T03:00:00.000Z", unauthorized: [], tasks: [], warnings: [], errors: [] };
  /** Deliveries ended, whatever their outcome. */
  let ended = 0;
  /** Announces to `a` and `b`, each save of the run's record going through `save`. */
  const announce = (save: (progress: NotifyProgress) => Promise<void>) => {
    const cfg = twoHooks();
    const network = networkDelivery({ allowLocal: true });
    const deliver: Deliver = (...args) => network(...args).finally(() => ended++);
    ended = 0;
    return announceRun({ store: new MemoryStateStore(), deliver, notifiers: cfg.notifiers, now: Date.now }, cfg.policies[0]!, facts, {
      run: "run/csip-scan:hourly:20261129T030000Z",
      progress: NotifyProgressSchema.parse({}),
      save,
    });
  };

  it("a save that fails does not keep the next from being tried: a notifier whose part's save failed, and another whose parts are all recorded", async () => {
    const saved: NotifyProgress[] = [];
    let partSaves = 0;
    const announced = await announce(async (progress) => {
      // The first save after a part was accepted fails, as a COS PUT may.
      if (Object.keys(progress.partsSent).length > 0 && ++partSaves === 1) throw new Error("COS PutObject failed with InternalError");
      saved.push(structuredClone(progress));
    });
    expect(hook.received).toHaveLength(2);
    const failed = announced.deliveries.filter((d) => !d.delivered);
    expect(failed).toEqual([expect.objectContaining({ error: expect.stringContaining("InternalError") })]);
    const told = announced.deliveries.find((d) => d.delivered)!.notifier;
    // The other notifier's part, and then its whole message, were recorded by the saves after the failed one.
    expect(saved.at(-1)!.notified).toEqual({ [told]: expect.stringMatching(/^msg_/) });
  });

  it("a save that finds the run's lock passed on stops every later save, and the announcement with it", async () => {
    let tried = 0;
    const outcome = announce(async (progress) => {
      if (Object.keys(progress.partsSent).length === 0) return;
      tried++;
      throw new LeaseLostError("the lock on run/csip-scan:hourly:20261129T030000Z passed to another invocation while this one worked; it stops here");
    });
    await expect(outcome).rejects.toBeInstanceOf(LeaseLostError);
    // Once the other notifier's delivery has ended too, no save was tried after the one that failed.
    while (ended < 2) await new Promise((resolve) => setImmediate(resolve));
    expect(tried).toBe(1);
  });
});
