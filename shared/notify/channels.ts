import { createHmac } from "node:crypto";
import type { Notifier } from "../config/schema.ts";
import type { HttpAnswer } from "../net/http.ts";
import { registerMessageSecret } from "../secrets.ts";
import type { Message, Piece } from "./message.ts";
import { visibleLine } from "./outside-text.ts";

/** One HTTP request to a notifier. */
export interface ChannelRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
}

/** How an answer is read: accepted, or a failure with its code and whether to try again. */
export type Verdict = { ok: true } | { ok: false; code: string; retryable: boolean; message: string };

export interface ChatChannel {
  /** The only HTTPS hosts the channel's robots live on. */
  hosts: readonly string[];
  /** Client-side rate limits per robot. */
  limits: { perSecond?: number; perMinute?: number };
  /** Whether a rendered message is small enough for one request. */
  fits(message: Message, notifier: Notifier): boolean;
  /** The text a person sees in the chat, as the channel renders it (local mode prints it). */
  shown(message: Message): string;
  render(message: Message, notifier: Notifier, now: Date): ChannelRequest;
  judge(answer: HttpAnswer): Verdict;
}

const utf8Bytes = (text: string): number => Buffer.byteLength(text, "utf8");

/** HTTP failures every channel reads the same way: 429 and 5xx may pass, anything else will not. */
function httpVerdict(answer: HttpAnswer): Verdict | undefined {
  if (answer.status >= 300 && answer.status < 400) return { ok: false, code: `HTTP ${answer.status}`, retryable: false, message: "answered with a redirect, which is not followed" };
  if (answer.status === 429 || answer.status >= 500) return { ok: false, code: `HTTP ${answer.status}`, retryable: true, message: `answered HTTP ${answer.status}` };
  if (answer.status < 200 || answer.status >= 300) return { ok: false, code: `HTTP ${answer.status}`, retryable: false, message: `answered HTTP ${answer.status}` };
  return undefined;
}

/**
 * A robot answers HTTP 200 even when it refused the message; the refusal is a non-zero code in the
 * JSON body. `tooFast` codes mean "slow down" and are retried; every other code is final.
 */
function codeVerdict(answer: HttpAnswer, field: string, tooFast: readonly number[], alternative?: string): Verdict {
  const failed = httpVerdict(answer);
  if (failed) return failed;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(answer.body) as Record<string, unknown>;
  } catch {
    return { ok: false, code: "BadAnswer", retryable: true, message: "answered with something that is not JSON" };
  }
  const code = parsed[field] ?? (alternative ? parsed[alternative] : undefined);
  if (code === 0) return { ok: true };
  const text = String(parsed.errmsg ?? parsed.msg ?? parsed.StatusMessage ?? "");
  return { ok: false, code: `${field} ${String(code)}`, retryable: tooFast.includes(Number(code)), message: `refused the message: ${field} ${String(code)} ${text}`.trim() };
}

/** Characters that markdown (WeCom, DingTalk) would read as markup or mentions, and harmless look-alikes. */
const MARKDOWN_LOOKALIKES: Record<string, string> = {
  "*": "＊", _: "＿", "`": "‘", "[": "［", "]": "］", "(": "（", ")": "）", "#": "＃", ">": "＞", "<": "＜", "~": "～", "|": "｜", "@": "＠", "\\": "＼", "!": "！",
};

/** A value from outside as inert markdown text: no formatting, no links, no mentions, one line, nothing invisible. */
export function markdownValue(value: string): string {
  return visibleLine(value).replace(/[*_`[\]()#><~|@\\!]/g, (c) => MARKDOWN_LOOKALIKES[c] ?? c);
}

/**
 * A value for Slack mrkdwn: &, < and > escaped as Slack asks (so `<!channel>` and `<url|text>` are text,
 * https://api.slack.com/reference/surfaces/formatting#escaping), and Slack has no escape for its
 * `*bold*`, `_italic_`, `~strike~`, `` `code` `` or for `[text](url)`: those characters and @ become
 * look-alikes. One line, nothing invisible.
 */
export function slackValue(value: string): string {
  return visibleLine(value)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[*_`~[\]()@]/g, (c) => MARKDOWN_LOOKALIKES[c] ?? c);
}

