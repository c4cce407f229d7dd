import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Notifier } from "../../../shared/config/schema.ts";
import { networkDelivery, type DeliveryOptions } from "../../../shared/notify/deliver.ts";
import { CHAT_CHANNELS, markdownValue, plainValue, slackValue } from "../../../shared/notify/channels.ts";
import { pieceText, splitMessage, type Message } from "../../../shared/notify/message.ts";
import { HOW_TO_AUTHORIZE, type RunReport } from "../../../shared/notify/report.ts";
import { webhookUrlProblem } from "../../../shared/net/address-policy.ts";
import { WindowLimiter } from "../../../shared/notify/window-limiter.ts";
import { startListener, type Captured } from "../../helpers.ts";

// Each channel against a real HTTP listener on 127.0.0.1. Signatures are checked against values
// computed by another implementation (Python's hmac), at a fixed time.

const FIXED = new Date(1764385200000); // 2025-11-29T03:00:00Z
const DING_SECRET = "SEC000test-dingtalk-secret";
const DING_SIGN = "Ozxhm1KGe747PS9Y7hI6AsRHUVtIk9Ia%2BDhnSsCMoGo%3D";
const FEISHU_SECRET = "feishu-test-secret";
const FEISHU_SIGN = "z0rUu46ij5KdliT03G+diKBT6Qva9/d5rfcyKoXsG+M=";

function report(unauthorized = 2, name = (i: number) => `web-${i}`): RunReport {
  return {
    schema: "csip-scan.run/v1",
    reasons: ["unauthorized"],
    policy: "nightly-prod",
    trigger: "timer",
    scheduledTime: "2026-11-29T03:00:00.000Z",
    status: "ok",
    unauthorizedAssets: Array.from({ length: unauthorized }, (_, i) => ({ id: `ins-${String(i).padStart(8, "0")}`, name: name(i), kind: "cvm", region: "ap-guangzhou" })),
    tasks: [{ taskId: "rmis-0001", taskName: "csip-scan:nightly-prod:20261129T030000Z:1", assets: 3 }],
    warnings: [],
    errors: [],
    howToAuthorize: HOW_TO_AUTHORIZE,
  };
}

type Answer = (req: Captured, n: number) => { status: number; body?: string; headers?: Record<string, string> };
let answer: Answer = () => ({ status: 200, body: '{"errcode":0,"errmsg":"ok"}' });
let listener: Awaited<ReturnType<typeof startListener>>;
beforeAll(async () => {
  listener = await startListener((req) => answer(req, listener.received.length));
});
afterAll(() => listener.close());
afterEach(() => {
  listener.received.length = 0;
  answer = () => ({ status: 200, body: '{"errcode":0,"errmsg":"ok"}' });
});

/** Delivery to the listener with a fixed clock, a private rate limiter, and waits recorded instead of slept. */
function delivery(extra: Partial<DeliveryOptions> = {}) {
  let clock = FIXED.getTime();
  const waits: number[] = [];
  const deliver = networkDelivery({
    allowLocal: true,
    now: () => new Date(clock),
    limiter: new WindowLimiter(() => clock),
    sleep: async (ms) => {
      waits.push(ms);
      clock += ms;
    },
    ...extra,
  });
  return { deliver, waits };
}

const notifier = (type: Notifier["type"], path: string, extra: Partial<Notifier> = {}): Notifier => ({
  type,
  url: `${listener.url.replace("/hook", "")}${path}`,
  language: "en",
  ...extra,
});

