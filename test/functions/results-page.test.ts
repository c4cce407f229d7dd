import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main_handler as deployed, resultsPageHandler } from "../../functions/results-page/index.ts";
import { freshAccount } from "../../local/cloud/account.ts";
import { utcIso } from "../../local/cloud/clock.ts";
import { startCloudStandIn, type CloudStandIn } from "../../local/cloud/server.ts";
import { LOCAL_ACCOUNT, randomAccount } from "../../local/emulator/accounts.ts";
import type { FunctionUrlAnswer } from "../../shared/events/function-url.ts";
import { createLogger } from "../../shared/log.ts";
import { withRun, type PolicyHistory } from "../../shared/results/history.ts";
import { pagePath, pageSigningKey, signedPageUrl } from "../../shared/results/page-link.ts";
import { resultsPage } from "../../shared/results/page/render.ts";
import { pageKey, pageName } from "../../shared/results/publish.ts";
import { ColdStartSchema, heapSizeLimitMb } from "../../shared/run/cold-start.ts";
import { CosStateStore } from "../../shared/state/cos-store.ts";
import { coldStartKey } from "../../shared/state/keys.ts";
import { envOf } from "../helpers.ts";
import { finding, results } from "../shared/results/page-fixtures.ts";

// The results-page function as SCF runs it behind its Function URL: its policy file and the deploy's
// bucket in the environment, the COS stand-in on 127.0.0.1, events of the Function URL document's shape.

const BUCKET = `csip-scan-state-${LOCAL_ACCOUNT.appId}`;
const BASE = "https://1250000000-abcdefghij.ap-guangzhou.tencentscf.com";
const dir = mkdtempSync(join(tmpdir(), "csip-scan-results-page-fn-"));
let standIn: CloudStandIn;
let store: CosStateStore;
let key: Buffer;
const logged: string[] = [];
const logger = createLogger({ destination: new Writable({ write: (chunk: Buffer, _, done) => (logged.push(chunk.toString("utf8")), done()) }) });

/** The two pages the bucket holds: a policy whose name is all lower case, and one with capitals (`prodweb.<hash>.html`). */
const POLICIES = ["nightly", "prodWeb"] as const;
const html: Record<string, string> = {};

const config = join(dir, "policies.yaml");
// As deployed: the notifiers' and the CDN's variables are in the policy file, and not in the page function's environment.
writeFileSync(
  config,
  `version: 1
notifiers:
  hook: { type: webhook, url: "\${HOOK_URL}", secret: "\${HOOK_SECRET}" }
results: { page: { cdnDomain: reports.example.com, cdnAuthKey: "\${CSIP_SCAN_CDN_KEY}" } }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", all: true, scanItems: [port], notify: [hook] }
  - { name: prodWeb, schedule: "0 0 4 * * * *", all: true, scanItems: [port], notify: [hook] }
`,
);
/** What SCF and the deploy give the function: its policy file, the bucket, the role's keys, the region; and the stand-in. */
const env = (cos = standIn, keys: { secretId: string; secretKey: string; token?: string } = LOCAL_ACCOUNT) =>
  envOf({
    CSIP_SCAN_CONFIG: config,
    CSIP_SCAN_STATE_BUCKET: BUCKET,
    CSIP_SCAN_COS_ENDPOINT: cos.url,
    TENCENTCLOUD_SECRETID: keys.secretId,
    TENCENTCLOUD_SECRETKEY: keys.secretKey,
    ...(keys.token ? { TENCENTCLOUD_SESSIONTOKEN: keys.token } : {}),
    TENCENTCLOUD_REGION: "ap-guangzhou",
  });

beforeAll(async () => {
  const account = { ...freshAccount(LOCAL_ACCOUNT), buckets: [{ Name: BUCKET, Region: "ap-guangzhou", CreationDate: utcIso(Date.now()) }] };
  standIn = await startCloudStandIn({ account, keys: [LOCAL_ACCOUNT] });
  store = new CosStateStore({ bucket: BUCKET, region: "ap-guangzhou", prefix: "state/", credentials: LOCAL_ACCOUNT, endpoint: standIn.url, timeoutMs: 5000, retry: { baseMs: 10, capMs: 50, attempts: 2 } });
  key = await pageSigningKey(store, Date.now);
  for (const policy of POLICIES) {
    const found = [finding("a", { name: `Log4j RCE on ${policy}`, level: "extreme" })];
    const history: PolicyHistory = withRun({ policy, runs: [], latest: null }, results("2026-11-28T19:00:00.000Z", found, { policy }), found, 30);
    html[policy] = resultsPage({ histories: [history], timezone: "Asia/Shanghai", language: "en", generatedAt: new Date() });
    await store.putObject(pageKey(policy), html[policy], "text/html; charset=utf-8");
  }
});
afterAll(async () => {
  await standIn.close();
  rmSync(dir, { recursive: true, force: true });
});

