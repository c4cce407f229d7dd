import { describe, expect, it } from "vitest";
import { FUNCTIONS } from "../../../functions/index.ts";
import { limitProblems } from "../../../local/deploy/limits.ts";
import { deleteTriggerRequest, staleTriggers, unchangedTimers, wantedTriggers } from "../../../local/deploy/triggers.ts";

const timer = (name: string, cron: string) => ({ timer: { name, parameters: { cronExpression: cron, enable: true } } });
const stored = (name: string, cron: string, Enable = 1) => ({ Type: "timer", TriggerName: name, TriggerDesc: JSON.stringify({ cron }), Enable });

describe("wantedTriggers", () => {
  it("names each trigger as the pinned plugin will on SCF: a CKafka one INSTANCE-TOPIC", () => {
    expect(
      wantedTriggers([
        timer("csip-scan-a", "0 3 * * *"),
        { cmq: { name: "topic-a", parameters: { name: "topic-a" } } },
        { ckafka: { name: "ckafka-1", parameters: { name: "ckafka-1", topic: "events" } } },
      ]),
    ).toEqual([
      { type: "timer", name: "csip-scan-a", cron: "0 0 3 * * * *" },
      { type: "cmq", name: "topic-a" },
      { type: "ckafka", name: "ckafka-1-events" },
    ]);
  });
});

describe("unchangedTimers", () => {
  const wanted = wantedTriggers([timer("csip-scan-a", "0 0 3 * * * *"), timer("csip-scan-b", "0 30 4 ? * SAT *")]);

  it.each([
    ["the same name and schedule, enabled: kept", [stored("csip-scan-a", "0 0 3 * * * *")], ["csip-scan-a"]],
    ["the same schedule as SCF stores a five-field one", [stored("csip-scan-a", "0 0 3 * * * *"), stored("csip-scan-b", "0 30 4 ? * SAT *")], ["csip-scan-a", "csip-scan-b"]],
    ["another schedule under the name: not kept", [stored("csip-scan-a", "0 0 4 * * * *")], []],
    ["disabled: not kept (the deploy enables it)", [stored("csip-scan-a", "0 0 3 * * * *", 0)], []],
    ["a TriggerDesc that is not JSON: not kept", [{ Type: "timer", TriggerName: "csip-scan-a", TriggerDesc: "0 0 3 * * * *", Enable: 1 }], []],
    ["nothing there yet", [], []],
  ])("%s", (_, existing, kept) => {
    expect(unchangedTimers(wanted, existing)).toEqual(kept);
  });
});

describe("staleTriggers", () => {
  const scheduled = FUNCTIONS["scheduled-scan"].owns;
  const changes = FUNCTIONS["asset-change"].owns;

  it("on the scheduled scan: only its own timers that are no longer wanted", () => {
    const existing = [
      stored("csip-scan-0_0_3_x_x_x_x-cc3761", "0 0 3 * * * *"),
      stored("csip-scan-gone-123456", "0 0 5 * * * *"),
      stored("nightly-prod", "0 0 3 * * * *"),
      { Type: "apigw", TriggerName: "csip-scan-api" },
    ];
    const wanted = wantedTriggers([timer("csip-scan-0_0_3_x_x_x_x-cc3761", "0 0 3 * * * *")]);
    expect(staleTriggers(wanted, existing, scheduled).map((t) => t.TriggerName)).toEqual(["csip-scan-gone-123456"]);
  });

  it("on asset-change: every CMQ and CKafka trigger the policy file no longer asks for, nothing else", () => {
    const existing = [
      { Type: "cmq", TriggerName: "old-topic" },
      { Type: "cmq", TriggerName: "csip-asset-change" },
      { Type: "ckafka", TriggerName: "ckafka-1-old" },
      { Type: "timer", TriggerName: "csip-scan-hand-made" },
    ];
    const wanted = wantedTriggers([{ cmq: { name: "csip-asset-change", parameters: {} } }]);
    expect(staleTriggers(wanted, existing, changes).map((t) => t.TriggerName)).toEqual(["old-topic", "ckafka-1-old"]);
  });
});

describe("limitProblems", () => {
  const fn = (extra: Partial<Parameters<typeof limitProblems>[0][number]> = {}) => ({ name: "csip-scan-dev-scheduled-scan", environment: {}, triggers: [], ...extra });

  it("nothing to say within the limits", () => {
    expect(limitProblems([fn({ environment: { CSIP_SCAN_CONFIG: "/var/user/config/scan-policies.yaml" }, triggers: wantedTriggers([timer("csip-scan-a", "0 3 * * *")]) })])).toEqual([]);
  });

  it("an environment over 4 KB, counted in bytes of names and values", () => {
    expect(limitProblems([fn({ environment: { A: "x".repeat(2000), B: "é".repeat(1100) } })])).toEqual([
      "csip-scan-dev-scheduled-scan: its environment is 4202 bytes, over SCF's 4096 (the largest variable is B)",
    ]);
    expect(limitProblems([fn({ environment: { A: "x".repeat(4095) } })])).toEqual([]);
  });

  it("more than 10 triggers of one type, and names SCF refuses", () => {
    const timers = Array.from({ length: 11 }, (_, i) => timer(`csip-scan-t${i}`, `0 ${i} 3 * * * *`));
    expect(limitProblems([fn({ triggers: wantedTriggers(timers) })])).toEqual(["csip-scan-dev-scheduled-scan: 11 timer triggers, over SCF's 10 of one type"]);
    expect(limitProblems([fn({ triggers: [{ type: "timer", name: "1-bad" }, { type: "ckafka", name: "k".repeat(61) }] })])).toEqual([
      'csip-scan-dev-scheduled-scan: the timer name "1-bad" is not a letter followed by letters, digits, - or _',
      `csip-scan-dev-scheduled-scan: the ckafka trigger name "${"k".repeat(61)}" is over 60 characters`,
    ]);
  });
});

describe("deleteTriggerRequest", () => {
  it.each([
    ["a timer on $DEFAULT names its qualifier, which DeleteTrigger would otherwise take as $LATEST", { ...stored("csip-scan-a", "0 0 3 * * * *"), Qualifier: "$DEFAULT" }, "$DEFAULT"],
    ["a timer on $LATEST names it too", { ...stored("csip-scan-a", "0 0 3 * * * *"), Qualifier: "$LATEST" }, "$LATEST"],
  ])("%s", (_what, trigger, qualifier) => {
    expect(deleteTriggerRequest("csip-scan-dev-scheduled-scan", "default", trigger)).toEqual({
      FunctionName: "csip-scan-dev-scheduled-scan",
      Namespace: "default",
      Type: "timer",
      TriggerName: "csip-scan-a",
      TriggerDesc: '{"cron":"0 0 3 * * * *"}',
      Qualifier: qualifier,
    });
  });
});