describe("channel formats", () => {
  it("wecom: a markdown message, names made inert", async () => {
    const { deliver } = delivery();
    const result = await deliver("ops", notifier("wecom", "/cgi-bin/webhook/send?key=wecom-robot-key-1"), report(2, (i) => (i ? "<@all> **bold** [x](http://evil)" : "web-0")));
    expect(result).toEqual({ notifier: "ops", delivered: true, parts: 1 });
    const [req] = listener.received;
    expect(req!.url).toBe("/cgi-bin/webhook/send?key=wecom-robot-key-1");
    expect(req!.headers["content-type"]).toBe("application/json; charset=utf-8");
    const body = JSON.parse(req!.body) as { msgtype: string; markdown: { content: string } };
    expect(body.msgtype).toBe("markdown");
    expect(body.markdown.content).toMatchSnapshot();
    expect(body.markdown.content).not.toMatch(/<@|\*\*bold|\]\(http/);
  });

  it("dingtalk: markdown with title and text, signed in the URL", async () => {
    const { deliver } = delivery();
    await deliver("ding", notifier("dingtalk", "/robot/send?access_token=ding-token-1", { secret: DING_SECRET, language: "zh" }), report(1));
    const [req] = listener.received;
    expect(req!.url).toBe(`/robot/send?access_token=ding-token-1&timestamp=1764385200000&sign=${DING_SIGN}`);
    const body = JSON.parse(req!.body) as { msgtype: string; markdown: { title: string; text: string } };
    expect(body.msgtype).toBe("markdown");
    expect(body.markdown.title).toBe("csip-scan：策略 nightly-prod");
    expect(body.markdown.text).toMatchSnapshot();
  });

  it("feishu: a post, signed in the body with the timestamp in seconds", async () => {
    answer = () => ({ status: 200, body: '{"code":0,"msg":"success","data":{}}' });
    const { deliver } = delivery();
    await deliver("lark", notifier("feishu", "/open-apis/bot/v2/hook/feishu-hook-id", { secret: FEISHU_SECRET }), report(1));
    const body = JSON.parse(listener.received[0]!.body) as Record<string, unknown>;
    expect(body).toMatchObject({ timestamp: "1764385200", sign: FEISHU_SIGN, msg_type: "post" });
    expect(body.content).toMatchSnapshot();
  });

  it("slack: text and blocks, & < > escaped so nothing pings", async () => {
    answer = () => ({ status: 200, body: "ok" });
    const { deliver } = delivery();
    const result = await deliver("slack", notifier("slack", "/services/T000/B000/slack-secret-path"), report(1, () => "<!channel> & @here"));
    expect(result.delivered).toBe(true);
    const body = JSON.parse(listener.received[0]!.body) as { text: string; blocks: { type: string; text: { type: string; text: string } }[] };
    expect(body.blocks).toEqual([{ type: "section", text: { type: "mrkdwn", text: body.text } }]);
    expect(body.text).toContain("&lt;!channel&gt; &amp; ＠here");
    expect(body.text).toMatchSnapshot();
  });
});

describe("answers", () => {
  it.each([
    ["wecom", "/cgi-bin/webhook/send?key=k-000001", '{"errcode":93000,"errmsg":"invalid webhook url"}', "errcode 93000"],
    ["dingtalk", "/robot/send?access_token=t-000001", '{"errcode":310000,"errmsg":"sign not match"}', "errcode 310000"],
    ["feishu", "/open-apis/bot/v2/hook/h-000001", '{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}', "code 19021"],
  ] as const)("%s: a 200 with a refusal code is a failure, not retried, named, without the URL", async (type, path, body, code) => {
    answer = () => ({ status: 200, body });
    const { deliver } = delivery();
    const result = await deliver("team-robot", notifier(type, path), report());
    expect(result.delivered).toBe(false);
    expect(result.error).toContain('notifier "team-robot"');
    expect(result.error).toContain(code);
    expect(result.error).not.toMatch(/127\.0\.0\.1|k-000001|t-000001|h-000001/);
    expect(listener.received).toHaveLength(1);
  });

  it.each([
    ["wecom", "/cgi-bin/webhook/send?key=k", '{"errcode":45009,"errmsg":"api freq out of limit"}', '{"errcode":0}'],
    ["dingtalk", "/robot/send?access_token=t", '{"errcode":130101,"errmsg":"send too fast"}', '{"errcode":0}'],
  ] as const)("%s: a too-fast code is retried", async (type, path, first, then) => {
    answer = (_, n) => ({ status: 200, body: n === 1 ? first : then });
    const { deliver, waits } = delivery();
    expect((await deliver("r", notifier(type, path), report())).delivered).toBe(true);
    expect(listener.received).toHaveLength(2);
    expect(waits).toHaveLength(1);
  });

  it("429 with Retry-After: waits as long as asked, then delivers", async () => {
    answer = (_, n) => (n === 1 ? { status: 429, body: "rate_limited", headers: { "retry-after": "7" } } : { status: 200, body: "ok" });
    const { deliver, waits } = delivery();
    expect((await deliver("slack", notifier("slack", "/services/T/B/x"), report())).delivered).toBe(true);
    expect(waits).toEqual([7000]);
  });

  it.each([404, 410])("HTTP %s is final", async (status) => {
    answer = () => ({ status, body: "no_service" });
    const { deliver } = delivery();
    const result = await deliver("slack", notifier("slack", "/services/T/B/x"), report());
    expect(result).toMatchObject({ delivered: false, error: `notifier "slack": answered HTTP ${status}` });
    expect(listener.received).toHaveLength(1);
  });

  it("5xx is retried, and gives up after the attempts", async () => {
    answer = () => ({ status: 503 });
    const { deliver, waits } = delivery({ attempts: 3 });
    const result = await deliver("hook", notifier("webhook", "/hook"), report());
    expect(result.error).toBe('notifier "hook": answered HTTP 503 (gave up after 3 attempts)');
    expect(listener.received).toHaveLength(3);
    expect(waits).toHaveLength(2);
  });

  it("a redirect is not followed", async () => {
    answer = () => ({ status: 302, headers: { location: "http://10.0.0.1/latest/meta-data" } });
    const { deliver } = delivery();
    const result = await deliver("hook", notifier("webhook", "/hook"), report());
    expect(result).toMatchObject({ delivered: false, error: 'notifier "hook": answered with a redirect, which is not followed' });
    expect(listener.received).toHaveLength(1);
  });
});