let handler: ReturnType<typeof resultsPageHandler>;
beforeAll(() => {
  handler = resultsPageHandler({ env: env(), logger });
});
/** A request as the Function URL document's event shows it. */
const event = (url: string, method = "GET", extra: Record<string, unknown> = {}) => {
  const parsed = new URL(url);
  return { body: "", headers: { accept: "text/html", host: parsed.host, "x-scf-remote-addr": "203.0.113.9" }, httpMethod: method, path: parsed.pathname, queryString: Object.fromEntries(parsed.searchParams), ...extra };
};
const call = (e: unknown): Promise<FunctionUrlAnswer> => handler(e);
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

describe("results-page main_handler", () => {
  it.each(POLICIES)("answers a signed link of %s with its page: 200, HTML, its own CSP, no caching, nosniff, no referrer, no Content-Disposition", async (policy) => {
    const answer = await call(event(signedPageUrl(BASE, key, policy, inAnHour())));
    expect(answer).toEqual({
      statusCode: 200,
      headers: {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html[policy]!)![1],
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
      },
      body: html[policy],
      isBase64Encoded: false,
    });
    expect(answer.body).toContain(`<h2>Policy ${policy}</h2>`);
    expect(answer.headers["Content-Security-Policy"]).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'/);
  });

  it("HEAD gets the same headers and no body", async () => {
    const answer = await call(event(signedPageUrl(BASE, key, "nightly", inAnHour()), "HEAD"));
    expect([answer.statusCode, answer.body, answer.headers["Content-Type"]]).toEqual([200, "", "text/html; charset=utf-8"]);
  });

  /** The refusals of a link of `policy`, `other` a policy whose page the bucket holds too. */
  const refusals = (policy: string, other: string): [string, () => ReturnType<typeof event>, number][] => {
    const link = () => signedPageUrl(BASE, key, policy, inAnHour());
    return [
      ["a changed signature", () => event(link().replace(/signature=(.)/, (_, c: string) => `signature=${c === "A" ? "B" : "A"}`)), 403],
      ["an expired link", () => event(signedPageUrl(BASE, key, policy, Math.floor(Date.now() / 1000) - 1)), 410],
      ["another policy's page", () => event(link().replace(pagePath(policy), pagePath(other))), 403],
      ["a path outside the pages", () => event(link().replace(pagePath(policy), "/state/results-page/signing-key.json")), 404],
      ["no signature at all", () => event(`${BASE}${pagePath(policy)}`), 403],
      ["another method", () => event(link(), "POST"), 405],
    ];
  };

  it.each<[string, string, () => ReturnType<typeof event>, number]>([
    ...refusals("nightly", "prodWeb").map((row) => ["nightly", ...row] as [string, string, () => ReturnType<typeof event>, number]),
    ...refusals("prodWeb", "nightly").map((row) => ["prodWeb", ...row] as [string, string, () => ReturnType<typeof event>, number]),
    ["weekly", "a valid link of a policy with no page", () => event(signedPageUrl(BASE, key, "weekly", inAnHour())), 404],
    ["nightly", "a malformed event", () => ({ ...event(`${BASE}/pages/nightly.html`), path: 42 }) as never, 400],
  ])("%s: %s gets a small page with its status and no page (%#)", async (_, __, request, status) => {
    const answer = await call(request());
    expect(answer.statusCode).toBe(status);
    expect(answer.body).not.toContain("Log4j");
    expect(answer.body).toMatch(new RegExp(`^<!DOCTYPE html>\\n<html lang="en"><head><meta charset="utf-8"><title>${status} [A-Za-z ]+</title></head><body><h1>${status} [A-Za-z ]+</h1><p>[^<]+</p></body></html>\\n$`));
    expect(answer.headers).toMatchObject({ "Content-Type": "text/html; charset=utf-8", "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer" });
    expect(answer.headers).not.toHaveProperty("Content-Disposition");
    if (status === 405) expect(answer.headers.Allow).toBe("GET, HEAD");
  });

  it("logs each answer's status and page, never the link's signature or the key", async () => {
    const url = signedPageUrl(BASE, key, "prodWeb", inAnHour());
    logged.length = 0;
    await call(event(url));
    const signature = new URL(url).searchParams.get("signature")!;
    expect(logged.join("")).toContain('"status":200');
    expect(logged.join("")).toContain(`"page":"${pageName("prodWeb")}"`);
    expect(logged.join("")).not.toContain(signature);
    expect(logged.join("")).not.toContain(key.toString("base64url"));
  });

  it("before any link was signed (no key in the bucket), every request is refused", async () => {
    const empty = { ...freshAccount(LOCAL_ACCOUNT), buckets: [{ Name: BUCKET, Region: "ap-guangzhou", CreationDate: utcIso(Date.now()) }] };
    const other = await startCloudStandIn({ account: empty, keys: [LOCAL_ACCOUNT] });
    try {
      const fresh = resultsPageHandler({ env: env(other), logger });
      expect((await fresh(event(signedPageUrl(BASE, key, "nightly", inAnHour())))).statusCode).toBe(403);
    } finally {
      await other.close();
    }
  });
});

