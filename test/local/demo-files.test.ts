import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isFireTime } from "../../shared/config/scf-cron.ts";
import { loadConfig } from "../../shared/config/load.ts";
import { resultsTimer, timersOf } from "../../shared/run/timer-run.ts";
import { envOf } from "../helpers.ts";

// The demo files a new user runs first (README): what they show must be what a deployed function sees.

const event = (file: string): { TriggerName: string; Time: string } => JSON.parse(readFileSync(`local/events/${file}`, "utf8")) as never;

describe("the demo events", () => {
  it("timer.json names a timer of the demo policy file, at a fire time of its schedule", async () => {
    const { config } = await loadConfig("config/scan-policies.yaml", envOf());
    const { TriggerName, Time } = event("timer.json");
    const timer = timersOf(config).find((t) => t.name === TriggerName);
    expect(timer, `no timer named ${TriggerName}`).toBeDefined();
    expect(isFireTime(timer!.cron, new Date(Time), config.timezone)).toBe(true);
  });

  it("results-timer.json names the scan-results timer, at a fire time of its schedule", async () => {
    const { config } = await loadConfig("config/scan-policies.yaml", envOf());
    const { TriggerName, Time } = event("results-timer.json");
    const timer = resultsTimer(config);
    expect(TriggerName).toBe(timer.name);
    expect(isFireTime(timer.cron, new Date(Time), config.timezone)).toBe(true);
  });

  it("the demo sends a WeCom message in Chinese, so `npm start` shows one", async () => {
    const { config } = await loadConfig("config/scan-policies.yaml", envOf());
    const wecom = Object.entries(config.notifiers).filter(([, n]) => n.type === "wecom" && n.language === "zh").map(([name]) => name);
    expect(config.policies.some((p) => p.notify.some((n) => wecom.includes(n)) && p.notifyOn.includes("results"))).toBe(true);
  });
});

describe("the README", () => {
  const readme = readFileSync("README.md", "utf8");

  it("is a front page: the two commands first, at most 200 lines", () => {
    expect(readme.startsWith("```sh\nnpm ci && npm start\nnpm ci && npm test\n```\n")).toBe(true);
    expect(readme.split("\n").length).toBeLessThanOrEqual(200);
  });

  it("links only pages that exist", () => {
    const links = [...readme.matchAll(/\]\(([^)#]+)(#[^)]*)?\)/g)].map((m) => m[1]!).filter((l) => !l.startsWith("http"));
    expect(links.length).toBeGreaterThan(4);
    for (const link of links) expect(existsSync(link), link).toBe(true);
  });
});
