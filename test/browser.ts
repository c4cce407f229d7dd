import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * Debian's headless Chromium for the tests that open a results page: found on PATH, run with no proxy, no
 * background networking, no crash reporter, its own profile, and every host name unresolvable unless a
 * rule maps it (a Function URL's host to the cloud stand-in). Skipped only outside CI when none is
 * installed; in CI (.ci/run installs it) it must run.
 */

const BROWSERS = ["chromium-headless-shell", "chromium"];

export const BROWSER_NAMES = BROWSERS.join(" or ");

/** The browser on PATH, if any. */
export const browser = BROWSERS.flatMap((name) => (process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, name))).find((path) => existsSync(path));

export const inCI = process.env.CI === "true";

/** The arguments every test's browser runs with; `hostRules` go before the rule that makes every other name unresolvable. */
export function browserArgs(profile: string, options: { hostRules?: readonly string[]; extra?: readonly string[] } = {}): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-crash-reporter",
    "--disable-breakpad",
    "--disable-extensions",
    "--no-first-run",
    `--host-resolver-rules=${[...(options.hostRules ?? []), "MAP * ~NOTFOUND"].join(", ")}`,
    `--user-data-dir=${profile}`,
    "--hide-scrollbars",
    "--dump-dom",
    "--enable-logging=stderr",
    "--v=0",
    ...(options.extra ?? []),
  ];
}

/**
 * Opens `url` without blocking this process (a stand-in answering the browser may live in it): the DOM
 * after load and the browser's console lines.
 */
export function openInBrowser(url: string, profile: string, options: { hostRules?: readonly string[]; extra?: readonly string[]; home: string }): Promise<{ dom: string; console: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(browser!, [...browserArgs(profile, options), url], { env: { ...process.env, http_proxy: "", https_proxy: "", HOME: options.home } });
    let dom = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.on("data", (chunk: Buffer) => (dom += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${browser} ended with ${code ?? signal}:\n${stderr}`));
      else resolve({ dom, console: stderr.split("\n").filter((line) => line.includes(":CONSOLE")) });
    });
  });
}
