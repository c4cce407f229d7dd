import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccountState } from "../../../local/cloud/account.ts";
import { REHEARSAL_ACCOUNT } from "../../../local/cloud/credentials.ts";
import { startCloudStandIn, type CloudStandIn } from "../../../local/cloud/server.ts";
import { formatAccount, rehearseDeploy, type RehearsalResult } from "../../../local/deploy/rehearse.ts";
import { randomAccount } from "../../../local/emulator/accounts.ts";
import type { EstateAssetInput } from "../../../local/emulator/estate.ts";
import { startEmulator, type Emulator } from "../../../local/emulator/server.ts";
import type { ResultsReport } from "../../../shared/notify/results-report.ts";
import { readPageSigningKey, signedPageUrl } from "../../../shared/results/page-link.ts";
import { CosStateStore } from "../../../shared/state/cos-store.ts";
import { browser, BROWSER_NAMES, inCI, openInBrowser } from "../../browser.ts";
import { startListener } from "../../helpers.ts";

// The results page where people click, end to end against the stand-ins: the real `serverless deploy`
// makes the four functions and the page function's URL; the deployed bundles run in the SCF stand-in
// (a scheduled run, then scan-results) against the CSIP emulator; the results message's link opens in
// headless Chromium through the Function URL, over HTTPS. Then a second rehearsal changes nothing.

const ROOT = resolve(".");
const work = mkdtempSync(join(tmpdir(), "csip-scan-page-e2e-"));
const accountDir = join(work, "account");
const POLICY_FILE = join(work, "config", "scan-policies.yaml");
/** The functions' role: temporary keys with a session token, as SCF hands them. */
const ROLE = { ...randomAccount(true), appId: REHEARSAL_ACCOUNT.appId, uin: REHEARSAL_ACCOUNT.uin };
const SCHEDULE = "0 * * * * * *";
const ESTATE: EstateAssetInput[] = [
  {
    kind: "cvm",
    id: "ins-e2e00001",
    name: "web-1",
    tags: { team: "web" },
    risks: [
      { kind: "vul", level: "high", name: "Curl authentication bypass", cve: "CVE-2023-27536", fix: "Upgrade curl to 8.0.1 or later." },
      { kind: "port", level: "middle", name: "redis", port: 6379 },
    ],
  },
];

let emulator: Emulator;
let hook: Awaited<ReturnType<typeof startListener>>;
let first: RehearsalResult;
let second: RehearsalResult;
let firstAccount: string;
let standIn: CloudStandIn;
/** The results messages, by policy: `nightly`, and `prodWeb`, whose name has a capital (its page `prodweb.<hash>.html`). */
let report: ResultsReport;
let capitalised: ResultsReport;
let told: { policy: string; page?: string }[];
const logs: string[] = [];

function copyProject(): void {
  for (const item of ["serverless.yml", "package.json", "tsconfig.json", "scripts", "config", "functions", "shared", "local"]) cpSync(join(ROOT, item), join(work, item), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));
  // The file the package ships (serverless.yml packs config/scan-policies.yaml) and the deploy reads.
  writeFileSync(
    POLICY_FILE,
    `version: 1
region: ap-guangzhou
timezone: Asia/Shanghai
notifiers:
  hook: { type: webhook, url: "\${HOOK_URL}" }
assetGroups:
  web: { include: [{ tags: { team: web } }] }
policies:
  - { name: nightly, schedule: "${SCHEDULE}", targets: [web], scanItems: [port, poc], notify: [hook], notifyOn: [failure, results] }
  - { name: prodWeb, schedule: "${SCHEDULE}", targets: [web], scanItems: [port], notify: [hook], notifyOn: [results] }
`,
  );
}

const functionOf = (account: AccountState, name: string) => account.functions.find((f) => f.FunctionName === `csip-scan-dev-${name}`)!;
const pageUrlOf = (account: AccountState): string => {
  const trigger = functionOf(account, "results-page").Triggers.find((t) => t.Type === "http")!;
  return (JSON.parse(trigger.TriggerDesc) as { NetConfig: { ExtranetUrl: string } }).NetConfig.ExtranetUrl;
};

/** Invokes a deployed function in the stand-in; fails the test with what the function said when it fails. */
async function invoke(name: string, event: unknown): Promise<Record<string, unknown>> {
  const outcome = await standIn.invoke(`csip-scan-dev-${name}`, event);
  if (!outcome.ok) throw new Error(`${name} failed: ${outcome.error}\n${logs.join("")}`);
  return outcome.result as Record<string, unknown>;
}

