import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { median, printTable } from "./report.ts";

/**
 * What the COS state store costs a function, two ways side by side: the store as built (COS's q-sign
 * signature over node:http), and Tencent's COS SDK (cos-nodejs-sdk-v5) doing the same job. Each is
 * bundled alone as the functions are (esbuild, minified, CommonJS), then imported in fresh processes
 * against the whole Tencent Cloud SDK. The budgets: a function bundle under 1 MB, a cold import at most
 * 0.25x the whole SDK's.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 9);

function importMs(script: string): number {
  const probe = `const t=process.hrtime.bigint();${script};console.log(Number(process.hrtime.bigint()-t)/1e6)`;
  return Number(execFileSync(process.execPath, ["-e", probe], { encoding: "utf8" }));
}

export async function benchStateStore(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "csip-scan-bench-store-"));
  try {
    const entries = {
      "COS store, q-sign over node:http": `export { CosStateStore } from ${JSON.stringify(resolve("shared/state/cos-store.ts"))};`,
      "cos-nodejs-sdk-v5 alone": `export { default as COS } from "cos-nodejs-sdk-v5";`,
    };
    const bundles: [string, string][] = [];
    for (const [name, source] of Object.entries(entries)) {
      const entry = join(dir, `${bundles.length}.ts`);
      const outfile = join(dir, `${bundles.length}.cjs`);
      writeFileSync(entry, source);
      await build({ entryPoints: [entry], outfile, bundle: true, platform: "node", target: "node18", format: "cjs", minify: true, logLevel: "silent", nodePaths: [resolve("node_modules")] });
      bundles.push([name, outfile]);
    }
    execFileSync(process.execPath, ["scripts/build.js"], { stdio: "ignore" });
    const cases: [string, string, number | undefined][] = [
      ["whole Tencent Cloud SDK (baseline)", 'require("tencentcloud-sdk-nodejs")', undefined],
      ...bundles.map(([name, file]): [string, string, number] => [name, `require(${JSON.stringify(file)})`, statSync(file).size]),
      ["bundled scan-results (with the store)", `require(${JSON.stringify(resolve("dist/scan-results/index.js"))})`, statSync("dist/scan-results/index.js").size],
    ];
    const rows = cases.map(([name, script, bytes]) => ({ name, bytes, ms: median(Array.from({ length: RUNS }, () => importMs(script))) }));
    const baseline = rows[0]!.ms;
    printTable(
      `state store: bundle size and cold import, median of ${RUNS} fresh processes (cos-nodejs-sdk-v5 ${JSON.parse(readFileSync("node_modules/cos-nodejs-sdk-v5/package.json", "utf8")).version})`,
      ["case", "bundle KiB", "import ms", "vs whole SDK"],
      rows.map((r) => [r.name, r.bytes === undefined ? "-" : (r.bytes / 1024).toFixed(0), r.ms.toFixed(1), (r.ms / baseline).toFixed(3)]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
