// Runs the pinned serverless CLI with the project's settings: no telemetry, and, for every command, the
// plugin's own requests to a host outside Tencent Cloud's API (telemetry, the real-name check) turned off
// (scripts/serverless-preload.cjs). `package` also runs with every name resolution but this machine's
// refused, so it provably reaches nothing.
// The preload is given by absolute path: serverless runs `npm ls` in other folders (dist/), whose
// node inherits NODE_OPTIONS and would not find a relative one.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const [command = "package", ...rest] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const bin = require.resolve("serverless/bin/serverless.js");
const preload = fileURLToPath(new URL("./serverless-preload.cjs", import.meta.url));
const env = {
  ...process.env,
  SLS_TELEMETRY_DISABLED: "1",
  SLS_NOTIFICATIONS_MODE: "off",
  SLS_DEPRECATION_DISABLE: "*",
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require "${preload}"`.trim(),
  ...(command === "package" || command === "print" ? { CSIP_SCAN_OFFLINE: "1" } : {}),
};
const result = spawnSync(process.execPath, [bin, command, ...rest], { stdio: "inherit", env });
process.exit(result.status ?? 1);
