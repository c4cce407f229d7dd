import { randomBytes } from "node:crypto";
import type { HttpRequest } from "./action.ts";
import type { AccountState, ScfFunction, ScfTrigger } from "./account.ts";
import type { FunctionRunner } from "./scf-runner.ts";

/**
 * SCF Function URLs: the `http` trigger CreateTrigger makes (https://cloud.tencent.com/document/product/583/100227)
 * and the requests its URL serves (583/96099, English 583/69491). The trigger's TriggerDesc is checked as
 * the document lists it and kept as ListTriggers' official example shows it, with the URLs SCF made
 * (`https://APPID-URLID.REGION.tencentscf.com`, `.in.` for the internal one). A request to such a host runs
 * the function's code with the event `{body, headers, httpMethod, path, queryString}`, and its answer
 * `{statusCode, headers, body, isBase64Encoded}` becomes the HTTP answer. What the documents leave open is
 * a row of ASSUMPTIONS.md ("Function URLs").
 */

/** A refusal as scf-rules.ts words them: the code SCF answers and a message. */
interface Violation {
  code: string;
  message: string;
}

const violation = (message: string): Violation => ({ code: "InvalidParameterValue.TriggerDesc", message });

/** The URL id SCF makes: lower-case letters and digits (the example's `hulrzrbh9f`). */
function newUrlId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(10)].map((b) => alphabet[b % alphabet.length]).join("");
}

/** A Function URL host: `APPID-URLID.REGION.tencentscf.com`, `APPID-URLID.in.REGION.tencentscf.com` inside the VPC. */
const URL_HOST = /^(\d+)-([a-z0-9]+)\.(in\.)?([a-z]+(?:-[a-z]+)+)\.tencentscf\.com$/;

export function isFunctionUrlHost(host: string): boolean {
  return URL_HOST.test(host);
}

const booleanOr = (value: unknown, fallback: boolean): boolean | undefined => (value === undefined ? fallback : typeof value === "boolean" ? value : undefined);

/**
 * The TriggerDesc SCF keeps for an `http` trigger, from the one sent (and, for UpdateTrigger, the one it
 * holds, whose URL stays): AuthType NONE or CAM, NetConfig's two switches, an optional CorsConfig; nothing
 * else.
 */
export function functionUrlDesc(sent: string, where: { appId: string; region: string; current?: string }): string | Violation {
  let desc: Record<string, unknown>;
  let current: { AuthType?: unknown; NetConfig?: Record<string, unknown>; CorsConfig?: unknown } = {};
  try {
    desc = JSON.parse(sent) as Record<string, unknown>;
    if (where.current) current = JSON.parse(where.current) as typeof current;
  } catch {
    return violation('A function URL\'s TriggerDesc must be JSON such as {"AuthType":"NONE","NetConfig":{"EnableIntranet":false,"EnableExtranet":true}} (583/100227).');
  }
  if (desc === null || typeof desc !== "object" || Array.isArray(desc)) return violation("A function URL's TriggerDesc must be a JSON object.");
  const unknown = Object.keys(desc).filter((k) => !["AuthType", "NetConfig", "CorsConfig"].includes(k));
  if (unknown.length > 0) return violation(`A function URL's TriggerDesc takes AuthType, NetConfig and CorsConfig, not ${unknown.join(", ")} (583/100227).`);
  const authType = desc.AuthType ?? current.AuthType;
  if (authType !== "NONE" && authType !== "CAM") return violation("A function URL's AuthType is NONE or CAM (583/100227).");
  const net = (desc.NetConfig ?? {}) as Record<string, unknown>;
  if (typeof net !== "object" || Array.isArray(net)) return violation("A function URL's NetConfig must be an object of EnableIntranet and EnableExtranet.");
  const extraneous = Object.keys(net).filter((k) => !["EnableIntranet", "EnableExtranet"].includes(k));
  if (extraneous.length > 0) return violation(`A function URL's NetConfig takes EnableIntranet and EnableExtranet, not ${extraneous.join(", ")}.`);
  const intranet = booleanOr(net.EnableIntranet, current.NetConfig?.EnableIntranet === true);
  const extranet = booleanOr(net.EnableExtranet, current.NetConfig?.EnableExtranet === true);
  if (intranet === undefined || extranet === undefined) return violation("A function URL's EnableIntranet and EnableExtranet are true or false.");
  if (!intranet && !extranet) return violation("A function URL needs the public or the internal address on (EnableExtranet or EnableIntranet).");
  // A URL, once made, stays the URL of its trigger (583/69491): an update keeps its id.
  const held = [current.NetConfig?.ExtranetUrl, current.NetConfig?.IntranetUrl].find((u): u is string => typeof u === "string" && u !== "");
  const id = (held ? URL_HOST.exec(new URL(held).host)?.[2] : undefined) ?? newUrlId();
  const host = `${where.appId}-${id}.${where.region}.tencentscf.com`;
  const inHost = `${where.appId}-${id}.in.${where.region}.tencentscf.com`;
  const cors = desc.CorsConfig ?? current.CorsConfig;
  // Field order and the empty WebSocket URLs as in ListTriggers' official example.
  const NetConfig = {
    EnableIntranet: intranet,
    IntranetUrl: intranet ? `https://${inHost}` : "",
    IntranetHTTPUrl: intranet ? `http://${inHost}` : "",
    ExtranetUrl: extranet ? `https://${host}` : "",
    ExtranetHTTPUrl: extranet ? `http://${host}` : "",
    WssIntranetUrl: "",
    WsIntranetUrl: "",
    WssExtranetUrl: "",
    WsExtranetUrl: "",
    EnableExtranet: extranet,
  };
  return JSON.stringify({ AuthType: authType, NetConfig, ...(cors !== undefined ? { CorsConfig: cors } : {}) });
}

