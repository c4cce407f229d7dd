import { withRun, type PolicyHistory } from "../shared/results/history.ts";
import { LEVELS, type Finding, type RunResults } from "../shared/results/model.ts";
import { resultsPage } from "../shared/results/page/render.ts";
import { median, printTable } from "./report.ts";

/**
 * The results page of a policy with 1,000 current findings and 30 runs: its size and the time to build
 * it, against the budget (200 KB, 50 ms). Two estates: 60 kinds of risk spread over 400 assets (as a
 * fleet looks: one vulnerability on many hosts), and 1,000 risks all different with the longest fix
 * text CSIP's is shortened to (the worst case for size).
 */
const FINDINGS = 1000;
const RUNS = 30;
const BUDGET = { kb: 200, ms: 50 };

const FIX = "升级到厂商发布的最新安全版本，并在升级前备份配置；无法立即升级时，限制该端口只对可信地址开放，并开启访问日志以便排查。Upgrade to the vendor's fixed release.";

function findings(kinds: number): Finding[] {
  return Array.from({ length: FINDINGS }, (_, i) => {
    const k = i % kinds;
    return {
      id: `risk-${i}`,
      kind: "vul",
      asset: `ins-${String(i % 400).padStart(8, "0")}`,
      assetName: `web-gz-${String(i % 400).padStart(3, "0")}`,
      level: LEVELS[k % LEVELS.length]!,
      name: `Example component ${k} remote code execution (CVE-2024-${String(10000 + k)})`,
      cve: `CVE-2024-${String(10000 + k)}`,
      fix: `${FIX.slice(0, 100 + (k % 40))}`,
      firstSeen: Date.parse("2026-11-01T00:00:00Z") + (i % 30) * 86_400_000,
    } satisfies Finding;
  });
}

function history(all: Finding[]): PolicyHistory {
  let h: PolicyHistory = { policy: "nightly-prod", runs: [], latest: null };
  for (let i = 0; i < RUNS; i++) {
    const scheduledTime = new Date(Date.parse("2026-11-01T19:00:00Z") + i * 86_400_000).toISOString();
    const results: RunResults = {
      policy: "nightly-prod",
      trigger: "timer",
      scheduledTime,
      run: `run/csip-scan:nightly-prod:${i}`,
      tasks: Array.from({ length: 5 }, (_, t) => ({ taskId: `rmis-${i}${t}`, taskName: `csip-scan:nightly-prod:${i}:${t + 1}`, state: "done" as const, ended: true, assets: 200, assetsScanned: 200, riskCount: 200, reportUrl: `https://csip-report-1250000000.cos.ap-guangzhou.myqcloud.com/r/${i}-${t}.pdf?q-sign-algorithm=sha1&q-ak=AKIDEXAMPLE&q-sign-time=1;2&q-signature=0123456789abcdef`, scope: { assets: [], typedIn: [], everything: false } })),
      ended: true,
      missing: [],
      duplicatesRemoved: [],
      gaveUp: false,
      riskCount: all.length,
      allClear: false,
      findings: [],
      findingsTotal: all.length,
      comparison: { previous: i > 0 ? { scheduledTime, riskCount: all.length } : undefined, riskCountChange: 0, newFindings: all.slice(0, 20), goneFindings: [] },
    };
    h = withRun(h, results, all.slice(0, all.length - (i % 7) * 10), RUNS);
  }
  return h;
}

export function benchPage(): void {
  const rows: string[][] = [];
  for (const [label, kinds] of [
    ["60 kinds of risk on 400 assets", 60],
    ["1,000 different risks (worst case)", FINDINGS],
  ] as const) {
    const h = history(findings(kinds));
    const build = (): string => resultsPage({ histories: [h], timezone: "Asia/Shanghai", language: "zh", generatedAt: new Date("2026-12-01T00:00:00Z") });
    for (let i = 0; i < 5; i++) build();
    const times: number[] = [];
    let html = "";
    for (let i = 0; i < 21; i++) {
      const started = performance.now();
      html = build();
      times.push(performance.now() - started);
    }
    const kb = Buffer.byteLength(html) / 1024;
    const ms = median(times);
    rows.push([label, kb.toFixed(0), (kb / BUDGET.kb).toFixed(2), ms.toFixed(1), (ms / BUDGET.ms).toFixed(2)]);
  }
  printTable(`results page of ${FINDINGS} findings and ${RUNS} runs (median of 21 builds)`, ["estate", "KB", "size vs 200 KB", "ms", "time vs 50 ms"], rows);
}
