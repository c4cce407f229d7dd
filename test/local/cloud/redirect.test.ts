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

  it("makes the plugin's tools host unreachable, and records the request", async () => {
    const got = await run<{ error: string }>(`return get(http, "http://service-ocnymoks-1258344699.gz.apigw.tencentcs.com/release/getUserAuthInfo");`);
    expect(got.error).toBe("ECONNRESET");
    expect(standIn.calls).toContainEqual({ service: "tools", action: "GetUserAuthInfo", params: { host: "service-ocnymoks-1258344699.gz.apigw.tencentcs.com" }, error: "Unreachable" });
  });

  it("lets requests to this machine through untouched", async () => {
    const got = await run<{ status: number; text: string }>(`return get(http, ${JSON.stringify(local.url)});`);
    expect(got).toMatchObject({ status: 200, text: JSON.stringify({ local: true }) });
  });

  it("refuses every other host with an error that names it, before any name is resolved", async () => {
    const got = await run<{ error: string; message: string }[]>(`
      return [await get(https, "https://updates.example.com/serverless"), await get(http, "http://192.0.2.1/")];`);
    expect(got[0]).toMatchObject({ error: "ECONNREFUSED", message: expect.stringContaining("refused updates.example.com") });
    expect(got[1]).toMatchObject({ error: "ECONNREFUSED", message: expect.stringContaining("refused 192.0.2.1") });
  });

  it("refuses to resolve any name but localhost", async () => {
    const got = await run<unknown[]>(`
      const dns = require("node:dns");
      const lookup = (name) => new Promise((resolve) => dns.lookup(name, (e, address) => resolve(e ? e.code : address)));
      return [await lookup("sp-notifications-and-metrics-v1.serverless-platform.com"), await dns.promises.lookup("example.com").catch((e) => e.code),
              await lookup("localhost")];`);
    expect(got).toEqual(["ENOTFOUND", "ENOTFOUND", expect.stringMatching(/^(127\.0\.0\.1|::1)$/)]);
  });
});

/**
 * Runs `body` under the redirect, recording every socket, name query and process the child creates
 * (async_hooks sees each handle as it is made): a refusal must come before any of them. Resolves with what
 * `body` returned and the handles made. `refusal(f)` and `refused(error)` give "refused KIND TARGET" from
 * the guard's error, so each test shows which guard refused.
 */
async function sealed<T>(body: string): Promise<{ got: T; made: string[] }> {
  return run<{ got: T; made: string[] }>(`
    const made = [];
    const WATCHED = /^(TCPWRAP|TCPCONNECTWRAP|TLSWRAP|UDPWRAP|QUERYWRAP|GETADDRINFOREQWRAP|GETNAMEINFOREQWRAP|HTTP2SESSION|PROCESSWRAP)$/;
    require("node:async_hooks").createHook({ init(_id, type) { if (WATCHED.test(type)) made.push(type); } }).enable();
    const refused = (e) => (e && /refused \\S+ \\S+(?=: nothing)/.exec(String(e.message))?.[0]) || String(e && (e.code || e));
    const refusal = (f) => { try { f(); return "not refused"; } catch (e) { return refused(e); } };
    const got = await (async () => { ${body} })();
    return { got, made };`);
}

