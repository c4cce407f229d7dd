import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { TransportName } from "../../../shared/events/change-event.ts";
import { parseAssetChangeDelivery, type RejectedRecord } from "../../../shared/events/delivery.ts";
import { RECORD_TRANSPORTS, TRANSPORTS, type Transport } from "../../../shared/events/transports/index.ts";
import { EventError } from "../../../shared/errors.ts";
import cmqTopic from "../../fixtures/events/cmq-topic.json" with { type: "json" };
import runInstances from "../../fixtures/events/eventbridge-run-instances.json" with { type: "json" };

/** The shapes named when a delivery is none of them. */
const ACCEPTED = 'the asset-change function reads an EventBridge event (CloudEvents: specversion, id, type, source, data) or {"Records": [...]} of CMQ or Ckafka records';

// Deliveries to the asset-change function as EventBridge, CMQ and CKafka send them, read through the
// transport table. The fixtures are the official shapes (test/fixtures/events/). A malformed delivery
// is an EventError; a malformed record of a batch is set aside with its index and the path of its bad field.

const FIXTURES = "test/fixtures/events";

/** A fixture, as the function receives it. */
function fixture(file: string): unknown {
  return JSON.parse(readFileSync(`${FIXTURES}/${file}`, "utf8")) as unknown;
}

/** The EventError a whole delivery is refused with. */
function rejection(delivery: unknown): EventError {
  try {
    parseAssetChangeDelivery(delivery);
  } catch (error) {
    if (error instanceof EventError) return error;
    throw error;
  }
  throw new Error("expected an EventError");
}

/** A CloudEvent as the official CloudAudit examples write it, with `id` changed. */
const cloudEvent = (id: string) => ({ ...runInstances, id });

/** The same, as the JSON text a record's msgBody holds, with fields changed by `extra`. */
const eventText = (id: string, extra: Record<string, unknown> = {}) => JSON.stringify({ ...cloudEvent(id), ...extra });

/** A CMQ topic record carrying `body` as its msgBody text. */
const cmqRecord = (body: string, extra: Record<string, unknown> = {}) => ({ CMQ: { ...cmqTopic.Records[0]!.CMQ, msgBody: body, ...extra } });

/** A CKafka record carrying `body`, with fields changed by `extra`. */
const ckafkaRecord = (body: string, extra: Record<string, unknown> = {}) => ({
  Ckafka: { topic: "csip-asset-change", partition: 1, offset: 36, msgKey: "None", msgBody: body, ...extra },
});

describe("parseAssetChangeDelivery, the official fixtures", () => {
  // One row per change fixture: which transport carried it, the event inside, the CMQ tags.
  const EXPECTED: Record<string, { via: TransportName; id: string; type: string; tags: string[] }> = {
    "ckafka.json": { via: "ckafka", id: "13a3f42d-7258-4ada-da6d-023a33000004", type: "cvm:CloudEvent:ApiCall", tags: [] },
    "cmq-topic.json": { via: "cmq", id: "13a3f42d-7258-4ada-da6d-023a33000003", type: "cvm:CloudEvent:ApiCall", tags: ["asset", "cvm"] },
    "eventbridge-run-instances.json": { via: "eventbridge", id: "13a3f42d-7258-4ada-da6d-023a33000001", type: "cvm:CloudEvent:ApiCall", tags: [] },
    "eventbridge-tag-attach.json": { via: "eventbridge", id: "13a3f42d-7258-4ada-da6d-023a33000002", type: "tag:CloudEvent:ApiCall", tags: [] },
    "eventbridge-unknown-type.json": { via: "eventbridge", id: "13a3f42d-7258-4ada-da6d-023a33000005", type: "cos:created:object", tags: [] },
  };
  /** The timer's event lives beside them; it is no change delivery. */
  const NOT_A_CHANGE = ["timer.json"];

  it("has a row for every fixture in the folder, so a new fixture without one fails", () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".json") && !NOT_A_CHANGE.includes(f));
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED).map(([file, expected]) => [file, expected.via, expected] as const))("%s is one event via %s", (file, _, { via, id, type, tags }) => {
    const { events, rejected } = parseAssetChangeDelivery(fixture(file));
    expect(events.map((e) => ({ via: e.via, id: e.event.id, type: e.event.type, tags: e.tags }))).toEqual([{ via, id, type, tags }]);
    expect(rejected).toEqual([]);
  });

  it("unwraps a record's msgBody into the event itself, data included", () => {
    const [change] = parseAssetChangeDelivery(fixture("ckafka.json")).events;
    expect(change!.event).toMatchObject({
      specversion: "1.0",
      source: "cvm.cloud.tencent",
      time: 1764385200000,
      region: "ap-guangzhou",
      data: { eventName: "RunInstances", responseElements: '{"InstanceIdSet":["ins-new00001"],"RequestId":"6ef60bec-0242-43af-bb20-270359fb54a7"}' },
    });
  });

  it("keeps the official examples' quirks: specversion 0, time as text, the misspelt subjuect", () => {
    const [change] = parseAssetChangeDelivery(fixture("eventbridge-tag-attach.json")).events;
    expect(change!.event).toMatchObject({ specversion: "0", time: "1764385260000", subjuect: "qcs::tag:ap-guangzhou:uin/100000000001:resource" });
  });

  it("refuses the timer's event at the missing id", () => {
    const error = rejection(fixture("timer.json"));
    expect([error.path, error.message]).toEqual(["id", `invalid event at id: Invalid input: expected string, received undefined; ${ACCEPTED}`]);
  });
});

