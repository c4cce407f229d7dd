import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { EmulatorAccount } from "../emulator/accounts.ts";
import { expectedSignature, parseAuthorization, sameSignature } from "../emulator/signature.ts";
import type { AccountState } from "./account.ts";
import { isAnswer, type Action, type Answer } from "./action.ts";
import { CAM_ACTIONS } from "./cam.ts";
import { EB_ACTIONS } from "./eb.ts";
import { checkParams, knownAction, SERVICES, unflatten, V1_COMMON_PARAMS, type Dialect } from "./params.ts";
import { recordedCall, type RecordedCall } from "./record.ts";
import { FUNCTION_ACTIONS } from "./scf-functions.ts";
import { SCF_REGIONS } from "./scf-rules.ts";
import { TRIGGER_ACTIONS } from "./scf-triggers.ts";
import { expectedV1Signature, knownSignatureMethod } from "./signature-v1.ts";
import { TAG_ACTIONS } from "./tag.ts";

/**
 * The Cloud API side of the stand-ins (`SERVICE.tencentcloudapi.com`): one entry for both dialects the deploy
 * speaks. SDK 3.0.270 (the plugin) posts form-encoded parameters signed with signature v1; SDK 4.x (the
 * project) posts JSON signed with TC3-HMAC-SHA256 and X-TC-* headers. Both reach the same actions and the
 * same account. Checks run in the real service's order: signature and token, then version, action and
 * region, then parameters (https://cloud.tencent.com/document/api/213/30435 for the common error codes).
 */

export interface ApiRequest {
  method: string;
  /** The Host header without a port: what the client signed. */
  host: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ApiSettings {
  account: AccountState;
  keys: readonly EmulatorAccount[];
  settleMs: number;
  now: number;
}

/** Every action each service serves. A listed action with no row here answers UnsupportedOperation. */
const ACTIONS: Readonly<Record<string, Readonly<Record<string, Action>>>> = {
  scf: { ...FUNCTION_ACTIONS, ...TRIGGER_ACTIONS },
  cam: CAM_ACTIONS,
  tag: TAG_ACTIONS,
  eb: EB_ACTIONS,
};

/** Services whose actions live in a region, which the request must name. */
const REGIONAL: Readonly<Record<string, ReadonlySet<string>>> = { scf: SCF_REGIONS, eb: SCF_REGIONS };

const SIGNATURE_WINDOW_SECONDS = 300;

interface Parsed {
  dialect: Dialect;
  action: string;
  version: string;
  region: string;
  secretId: string;
  token: string;
  /** The action's own parameters as sent (form: unflattened strings). */
  sent: Record<string, unknown>;
  /** Undefined when the signature is good. */
  signatureProblem: Answer | undefined;
}

const header = (headers: IncomingHttpHeaders, name: string): string => {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? "") : (value ?? "");
};

const failure = (code: string, message: string): Answer => ({ error: { code, message } });

function keyOf(keys: readonly EmulatorAccount[], secretId: string): EmulatorAccount | Answer {
  return keys.find((k) => k.secretId === secretId) ?? failure("AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that your SecretId is correct.");
}

function expired(timestamp: string, now: number): Answer | undefined {
  return /^\d+$/.test(timestamp) && Math.abs(now / 1000 - Number(timestamp)) <= SIGNATURE_WINDOW_SECONDS
    ? undefined
    : failure("AuthFailure.SignatureExpire", "The signature expired: its timestamp is more than 300 s from server time.");
}

/** TC3-HMAC-SHA256 (https://cloud.tencent.com/document/api/213/30654): the emulator's verifier. */
function parseTc3(request: ApiRequest, settings: ApiSettings): Parsed | Answer {
  let sent: Record<string, unknown>;
  try {
    const body: unknown = JSON.parse(request.body.toString("utf8") || "{}");
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new Error("not an object");
    sent = body as Record<string, unknown>;
  } catch {
    return failure("InvalidParameter", "The request body is not a JSON object.");
  }
  const h = (name: string): string => header(request.headers, name);
  const auth = parseAuthorization(h("authorization"));
  const parsed: Parsed = { dialect: "json", action: h("x-tc-action"), version: h("x-tc-version"), region: h("x-tc-region"), secretId: auth?.secretId ?? "", token: h("x-tc-token"), sent, signatureProblem: undefined };
  if (!auth) return { ...parsed, signatureProblem: failure("AuthFailure.InvalidAuthorization", "The Authorization header is malformed.") };
  const key = keyOf(settings.keys, auth.secretId);
  const timestamp = h("x-tc-timestamp");
  const late = expired(timestamp, settings.now);
  if (isAnswer(key) || late) return { ...parsed, signatureProblem: isAnswer(key) ? key : late };
  const date = new Date(Number(timestamp) * 1000).toISOString().slice(0, 10);
  const expected = expectedSignature({ method: request.method, path: request.path, query: request.query, headers: request.headers, body: request.body }, auth, key.secretKey, timestamp);
  const good = auth.date === date && auth.service === request.host.split(".")[0] && sameSignature(expected, auth.signature);
  return good ? parsed : { ...parsed, signatureProblem: failure("AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check your signature is correct.") };
}

