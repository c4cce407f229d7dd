// Bundles each SCF function into dist/<function>/index.js: one self-contained CommonJS file that
// exports main_handler and runs with no node_modules beside it (SCF's Node.js runtimes load CommonJS).
// `node scripts/build.js OUTDIR` writes them under OUTDIR instead (a test's own copy).
import { writeFileSync } from "node:fs";
import { build } from "esbuild";
import { register } from "tsx/esm/api";

// The functions to build are the rows of the function table (functions/index.ts).
register();
const outdir = process.argv[2] ?? "dist";
const { FUNCTION_NAMES } = await import("../functions/index.ts");
for (const name of FUNCTION_NAMES) {
  const result = await build({
    entryPoints: [`functions/${name}/index.ts`],
    outfile: `${outdir}/${name}/index.js`,
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    minify: true,
    sourcemap: false,
    metafile: true,
    legalComments: "none",
    // Stand-ins for two SDK dependencies the functions never use: see scripts/shims/.
    alias: { "whatwg-url": "./scripts/shims/whatwg-url.cjs", "form-data": "./scripts/shims/form-data.cjs" },
    logLevel: "warning",
  });
  const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
  console.log(`${outdir}/${name}/index.js  ${(bytes / 1024).toFixed(0)} KiB`);
}

// The bundles are CommonJS whatever package.json above them says (this project's says "module").
writeFileSync(`${outdir}/package.json`, `${JSON.stringify({ type: "commonjs" })}\n`);