/** The function and trigger a Function URL host belongs to, if any. */
export function functionUrlTarget(account: AccountState, host: string): { f: ScfFunction; trigger: ScfTrigger; internal: boolean } | undefined {
  const match = URL_HOST.exec(host);
  if (!match) return undefined;
  for (const f of account.functions) {
    for (const trigger of f.Triggers) {
      if (trigger.Type !== "http") continue;
      const net = (JSON.parse(trigger.TriggerDesc) as { NetConfig?: { ExtranetUrl?: string; IntranetUrl?: string } }).NetConfig ?? {};
      const urls = [net.ExtranetUrl, net.IntranetUrl].filter((u): u is string => Boolean(u));
      if (urls.some((u) => new URL(u).host === host)) return { f, trigger, internal: match[3] !== undefined };
    }
  }
  return undefined;
}

export interface UrlRequest extends HttpRequest {
  remoteAddress: string;
}

export interface UrlAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** How the stand-in serves Function URLs: the switches of what the documents leave open. */
export interface FunctionUrlReadings {
  /**
   * Whether SCF's default domain makes every answer a download (`Content-Disposition: attachment`), as
   * COS's default domain does for buckets made after 2024-01-01: not documented either way.
   */
  forceDownload?: boolean;
}

const plain = (status: number, text: string): UrlAnswer => ({ status, headers: { "content-type": "text/plain; charset=utf-8" }, body: Buffer.from(`${text}\n`) });

/** The event of a request, as the Function URL document shows it. */
export function functionUrlEvent(request: UrlRequest): Record<string, unknown> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(",") : value;
  headers["x-scf-remote-addr"] = request.remoteAddress;
  const queryString: Record<string, string | string[]> = {};
  for (const key of new Set(request.query.keys())) {
    const values = request.query.getAll(key);
    queryString[key] = values.length === 1 ? values[0]! : values;
  }
  return { body: request.body.toString("utf8"), headers, httpMethod: request.method, path: request.path, queryString };
}

/** The HTTP answer of what the function returned: its `statusCode`, `headers` and `body`, or JSON of anything else. */
export function answerOf(result: unknown): UrlAnswer {
  if (result !== null && typeof result === "object" && "statusCode" in result) {
    const r = result as { statusCode: unknown; headers?: Record<string, unknown>; body?: unknown; isBase64Encoded?: unknown };
    const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
    const text = typeof r.body === "string" ? r.body : r.body === undefined ? "" : JSON.stringify(r.body);
    return { status: Number(r.statusCode), headers, body: r.isBase64Encoded === true ? Buffer.from(text, "base64") : Buffer.from(text) };
  }
  return { status: 200, headers: { "content-type": "application/json" }, body: Buffer.from(JSON.stringify(result)) };
}

/** Serves one request to a Function URL: runs the function, or answers why not. */
export async function serveFunctionUrl(request: UrlRequest, account: AccountState, runner: FunctionRunner | undefined, readings: FunctionUrlReadings): Promise<UrlAnswer & { action: string }> {
  const target = functionUrlTarget(account, request.host);
  const action = `${request.method} ${request.path}`;
  if (!target) return { ...plain(404, `No function URL is ${request.host}.`), action };
  const desc = JSON.parse(target.trigger.TriggerDesc) as { AuthType?: string; NetConfig?: { EnableExtranet?: boolean } };
  if (target.trigger.Enable !== 1) return { ...plain(403, "This function URL is disabled."), action };
  if (desc.AuthType !== "NONE") return { ...plain(403, "This function URL needs CAM authentication, which the stand-in does not emulate."), action };
  if (!runner) return { ...plain(502, "The stand-in was started without running functions."), action };
  const outcome = await runner.invoke(target.f, functionUrlEvent(request));
  if (!outcome.ok) return { ...plain(502, `The function failed: ${outcome.error}`), action };
  const answer = answerOf(outcome.result);
  if (readings.forceDownload) answer.headers["content-disposition"] = "attachment";
  return { ...answer, action };
}