describe("size and rate", () => {
  it("a 5000-byte WeCom message is split on UTF-8 boundaries into parts of at most 4096 bytes", async () => {
    const { deliver } = delivery();
    const long = report(60, (i) => `华南生产环境网站服务器-${i}-备用`);
    const result = await deliver("ops", notifier("wecom", "/cgi-bin/webhook/send?key=k"), long);
    const contents = listener.received.map((r) => (JSON.parse(r.body) as { markdown: { content: string } }).markdown.content);
    expect(Buffer.byteLength(contents.join(""))).toBeGreaterThan(5000);
    expect(result).toEqual({ notifier: "ops", delivered: true, parts: contents.length });
    for (const content of contents) {
      expect(Buffer.byteLength(content)).toBeLessThanOrEqual(4096);
      expect(content).not.toContain("\uFFFD");
    }
    expect(contents.map((c) => c.split("\n")[0])).toEqual(contents.map((_, i) => `### csip-scan: policy nightly-prod (${i + 1}/${contents.length})`));
    for (const asset of long.unauthorizedAssets) expect(contents.some((c) => c.includes(asset.id))).toBe(true);
  });

  it("a line longer than a message is cut at character boundaries, nothing lost", () => {
    const line = { kind: "text" as const, pieces: [{ value: "错".repeat(3000) }] };
    const fits = (m: Message): boolean => CHAT_CHANNELS.wecom.fits(m, notifier("wecom", "/send?key=k"));
    const parts = splitMessage({ title: ["t"], lines: [line] }, fits);
    expect(parts.length).toBeGreaterThan(2);
    for (const part of parts) expect(fits(part)).toBe(true);
    expect(parts.flatMap((p) => p.lines.flatMap((l) => l.pieces.map(pieceText))).join("")).toBe("错".repeat(3000));
  });

  it("an error CSIP gave is one line of at most 300 characters in the message: 3000 characters make one part", async () => {
    const { deliver } = delivery();
    const huge = { ...report(0), errors: [{ code: "X", message: "错".repeat(3000) }], status: "failed" as const };
    await deliver("ops", notifier("wecom", "/cgi-bin/webhook/send?key=k"), huge);
    const contents = listener.received.map((r) => (JSON.parse(r.body) as { markdown: { content: string } }).markdown.content);
    expect(contents).toHaveLength(1);
    expect(contents[0]).toContain(`${"错".repeat(299)}…`);
    expect(contents[0]).not.toContain("错".repeat(300));
  });

  it("25 findings become one message", async () => {
    const { deliver } = delivery();
    await deliver("ops", notifier("wecom", "/cgi-bin/webhook/send?key=k"), report(25));
    expect(listener.received).toHaveLength(1);
  });

  it("25 messages to one robot within a minute: 20 go at once, the rest wait for the window", async () => {
    const { deliver, waits } = delivery();
    const robot = notifier("wecom", "/cgi-bin/webhook/send?key=k");
    for (let i = 0; i < 25; i++) expect((await deliver("ops", robot, report(1))).delivered).toBe(true);
    expect(listener.received).toHaveLength(25);
    // The 21st waits until the first 20 leave the one-minute window; the next four then fit.
    expect(waits).toEqual([60_000]);
  });
});

