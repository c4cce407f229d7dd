import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { withRun, type PolicyHistory } from "../../../shared/results/history.ts";
import type { Finding } from "../../../shared/results/model.ts";
import { resultsPage } from "../../../shared/results/page/render.ts";
import { browser, browserArgs, BROWSER_NAMES, inCI } from "../../browser.ts";
import { finding, HOSTILE, results, task } from "./page-fixtures.ts";
import { decodePng } from "./png.ts";

// The results page in a real browser: Debian's headless Chromium loads the file (and nothing else: no
// proxy, no background networking, every host name unresolvable), draws it to a PNG and dumps its DOM.
// Skipped only outside CI when no Chromium is installed; in CI (.ci/run installs it) it must run.

const WIDTH = 1000;
const HEIGHT = 1400;

const dir = mkdtempSync(join(tmpdir(), "csip-scan-page-browser-"));
afterAll(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }));

/** Renders `html` from a file: the PNG, the DOM after load, and the browser's console lines. */
function render(name: string, html: string): { png: Buffer; dom: string; console: string[] } {
  const file = join(dir, `${name}.html`);
  const png = join(dir, `${name}.png`);
  writeFileSync(file, html);
  const run = spawnSync(
    browser!,
    [...browserArgs(join(dir, `profile-${name}`), { extra: [`--window-size=${WIDTH},${HEIGHT}`, `--screenshot=${png}`] }), pathToFileURL(file).href],
    { encoding: "utf8", timeout: 30_000, env: { ...process.env, http_proxy: "", https_proxy: "", HOME: dir } },
  );
  if (run.status !== 0) throw new Error(`${browser} ended with ${run.status ?? run.signal}:\n${run.stderr}`);
  return { png: readFileSync(png), dom: run.stdout, console: run.stderr.split("\n").filter((line) => line.includes(":CONSOLE")) };
}

/** Eight nights of a policy: risks of every severity, hostile names from CSIP, one all-clear night. */
function history(): PolicyHistory {
  let h: PolicyHistory = { policy: "nightly", runs: [], latest: null };
  let previous: Finding[] | undefined;
  for (let night = 1; night <= 8; night++) {
    const found: Finding[] =
      night === 6
        ? []
        : [
            ...Array.from({ length: 3 + night }, (_, i) => finding(`h${i}`, { level: "high", asset: `ins-0000000${i}`, name: HOSTILE[i % HOSTILE.length]!, fix: HOSTILE[(i + 1) % HOSTILE.length]! })),
            finding("x", { level: "extreme", name: "Apache Log4j2 remote code execution", cve: "CVE-2021-44228" }),
            finding("m", { level: "middle", name: "MySQL without TLS" }),
            finding("l", { level: "low", name: "TLS 1.0 enabled" }),
          ];
    const scheduledTime = new Date(Date.parse("2026-11-20T19:00:00Z") + night * 86_400_000).toISOString();
    h = withRun(h, results(scheduledTime, found, { ...(previous ? { previous } : {}), tasks: [task({ riskCount: found.length, reportUrl: night % 2 ? "javascript:alert(1)" : "https://csip-report.example.test/r.pdf" })] }), found, 30);
    previous = found;
  }
  return h;
}

const page = (): string => resultsPage({ histories: [history()], timezone: "Asia/Shanghai", language: "en", generatedAt: new Date("2026-11-29T00:00:00Z") });

describe.skipIf(!browser && !inCI)("the results page in headless Chromium", () => {
  it("is found in CI", () => {
    expect(browser, `no ${BROWSER_NAMES} on PATH: .ci/run installs one`).toBeDefined();
  });

  it("draws the chart and the table, with no console message (no CSP violation, nothing refused)", () => {
    const { png, dom, console } = render("page", page());
    expect(console).toEqual([]);
    // The DOM after load: the chart's bars, the findings table with a row per finding, nothing of CSIP's as markup.
    expect(dom).toMatch(/<path class="s-high" d="M[\d. ]+V/);
    expect(dom).toMatch(/<path class="s-extreme" d="M/);
    const rows = /<table class="findings">[\s\S]*?<\/table>/.exec(dom)![0].match(/<tr>/g) ?? [];
    expect(rows).toHaveLength(1 + 3 + 8 + 3);
    expect(dom).not.toMatch(/<(script|img|iframe)\b/i);

    const image = decodePng(png);
    expect([image.width, image.height]).toEqual([WIDTH, HEIGHT]);
    let ink = 0;
    let highBars = 0;
    let headerCells = 0;
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        const [r, g, b] = image.rgb(x, y);
        if (r < 240 || g < 240 || b < 240) ink++;
        if (r === 0xe5 && g === 0x48 && b === 0x4d) highBars++;
        if (r === 0xf6 && g === 0xf8 && b === 0xfa) headerCells++;
      }
    }
    expect(ink / (image.width * image.height), "share of the page that is not white").toBeGreaterThan(0.03);
    expect(highBars, "pixels of the chart's high-severity bars").toBeGreaterThan(2000);
    expect(headerCells, "pixels of the tables' header rows").toBeGreaterThan(5000);
  });

  it("the console check sees what it guards against: markup that escaped the escaping is refused and logged", () => {
    const broken = page().replace("</body>", '<img src="https://evil.example/x.png"><script>document.title = "ran"</script></body>');
    const { dom, console } = render("canary", broken);
    expect(console.join("\n")).toMatch(/violates the following Content Security Policy directive[\s\S]*violates/);
    expect(dom).not.toContain("<title>ran</title>");
  });
});