describe("parseAssetChangeDelivery, CMQ message tags", () => {
  const body = eventText("evt-tags");
  it.each<[string, string[], string[] | string]>([
    ["a list", ["asset", "cvm"], ["asset", "cvm"]],
    ['"a,b" text', ["asset", "cvm"], "asset,cvm"],
    ["text with spaces and an empty entry", ["asset", "cvm"], " asset , ,cvm "],
    ["one tag as text", ["asset"], "asset"],
    ["empty text", [], ""],
    ["an empty list", [], []],
  ])("msgTag as %s gives %j", (_, tags, msgTag) => {
    const { events } = parseAssetChangeDelivery({ Records: [cmqRecord(body, { msgTag })] });
    expect(events.map((e) => e.tags)).toEqual([tags]);
  });

  it("no msgTag gives no tags", () => {
    const { msgTag: _, ...untagged } = cmqTopic.Records[0]!.CMQ;
    const { events } = parseAssetChangeDelivery({ Records: [{ CMQ: untagged }] });
    expect(events.map((e) => e.tags)).toEqual([[]]);
  });
});

describe("parseAssetChangeDelivery, several records", () => {
  it("gives one event per record, in order, each with its own transport", () => {
    const delivery = {
      Records: [cmqRecord(eventText("evt-1"), { msgTag: ["asset"] }), cmqRecord(eventText("evt-2"), { msgTag: "cvm" }), ckafkaRecord(eventText("evt-3"))],
    };
    const { events, rejected } = parseAssetChangeDelivery(delivery);
    expect(events.map((c) => [c.via, c.event.id, c.tags])).toEqual([
      ["cmq", "evt-1", ["asset"]],
      ["cmq", "evt-2", ["cvm"]],
      ["ckafka", "evt-3", []],
    ]);
    expect(rejected).toEqual([]);
  });
});

describe("parseAssetChangeDelivery, a malformed delivery", () => {
  const { id: _, ...withoutId } = runInstances;

  // Each delivery that cannot be read at all, and the path and message of its EventError.
  const MALFORMED: [string, unknown, string, string][] = [
    ["Records not a list", { Records: cmqRecord(eventText("evt-1")) }, "Records", "must be a list"],
    ["Records empty", { Records: [] }, "Records", "must list at least one record"],
    ["an EventBridge event without id", withoutId, "id", "Invalid input: expected string, received undefined"],
    ["a timer's event", { Type: "Timer", TriggerName: "t", Time: "2026-11-29T03:00:00Z" }, "id", `Invalid input: expected string, received undefined; ${ACCEPTED}`],
    ["an EventBridge event with an empty source", { ...runInstances, source: "" }, "source", "Too small: expected string to have >=1 characters"],
    ["an EventBridge event whose data is a number", { ...runInstances, data: 5 }, "data", "Invalid input: expected record, received number"],
    ["null", null, "", `Invalid input: expected object, received null; ${ACCEPTED}`],
    ["text", "RunInstances", "", `Invalid input: expected object, received string; ${ACCEPTED}`],
  ];

  it.each(MALFORMED.map(([name, delivery, path, message]) => [name, path, message, delivery] as const))("%s: EventError at %j", (_, path, message, delivery) => {
    const error = rejection(delivery);
    expect(error.path).toBe(path);
    expect(error.message).toBe(path ? `invalid event at ${path}: ${message}` : `invalid event: ${message}`);
  });
});