// Every path is tried against 192.0.2.1 (TEST-NET-1, reserved for documentation) or example.com, and each
// test also shows that no socket, query or process was made: the guard refuses before anything connects.
// The child processes tried are harmless local commands.
describe("the seal: every other path off the machine", () => {
  it("fetch reaches this machine, and refuses any other host before a socket exists", async () => {
    const { got, made } = await sealed<unknown[]>(`
      const local = await fetch(${JSON.stringify(local.url)}).then((r) => r.status);
      const before = made.length;
      const refusedFetches = await Promise.all(["https://192.0.2.1/", "http://example.com:8080/"].map((u) => fetch(u).then(() => "reached", (e) => refused(e.cause))));
      return [local, refusedFetches, made.length - before];`);
    expect(got).toEqual([200, ["refused fetch 192.0.2.1", "refused fetch example.com:8080"], 0]);
    expect(made.length).toBeGreaterThan(0);
  });

  it("net and tls connects to any host but this machine are refused, synchronously", async () => {
    const { got, made } = await sealed<string[]>(`
      const net = require("node:net");
      const tls = require("node:tls");
      return [refusal(() => net.connect(443, "192.0.2.1")), refusal(() => net.createConnection({ host: "example.com", port: 80 })),
              refusal(() => new net.Socket().connect({ host: "192.0.2.1", port: 80 })), refusal(() => tls.connect({ host: "192.0.2.1", port: 443 })),
              refusal(() => tls.connect(443, "example.com"))];`);
    expect(got).toEqual(["refused connect 192.0.2.1:443", "refused connect example.com:80", "refused connect 192.0.2.1:80", "refused tls 192.0.2.1:443", "refused tls example.com:443"]);
    expect(made).toEqual([]);
  });

  it("net connects to this machine still work", async () => {
    const { got } = await sealed<string>(`
      const net = require("node:net");
      return new Promise((resolve) => { const s = net.connect(${JSON.stringify(new URL(local.url).port)}, "127.0.0.1", () => { s.destroy(); resolve("connected"); }); s.on("error", (e) => resolve(e.code)); });`);
    expect(got).toBe("connected");
  });

  it("http2 sessions to any host but this machine are refused", async () => {
    const { got, made } = await sealed<string[]>(`
      const http2 = require("node:http2");
      return [refusal(() => http2.connect("https://192.0.2.1")), refusal(() => http2.connect(new URL("https://example.com:8443")))];`);
    expect(got).toEqual(["refused http2 192.0.2.1", "refused http2 example.com:8443"]);
    expect(made).toEqual([]);
  });

  it("dns queries (resolve*, reverse, lookupService) are refused on the module, its promises and every Resolver", async () => {
    // The servers point at a closed port of this machine first, so even an unguarded query would not leave it.
    const { got, made } = await sealed<string[]>(`
      const dns = require("node:dns");
      dns.setServers(["127.0.0.1:9"]);
      const resolver = new dns.Resolver();
      resolver.setServers(["127.0.0.1:9"]);
      const promisesResolver = new dns.promises.Resolver();
      promisesResolver.setServers(["127.0.0.1:9"]);
      const viaCallback = (f) => new Promise((resolve) => f((e) => resolve(e ? refused(e) : "answered")));
      return [await viaCallback((cb) => dns.resolve4("example.com", cb)), await viaCallback((cb) => dns.resolve("example.com", "MX", cb)),
              await viaCallback((cb) => dns.reverse("192.0.2.1", cb)), await viaCallback((cb) => dns.lookupService("192.0.2.1", 80, cb)),
              await viaCallback((cb) => resolver.resolveTxt("example.com", cb)), await dns.promises.resolve6("example.com").catch(refused),
              await promisesResolver.resolveAny("example.com").catch(refused)];`);
    expect(got).toEqual([
      "refused resolve4 example.com", "refused resolve example.com", "refused reverse 192.0.2.1", "refused lookupService 192.0.2.1",
      "refused resolveTxt example.com", "refused resolve6 example.com", "refused resolveAny example.com",
    ]);
    expect(made).toEqual([]);
  });

  it("child processes other than the serverless CLI are refused, in every form", async () => {
    const { got, made } = await sealed<string[]>(`
      const cp = require("node:child_process");
      return [refusal(() => cp.spawn("true")), refusal(() => cp.spawnSync("sh", ["-c", "true"])), refusal(() => cp.exec("true")),
              refusal(() => cp.execSync("true")), refusal(() => cp.execFile("true")), refusal(() => cp.execFileSync(process.execPath, ["-e", "1"])),
              refusal(() => cp.fork("/nonexistent/module.js"))];`);
    expect(got).toEqual(["refused process true", "refused process sh", "refused process true", "refused process true", "refused process true", `refused process ${process.execPath}`, `refused process ${process.execPath}`]);
    expect(made).toEqual([]);
  });

  it("the serverless CLI itself may start (here a path that does not exist: node starts, and fails to find it)", async () => {
    const { got } = await sealed<{ status: number; stderr: string }>(`
      const r = require("node:child_process").spawnSync(process.execPath, ["/nonexistent/node_modules/serverless/bin/serverless.js"], { encoding: "utf8" });
      return { status: r.status, stderr: r.stderr };`);
    expect(got.status).not.toBe(0);
    expect(got.stderr).toContain("Cannot find module");
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
