import { createHash, createHmac } from "node:crypto";
import { request } from "node:http";
import { resolve } from "node:path";
import COS from "cos-nodejs-sdk-v5";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REHEARSAL_ACCOUNT } from "../../../local/cloud/credentials.ts";
import { runRedirected } from "../../../local/cloud/redirected.ts";
import { startCloudStandIn, type CloudStandIn } from "../../../local/cloud/server.ts";

// The stand-ins check every signature the deploy sends: v1 HmacSHA256 (the plugin's SDK 3.0.270), TC3 (the
// project's SDK 4.1.313) and COS q-sign (cos-nodejs-sdk-v5). The real clients run in a child process through
// the redirect; what no client would send is signed here, independently, and posted with the real Host.

const ROOT = resolve(".");
const REGION = "ap-guangzhou";

/** Each official client makes one call; the child prints `{name: "ok" | error code}`. */
const CLIENTS_SCRIPT = `
const key = JSON.parse(process.env.TEST_KEY);
const region = "${REGION}";
const sdk4 = (path) => require("tencentcloud-sdk-nodejs/tencentcloud/services/" + path).Client;
const v3 = require("./node_modules/serverless-tencent-scf/node_modules/tencentcloud-sdk-nodejs");
const COS = require("cos-nodejs-sdk-v5");
const outcome = (promise) => promise.then(() => "ok", (e) => e.code || (e.error && e.error.Code) || e.message);
const v3Call = (action, params) => new Promise((resolve, reject) => {
  const profile = new v3.common.ClientProfile("HmacSHA256", new v3.common.HttpProfile());
  const client = new v3.scf.v20180416.Client(new v3.common.Credential(key.secretId, key.secretKey), region, profile);
  const req = new v3.scf.v20180416.Models[action + "Request"]();
  req.from_json_string(JSON.stringify(params));
  client[action](req, (error, answer) => (error ? reject(error) : resolve(answer)));
});
const cos = new COS({ SecretId: key.secretId, SecretKey: key.secretKey });
(async () => {
  const result = {
    "SDK 3.0.270 scf (v1 HmacSHA256)": await outcome(v3Call("ListFunctions", { Namespace: "default" })),
    "SDK 4.1.313 scf (TC3)": await outcome(new (sdk4("scf/v20180416/scf_client.js"))({ credential: key, region }).ListFunctions({})),
    "SDK 4.1.313 eb (TC3)": await outcome(new (sdk4("eb/v20210416/eb_client.js"))({ credential: key, region }).ListEventBuses({})),
    "cos-nodejs-sdk-v5 (q-sign sha1)": await outcome(new Promise((resolve, reject) => cos.getService({ Region: region }, (e, d) => (e ? reject(e) : resolve(d))))),
  };
  process.stdout.write(JSON.stringify(result));
})();
`;

const CLIENTS = ["SDK 3.0.270 scf (v1 HmacSHA256)", "SDK 4.1.313 scf (TC3)", "SDK 4.1.313 eb (TC3)", "cos-nodejs-sdk-v5 (q-sign sha1)"];

let standIn: CloudStandIn;
const outcomes: Record<"good" | "wrong", Record<string, string>> = { good: {}, wrong: {} };