describe("addresses a webhook may not reach", () => {
  // Every range, in every form, is in test/shared/net/address-policy.test.ts; here the delivery refuses them.
  const resolve = async (host: string) =>
    host === "internal.example.test" ? [{ address: "8.8.8.8", family: 4 }, { address: "10.1.2.3", family: 4 }] : [{ address: "8.8.8.8", family: 4 }];
  const NOT_PUBLIC = "must point to a public address (internal ones only with CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1)";

  it.each([
    ["https://127.0.0.1/hook", "it points to an internal address", NOT_PUBLIC],
    ["https://[::1]/hook", "it points to an internal address", NOT_PUBLIC],
    ["https://169.254.0.23/latest/meta-data", "it points to an internal address", NOT_PUBLIC],
    ["https://0x7f000001/hook", "it points to an internal address", NOT_PUBLIC],
    ["https://10.0.0.1/hook", "it points to an internal address", NOT_PUBLIC],
    ["https://[::ffff:10.0.0.1]/hook", "it points to an internal address", NOT_PUBLIC],
    ["https://[::127.0.0.1]/hook", "it points to an internal address", NOT_PUBLIC],
    ["https://[64:ff9b::a9fe:a9fe]/latest/meta-data", "it points to an internal address", NOT_PUBLIC],
    ["https://[2002:a00:1::]/hook", "it points to an internal address", NOT_PUBLIC],
    ["https://100.64.0.1/hook", "it points to an internal address", NOT_PUBLIC],
    ["https://172.16.0.1/hook", "it points to an internal address", NOT_PUBLIC],
    ["https://192.168.1.1/hook", "it points to an internal address", NOT_PUBLIC],
    ["https://[fd00::1]/hook", "it points to an internal address", NOT_PUBLIC],
    ["https://[fe80::1]/hook", "it points to an internal address", NOT_PUBLIC],
    ["https://internal.example.test/hook", "its host name resolves to an internal address", undefined],
    ["https://metadata.tencentyun.com/latest", "host metadata.tencentyun.com is internal", NOT_PUBLIC],
    ["https://localhost/hook", "host localhost is internal", NOT_PUBLIC],
  ])("%s", async (url, reason, configProblem) => {
    const deliver = networkDelivery({ allowLocal: false, resolve });
    const result = await deliver("hook", { type: "webhook", url, language: "en" }, report());
    expect(result).toEqual({ notifier: "hook", delivered: false, error: `notifier "hook": not sent: ${reason}` });
    // The config check refuses the literal ones before any run; a name is checked when it is resolved.
    expect(webhookUrlProblem(url, false)).toBe(configProblem);
  });

  it("a robot type accepts only its official host", async () => {
    const deliver = networkDelivery({ allowLocal: false, resolve });
    const result = await deliver("ops", { type: "wecom", url: "https://hooks.example.com/cgi-bin/webhook/send?key=k", language: "en" }, report());
    expect(result.error).toBe('notifier "ops": a wecom robot URL must be https:// on qyapi.weixin.qq.com');
  });
});

