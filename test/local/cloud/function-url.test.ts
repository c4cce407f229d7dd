import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshAccount, type AccountState, type ScfFunction } from "../../../local/cloud/account.ts";
import { REHEARSAL_ACCOUNT } from "../../../local/cloud/credentials.ts";
import { runRedirected } from "../../../local/cloud/redirected.ts";
import { startCloudStandIn, type CloudStandIn } from "../../../local/cloud/server.ts";

// SCF Function URLs in the stand-in: the `http` trigger as CreateTrigger documents it (583/100227), and
// requests to its URL answered by running the function's uploaded code (583/96099).

const ROOT = resolve(".");
const CODE_BUCKET = `code-${REHEARSAL_ACCOUNT.appId}`;
const work = mkdtempSync(join(tmpdir(), "csip-scan-function-url-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A zip of stored (uncompressed) files, as small as a test needs: local headers, central directory, end record. */
function storedZip(files: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const nameBytes = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A function whose handler echoes what it was given and the environment SCF gave it. */
const ECHO = `
exports.main_handler = async (event, context) => {
  if (event.path === "/throw") throw new Error("the handler failed");
  if (event.path === "/reach-out") {
    const result = await new Promise((resolve) => require("node:https").get("https://example.com/", () => resolve("reached")).on("error", (e) => resolve(e.message)));
    return { statusCode: 200, headers: { "Content-Type": "text/plain" }, body: result, isBase64Encoded: false };
  }
  if (event.path === "/plain") return { hello: "world" };
  const seen = { event, context: { function_name: context.function_name }, env: { config: process.env.CSIP_SCAN_CONFIG, region: process.env.TENCENTCLOUD_REGION, id: process.env.TENCENTCLOUD_SECRETID, extra: process.env.EXTRA, parent: process.env.PARENT_ONLY ?? null }, pid: process.pid };
  return { statusCode: 201, headers: { "Content-Type": "application/json", "X-Echo": "yes" }, body: JSON.stringify(seen), isBase64Encoded: false };
};`;

function echoFunction(account: AccountState): ScfFunction {
  const zip = storedZip({ "dist/echo/index.js": ECHO, "config/scan-policies.yaml": "version: 1\n" });
  account.buckets.push({ Name: CODE_BUCKET, Region: "ap-guangzhou", CreationDate: "2023-06-01T00:00:00Z" });
  account.objects.push({ Bucket: CODE_BUCKET, Key: "echo.zip", Size: zip.length, ETag: '"1"', ContentType: "application/zip", LastModified: "2026-01-01T00:00:00Z", Body: zip.toString("base64") });
  const f: ScfFunction = {
    Region: "ap-guangzhou", Namespace: "default", FunctionName: "echo", FunctionId: "lam-echo0001", Runtime: "Nodejs18.15", Handler: "dist/echo/index.main_handler",
    Description: "", MemorySize: 128, Timeout: 30, Role: "", Type: "Event", InstallDependency: "FALSE",
    Environment: [{ Key: "CSIP_SCAN_CONFIG", Value: "/var/user/config/scan-policies.yaml" }], VpcConfig: { VpcId: "", SubnetId: "" },
    CodeLocation: `${CODE_BUCKET}/echo.zip`, CodeSize: zip.length, AddTime: "2026-01-01 00:00:00", ModTime: "2026-01-01 00:00:00", BusyStatus: "Active", BusyUntil: 0, Triggers: [],
  };
  account.functions.push(f);
  return f;
}

type Settled = { ok: Record<string, unknown> } | { error: string; message: string };

let standIn: CloudStandIn;
let triggers: Record<string, Settled>;
let host: string;

beforeAll(async () => {
  process.env.PARENT_ONLY = "not for functions";
  const account = freshAccount(REHEARSAL_ACCOUNT);
  echoFunction(account);
  standIn = await startCloudStandIn({ account, settleMs: 0, functions: { workDir: work, extraEnv: { EXTRA: "given by the test" } } });
  // Through the official SDK, as the project's deploy plugin calls it.
  const script = `
const scf = new (require("tencentcloud-sdk-nodejs/tencentcloud/services/scf/v20180416/scf_client.js").Client)({ credential: ${JSON.stringify({ secretId: REHEARSAL_ACCOUNT.secretId, secretKey: REHEARSAL_ACCOUNT.secretKey })}, region: "ap-guangzhou" });
const settle = (p) => p.then((ok) => ({ ok }), (e) => ({ error: e.code, message: e.message }));
const http = (desc, extra) => ({ FunctionName: "echo", Namespace: "default", Type: "http", TriggerName: "csip-scan-page", TriggerDesc: JSON.stringify(desc), ...extra });
(async () => {
  const out = {};
  out.noAuthType = await settle(scf.CreateTrigger(http({ NetConfig: { EnableExtranet: true } })));
  out.unknownKey = await settle(scf.CreateTrigger(http({ AuthType: "NONE", NetConfig: { EnableExtranet: true }, Methods: ["GET"] })));
  out.bothOff = await settle(scf.CreateTrigger(http({ AuthType: "NONE", NetConfig: { EnableIntranet: false, EnableExtranet: false } })));
  out.created = await settle(scf.CreateTrigger(http({ AuthType: "NONE", NetConfig: { EnableIntranet: false, EnableExtranet: true } })));
  out.second = await settle(scf.CreateTrigger(http({ AuthType: "NONE", NetConfig: { EnableExtranet: true } }, { TriggerName: "another" })));
  out.closed = await settle(scf.UpdateTrigger(http({ AuthType: "CAM" }, { Qualifier: "$LATEST" })));
  out.listedClosed = await settle(scf.ListTriggers({ FunctionName: "echo", Namespace: "default" }));
  out.opened = await settle(scf.UpdateTrigger(http({ AuthType: "NONE", NetConfig: { EnableIntranet: false, EnableExtranet: true } }, { Qualifier: "$LATEST" })));
  out.listed = await settle(scf.ListTriggers({ FunctionName: "echo", Namespace: "default" }));
  return out;
})().then((r) => process.stdout.write(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`;
  const child = await runRedirected(standIn.url, script, { cwd: ROOT });
  if (child.code !== 0) throw new Error(child.stderr);
  triggers = JSON.parse(child.stdout) as Record<string, Settled>;
  const desc = JSON.parse(((triggers.listed as { ok: { Triggers: { TriggerDesc: string }[] } }).ok.Triggers[0]!).TriggerDesc) as { NetConfig: { ExtranetUrl: string } };
  host = new URL(desc.NetConfig.ExtranetUrl).host;
}, 60_000);
afterAll(async () => {
  delete process.env.PARENT_ONLY;
  await standIn.close();
});

const descOf = (settled: Settled, path: "TriggerInfo" | "Triggers"): Record<string, unknown> => {
  const ok = (settled as { ok: Record<string, unknown> }).ok;
  const trigger = path === "TriggerInfo" ? (ok.TriggerInfo as { TriggerDesc: string }) : (ok.Triggers as { TriggerDesc: string }[])[0]!;
  return JSON.parse(trigger.TriggerDesc) as Record<string, unknown>;
};

describe("the http trigger (a function URL)", () => {
  it("is refused without AuthType, with a key the document does not list, or with both addresses off", () => {
    expect([triggers.noAuthType, triggers.unknownKey, triggers.bothOff].map((s) => (s && "error" in s ? s.error : "made"))).toEqual(Array(3).fill("InvalidParameterValue.TriggerDesc"));
  });

  it("keeps the TriggerDesc as ListTriggers' official example shows it, with the public URL SCF made", () => {
    const desc = descOf(triggers.created!, "TriggerInfo");
    expect(desc).toEqual({
      AuthType: "NONE",
      NetConfig: {
        EnableIntranet: false,
        IntranetUrl: "",
        IntranetHTTPUrl: "",
        ExtranetUrl: expect.stringMatching(/^https:\/\/1250000000-[a-z0-9]{10}\.ap-guangzhou\.tencentscf\.com$/),
        ExtranetHTTPUrl: expect.stringMatching(/^http:\/\/1250000000-[a-z0-9]{10}\.ap-guangzhou\.tencentscf\.com$/),
        WssIntranetUrl: "",
        WsIntranetUrl: "",
        WssExtranetUrl: "",
        WsExtranetUrl: "",
        EnableExtranet: true,
      },
    });
  });

  it("is one per version or alias: a second on $LATEST is refused", () => {
    expect(triggers.second).toMatchObject({ error: "ResourceInUse.Trigger" });
  });

  it("changes with UpdateTrigger (closed to CAM, opened again) and keeps its URL", () => {
    expect(descOf(triggers.listedClosed!, "Triggers")).toMatchObject({ AuthType: "CAM" });
    expect(descOf(triggers.listed!, "Triggers")).toMatchObject({ AuthType: "NONE" });
    expect((descOf(triggers.listed!, "Triggers").NetConfig as { ExtranetUrl: string }).ExtranetUrl).toBe((descOf(triggers.created!, "TriggerInfo").NetConfig as { ExtranetUrl: string }).ExtranetUrl);
  });
});

/** A request to the stand-in with the URL's Host, over HTTP or over the HTTPS listener. */
function fetchUrl(path: string, options: { method?: string; tls?: boolean; host?: string; via?: CloudStandIn } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const server = options.via ?? standIn;
  const tls = options.tls === true;
  const send = tls ? httpsRequest : httpRequest;
  const target = options.host ?? host;
  return new Promise((done, fail) => {
    const req = send(
      { host: "127.0.0.1", port: tls ? server.httpsPort : server.port, path, method: options.method ?? "GET", headers: { host: target }, ...(tls ? { servername: target, rejectUnauthorized: false } : {}) },
      (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
        res.on("end", () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", fail);
    req.end();
  });
}

describe("requests to a function URL", () => {
  it("run the function's uploaded code with the event the document shows, and answer what it returns", async () => {
    const answer = await fetchUrl("/pages/x.html?a=1&b=2&b=3");
    expect([answer.status, answer.headers["content-type"], answer.headers["x-echo"]]).toEqual([201, "application/json", "yes"]);
    const seen = JSON.parse(answer.body) as { event: Record<string, unknown>; env: Record<string, unknown>; context: Record<string, unknown> };
    expect(seen.event).toEqual({
      body: "",
      headers: expect.objectContaining({ host, "x-scf-remote-addr": "127.0.0.1" }),
      httpMethod: "GET",
      path: "/pages/x.html",
      queryString: { a: "1", b: ["2", "3"] },
    });
    expect(seen.context).toEqual({ function_name: "echo" });
  });

  it("in an environment of the function's own: its variables (/var/user pointed at the unpacked code), the role's keys, the region, nothing of this process", async () => {
    const { env } = JSON.parse((await fetchUrl("/")).body) as { env: Record<string, unknown> };
    expect(env).toEqual({ config: expect.stringMatching(/\/config\/scan-policies\.yaml$/), region: "ap-guangzhou", id: REHEARSAL_ACCOUNT.secretId, extra: "given by the test", parent: null });
    expect(String(env.config).startsWith(work)).toBe(true);
  });

  it("one warm instance serves one request after another", async () => {
    const first = JSON.parse((await fetchUrl("/")).body) as { pid: number };
    const second = JSON.parse((await fetchUrl("/")).body) as { pid: number };
    expect(second.pid).toBe(first.pid);
  });

  it("over HTTPS too (the https:// URL), with a certificate made for the run", async () => {
    expect((await fetchUrl("/", { tls: true })).status).toBe(201);
  });

  it("HEAD gets the headers without the body; a handler's plain JSON is 200 application/json; a handler that throws is 502", async () => {
    const head = await fetchUrl("/", { method: "HEAD" });
    expect([head.status, head.body]).toEqual([201, ""]);
    const plain = await fetchUrl("/plain");
    expect([plain.status, plain.headers["content-type"], plain.body]).toEqual([200, "application/json", '{"hello":"world"}']);
    const thrown = await fetchUrl("/throw");
    expect([thrown.status, thrown.body]).toEqual([502, "The function failed: Error: the handler failed\n"]);
  });

  it("the function reaches nothing off this machine: a request to another host is refused before any socket", async () => {
    expect((await fetchUrl("/reach-out")).body).toMatch(/refused example\.com/);
  });

  it("a host that is no function's URL is 404", async () => {
    expect((await fetchUrl("/", { host: "1250000000-nosuchurl0.ap-guangzhou.tencentscf.com" })).status).toBe(404);
  });

  it("under the reading that SCF's domain forces a download (forceDownload), every answer is an attachment", async () => {
    const downloading = await startCloudStandIn({ account: standIn.account, settleMs: 0, functions: { workDir: join(work, "download"), forceDownload: true } });
    try {
      const answer = await fetchUrl("/", { via: downloading });
      expect([answer.status, answer.headers["content-disposition"]]).toEqual([201, "attachment"]);
    } finally {
      await downloading.close();
    }
    expect((await fetchUrl("/")).headers).not.toHaveProperty("content-disposition");
  });

  it("are recorded, with their status", () => {
    expect(standIn.calls.filter((c) => c.service === "scf-url").map((c) => c.params.status)).toContain(201);
  });
});