beforeAll(async () => {
  copyProject();
  emulator = await startEmulator({ estate: ESTATE, accounts: [ROLE], rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } });
  hook = await startListener();
  const env = { ...process.env, HOOK_URL: hook.url, CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1", CSIP_SCAN_SCF_ROLE: undefined, CSIP_SCAN_PAGE_ROLE: undefined, CSIP_SCAN_PAGE_URL: undefined };
  first = await rehearseDeploy({ configPath: POLICY_FILE, projectRoot: work, accountDir, env });
  firstAccount = formatAccount(first.account);
  // The deployed account, the uploaded code still in it, served with the functions running: what SCF adds
  // to their environment is the role's keys and the region; the test adds the emulator and local webhooks.
  standIn = await startCloudStandIn({
    account: first.account,
    keys: [REHEARSAL_ACCOUNT, ROLE],
    functions: { workDir: join(work, "var-user"), roleKeys: ROLE, extraEnv: { CSIP_ENDPOINT: emulator.url, CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1" }, onOutput: (text) => logs.push(text) },
  });
  const minute = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();
  // Each function's timer as SCF fires it: the trigger's own name.
  const timer = (name: string) => ({ Type: "Timer", TriggerName: functionOf(first.account, name).Triggers.find((t) => t.Type === "timer")!.TriggerName, Time: minute });
  await invoke("scheduled-scan", timer("scheduled-scan"));
  const looked = await invoke("scan-results", timer("scan-results"));
  told = (looked as { told: typeof told }).told;
  expect(told.map((t) => t.policy).sort(), logs.join("")).toEqual(["nightly", "prodWeb"]);
  const reports = hook.received.map((r) => JSON.parse(r.body) as ResultsReport).filter((b) => b.schema === "csip-scan.results/v1");
  report = reports.find((b) => b.policy === "nightly")!;
  capitalised = reports.find((b) => b.policy === "prodWeb")!;
}, 240_000);

afterAll(async () => {
  await standIn?.close();
  await emulator?.close();
  await hook?.close();
  rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

/** A GET (or HEAD) of a Function URL link through the stand-in's HTTPS listener. */
function get(url: string, method = "GET"): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const parsed = new URL(url);
  return new Promise((done, fail) => {
    const req = request({ host: "127.0.0.1", port: standIn.httpsPort, path: `${parsed.pathname}${parsed.search}`, method, servername: parsed.hostname, headers: { host: parsed.host }, rejectUnauthorized: false }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      res.on("end", () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", fail);
    req.end();
  });
}

describe("the deploy", () => {
  it("makes the results-page function and its Function URL, and names the URL in the environment of every function that links pages", () => {
    expect(first.exitCode, first.output).toBe(0);
    const url = pageUrlOf(first.account);
    expect(url).toMatch(/^https:\/\/1250000000-[a-z0-9]{10}\.ap-guangzhou\.tencentscf\.com$/);
    expect(first.output).toContain(`csip-scan-dev-results-page: function URL ${url} created`);
    expect(firstAccount).toContain(`http csip-scan-page: function URL ${url} (AuthType NONE)`);
    for (const name of ["scheduled-scan", "asset-change", "scan-results"]) {
      expect(functionOf(first.account, name).Environment.find((v) => v.Key === "CSIP_SCAN_PAGE_URL")?.Value, name).toBe(url);
    }
  });

  it("gives the page function, which anyone may call, no webhook: it starts without the variables the rest of the policy file names", () => {
    const keys = functionOf(first.account, "results-page").Environment.map((v) => v.Key);
    expect(keys).toEqual(["CSIP_SCAN_CONFIG", "CSIP_SCAN_MEMORY_MB", "CSIP_SCAN_STATE_BUCKET", "CSIP_SCAN_STATE_PREFIX", "CSIP_SCAN_STATE_REGION", "NODE_OPTIONS"]);
    expect(functionOf(first.account, "scan-results").Environment.map((v) => v.Key)).toContain("HOOK_URL");
  });
});

describe("a results message's link", () => {
  it("is the Function URL's, signed, and says it opens as a page; the function's summary keeps only where the page is", () => {
    expect(report.page).toMatch(new RegExp(`^${pageUrlOf(first.account).replace(/\./g, "\\.")}/pages/nightly\\.html\\?expires=\\d+&signature=[A-Za-z0-9_-]{43}$`));
    expect(capitalised.page).toMatch(new RegExp(`^${pageUrlOf(first.account).replace(/\./g, "\\.")}/pages/prodweb\\.[0-9a-f]{8}\\.html\\?expires=\\d+&signature=[A-Za-z0-9_-]{43}$`));
    expect(report.pageOpens).toBe("page");
    expect(told.map((t) => t.page).sort()).toEqual([report.page!.split("?")[0], capitalised.page!.split("?")[0]].sort());
  });

  it("of a policy whose name has capitals opens its page too", async () => {
    const answer = await get(capitalised.page!);
    expect(answer.status).toBe(200);
    expect(answer.body).toContain("<h2>Policy prodWeb</h2>");
  });

  describe.skipIf(!browser && !inCI)("opened in headless Chromium through the Function URL", () => {
    it("is found in CI", () => {
      expect(browser, `no ${BROWSER_NAMES} on PATH: .ci/run installs one`).toBeDefined();
    });

    it("shows the page: the policy, the chart and the findings, with no console message", async () => {
      const { dom, console } = await openInBrowser(report.page!, join(work, "profile"), {
        home: work,
        hostRules: [`MAP *.tencentscf.com 127.0.0.1:${standIn.httpsPort}`],
        extra: ["--ignore-certificate-errors"],
      });
      expect(console).toEqual([]);
      expect(dom).toContain("<h2>Policy nightly</h2>");
      expect(dom).toMatch(/<svg class="chart"[\s\S]*<path class="s-high" d="M/);
      expect(dom).toMatch(/<table class="findings">[\s\S]*Curl authentication bypass[\s\S]*CVE-2023-27536/);
      expect(standIn.calls.filter((c) => c.service === "scf-url").map((c) => c.params.status)).toContain(200);
    }, 90_000);
  });

  it("answers the page's own headers: HTML, its CSP, no caching, nosniff, no referrer, no Content-Disposition", async () => {
    const answer = await get(report.page!);
    expect(answer.status).toBe(200);
    expect(answer.headers).toMatchObject({ "content-type": "text/html; charset=utf-8", "cache-control": "private, no-store", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" });
    expect(answer.headers["content-security-policy"]).toMatch(/^default-src 'none'; style-src 'sha256-/);
    expect(answer.headers).not.toHaveProperty("content-disposition");
    expect((await get(report.page!, "HEAD")).body).toBe("");
    // Deployed as every function is: its cold start logged and kept where doctor reads it.
    expect(standIn.account.objects.map((o) => o.Key)).toContain("state/dev-ap-guangzhou/cold-start/results-page.json");
  });

  it.each<[string, (link: URL, key: Buffer) => string, number]>([
    ["a changed signature", (link) => link.href.replace(/signature=(.)/, (_, c: string) => `signature=${c === "A" ? "B" : "A"}`), 403],
    ["an expired link", (link, key) => signedPageUrl(link.origin, key, "nightly", Math.floor(Date.now() / 1000) - 60), 410],
    ["another policy's name", (link) => link.href.replace("/pages/nightly.html", "/pages/weekly.html"), 403],
    ["another policy's page", (link) => link.href.replace("/pages/nightly.html", new URL(capitalised.page!).pathname), 403],
    ["a path outside the pages", (link) => link.href.replace("/pages/nightly.html", "/state/results-page/signing-key.json"), 404],
  ])("%s gets no page", async (_, change, status) => {
    const store = new CosStateStore({ bucket: `csip-scan-state-${REHEARSAL_ACCOUNT.appId}`, region: "ap-guangzhou", prefix: "state/dev-ap-guangzhou/", credentials: ROLE, endpoint: standIn.url, timeoutMs: 5000, retry: { baseMs: 10, capMs: 50, attempts: 2 } });
    const key = (await readPageSigningKey(store))!;
    const answer = await get(change(new URL(report.page!), key));
    expect(answer.status).toBe(status);
    expect(answer.body).not.toContain("Curl authentication bypass");
    expect(answer.body).not.toContain("Policy nightly");
  });
});

describe("a second rehearsal of the same policy file", () => {
  beforeAll(async () => {
    await standIn.close();
    const env = { ...process.env, HOOK_URL: hook.url, CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1", CSIP_SCAN_SCF_ROLE: undefined, CSIP_SCAN_PAGE_ROLE: undefined, CSIP_SCAN_PAGE_URL: undefined };
    second = await rehearseDeploy({ configPath: POLICY_FILE, projectRoot: work, accountDir, env, recordFile: join(work, "second.jsonl") });
  }, 200_000);

  it("changes nothing: the same functions, environments, triggers and Function URL, and no trigger made, changed or deleted", () => {
    expect(second.exitCode, second.output).toBe(0);
    const shape = (account: AccountState) =>
      account.functions.map((f) => ({ name: f.FunctionName, id: f.FunctionId, env: f.Environment, triggers: f.Triggers.map((t) => [t.Type, t.TriggerName, t.TriggerDesc, t.Qualifier, t.Enable]) }));
    expect(shape(second.account)).toEqual(shape(first.account));
    expect(second.output).toContain(`function URL ${pageUrlOf(first.account)} unchanged`);
    const record = readFileSync(join(work, "second.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as { action: string });
    expect(record.filter((c) => ["CreateTrigger", "UpdateTrigger", "DeleteTrigger", "CreateFunction"].includes(c.action))).toEqual([]);
  });
});
