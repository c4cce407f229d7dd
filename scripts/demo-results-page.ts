// The demo estate's results page, as two weeks of nightly runs make it: the policy `nightly-prod` of
// config/scan-policies.yaml against the local emulator, with risks found, fixed, a failed night and an
// all-clear night along the way. Every run goes through the real flow (scheduled scan, then scan-results
// and its page). Used for the screenshot in docs/: `npx tsx scripts/demo-results-page.ts OUT.html [zh|en]`.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sleep } from "../shared/clock.ts";
import { loadConfig } from "../shared/config/load.ts";
import { createCsipClient } from "../shared/csip/client.ts";
import { readEnvironment } from "../shared/env.ts";
import { silentLogger } from "../shared/log.ts";
import { folderPagePublisher } from "../shared/results/publish.ts";
import { runScanResults } from "../shared/run/scan-results.ts";
import { runScheduledScan } from "../shared/run/scheduled-scan.ts";
import { createServices, startRun } from "../shared/run/services.ts";
import { LOCAL_ACCOUNT } from "../local/emulator/accounts.ts";
import type { EstateRisk } from "../local/emulator/estate.ts";
import { readEstate } from "../local/emulator/estate.ts";
import { startEmulator } from "../local/emulator/server.ts";
import { DEMO_INVENTORY } from "../local/environment.ts";

const POLICY = "nightly-prod";
const NIGHTS = 14;

/** What changes on which night (1-based): risks that appear and go, a failed night, an all-clear night. */
const LOG4J: EstateRisk = { kind: "vul", level: "extreme", name: "Apache Log4j2 远程代码执行漏洞(CVE-2021-44228)", cve: "CVE-2021-44228", port: 8080 };
const REDIS: EstateRisk = { kind: "port", level: "high", name: "redis", port: 6379 };
const TLS: EstateRisk = { kind: "config", level: "low", name: "TLS 1.0 仍然启用", fix: "在负载均衡监听器上只启用 TLS 1.2 及以上版本。" };
const XSS: EstateRisk = { kind: "vul", level: "middle", name: "jQuery 跨站脚本漏洞(CVE-2020-11022)", cve: "CVE-2020-11022", port: 443 };

/** The demo page's HTML (and the page of every night, written to a temporary folder that is removed). */
export async function demoResultsPage(language: "zh" | "en" = "zh"): Promise<string> {
  delete process.env.http_proxy;
  delete process.env.https_proxy;
  const estate = await readEstate(DEMO_INVENTORY);
  const emulator = await startEmulator({ estate, rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } });
  const dir = await mkdtemp(join(tmpdir(), "csip-scan-demo-page-"));
  try {
    const loaded = (await loadConfig("config/scan-policies.yaml", readEnvironment({}))).config;
    const config = { ...loaded, state: { path: join(dir, "state") }, notifiers: { secops: { ...loaded.notifiers.secops!, language } } };
    const pages = folderPagePublisher(join(dir, "pages"));
    const sdk = createCsipClient({ credentials: LOCAL_ACCOUNT, region: "ap-guangzhou", endpoint: emulator.url });
    const web2 = emulator.state.estate.find((a) => a.id === "ins-8a1d5x2w")!;
    const web1 = emulator.state.estate.find((a) => a.id === "ins-7f3k2m9q")!;
    const bastion = emulator.state.estate.find((a) => a.id === "ins-bastion1")!;
    const original = new Map(emulator.state.estate.map((a) => [a.id, a.risks]));
    const first = Date.parse("2026-11-15T19:00:00Z");
    for (let night = 1; night <= NIGHTS; night++) {
      const slot = new Date(first + (night - 1) * 86_400_000);
      for (const asset of emulator.state.estate) asset.risks = original.get(asset.id) ?? [];
      if (night >= 4 && night <= 8) web2.risks = [...(web2.risks ?? []), LOG4J, REDIS];
      if (night >= 6) web1.risks = (web1.risks ?? []).filter((r) => r.level !== "extreme");
      if (night >= 3 && night <= 10) web1.risks = [...(web1.risks ?? []), TLS];
      delete bastion.scanError;
      if (night === 9) bastion.scanError = "Scan failed: the host did not answer; its security group blocks the CSIP scanner addresses";
      if (night === 12) for (const asset of emulator.state.estate) asset.risks = [];
      if (night === 13) web2.risks = [...(web2.risks ?? []), XSS, REDIS];
      if (night === 14) {
        web2.risks = [...(web2.risks ?? []), XSS];
        web1.risks = [...(web1.risks ?? []), TLS];
      }
      const clock = { now: () => slot.getTime() + 5_000, sleep };
      const services = createServices(config, readEnvironment({}), { sdk, logger: silentLogger(), pages, clock, deliver: async (name) => ({ notifier: name, delivered: true, via: "console" }) });
      await runScheduledScan(startRun(services), { policy: POLICY, scheduledTime: slot, trigger: "timer" });
      const later = { now: () => slot.getTime() + 600_000, sleep };
      await runScanResults(startRun(createServices(config, readEnvironment({}), { sdk, logger: silentLogger(), pages, clock: later, deliver: services.deliverWithin(startRun(services).deadline) })), new Date(later.now()));
    }
    return await readFile(join(dir, "pages", `${POLICY}.html`), "utf8");
  } finally {
    await emulator.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]).endsWith("demo-results-page.ts")) {
  const out = process.argv[2] ?? "demo-results-page.html";
  await writeFile(out, await demoResultsPage(process.argv[3] === "en" ? "en" : "zh"));
  process.stdout.write(`${out}\n`);
}
