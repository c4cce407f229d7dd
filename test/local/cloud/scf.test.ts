import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshAccount, type AccountState } from "../../../local/cloud/account.ts";
import { nodeOptionsFor } from "../../../shared/config/heap-limits.ts";
import { REHEARSAL_ACCOUNT } from "../../../local/cloud/credentials.ts";
import { runRedirected } from "../../../local/cloud/redirected.ts";
import { startCloudStandIn, type CloudStandIn } from "../../../local/cloud/server.ts";

// The SCF stand-in through the official clients: SDK 4.1.313's scf client (TC3, JSON), as the project's own
// plugin calls it, and the serverless plugin's SDK 3.0.270 (v1, form-encoded), against one account.

const ROOT = resolve(".");
const CODE_SIZE = 1234;

/** In the child: `scf` (SDK 4), `v3(action, params)` (SDK 3), `settle(promise)` → {ok} | {error, message}. */
const PRELUDE = `
const credential = ${JSON.stringify({ secretId: REHEARSAL_ACCOUNT.secretId, secretKey: REHEARSAL_ACCOUNT.secretKey })};
const region = "ap-guangzhou";
const scf = new (require("tencentcloud-sdk-nodejs/tencentcloud/services/scf/v20180416/scf_client.js").Client)({ credential, region });
// Loaded only when used: the whole SDK 3 takes most of a second.
const v3 = (action, params) => new Promise((resolve, reject) => {
  const sdk3 = require("./node_modules/serverless-tencent-scf/node_modules/tencentcloud-sdk-nodejs");
  const profile = new sdk3.common.ClientProfile("HmacSHA256", new sdk3.common.HttpProfile());
  const client = new sdk3.scf.v20180416.Client(new sdk3.common.Credential(credential.secretId, credential.secretKey), region, profile);
  const req = new sdk3.scf.v20180416.Models[action + "Request"]();
  req.from_json_string(JSON.stringify(params));
  client[action](req, (error, answer) => (error ? reject(error) : resolve(answer)));
});
const settle = (promise) => promise.then((ok) => ({ ok }), (e) => ({ error: e.code, message: e.message }));
const fn = (name, extra) => ({ FunctionName: name, Runtime: "Nodejs18.15", Handler: "index.main_handler", Code: { CosBucketName: "code", CosObjectName: "/fn.zip" }, ...extra });
const timer = (FunctionName, TriggerName, extra) => ({ FunctionName, TriggerName, Type: "timer", TriggerDesc: "0 0 3 * * * *", ...extra });
`;

type Settled = { ok: Record<string, unknown> } | { error: string; message: string };

/** An account that holds the code object `code-APPID/fn.zip`, as the plugin's upload leaves it. */
function accountWithCode(): AccountState {
  const account = freshAccount(REHEARSAL_ACCOUNT);
  account.buckets.push({ Name: `code-${REHEARSAL_ACCOUNT.appId}`, Region: "ap-guangzhou", CreationDate: "2026-01-01T00:00:00Z" });
  account.objects.push({ Bucket: `code-${REHEARSAL_ACCOUNT.appId}`, Key: "fn.zip", Size: CODE_SIZE, ETag: '"0"', ContentType: "application/zip", LastModified: "2026-01-01T00:00:00Z" });
  return account;
}