describe("parseAssetChangeDelivery, a malformed record in a batch", () => {
  const body = eventText("evt-bad");

  // Each bad record, read second in a batch after a good one: the good one is read, the bad one set
  // aside with its index, the path of its bad field and why.
  const BAD_RECORDS: [string, unknown, string, string][] = [
    ["a record that is not an object", null, "Records.1", "must be an object"],
    ["a record with neither CMQ nor Ckafka", { COS: { cosSchemaVersion: "1.0" } }, "Records.1", "has none of CMQ, Ckafka"],
    ["a record whose key is misspelt", { cmq: cmqRecord(body).CMQ }, "Records.1", "has none of CMQ, Ckafka"],
    ["a msgBody that is not JSON", cmqRecord("{not json"), "Records.1.CMQ.msgBody", "is not JSON"],
    ["a CKafka msgBody that is not JSON", ckafkaRecord("ins-new00001"), "Records.1.Ckafka.msgBody", "is not JSON"],
    ["a msgBody that is JSON but not an object", cmqRecord("[1]"), "Records.1.CMQ.msgBody", "Invalid input: expected object, received array"],
    ["an empty type inside the event", cmqRecord(eventText("evt-bad", { type: "" })), "Records.1.CMQ.msgBody.type", "Too small: expected string to have >=1 characters"],
    ["a numeric id inside the event", ckafkaRecord(eventText("evt-bad", { id: 42 })), "Records.1.Ckafka.msgBody.id", "Invalid input: expected string, received number"],
    ["a CMQ queue record, not a topic", cmqRecord(body, { type: "queue" }), "Records.1.CMQ.type", 'Invalid input: expected "topic"'],
    ["a msgTag that is a number", cmqRecord(body, { msgTag: 5 }), "Records.1.CMQ.msgTag", "Invalid input: expected array, received number"],
    ["a msgTag list holding a number", cmqRecord(body, { msgTag: ["asset", 5] }), "Records.1.CMQ.msgTag.1", "Invalid input: expected string, received number"],
    // Of several bad fields, the deepest is named (shared/events/delivery.ts, `deepest`).
    ["a queue record whose event has a numeric id", cmqRecord(eventText("evt-bad", { id: 42 }), { type: "queue" }), "Records.1.CMQ.msgBody.id", "Invalid input: expected string, received number"],
    ["a CKafka partition as text", ckafkaRecord(body, { partition: "1" }), "Records.1.Ckafka.partition", "Invalid input: expected number, received string"],
    ["a CKafka partition that is not whole", ckafkaRecord(body, { partition: 1.5 }), "Records.1.Ckafka.partition", "Invalid input: expected int, received number"],
    ["a CKafka offset missing", { Ckafka: { topic: "csip-asset-change", partition: 1, msgBody: body } }, "Records.1.Ckafka.offset", "Invalid input: expected number, received undefined"],
  ];

  it.each(BAD_RECORDS.map(([name, record, path, message]) => [name, path, message, record] as const))("%s is set aside at %j", (_, path, message, record) => {
    const { events, rejected } = parseAssetChangeDelivery({ Records: [cmqRecord(eventText("evt-good")), record] });
    expect(events.map((e) => e.event.id)).toEqual(["evt-good"]);
    expect(rejected).toEqual([{ index: 1, path, message } satisfies RejectedRecord]);
  });

  it("reads the good records around bad ones, and sets aside each bad one by its index", () => {
    const delivery = {
      Records: [null, ckafkaRecord(eventText("evt-1")), cmqRecord("{not json"), cmqRecord(eventText("evt-2")), ckafkaRecord(body, { partition: "3" })],
    };
    const { events, rejected } = parseAssetChangeDelivery(delivery);
    expect(events.map((e) => [e.via, e.event.id])).toEqual([
      ["ckafka", "evt-1"],
      ["cmq", "evt-2"],
    ]);
    expect(rejected).toEqual([
      { index: 0, path: "Records.0", message: "must be an object" },
      { index: 2, path: "Records.2.CMQ.msgBody", message: "is not JSON" },
      { index: 4, path: "Records.4.Ckafka.partition", message: "Invalid input: expected number, received string" },
    ]);
  });

  it("gives a batch of bad records no events and every record set aside, without throwing", () => {
    const { events, rejected } = parseAssetChangeDelivery({ Records: [cmqRecord("{"), { COS: {} }] });
    expect(events).toEqual([]);
    expect(rejected.map((r) => [r.index, r.path])).toEqual([
      [0, "Records.0.CMQ.msgBody"],
      [1, "Records.1"],
    ]);
  });
});

