import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Processes whose Tencent Cloud requests go to a cloud stand-in: the environment that preloads
 * local/deploy/redirect.cjs, and a runner for a script under it. The redirect patches node's http(s) in the
 * process it is loaded into, so it always runs in a child, never in the process that serves the stand-in.
 */

/** By absolute path: children started in other folders (serverless's `npm ls` in dist/) inherit NODE_OPTIONS. */
export const REDIRECT_PRELOAD = fileURLToPath(new URL("../deploy/redirect.cjs", import.meta.url));

/** Variables that would send requests to a proxy instead of the stand-in. */
const PROXY_VARIABLES = ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"];

/** `base` without proxies, with the redirect preloaded and pointed at the stand-in. */
export function redirectedEnv(base: Record<string, string | undefined>, standInUrl: string): Record<string, string> {
  const kept = Object.entries(base).filter((entry): entry is [string, string] => entry[1] !== undefined && !PROXY_VARIABLES.includes(entry[0]));
  return {
    ...Object.fromEntries(kept),
    CSIP_SCAN_CLOUD_STANDIN: standInUrl,
    NODE_OPTIONS: `${base.NODE_OPTIONS ?? ""} --require "${REDIRECT_PRELOAD}"`.trim(),
  };
}

export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a CommonJS `script` (node -e) in `cwd` with the redirect, and resolves when it exits. Asynchronous on
 * purpose: the stand-in answering the child lives in this process.
 */
export function runRedirected(standInUrl: string, script: string, options: { cwd: string; env?: Record<string, string | undefined> }): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["-e", script], { cwd: options.cwd, env: redirectedEnv(options.env ?? process.env, standInUrl) });
    const result = { stdout: "", stderr: "" };
    child.stdout.on("data", (chunk: Buffer) => (result.stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (result.stderr += chunk.toString("utf8")));
    child.on("close", (code) => resolve({ code: code ?? 1, ...result }));
  });
}