async function inChild<T>(standIn: CloudStandIn, body: string): Promise<T> {
  const script = `${PRELUDE}\n(async () => { ${body} })().then((r) => process.stdout.write(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`;
  const child = await runRedirected(standIn.url, script, { cwd: ROOT });
  if (child.code !== 0) throw new Error(`child failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as T;
}

let standIn: CloudStandIn;
const run = <T>(body: string): Promise<T> => inChild<T>(standIn, body);

beforeAll(async () => {
  standIn = await startCloudStandIn({ account: accountWithCode(), settleMs: 0 });
});
afterAll(() => standIn.close());

const errorOf = (settled: Settled): string | undefined => ("error" in settled ? settled.error : undefined);

describe("functions", () => {
  it("are one account for both dialects: what the plugin creates over v1, SDK 4 reads over TC3", async () => {
    const got = await run<Settled>(`
      await v3("CreateFunction", fn("both-dialects", { Timeout: 900, MemorySize: 256, Role: "csip-scan-scf", Description: "d",
        Environment: { Variables: [{ Key: "CSIP_SCAN_CONFIG", Value: "/var/user/config/scan-policies.yaml" }] } }));
      return settle(scf.GetFunction({ FunctionName: "both-dialects" }));`);
    expect(got).toEqual({
      ok: expect.objectContaining({
        FunctionName: "both-dialects",
        Runtime: "Nodejs18.15",
        Handler: "index.main_handler",
        Timeout: 900,
        MemorySize: 256,
        Role: "csip-scan-scf",
        Status: "Active",
        CodeSize: CODE_SIZE,
        Environment: { Variables: [{ Key: "CSIP_SCAN_CONFIG", Value: "/var/user/config/scan-policies.yaml" }] },
        Triggers: [],
      }),
    });
  });

  it.each([
    ["a runtime SCF does not offer", `fn("bad-runtime", { Runtime: "Nodejs99.1" })`, "InvalidParameterValue.Runtime"],
    ["a code object that was never uploaded", `fn("no-code", { Code: { CosBucketName: "code", CosObjectName: "/missing.zip" } })`, "ResourceNotFound.Cos"],
    ["a name starting with a digit", `fn("1-function")`, "InvalidParameter.FunctionName"],
    ["a parameter the API does not have", `fn("typo", { Timeuot: 3 })`, "UnknownParameter"],
    ["MemorySize off the 128 MB steps", `fn("odd-memory", { MemorySize: 200 })`, "InvalidParameterValue.MemorySize"],
  ])("CreateFunction refuses %s", async (_what, params, code) => {
    expect(errorOf(await run<Settled>(`return settle(scf.CreateFunction(${params}));`))).toBe(code);
  });

  it("keep their runtime: UpdateFunctionConfiguration may repeat it, not change it", async () => {
    const [same, other] = await run<Settled[]>(`
      await scf.CreateFunction(fn("fixed-runtime"));
      return [await settle(scf.UpdateFunctionConfiguration({ FunctionName: "fixed-runtime", Runtime: "Nodejs18.15", Timeout: 60 })),
              await settle(scf.UpdateFunctionConfiguration({ FunctionName: "fixed-runtime", Runtime: "Python3.9" }))];`);
    expect(same).toHaveProperty("ok");
    expect(other).toMatchObject({ error: "InvalidParameterValue.Runtime", message: expect.stringContaining("cannot be changed") });
  });

  it("hold at most 4 KB of environment variables, names and values counted in bytes", async () => {
    const results = await run<Settled[]>(`
      const vars = (bytes) => ({ Variables: [{ Key: "K", Value: "v".repeat(bytes - 1 - 2) + "é" }] });
      return [await settle(scf.CreateFunction(fn("env-4096", { Environment: vars(4096) }))),
              await settle(scf.CreateFunction(fn("env-4097", { Environment: vars(4097) }))),
              await settle(scf.UpdateFunctionConfiguration({ FunctionName: "env-4096", Environment: vars(4097) })),
              await settle(scf.CreateFunction(fn("env-empty", { Environment: { Variables: [{ Key: "EMPTY", Value: "" }] } })))];`);
    expect(results[0]).toHaveProperty("ok");
    for (const refused of [results[1], results[2]]) {
      expect(refused).toMatchObject({ error: "InvalidParameterValue.EnvironmentExceededLimit", message: expect.stringContaining("4096 bytes") });
    }
    expect(results[3]).toMatchObject({ error: "InvalidParameterValue.Environment" });
  });

  it("take a NODE_OPTIONS Node starts with, as the deploy sets it, and refuse one that would stop every invocation", async () => {
    const results = await run<Settled[]>(`
      const env = (value) => ({ Variables: [{ Key: "NODE_OPTIONS", Value: value }, { Key: "CSIP_SCAN_MEMORY_MB", Value: "128" }] });
      return [await settle(scf.CreateFunction(fn("node-flags", { Environment: env(${JSON.stringify(nodeOptionsFor(128))}) }))),
              await settle(scf.CreateFunction(fn("node-typo", { Environment: env("--max-old-space-sise=96") }))),
              await settle(scf.UpdateFunctionConfiguration({ FunctionName: "node-flags", Environment: env("--no-such-flag") }))];`);
    expect(results[0]).toHaveProperty("ok");
    expect(standIn.account.functions.find((f) => f.FunctionName === "node-flags")?.Environment).toEqual([
      { Key: "NODE_OPTIONS", Value: nodeOptionsFor(128) },
      { Key: "CSIP_SCAN_MEMORY_MB", Value: "128" },
    ]);
    expect(results[1]).toMatchObject({ error: "InvalidParameterValue.Environment", message: expect.stringContaining("--max-old-space-sise=96") });
    expect(results[2]).toMatchObject({ error: "InvalidParameterValue.Environment", message: expect.stringContaining("stops Node from starting") });
  });

  it("are listed by their tags, as the plugin lists its service's functions", async () => {
    const listed = await run<{ TotalCount: number; Functions: { FunctionName: string }[] }[]>(`
      await scf.CreateFunction(fn("tagged", { Tags: [{ Key: "Application", Value: "csip-scan-listing" }] }));
      const list = (value) => v3("ListFunctions", { Namespace: "default", Filters: [{ Name: "tag-Application", Values: [value] }] });
      return [await list("csip-scan-listing"), await list("someone-else")];`);
    expect(listed[0]).toMatchObject({ TotalCount: 1, Functions: [{ FunctionName: "tagged" }] });
    expect(listed[1]).toMatchObject({ TotalCount: 0, Functions: [] });
  });

  it("take no trigger while they are still Creating", async () => {
    const slow = await startCloudStandIn({ account: accountWithCode(), settleMs: 60_000 });
    try {
      const [status, trigger] = await inChild<[string, Settled]>(slow, `
        await scf.CreateFunction(fn("just-created"));
        return [(await scf.GetFunction({ FunctionName: "just-created" })).Status, await settle(scf.CreateTrigger(timer("just-created", "too-early")))];`);
      expect(status).toBe("Creating");
      expect(errorOf(trigger)).toBe("FailedOperation.CreateTrigger");
    } finally {
      await slow.close();
    }
  });
});

describe("timer triggers", () => {
  it("keep the cron, name and CustomArgument, and GetFunction lists them in the reference's Trigger shape", async () => {
    const got = await run<{ TriggerInfo: unknown; Triggers: unknown[] }>(`
      await scf.CreateFunction(fn("timers"));
      const { TriggerInfo } = await scf.CreateTrigger(timer("timers", "nightly-prod", { CustomArgument: '{"policy":"nightly-prod"}', Description: "nightly" }));
      await scf.CreateTrigger(timer("timers", "five-fields", { TriggerDesc: "*/5 * * * *", Enable: "CLOSE" }));
      return { TriggerInfo, Triggers: (await scf.GetFunction({ FunctionName: "timers" })).Triggers };`);
    const shape = {
      Type: "timer",
      AddTime: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
      ModTime: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
      AvailableStatus: "Available",
      Qualifier: "$LATEST",
    };
    const nightly = { ...shape, TriggerName: "nightly-prod", TriggerDesc: '{"cron":"0 0 3 * * * *"}', Enable: 1, CustomArgument: '{"policy":"nightly-prod"}', Description: "nightly" };
    expect(got.TriggerInfo).toMatchObject(nightly);
    // Five fields become seven, as in the official CreateTrigger example.
    expect(got.Triggers).toEqual([
      expect.objectContaining(nightly),
      expect.objectContaining({ ...shape, TriggerName: "five-fields", TriggerDesc: '{"cron":"0 */5 * * * * *"}', Enable: 0, CustomArgument: "" }),
    ]);
  });

  it("are paged by ListTriggers", async () => {
    const pages = await run<{ TotalCount: number; Triggers: { TriggerName: string }[] }[]>(`
      await scf.CreateFunction(fn("paged"));
      for (const n of [1, 2, 3, 4, 5]) await scf.CreateTrigger(timer("paged", "t" + n));
      const page = (Offset) => scf.ListTriggers({ FunctionName: "paged", Offset, Limit: 2, OrderBy: "add_time", Order: "ASC" });
      return [await page(0), await page(2), await page(4)];`);
    expect(pages.map((p) => p.TotalCount)).toEqual([5, 5, 5]);
    expect(pages.map((p) => p.Triggers.map((t) => t.TriggerName))).toEqual([["t1", "t2"], ["t3", "t4"], ["t5"]]);
  });

  it("are at most 10 of one type on a function: the 11th is LimitExceeded.Trigger, naming the limit", async () => {
    const [created, eleventh, otherType] = await run<[number, Settled, Settled]>(`
      await scf.CreateFunction(fn("ten-timers"));
      let created = 0;
      for (let n = 1; n <= 10; n++) if ("ok" in await settle(scf.CreateTrigger(timer("ten-timers", "timer-" + n)))) created++;
      return [created, await settle(scf.CreateTrigger(timer("ten-timers", "timer-11"))),
              await settle(scf.CreateTrigger({ FunctionName: "ten-timers", TriggerName: "ckafka-0a1b2c3d-events", Type: "ckafka", TriggerDesc: '{"maxMsgNum":"100","offset":"latest","retry":"10000","timeOut":"60"}' }))];`);
    expect(created).toBe(10);
    expect(eleventh).toMatchObject({ error: "LimitExceeded.Trigger", message: expect.stringContaining("at most 10 triggers of one type") });
    expect(otherType).toHaveProperty("ok");
  });

  const NAMES: [string, string | undefined][] = [
    ["nightly-prod", undefined],
    ["weekly_data2", undefined],
    ["a".repeat(60), undefined],
    ["a".repeat(61), "InvalidParameterValue.TriggerName"],
    ["1st-of-month", "InvalidParameterValue.TriggerName"],
    ["-leading-dash", "InvalidParameterValue.TriggerName"],
    ["has.dot", "InvalidParameterValue.TriggerName"],
    ["has space", "InvalidParameterValue.TriggerName"],
  ];
  let nameOutcomes: Record<string, string | undefined> = {};
  beforeAll(async () => {
    nameOutcomes = await run(`
      await scf.CreateFunction(fn("names"));
      const out = {};
      for (const name of ${JSON.stringify(NAMES.map(([name]) => name))}) {
        const r = await settle(scf.CreateTrigger(timer("names", name)));
        out[name] = r.error ?? null;
      }
      return out;`);
  });
  it.each(NAMES)("name %j: %s", (name, code) => {
    expect(nameOutcomes[name] ?? undefined).toBe(code);
  });

  it("change with UpdateTrigger and go with DeleteTrigger", async () => {
    const [updated, after, again] = await run<[unknown, { TriggerName: string; TriggerDesc: string }[], Settled]>(`
      await scf.CreateFunction(fn("changing"));
      await scf.CreateTrigger(timer("changing", "moving"));
      await scf.UpdateTrigger({ FunctionName: "changing", TriggerName: "moving", Type: "timer", TriggerDesc: "0 30 4 * * * *", CustomArgument: "x" });
      const updated = (await scf.GetFunction({ FunctionName: "changing" })).Triggers[0];
      await v3("DeleteTrigger", { FunctionName: "changing", TriggerName: "moving", Type: "timer", Namespace: "default" });
      return [updated, (await scf.GetFunction({ FunctionName: "changing" })).Triggers,
              await settle(scf.DeleteTrigger({ FunctionName: "changing", TriggerName: "moving", Type: "timer" }))];`);
    expect(updated).toMatchObject({ TriggerDesc: '{"cron":"0 30 4 * * * *"}', CustomArgument: "x" });
    expect(after).toEqual([]);
    expect(errorOf(again)).toBe("ResourceNotFound.Trigger");
  });

  it("are known by qualifier too: one name on $LATEST and on $DEFAULT is two triggers, each deleted by its own", async () => {
    const [twice, listed, wrong, deleted, left] = await run<[Settled, string[], Settled, Settled, string[]]>(`
      await scf.CreateFunction(fn("qualified"));
      await scf.CreateTrigger(timer("qualified", "nightly"));
      const twice = await settle(scf.CreateTrigger(timer("qualified", "nightly", { Qualifier: "$DEFAULT" })));
      const listed = (await scf.ListTriggers({ FunctionName: "qualified" })).Triggers.map((t) => t.Qualifier).sort();
      await scf.DeleteTrigger({ FunctionName: "qualified", TriggerName: "nightly", Type: "timer" });
      const wrong = await settle(scf.DeleteTrigger({ FunctionName: "qualified", TriggerName: "nightly", Type: "timer" }));
      const deleted = await settle(scf.DeleteTrigger({ FunctionName: "qualified", TriggerName: "nightly", Type: "timer", Qualifier: "$DEFAULT" }));
      return [twice, listed, wrong, deleted, (await scf.ListTriggers({ FunctionName: "qualified" })).Triggers.map((t) => t.TriggerName)];`);
    expect(twice).toHaveProperty("ok");
    expect(listed).toEqual(["$DEFAULT", "$LATEST"]);
    expect(wrong).toMatchObject({ error: "ResourceNotFound.Trigger", message: expect.stringContaining("on qualifier $LATEST") });
    expect(deleted).toHaveProperty("ok");
    expect(left).toEqual([]);
  });

  it("CreateTrigger takes only the types its document lists: cmq and apigw are refused, though DeleteTrigger still removes one", async () => {
    const refused = await run<Settled[]>(`
      await scf.CreateFunction(fn("queued"));
      return [await settle(scf.CreateTrigger({ FunctionName: "queued", TriggerName: "csip-asset-change", Type: "cmq" })),
              await settle(scf.CreateTrigger({ FunctionName: "queued", TriggerName: "api", Type: "apigw" }))];`);
    expect(refused.map(errorOf)).toEqual(["InvalidParameterValue.Type", "InvalidParameterValue.Type"]);
    expect(refused[0]).toMatchObject({ message: expect.stringContaining("not one of timer, ckafka, cos, cls, http") });
    // A CMQ trigger made before CMQ moved to TDMQ.
    const queued = standIn.account.functions.find((f) => f.FunctionName === "queued")!;
    queued.Triggers.push({ Type: "cmq", TriggerName: "csip-asset-change", TriggerDesc: '{"topicName":"csip-asset-change"}', Enable: 1, Qualifier: "$LATEST", CustomArgument: "", Description: "", AddTime: "2024-01-01 00:00:00", ModTime: "2024-01-01 00:00:00" });
    const deleted = await run<Settled>(`return settle(scf.DeleteTrigger({ FunctionName: "queued", TriggerName: "csip-asset-change", Type: "cmq" }));`);
    expect(deleted).toHaveProperty("ok");
    expect(queued.Triggers).toEqual([]);
  });

  it.each([
    ["10,000 messages a batch, SCF's most", { maxMsgNum: "10000", offset: "latest", retry: "10000", timeOut: "60" }, undefined],
    ["10,001 messages a batch", { maxMsgNum: "10001", offset: "latest", retry: "10000", timeOut: "60" }, "InvalidParameterValue.TriggerDesc"],
    ["no retry and timeOut (both required by the trigger description)", { maxMsgNum: "100", offset: "latest" }, "InvalidParameterValue.TriggerDesc"],
    ["a wait of 61 seconds", { maxMsgNum: "100", offset: "latest", retry: "10000", timeOut: "61" }, "InvalidParameterValue.TriggerDesc"],
  ])("CKafka: %s", async (_what, desc, code) => {
    const got = await run<Settled>(`
      await settle(scf.CreateFunction(fn("kafka")));
      const made = await settle(scf.CreateTrigger({ FunctionName: "kafka", TriggerName: "ckafka-0a1b2c3d-events", Type: "ckafka", TriggerDesc: ${JSON.stringify(JSON.stringify(desc))} }));
      if ("ok" in made) await scf.DeleteTrigger({ FunctionName: "kafka", TriggerName: "ckafka-0a1b2c3d-events", Type: "ckafka" });
      return made;`);
    expect(errorOf(got)).toBe(code);
  });

  it("are refused for a type SCF does not have", async () => {
    const got = await run<Settled>(`await scf.CreateFunction(fn("typed")); return settle(scf.CreateTrigger({ FunctionName: "typed", TriggerName: "x", Type: "cron" }));`);
    expect(errorOf(got)).toBe("InvalidParameterValue.Type");
  });
});