describe("what the results-page function reads and keeps", () => {
  it("starts though the policy file names variables its environment does not have: it reads only where its state is", async () => {
    const given = env();
    expect([given.variables.HOOK_URL, given.variables.HOOK_SECRET, given.variables.CSIP_SCAN_CDN_KEY]).toEqual([undefined, undefined, undefined]);
    expect((await resultsPageHandler({ env: given, logger })(event(signedPageUrl(BASE, key, "nightly", inAnHour())))).statusCode).toBe(200);
  });

  it("a variable its state settings name and its environment lacks is a 503, its line logged", async () => {
    const file = join(dir, "state-variable.yaml");
    writeFileSync(file, `version: 1\nstate:\n  cos: { bucket: "\${STATE_BUCKET}" }\npolicies:\n  - { name: nightly, schedule: "0 0 3 * * * *", all: true, scanItems: [port] }\n`);
    logged.length = 0;
    const answer = await resultsPageHandler({ env: env(), configPath: file, logger })(event(signedPageUrl(BASE, key, "nightly", inAnHour())));
    expect(answer.statusCode).toBe(503);
    expect(logged.join("")).toContain(`${file}:3:`);
    expect(logged.join("")).toContain("environment variable STATE_BUCKET is not set");
  });

  it("takes the role's keys as every function does: read at each invocation, and again when COS refuses them in mid-request", async () => {
    let keys = randomAccount(true);
    let pageReads = 0;
    const rotating: CloudStandIn = await startCloudStandIn({
      account: standIn.account,
      keys: [keys],
      // The keys change while a request is on its way to the page: the one it was signed with is refused.
      cosFault: ({ method, key: objectKey }) => {
        if (method === "GET" && objectKey === `state/${pageKey("nightly")}` && ++pageReads === 3) rotate();
        return undefined;
      },
    });
    const rotate = () => {
      keys = randomAccount(true);
      rotating.rotateKeys([keys]);
    };
    try {
      const warm = resultsPageHandler({ env: () => env(rotating, keys), logger });
      const open = async () => (await warm(event(signedPageUrl(BASE, key, "nightly", inAnHour())))).statusCode;
      expect(await open()).toBe(200);
      // Between invocations: SCF gives the warm instance new keys, and the old ones are no longer taken.
      rotate();
      expect(await open()).toBe(200);
      expect(rotating.calls.filter((c) => c.error === "InvalidAccessKeyId")).toEqual([]);
      // In mid-request: refused once, read again, sent again.
      expect(await open()).toBe(200);
      expect(rotating.calls.filter((c) => c.error === "InvalidAccessKeyId")).toHaveLength(1);
      // One store for the warm instance: the bucket's versioning checked once, not again for each new key.
      expect(rotating.calls.filter((c) => c.action === "GetBucketVersioning")).toHaveLength(1);
    } finally {
      await rotating.close();
    }
  });

  it("deployed, logs its heap at cold start and keeps the facts where csip-scan doctor reads them, as every function does", async () => {
    const variables = { CSIP_SCAN_CONFIG: config, CSIP_SCAN_STATE_BUCKET: BUCKET, CSIP_SCAN_COS_ENDPOINT: standIn.url, TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId, TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey, TENCENTCLOUD_REGION: "ap-guangzhou", CSIP_SCAN_LOG_LEVEL: "silent" };
    Object.assign(process.env, variables);
    try {
      const answer = await deployed(event(signedPageUrl(BASE, key, "nightly", inAnHour())), {});
      expect((answer as FunctionUrlAnswer).statusCode).toBe(200);
    } finally {
      for (const name of Object.keys(variables)) delete process.env[name];
    }
    expect(await store.get(coldStartKey("results-page"), ColdStartSchema)).toMatchObject({ function: "results-page", runtime: "Nodejs18.15", node: process.version, heapSizeLimitMb: heapSizeLimitMb(), heapBound: "none" });
  });
});