describe("TRANSPORTS", () => {
  const rows: readonly Transport[] = Object.values(TRANSPORTS);

  it("names every row uniquely, and every record key too", () => {
    const names = rows.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    const keys = RECORD_TRANSPORTS.map((t) => t.recordKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("lists as record transports exactly the rows with a record key", () => {
    expect(RECORD_TRANSPORTS.map((t) => [t.name, t.recordKey])).toEqual([
      ["cmq", "CMQ"],
      ["ckafka", "Ckafka"],
    ]);
  });

  // The serverless.yml triggers each configurable row makes from its `assetChange.<key>` settings,
  // as test/deploy/package.test.ts expects them in the deployed service. serverless-tencent-scf creates a
  // CMQ trigger only when it is named after the topic, and a CKafka one only when named after the instance.
  const TRIGGERS: [string, string, unknown, Record<string, unknown>][] = [
    ["cmq", "cmq", { topic: "csip-asset-change" }, { cmq: { name: "csip-asset-change", parameters: { name: "csip-asset-change", enable: true } } }],
    [
      "ckafka",
      "ckafka",
      { instance: "ckafka-0a1b2c3d", topic: "asset-events", maxMsgNum: 50 },
      { ckafka: { name: "ckafka-0a1b2c3d", parameters: { name: "ckafka-0a1b2c3d", topic: "asset-events", maxMsgNum: 50, offset: "latest", enable: true } } },
    ],
    [
      "ckafka",
      "ckafka",
      { instance: "ckafka-0a1b2c3d", topic: "asset-events" },
      { ckafka: { name: "ckafka-0a1b2c3d", parameters: { name: "ckafka-0a1b2c3d", topic: "asset-events", maxMsgNum: 100, offset: "latest", enable: true } } },
    ],
    [
      "ckafka",
      "ckafka",
      { instance: "ckafka-0a1b2c3d", topic: "asset-events", maxMsgNum: 2, offset: "earliest" },
      { ckafka: { name: "ckafka-0a1b2c3d", parameters: { name: "ckafka-0a1b2c3d", topic: "asset-events", maxMsgNum: 2, offset: "earliest", enable: true } } },
    ],
    [
      "ckafka",
      "ckafka",
      // SCF's limit, over the pinned plugin's 999: the project's deploy plugin makes the trigger.
      { instance: "ckafka-0a1b2c3d", topic: "asset-events", maxMsgNum: 10_000 },
      { ckafka: { name: "ckafka-0a1b2c3d", parameters: { name: "ckafka-0a1b2c3d", topic: "asset-events", maxMsgNum: 10_000, offset: "latest", enable: true } } },
    ],
  ];

  it("has a trigger row below for every transport with settings, so a new one without a test fails", () => {
    expect(rows.filter((t) => t.config?.trigger).map((t) => t.name)).toEqual([...new Set(TRIGGERS.map(([name]) => name))]);
  });

  it.each(TRIGGERS)("%s under assetChange.%s: %j makes its trigger", (name, key, settings, trigger) => {
    const row = rows.find((t) => t.name === name)!;
    expect(row.config!.key).toBe(key);
    expect(row.config!.trigger!(row.config!.schema.parse(settings))).toEqual(trigger);
  });

  it("EventBridge takes a bus (default: default) and makes no serverless.yml trigger: the deploy plugin makes its rule", () => {
    const row = rows.find((t) => t.name === "eventbridge")!;
    expect([row.config!.key, row.config!.schema.parse({}), row.config!.trigger]).toEqual(["eventBridge", { bus: "default" }, undefined]);
  });

  it.each([
    ["eventbridge", { bus: "" }],
    ["cmq", { topic: "" }],
    ["cmq", { topic: "csip-asset-change", queue: "typo" }],
    ["ckafka", { instance: "ckafka-0a1b2c3d" }],
    ["ckafka", { instance: "ckafka-0a1b2c3d", topic: "asset-events", maxMsgNum: 0 }],
    ["ckafka", { instance: "ckafka-0a1b2c3d", topic: "asset-events", maxMsgNum: 10_001 }],
    ["ckafka", { instance: "ckafka-0a1b2c3d", topic: "asset-events", offset: "newest" }],
  ])("%s refuses the settings %j", (name, settings) => {
    const row = rows.find((t) => t.name === name)!;
    expect(row.config!.schema.safeParse(settings).success).toBe(false);
  });
});
