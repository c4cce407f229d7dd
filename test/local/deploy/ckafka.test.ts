import { describe, expect, it } from "vitest";
import { ckafkaChange, createCkafkaRequest, wantedCkafka } from "../../../local/deploy/ckafka.ts";

// CKafka triggers are made by the project's deploy plugin: the pinned one skips a batch over 999.

const event = (maxMsgNum: number, offset = "latest") => ({ ckafka: { name: "ckafka-0a1b2c3d", parameters: { name: "ckafka-0a1b2c3d", topic: "asset-events", maxMsgNum, offset, enable: true } } });
const held = (desc: Record<string, string>, Enable = 1) => ({ Type: "ckafka", TriggerName: "ckafka-0a1b2c3d-asset-events", TriggerDesc: JSON.stringify({ ...desc, topicName: "asset-events" }), Enable, Qualifier: "$LATEST" });

describe("wantedCkafka", () => {
  it("reads each CKafka event as the trigger SCF shows: INSTANCE-TOPIC, every TriggerDesc field a string, the required four present", () => {
    expect(wantedCkafka([{ timer: { name: "t" } }, event(10_000)])).toEqual([
      { name: "ckafka-0a1b2c3d-asset-events", desc: { maxMsgNum: "10000", offset: "latest", retry: "10000", timeOut: "60" }, enable: true },
    ]);
  });
});

describe("ckafkaChange", () => {
  const [wanted] = wantedCkafka([event(5000)]);

  it.each([
    ["absent: create it", [], { action: "create" }],
    ["held as wanted: keep it", [held({ maxMsgNum: "5000", offset: "latest", retry: "10000", timeOut: "60" })], { action: "keep" }],
    ["held as the pinned plugin made it (no retry, no timeOut), same batch: keep it", [held({ maxMsgNum: "5000", offset: "latest" })], { action: "keep" }],
    ["held with another batch size: replace it", [held({ maxMsgNum: "50", offset: "latest" })], { action: "create", replace: held({ maxMsgNum: "50", offset: "latest" }) }],
    ["held disabled: replace it", [held({ maxMsgNum: "5000", offset: "latest" }, 0)], { action: "create", replace: held({ maxMsgNum: "5000", offset: "latest" }, 0) }],
  ])("%s", (_what, existing, change) => {
    expect(ckafkaChange(wanted!, existing)).toEqual(change);
  });
});

describe("createCkafkaRequest", () => {
  it("is CreateTrigger's request, TriggerDesc as JSON text", () => {
    expect(createCkafkaRequest("csip-scan-dev-asset-change", "default", wantedCkafka([event(5000, "earliest")])[0]!)).toEqual({
      FunctionName: "csip-scan-dev-asset-change",
      Namespace: "default",
      Type: "ckafka",
      TriggerName: "ckafka-0a1b2c3d-asset-events",
      TriggerDesc: '{"maxMsgNum":"5000","offset":"earliest","retry":"10000","timeOut":"60"}',
      Enable: "OPEN",
    });
  });
});