/** A value for Feishu's post text tags: plain text already; line breaks are folded and invisible characters dropped. */
export function plainValue(value: string): string {
  return visibleLine(value);
}

/**
 * A link a channel may render as a link: http(s), a plain host, and a path of URL characters without
 * brackets, spaces or quotes (a report's presigned PDF link is one). Anything else is shown as text,
 * after its label (local mode's results page is a file:// URL a person copies).
 */
const SAFE_LINK = /^https?:\/\/[A-Za-z0-9.-]+(:\d+)?(\/[A-Za-z0-9._~%\/!$&*+,;=:@?-]*)?$/;

function text(pieces: readonly Piece[], escape: (value: string) => string, link?: (url: string, label: string) => string): string {
  return pieces
    .map((p) => (typeof p === "string" ? p : "value" in p ? escape(p.value) : link && SAFE_LINK.test(p.link) ? link(p.link, escape(p.label)) : `${escape(p.label)}: ${escape(p.link)}`))
    .join("");
}

/** Markdown as WeCom and DingTalk robots read it. */
function markdown(message: Message): string {
  const lines = message.lines.map((line) => {
    const body = text(line.pieces, markdownValue, (url, label) => `[${label}](${url})`);
    return line.kind === "heading" ? `**${body}**` : line.kind === "item" ? `- ${body}` : body;
  });
  return [`### ${text(message.title, markdownValue)}`, ...lines].join("\n");
}

function slackText(message: Message): string {
  const lines = message.lines.map((line) => {
    const body = text(line.pieces, slackValue, (url, label) => `<${url}|${label}>`);
    return line.kind === "heading" ? `*${body}*` : line.kind === "item" ? `• ${body}` : body;
  });
  return [`*${text(message.title, slackValue)}*`, ...lines].join("\n");
}

/** Feishu and DingTalk sign with HMAC-SHA256; they differ in key, message and encoding. */
export function dingtalkSign(secret: string, timestampMs: number): string {
  return encodeURIComponent(createHmac("sha256", secret).update(`${timestampMs}\n${secret}`).digest("base64"));
}

export function feishuSign(secret: string, timestampSeconds: number): string {
  return createHmac("sha256", `${timestampSeconds}\n${secret}`).update("").digest("base64");
}

const json = { "content-type": "application/json; charset=utf-8" };

/**
 * The chat robots, one row each. Formats and limits from the official pages:
 * WeCom https://developer.work.weixin.qq.com/document/path/91770 ;
 * DingTalk https://open.dingtalk.com/document/orgapp/custom-robots-send-group-messages ;
 * Feishu https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot ;
 * Slack https://api.slack.com/messaging/webhooks and https://api.slack.com/docs/rate-limits .
 */
