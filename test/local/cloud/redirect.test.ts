import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIRECT_PRELOAD, runRedirected } from "../../../local/cloud/redirected.ts";
import { startCloudStandIn, type CloudStandIn } from "../../../local/cloud/server.ts";
import { startListener } from "../../helpers.ts";

// local/deploy/redirect.cjs: Tencent hosts go to the stand-in with their Host header, this machine is reached
// as usual, and nothing else at all.

const ROOT = resolve(".");

let standIn: CloudStandIn;
let local: Awaited<ReturnType<typeof startListener>>;
beforeAll(async () => {
  standIn = await startCloudStandIn();
  local = await startListener(() => ({ status: 200, body: JSON.stringify({ local: true }) }));
});
afterAll(async () => {
  await standIn.close();
  await local.close();
});

/** Runs `body` (async, CommonJS) under the redirect and returns what it resolves to. */
async function run<T>(body: string): Promise<T> {
  const script = `
    const https = require("node:https");
    const http = require("node:http");
    const get = (mod, url) => new Promise((resolve) => {
      mod.get(url, (res) => { let text = ""; res.on("data", (c) => (text += c)); res.on("end", () => resolve({ status: res.statusCode, text, requestId: res.headers["x-cos-request-id"] })); })
        .on("error", (e) => resolve({ error: e.code, message: e.message }));
    });
    (async () => { ${body} })().then((r) => process.stdout.write(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`;
  const child = await runRedirected(standIn.url, script, { cwd: ROOT });
  if (child.code !== 0) throw new Error(`child failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as T;
}

describe("the redirect preload", () => {
  it("sends Cloud API and COS hosts to the stand-in, keeping the Host they were meant for", async () => {
    const [api, cos] = await run<[{ status: number; text: string }, { status: number; requestId: string }]>(`
      return [await get(https, "https://tag.tencentcloudapi.com/?Action=DescribeResourceTagsByResourceIds"),
              await get(https, "https://sls-cloudfunction-ap-guangzhou-1250000000.cos.ap-guangzhou.myqcloud.com/")];`);
    // Unsigned, so refused: but refused by the right stand-ins, which only the Host header told apart.
    expect(api.status).toBe(200);
    expect(JSON.parse(api.text)).toMatchObject({ Response: { Error: { Code: "AuthFailure.SignatureFailure" } } });
    expect(cos).toMatchObject({ status: 403, requestId: expect.any(String) });
    expect(standIn.calls.map((c) => `${c.service} ${c.action}`)).toEqual(expect.arrayContaining(["tag DescribeResourceTagsByResourceIds", "cos GetBucket"]));
  });

  it("answers the plugin's tools endpoint as the real one does", async () => {
    const got = await run<{ text: string }>(`return get(http, "http://service-ocnymoks-1258344699.gz.apigw.tencentcs.com/release/getUserAuthInfo");`);
    expect(JSON.parse(got.text)).toEqual({ Error: false, Message: { Authentication: 1 } });
  });

  it("lets requests to this machine through untouched", async () => {
    const got = await run<{ status: number; text: string }>(`return get(http, ${JSON.stringify(local.url)});`);
    expect(got).toMatchObject({ status: 200, text: JSON.stringify({ local: true }) });
  });

  it("refuses every other host with an error that names it, before any name is resolved", async () => {
    const got = await run<{ error: string; message: string }[]>(`
      return [await get(https, "https://updates.example.com/serverless"), await get(http, "http://93.184.215.14/")];`);
    expect(got[0]).toMatchObject({ error: "ECONNREFUSED", message: expect.stringContaining("refused updates.example.com") });
    expect(got[1]).toMatchObject({ error: "ECONNREFUSED", message: expect.stringContaining("refused 93.184.215.14") });
  });

  it("refuses to resolve any name but localhost, for node's own fetch too", async () => {
    const got = await run<unknown[]>(`
      const dns = require("node:dns");
      const lookup = (name) => new Promise((resolve) => dns.lookup(name, (e, address) => resolve(e ? e.code : address)));
      return [await lookup("sp-notifications-and-metrics-v1.serverless-platform.com"), await dns.promises.lookup("example.com").catch((e) => e.code),
              await lookup("localhost"), await fetch("https://example.com/").then(() => "reached", (e) => e.cause && e.cause.code)];`);
    expect(got).toEqual(["ENOTFOUND", "ENOTFOUND", expect.stringMatching(/^(127\.0\.0\.1|::1)$/), "ENOTFOUND"]);
  });
});

describe("the redirect's own settings", () => {
  const preload = (env: Record<string, string>, script = "process.stdout.write(String(process.env.http_proxy))") =>
    spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH ?? "", NODE_OPTIONS: `--require "${REDIRECT_PRELOAD}"`, ...env } });

  it("unsets proxies, which would route requests past it", () => {
    const result = preload({ CSIP_SCAN_CLOUD_STANDIN: "http://127.0.0.1:9", http_proxy: "http://10.0.0.1:3128" });
    expect(result.stdout).toBe("undefined");
  });

  it.each([
    ["no stand-in", {}, "CSIP_SCAN_CLOUD_STANDIN is not set"],
    ["a stand-in that is not this machine", { CSIP_SCAN_CLOUD_STANDIN: "http://10.0.0.1:8080" }, "must be http://127.0.0.1:PORT"],
  ])("stops the process at once given %s", (_what, env, message) => {
    const result = preload(env);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
  });
});
