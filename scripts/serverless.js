// Runs the pinned serverless CLI with the project's settings: no telemetry, and the plugin's own
// telemetry request turned off (scripts/serverless-offline.cjs). `package` also runs with every name
// resolution but this machine's refused, so it provably reaches nothing.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const [command = "package", ...rest] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const bin = require.resolve("serverless/bin/serverless.js");
const env = {
  ...process.env,
  SLS_TELEMETRY_DISABLED: "1",
  SLS_NOTIFICATIONS_MODE: "off",
  SLS_DEPRECATION_DISABLE: "*",
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ./scripts/serverless-offline.cjs`.trim(),
  ...(command === "package" || command === "print" ? { CSIP_SCAN_OFFLINE: "1" } : {}),
};
const result = spawnSync(process.execPath, [bin, command, ...rest], { stdio: "inherit", env });
process.exit(result.status ?? 1);
