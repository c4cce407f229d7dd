import type { Finding, RunResults, TaskResult } from "../../../shared/results/model.ts";

/** Values a hostile or broken CSIP answer could carry into the page: markup, script, links, CSS. */
export const HOSTILE = [
  "<script>alert(1)</script>",
  '"><img src=x onerror=alert(1)>',
  "<svg onload=alert(1)>",
  "javascript:alert(1)",
  "</style><style>body{background:url(https://evil.example/x)}</style>",
  "<iframe src=https://evil.example></iframe>",
  "<a href='https://phish.example'>click</a>",
  "<@all> **bold** [x](http://evil)",
  "&lt;already escaped&gt; ' \" `",
  "<meta http-equiv=refresh content='0;url=https://evil.example'>",
] as const;

export const task = (over: Partial<TaskResult> = {}): TaskResult => ({
  taskId: "rmis-0001",
  taskName: "csip-scan:nightly:20261129T030000Z:1",
  state: "done",
  ended: true,
  assets: 2,
  assetsScanned: 2,
  riskCount: 3,
  durationSeconds: 42,
  reportUrl: "https://csip-report.example.test/r/1.pdf?q-sign-time=1;2",
  scope: { assets: [], typedIn: [], everything: false },
  ...over,
});

export const finding = (id: string, over: Partial<Finding> = {}): Finding => ({
  id,
  kind: "vul",
  asset: "ins-00000001",
  assetName: "web-1",
  level: "high",
  name: `finding ${id}`,
  ...over,
});

/** The results of one run of `policy`, compared with `previous` findings when given. */
export function results(scheduledTime: string, findings: Finding[], options: { previous?: Finding[]; tasks?: TaskResult[]; policy?: string } = {}): RunResults {
  const tasks = options.tasks ?? [task({ riskCount: findings.length })];
  const previous = options.previous;
  const before = new Set(previous?.map((f) => f.id));
  const now = new Set(findings.map((f) => f.id));
  const allDone = tasks.every((t) => t.state === "done");
  return {
    policy: options.policy ?? "nightly",
    trigger: "timer",
    missing: [],
    duplicatesRemoved: [],
    scheduledTime,
    run: `run/csip-scan:${options.policy ?? "nightly"}:${scheduledTime}`,
    tasks,
    ended: true,
    gaveUp: false,
    riskCount: tasks.reduce((n, t) => n + t.riskCount, 0),
    allClear: allDone && findings.length === 0 && tasks.every((t) => t.riskCount === 0),
    findings: findings.slice(0, 5),
    findingsTotal: findings.length,
    comparison: previous
      ? {
          previous: { scheduledTime: "earlier", riskCount: previous.length },
          riskCountChange: findings.length - previous.length,
          newFindings: findings.filter((f) => !before.has(f.id)),
          goneFindings: previous.filter((f) => !now.has(f.id)).map((f) => ({ id: f.id, name: f.name, asset: f.asset, level: f.level })),
        }
      : { previous: undefined, riskCountChange: undefined, newFindings: [], goneFindings: [] },
  };
}