async function clientsWith(secretKey: string): Promise<Record<string, string>> {
  const key = { secretId: REHEARSAL_ACCOUNT.secretId, secretKey };
  const child = await runRedirected(standIn.url, CLIENTS_SCRIPT, { cwd: ROOT, env: { ...process.env, TEST_KEY: JSON.stringify(key) } });
  if (child.code !== 0) throw new Error(`clients failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as Record<string, string>;
}

beforeAll(async () => {
  standIn = await startCloudStandIn();
  [outcomes.good, outcomes.wrong] = await Promise.all([clientsWith(REHEARSAL_ACCOUNT.secretKey), clientsWith("not-the-rehearsal-secret-key-000")]);
}, 30_000);
afterAll(() => standIn.close());

/** Posts to the stand-in as the redirect would: to 127.0.0.1, with the real host in the Host header. */
function post(host: string, headers: Record<string, string>, body: string, method = "POST", path = "/"): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = request({ host: "127.0.0.1", port: standIn.port, method, path, headers: { ...headers, host } }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      res.on("end", () => done({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", fail);
    req.end(body);
  });
}

const errorCode = (text: string): string | undefined => (JSON.parse(text) as { Response: { Error?: { Code: string } } }).Response.Error?.Code;

/** Signature v1 as https://cloud.tencent.com/document/api/213/15693 describes it: sorted raw pairs, base64 HMAC. */
function v1Body(params: Record<string, string>, host: string, secretKey: string): Record<string, string> {
  const text = `POST${host}/?${Object.keys(params).sort().map((k) => `${k}=${params[k]}`).join("&")}`;
  return { ...params, Signature: createHmac("sha256", secretKey).update(text).digest("base64") };
}

function v1Params(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    Action: "ListFunctions",
    Version: "2018-04-16",
    Region: REGION,
    Namespace: "default",
    Nonce: "4242",
    Timestamp: String(Math.floor(Date.now() / 1000)),
    SecretId: REHEARSAL_ACCOUNT.secretId,
    SignatureMethod: "HmacSHA256",
    ...overrides,
  };
}

const form = (params: Record<string, string>): string => new URLSearchParams(params).toString();
const FORM = { "content-type": "application/x-www-form-urlencoded" };

/** TC3-HMAC-SHA256 (https://cloud.tencent.com/document/api/213/30654) for `signedHost`. */
function tc3Headers(action: string, body: string, signedHost: string): Record<string, string> {
  const timestamp = Math.floor(Date.now() / 1000);
  const date = new Date(timestamp * 1000).toISOString().slice(0, 10);
  const service = signedHost.split(".")[0]!;
  const sha = (s: string): string => createHash("sha256").update(s).digest("hex");
  const canonical = ["POST", "/", "", `content-type:application/json\nhost:${signedHost}\n`, "content-type;host", sha(body)].join("\n");
  const scope = `${date}/${service}/tc3_request`;
  const toSign = ["TC3-HMAC-SHA256", String(timestamp), scope, sha(canonical)].join("\n");
  const hmac = (key: string | Buffer, data: string): Buffer => createHmac("sha256", key).update(data).digest();
  const signing = hmac(hmac(hmac(`TC3${REHEARSAL_ACCOUNT.secretKey}`, date), service), "tc3_request");
  return {
    "content-type": "application/json",
    authorization: `TC3-HMAC-SHA256 Credential=${REHEARSAL_ACCOUNT.secretId}/${scope}, SignedHeaders=content-type;host, Signature=${createHmac("sha256", signing).update(toSign).digest("hex")}`,
    "x-tc-action": action,
    "x-tc-timestamp": String(timestamp),
    "x-tc-version": "2021-04-16",
    "x-tc-region": REGION,
  };
}

describe("the official clients, through the redirect", () => {
  it.each(CLIENTS)("%s is accepted with the rehearsal key", (client) => {
    expect(outcomes.good[client]).toBe("ok");
  });

  it.each([
    ["SDK 3.0.270 scf (v1 HmacSHA256)", "AuthFailure.SignatureFailure"],
    ["SDK 4.1.313 scf (TC3)", "AuthFailure.SignatureFailure"],
    ["SDK 4.1.313 eb (TC3)", "AuthFailure.SignatureFailure"],
    ["cos-nodejs-sdk-v5 (q-sign sha1)", "SignatureDoesNotMatch"],
  ])("%s is refused with a wrong secret key: %s", (client, code) => {
    expect(outcomes.wrong[client]).toBe(code);
  });
});

describe("signature v1", () => {
  const host = "scf.tencentcloudapi.com";

  it("accepts what it signed", async () => {
    const { text } = await post(host, FORM, form(v1Body(v1Params(), host, REHEARSAL_ACCOUNT.secretKey)));
    expect(errorCode(text)).toBeUndefined();
  });

  it.each([
    ["a parameter changed after signing", () => ({ ...v1Body(v1Params(), host, REHEARSAL_ACCOUNT.secretKey), Namespace: "other" }), "AuthFailure.SignatureFailure"],
    ["signed for another host", () => v1Body(v1Params(), "tag.tencentcloudapi.com", REHEARSAL_ACCOUNT.secretKey), "AuthFailure.SignatureFailure"],
    ["ten minutes old", () => v1Body(v1Params({ Timestamp: String(Math.floor(Date.now() / 1000) - 600) }), host, REHEARSAL_ACCOUNT.secretKey), "AuthFailure.SignatureExpire"],
    ["an unknown SecretId", () => v1Body(v1Params({ SecretId: "AKIDnobodyknowsthisone0000000000" }), host, REHEARSAL_ACCOUNT.secretKey), "AuthFailure.SecretIdNotFound"],
    ["no signature", () => v1Params(), "AuthFailure.SignatureFailure"],
  ])("refuses a request %s", async (_what, body, code) => {
    const { status, text } = await post(host, FORM, form(body()));
    expect(status).toBe(200);
    expect(errorCode(text)).toBe(code);
  });
});

describe("TC3-HMAC-SHA256", () => {
  const body = JSON.stringify({});

  it("accepts what it signed", async () => {
    const { text } = await post("eb.tencentcloudapi.com", tc3Headers("ListEventBuses", body, "eb.tencentcloudapi.com"), body);
    expect(errorCode(text)).toBeUndefined();
  });

  it("refuses a request signed for another service's host", async () => {
    const { text } = await post("eb.tencentcloudapi.com", tc3Headers("ListEventBuses", body, "scf.tencentcloudapi.com"), body);
    expect(errorCode(text)).toBe("AuthFailure.SignatureFailure");
  });

  it("refuses a body changed after signing", async () => {
    const { text } = await post("eb.tencentcloudapi.com", tc3Headers("ListEventBuses", body, "eb.tencentcloudapi.com"), JSON.stringify({ Limit: 1 }));
    expect(errorCode(text)).toBe("AuthFailure.SignatureFailure");
  });
});

describe("COS q-sign", () => {
  const signed = (host: string, method: "GET" | "PUT"): string =>
    COS.getAuthorization({ SecretId: REHEARSAL_ACCOUNT.secretId, SecretKey: REHEARSAL_ACCOUNT.secretKey, Method: method, Key: "", Headers: { host } });

  it("accepts a request signed for its host", async () => {
    const host = `cos.${REGION}.myqcloud.com`;
    const { status, text } = await post(host, { authorization: signed(host, "GET") }, "", "GET");
    expect(status).toBe(200);
    expect(text).toContain("<ListAllMyBucketsResult>");
  });

  it("refuses a request signed for another bucket's host", async () => {
    const { status, text } = await post(`mine-${REHEARSAL_ACCOUNT.appId}.cos.${REGION}.myqcloud.com`, { authorization: signed(`other-${REHEARSAL_ACCOUNT.appId}.cos.${REGION}.myqcloud.com`, "PUT") }, "", "PUT");
    expect(status).toBe(403);
    expect(text).toContain("<Code>SignatureDoesNotMatch</Code>");
  });

  it("answers every request with x-cos-request-id, so the SDK does not retry elsewhere", async () => {
    const res = await new Promise<import("node:http").IncomingMessage>((done) =>
      request({ host: "127.0.0.1", port: standIn.port, path: "/", headers: { host: `cos.${REGION}.myqcloud.com` } }, done).end(),
    );
    res.resume();
    expect(res.statusCode).toBe(403);
    expect(res.headers["x-cos-request-id"]).toMatch(/\S/);
  });
});