export const CHAT_CHANNELS: Record<"wecom" | "dingtalk" | "feishu" | "slack", ChatChannel> = {
  wecom: {
    hosts: ["qyapi.weixin.qq.com"],
    limits: { perMinute: 20 },
    // markdown.content at most 4096 bytes of UTF-8.
    fits: (message) => utf8Bytes(markdown(message)) <= 4096,
    shown: markdown,
    render: (message, notifier) => ({
      url: new URL(notifier.url),
      headers: json,
      body: JSON.stringify({ msgtype: "markdown", markdown: { content: markdown(message) } }),
    }),
    // 45009: API frequency out of limit.
    judge: (answer) => codeVerdict(answer, "errcode", [45009]),
  },
  dingtalk: {
    hosts: ["oapi.dingtalk.com"],
    limits: { perMinute: 20 },
    // The page states no size; 20000 bytes is an assumption kept here.
    fits: (message) => utf8Bytes(markdown(message)) <= 20000,
    shown: markdown,
    render: (message, notifier, now) => {
      const url = new URL(notifier.url);
      if (notifier.secret) {
        const timestamp = now.getTime();
        const sign = dingtalkSign(notifier.secret, timestamp);
        // A robot may echo its URL in an error: the sign is kept out of logs in both its forms.
        registerMessageSecret(sign);
        registerMessageSecret(decodeURIComponent(sign));
        url.searchParams.set("timestamp", String(timestamp));
        // The sign is already URL-encoded; append it as it is.
        url.search = `${url.search}&sign=${sign}`;
      }
      return {
        url,
        headers: json,
        body: JSON.stringify({ msgtype: "markdown", markdown: { title: text(message.title, plainValue), text: markdown(message) } }),
      };
    },
    // 130101: sending too fast; 310000: bad sign, keyword or IP; 300001: bad token.
    judge: (answer) => codeVerdict(answer, "errcode", [130101]),
  },
  feishu: {
    hosts: ["open.feishu.cn", "open.larksuite.com"],
    limits: { perSecond: 5, perMinute: 100 },
    // The request body at most 20 KB.
    fits: (message, notifier) => utf8Bytes(feishuBody(message, notifier, feishuSigned(notifier, 0))) <= 20 * 1024 - 200,
    shown: (message) => [text(message.title, plainValue), ...feishuLines(message)].join("\n"),
    render: (message, notifier, now) => {
      const signed = feishuSigned(notifier, Math.floor(now.getTime() / 1000));
      registerMessageSecret(signed?.sign);
      return { url: new URL(notifier.url), headers: json, body: feishuBody(message, notifier, signed) };
    },
    // 9499 and 11232: too many requests (assumed from the error list); 19021: bad sign or old timestamp.
    judge: (answer) => codeVerdict(answer, "code", [9499, 11232], "StatusCode"),
  },
  slack: {
    hosts: ["hooks.slack.com"],
    limits: { perSecond: 1 },
    // A section block's text holds at most 3000 characters.
    fits: (message) => slackText(message).length <= 3000,
    shown: slackText,
    render: (message, notifier) => {
      const body = slackText(message);
      return {
        url: new URL(notifier.url),
        headers: json,
        body: JSON.stringify({ text: body, blocks: [{ type: "section", text: { type: "mrkdwn", text: body } }] }),
      };
    },
    // Success is HTTP 200 with the body "ok"; errors are HTTP 4xx with a reason in the body.
    judge: (answer) => httpVerdict(answer) ?? (answer.body.trim() === "ok" ? { ok: true } : { ok: false, code: "NotOk", retryable: false, message: "did not answer ok" }),
  },
};

/** Feishu's signature fields, when the notifier has a secret. */
function feishuSigned(notifier: Notifier, timestamp: number): { timestamp: string; sign: string } | undefined {
  return notifier.secret ? { timestamp: String(timestamp), sign: feishuSign(notifier.secret, timestamp) } : undefined;
}

function feishuLines(message: Message): string[] {
  return message.lines.map((line) => `${line.kind === "item" ? "• " : ""}${text(line.pieces, plainValue)}`);
}

function feishuBody(message: Message, notifier: Notifier, signed: { timestamp: string; sign: string } | undefined): string {
  const locale = notifier.language === "zh" ? "zh_cn" : "en_us";
  const content = feishuLines(message).map((line) => [{ tag: "text", text: line }]);
  return JSON.stringify({ ...signed, msg_type: "post", content: { post: { [locale]: { title: text(message.title, plainValue), content } } } });
}

/** The generic webhook's reading of an answer: any 2xx. */
export function webhookVerdict(answer: HttpAnswer): Verdict {
  return httpVerdict(answer) ?? { ok: true };
}