/** Signature v1 (https://cloud.tencent.com/document/api/213/15693), form-encoded in the body or the query. */
function parseV1(request: ApiRequest, settings: ApiSettings): Parsed {
  const source = request.method === "GET" ? request.query : request.body.toString("utf8");
  const flat = Object.fromEntries(new URLSearchParams(source)) as Record<string, string>;
  const own = Object.fromEntries(Object.entries(flat).filter(([k]) => !V1_COMMON_PARAMS.includes(k)));
  const parsed: Parsed = {
    dialect: "form",
    action: flat.Action ?? "",
    version: flat.Version ?? "",
    region: flat.Region ?? "",
    secretId: flat.SecretId ?? "",
    token: flat.Token ?? "",
    sent: unflatten(own),
    signatureProblem: undefined,
  };
  if (!flat.Signature || !flat.SecretId) return { ...parsed, signatureProblem: failure("AuthFailure.SignatureFailure", "The request has no Signature or SecretId.") };
  if (!knownSignatureMethod(flat.SignatureMethod)) return { ...parsed, signatureProblem: failure("AuthFailure.SignatureFailure", `SignatureMethod \`${flat.SignatureMethod}\` is not HmacSHA1 or HmacSHA256.`) };
  const key = keyOf(settings.keys, flat.SecretId);
  const late = expired(flat.Timestamp ?? "", settings.now);
  if (isAnswer(key) || late) return { ...parsed, signatureProblem: isAnswer(key) ? key : late };
  const expected = expectedV1Signature(request.method, request.host, request.path, flat, key.secretKey);
  return sameSignature(expected, flat.Signature)
    ? parsed
    : { ...parsed, signatureProblem: failure("AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check your signature is correct.") };
}

/** The first reason to refuse the request before its parameters are looked at. */
function refusal(service: string, parsed: Parsed, settings: ApiSettings): Answer | undefined {
  if (parsed.signatureProblem) return parsed.signatureProblem;
  const key = settings.keys.find((k) => k.secretId === parsed.secretId);
  if (parsed.token !== (key?.token ?? "")) return failure("AuthFailure.TokenFailure", "The session token is missing or wrong.");
  const spec = Object.hasOwn(SERVICES, service) ? SERVICES[service] : undefined;
  if (!spec || !Object.hasOwn(ACTIONS, service)) return failure("UnsupportedOperation", `The csip-scan stand-in does not serve ${service}.tencentcloudapi.com.`);
  if (!parsed.action) return failure("MissingParameter", "The request is missing a required parameter `Action`.");
  if (parsed.version !== spec.version) return failure("NoSuchVersion", `The API version \`${parsed.version}\` of ${service} does not exist; it is ${spec.version}.`);
  if (!knownAction(service, parsed.action)) return failure("InvalidAction", `The action \`${parsed.action}\` of ${service} is not found.`);
  const regions = Object.hasOwn(REGIONAL, service) ? REGIONAL[service] : undefined;
  if (regions && !parsed.region) return failure("MissingParameter", "The request is missing a required parameter `Region`.");
  if (regions && !regions.has(parsed.region)) return failure("UnsupportedRegion", `${service} does not serve region \`${parsed.region}\`.`);
  return undefined;
}

/** Answers one Cloud API request: the HTTP body (always status 200, as the real API) and what to record. */
export function handleCloudApi(request: ApiRequest, settings: ApiSettings): { body: string; call: RecordedCall } {
  const service = request.host.split(".")[0] ?? "";
  const tc3 = header(request.headers, "authorization").startsWith("TC3-HMAC-SHA256");
  const parsed = tc3 ? parseTc3(request, settings) : parseV1(request, settings);
  const answer = isAnswer(parsed) ? parsed : run(service, parsed, settings);
  const action = isAnswer(parsed) ? header(request.headers, "x-tc-action") : parsed.action;
  const sent = isAnswer(parsed) ? {} : parsed.sent;
  const response = "error" in answer ? { Error: { Code: answer.error.code, Message: answer.error.message } } : answer.response;
  return {
    body: JSON.stringify({ Response: { ...response, RequestId: randomUUID() } }),
    call: recordedCall(service, action, sent, "error" in answer ? answer.error.code : undefined),
  };
}

function run(service: string, parsed: Parsed, settings: ApiSettings): Answer {
  const refused = refusal(service, parsed, settings);
  if (refused) return refused;
  const checked = checkParams(service, parsed.action, parsed.sent, parsed.dialect);
  if ("problem" in checked) return failure(checked.problem.code, checked.problem.message);
  const table = ACTIONS[service] ?? {};
  const action = Object.hasOwn(table, parsed.action) ? table[parsed.action] : undefined;
  if (!action) return failure("UnsupportedOperation", `${service}.${parsed.action} is not emulated by the csip-scan stand-in.`);
  try {
    return action(checked.params, { account: settings.account, region: parsed.region, now: settings.now, settleMs: settings.settleMs });
  } catch (error) {
    return failure("InternalError", `The csip-scan stand-in failed on ${service}.${parsed.action}: ${String(error)}`);
  }
}