describe("no robot key, token or signature in any output", () => {
  // A robot that echoes what it was sent: the whole request URL, and the credential parts alone.
  it.each([
    ["wecom", "key", "/cgi-bin/webhook/send?key=wecom-echo-key-693a", {}, ["wecom-echo-key-693a"], "errcode 93000"],
    ["wecom", "percent-encoded key", "/cgi-bin/webhook/send?key=wecom%2Becho%2Fkey%3D2", {}, ["wecom%2Becho%2Fkey%3D2", "wecom+echo/key=2"], "errcode 93000"],
    ["dingtalk", "access_token and sign", "/robot/send?access_token=ding-echo-token-51c2", { secret: DING_SECRET }, ["ding-echo-token-51c2", DING_SIGN, decodeURIComponent(DING_SIGN)], "errcode 93000"],
    ["feishu", "hook token and sign", "/open-apis/bot/v2/hook/feishu-echo-hook-8d1f", { secret: FEISHU_SECRET }, ["feishu-echo-hook-8d1f", FEISHU_SIGN], "code 93000"],
  ] as const)("%s: an answer that echoes the URL and the %s leaves none of them in the error", async (type, _, path, extra, secrets, code) => {
    answer = (req) => {
      const url = new URL(req.url, listener.url);
      const sign = url.searchParams.get("sign") ?? (JSON.parse(req.body) as { sign?: string }).sign ?? "";
      const echo = `invalid webhook url ${url.href} (key ${url.searchParams.get("key") ?? ""}, token ${url.searchParams.get("access_token") ?? ""}, hook ${url.pathname.split("/").pop() ?? ""}, sign ${sign}, raw sign ${url.search.split("sign=")[1] ?? ""}, query ${url.search.slice(1)})`;
      return { status: 200, body: JSON.stringify(type === "feishu" ? { code: 93000, msg: echo } : { errcode: 93000, errmsg: echo }) };
    };
    const { deliver } = delivery();
    const result = await deliver("team-robot", notifier(type, path, extra), report());
    expect(listener.received).toHaveLength(1);
    expect(result.delivered).toBe(false);
    expect(result.error).toMatch(new RegExp(`^notifier "team-robot": refused the message: ${code} invalid webhook url `));
    for (const secret of secrets) expect(result.error).not.toContain(secret);
    expect(result.error).not.toContain("127.0.0.1");
  });
});

/** Every string in a parsed JSON value. */
function stringsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (value && typeof value === "object") return Object.values(value).flatMap(stringsIn);
  return [];
}

describe("invisible and right-to-left characters from outside never reach a message", () => {
  const INVISIBLE = ["\u200B", "\u200C", "\u200D", "\u200E", "\u200F", "\u202A", "\u202B", "\u202C", "\u202D", "\u202E", "\u2066", "\u2067", "\u2068", "\u2069", "\uFEFF", "\u0000", "\u0007", "\u001B", "\u007F", "\u0085", "\u009B", "\u2028", "\u2029"];
  const name = `web${INVISIBLE.join("")}-gz\u202Ecod.exe`;
  const hidden = new RegExp(`[${INVISIBLE.join("")}]`);

  it.each([
    ["markdownValue", markdownValue, "web -gzcod.exe"],
    ["slackValue", slackValue, "web -gzcod.exe"],
    ["plainValue", plainValue, "web -gzcod.exe"],
  ] as const)("%s drops them (line separators become a space)", (_, escape, expected) => {
    expect(escape(name)).toBe(expected);
  });

  it.each([
    ["wecom", "/cgi-bin/webhook/send?key=k-invisible", '{"errcode":0}', (body: string) => (JSON.parse(body) as { markdown: { content: string } }).markdown.content],
    ["dingtalk", "/robot/send?access_token=t-invisible", '{"errcode":0}', (body: string) => Object.values((JSON.parse(body) as { markdown: Record<string, string> }).markdown).join("\n")],
    ["feishu", "/open-apis/bot/v2/hook/h-invisible", '{"code":0}', (body: string) => stringsIn(JSON.parse(body)).join("\n")],
    ["slack", "/services/T/B/s-invisible", "ok", (body: string) => (JSON.parse(body) as { text: string }).text],
  ] as const)("%s: the message has none of them", async (type, path, ok, messageOf) => {
    answer = () => ({ status: 200, body: ok });
    const { deliver } = delivery();
    const withInvisible = { ...report(1, () => name), policy: `night\u202Ely-prod\u200B`, warnings: [`asset \u2066"x"\u2069 warned\u0007`] };
    expect((await deliver("r", notifier(type, path), withInvisible)).delivered).toBe(true);
    const message = messageOf(listener.received[0]!.body);
    expect(message).not.toMatch(hidden);
    expect(message).toContain("gzcod.exe");
    expect(message).toContain("nightly-prod");
  });
});
