import { describe, expect, it } from "vitest";
import { CloudEventSchema, type CloudEvent } from "../../../shared/events/change-event.ts";
import { assetIdsOf, eventKey, EXTRACTORS, eventPattern } from "../../../shared/events/extractors.ts";
import tagAttach from "../../fixtures/events/eventbridge-tag-attach.json" with { type: "json" };
import unknownType from "../../fixtures/events/eventbridge-unknown-type.json" with { type: "json" };

// CloudAudit API-call events as EventBridge delivers them: `type` PRODUCT:CloudEvent:ApiCall, the audit
// log in `data`, the action's own request and response in requestParameters and responseElements.

const UIN = "100000000001";

type Encoding = "objects" | "JSON text";

/** A CloudAudit event of `key` (`cvm:RunInstances`), its request and response written as `encoding`. */
function auditEvent(key: string, request: Record<string, unknown>, response: Record<string, unknown>, encoding: Encoding = "objects"): CloudEvent {
  const [product, action] = key.split(":") as [string, string];
  const write = (value: Record<string, unknown>) => (encoding === "objects" ? value : JSON.stringify(value));
  return CloudEventSchema.parse({
    specversion: "1.0",
    id: "13a3f42d-7258-4ada-da6d-023a33000010",
    type: `${product}:CloudEvent:ApiCall`,
    source: `${product}.cloud.tencent`,
    subject: `qcs::${product}:ap-guangzhou:uin/${UIN}:${action}`,
    time: 1764385200000,
    region: "ap-guangzhou",
    datacontenttype: "application/json;charset=utf-8",
    data: {
      eventName: action,
      eventSource: `${product}.tencentcloudapi.com`,
      eventRegion: "ap-guangzhou",
      userIdentity: { principalId: UIN, accountId: UIN, type: "root" },
      requestParameters: write(request),
      responseElements: write({ ...response, RequestId: "6ef60bec-0242-43af-bb20-270359fb54a7" }),
      errorCode: 0,
    },
  });
}

const qcs = (product: string, resource: string) => `qcs::${product}:ap-guangzhou:uin/${UIN}:${resource}`;

// One row per API call, with its request and response as the action's API document writes them, and
// the asset IDs the event names. Every key of EXTRACTORS has at least one row (checked below).
const ROWS: [key: string, request: Record<string, unknown>, response: Record<string, unknown>, ids: string[]][] = [
  ["cvm:RunInstances", { InstanceType: "S5.MEDIUM4", InstanceCount: 2, ImageId: "img-9qabwvbn" }, { InstanceIdSet: ["ins-new00001", "ins-new00002"] }, ["ins-new00001", "ins-new00002"]],
  ["cvm:ModifyInstancesAttribute", { InstanceIds: ["ins-0a1b2c3d", "ins-1b2c3d4e"], InstanceName: "web-1" }, {}, ["ins-0a1b2c3d", "ins-1b2c3d4e"]],
  ["cvm:ResetInstance", { InstanceId: "ins-0a1b2c3d", ImageId: "img-9qabwvbn" }, {}, ["ins-0a1b2c3d"]],
  ["vpc:AssociateAddress", { AddressId: "eip-dk5f9w3e", InstanceId: "ins-0a1b2c3d" }, { TaskId: "12345" }, ["ins-0a1b2c3d", "eip-dk5f9w3e"]],
  ["vpc:AssociateAddress", { AddressId: "eip-dk5f9w3e", NetworkInterfaceId: "eni-0a1b2c3d", PrivateIpAddress: "10.0.0.11" }, {}, ["eip-dk5f9w3e"]],
  ["clb:CreateLoadBalancer", { LoadBalancerType: "OPEN", LoadBalancerName: "web-lb" }, { LoadBalancerIds: ["lb-0a1b2c3d"], DealName: "20261129000001" }, ["lb-0a1b2c3d"]],
  ["dnspod:CreateDomain", { Domain: "example.com" }, { DomainInfo: { Id: 1000, Punycode: "example.com", Domain: "example.com" } }, ["example.com"]],
  ["dnspod:CreateRecord", { Domain: "example.com", SubDomain: "www", RecordType: "A", RecordLine: "默认", Value: "106.52.96.220" }, { RecordId: 162 }, ["www.example.com"]],
  ["dnspod:ModifyRecord", { Domain: "example.com", SubDomain: "api", RecordType: "A", RecordLine: "默认", Value: "106.52.96.221", RecordId: 162 }, { RecordId: 162 }, ["api.example.com"]],
  ["cdb:CreateDBInstance", { GoodsNum: 1, Memory: 1000, Volume: 25, Zone: "ap-guangzhou-3" }, { DealIds: ["20261129110000001"], InstanceIds: ["cdb-0a1b2c3d"] }, ["cdb-0a1b2c3d"]],
  ["cdb:CreateDBInstanceHour", { GoodsNum: 2, Memory: 1000, Volume: 25 }, { DealIds: ["20261129110000002"], InstanceIds: ["cdb-1b2c3d4e", "cdb-2c3d4e5f"] }, ["cdb-1b2c3d4e", "cdb-2c3d4e5f"]],
  ["postgres:CreateInstances", { SpecCode: "pg.it.small2", Storage: 20, InstanceCount: 1 }, { DealNames: ["20261129110000003"], BillId: "1", DBInstanceIdSet: ["postgres-n3rvf26b"] }, ["postgres-n3rvf26b"]],
  ["tag:AddResourceTag", { TagKey: "env", TagValue: "prod", Resource: qcs("cvm", "instance/ins-old00001") }, {}, ["ins-old00001"]],
  ["tag:ModifyResourceTags", { Resource: qcs("cdb", "instanceId/cdb-0a1b2c3d"), ReplaceTags: [{ TagKey: "env", TagValue: "prod" }] }, {}, ["cdb-0a1b2c3d"]],
  [
    "tag:TagResources",
    { ResourceList: [qcs("cvm", "instance/ins-0a1b2c3d"), qcs("clb", "clb/lb-0a1b2c3d")], Tags: [{ TagKey: "env", TagValue: "prod" }] },
    {},
    ["ins-0a1b2c3d", "lb-0a1b2c3d"],
  ],
  ["tag:AttachResourcesTag", { ServiceType: "cvm", ResourceIds: ["ins-0a1b2c3d", "ins-1b2c3d4e"], TagKey: "env", TagValue: "prod", ResourcePrefix: "instance" }, {}, ["ins-0a1b2c3d", "ins-1b2c3d4e"]],
  ["tag:AttachResourcesTag", { ServiceType: "cvm", ResourceIds: [qcs("cvm", "instance/ins-0a1b2c3d")], TagKey: "env", TagValue: "prod" }, {}, ["ins-0a1b2c3d"]],
];

const ENCODINGS: Encoding[] = ["objects", "JSON text"];

describe("EXTRACTORS", () => {
  it("has a row in the table above for every key, so a new row without a test fails", () => {
    expect([...new Set(ROWS.map(([key]) => key))].sort()).toEqual(Object.keys(EXTRACTORS).sort());
  });
});

describe("assetIdsOf", () => {
  it.each(ENCODINGS.flatMap((encoding) => ROWS.map(([key, request, response, ids]) => [key, encoding, ids, request, response] as const)))(
    "%s, request and response as %s, names %j",
    (key, encoding, ids, request, response) => {
      expect(assetIdsOf(auditEvent(key, request, response, encoding))).toEqual(ids);
    },
  );

  it("names the asset of the official tag-attach example", () => {
    expect(assetIdsOf(CloudEventSchema.parse(tagAttach))).toEqual(["ins-old00001"]);
  });

  it("removes duplicates, keeping the first order", () => {
    const event = auditEvent("cvm:RunInstances", {}, { InstanceIdSet: ["ins-b0000001", "ins-a0000001", "ins-b0000001", "ins-a0000001"] });
    expect(assetIdsOf(event)).toEqual(["ins-b0000001", "ins-a0000001"]);
  });

  it("removes an ID named twice across fields", () => {
    const event = auditEvent("vpc:AssociateAddress", { InstanceId: "ins-0a1b2c3d", AddressId: "ins-0a1b2c3d" }, {});
    expect(assetIdsOf(event)).toEqual(["ins-0a1b2c3d"]);
  });

  it.each([
    ["@", "example.com"],
    ["", "example.com"],
    [undefined, "example.com"],
    ["www", "www.example.com"],
    ["a.b", "a.b.example.com"],
  ])("a DNSPod record with SubDomain %j names %s", (subDomain, name) => {
    const request = { Domain: "example.com", RecordType: "A", RecordLine: "默认", Value: "106.52.96.220", ...(subDomain === undefined ? {} : { SubDomain: subDomain }) };
    expect(assetIdsOf(auditEvent("dnspod:CreateRecord", request, {}))).toEqual([name]);
    expect(assetIdsOf(auditEvent("dnspod:ModifyRecord", request, {}))).toEqual([name]);
  });

  it.each([
    ["no Domain", { SubDomain: "www" }],
    ["an empty Domain", { Domain: "", SubDomain: "www" }],
    ["a numeric Domain", { Domain: 42, SubDomain: "www" }],
  ])("a DNSPod record with %s names nothing", (_, request) => {
    expect(assetIdsOf(auditEvent("dnspod:CreateRecord", request, {}))).toEqual([]);
  });

  it.each([
    [qcs("cvm", "instance/ins-x"), ["ins-x"]],
    ["qcs::cvm:ap-guangzhou:uin/100000000001:instance/ins-0a1b2c3d", ["ins-0a1b2c3d"]],
    [qcs("cdb", "instanceId/cdb-0a1b2c3d"), ["cdb-0a1b2c3d"]],
    ["ins-plain01", ["ins-plain01"]],
    ["qcs::cvm:ap-guangzhou:uin/100000000001:instance/", []],
    ["", []],
  ])("a tag resource named %j names %j", (resource, ids) => {
    expect(assetIdsOf(auditEvent("tag:AddResourceTag", { TagKey: "env", TagValue: "prod", Resource: resource }, {}))).toEqual(ids);
  });

  it.each([
    ["a field of the wrong type", "cvm:ResetInstance", { InstanceId: 42 }, {}],
    ["a list of non-strings", "cvm:ModifyInstancesAttribute", { InstanceIds: [1, null, ""] }, {}],
    ["a missing response", "cvm:RunInstances", {}, {}],
  ])("%s names nothing (an empty list, not undefined)", (_, key, request, response) => {
    expect(assetIdsOf(auditEvent(key, request, response))).toEqual([]);
  });

  it("reads requestParameters that are not JSON as empty", () => {
    const event = auditEvent("cvm:ResetInstance", {}, {});
    event.data.requestParameters = "{InstanceId: ins-0a1b2c3d";
    expect(assetIdsOf(event)).toEqual([]);
  });

  it.each([
    ["an event that is no CloudAudit call", CloudEventSchema.parse(unknownType)],
    ["an API call no row handles", auditEvent("cvm:StopInstances", { InstanceIds: ["ins-0a1b2c3d"] }, {})],
    ["a known action of another product", auditEvent("cbs:RunInstances", {}, { InstanceIdSet: ["ins-0a1b2c3d"] })],
  ])("gives undefined for %s", (_, event) => {
    expect(assetIdsOf(event)).toBeUndefined();
  });
});

describe("eventKey", () => {
  const base = { id: "e1", source: "cvm.cloud.tencent" };
  it.each([
    ["cvm:CloudEvent:ApiCall", { eventName: "RunInstances" }, "cvm:RunInstances"],
    ["cvm:CloudEvent:ConsoleCall", { eventName: "RunInstances" }, "cvm:RunInstances"],
    ["CVM:CloudEvent:ApiCall", { eventName: "RunInstances" }, "cvm:RunInstances"],
    ["tag:CloudEvent:MiniProgramCall", { EventName: "AddResourceTag" }, "tag:AddResourceTag"],
    ["cvm:CloudEvent:ApiCall", {}, undefined],
    ["cvm:CloudEvent:ApiCall", { eventName: 42 }, undefined],
    ["cos:created:object", { eventName: "PutObject" }, undefined],
    [":CloudEvent:ApiCall", { eventName: "RunInstances" }, undefined],
  ])("type %s with data %j is %s", (type, data, key) => {
    expect(eventKey(CloudEventSchema.parse({ ...base, type, data }))).toBe(key);
  });
});

describe("eventPattern", () => {
  it("lets through the CloudAudit events of every product the table names, by source and type", () => {
    const products = [...new Set(Object.keys(EXTRACTORS).map((key) => key.split(":")[0]!))];
    expect(eventPattern()).toEqual({
      source: products.map((p) => `${p}.cloud.tencent`),
      type: products.flatMap((p) => [`${p}:CloudEvent:ApiCall`, `${p}:CloudEvent:ConsoleCall`]),
    });
    expect(products).toEqual(["cvm", "vpc", "clb", "dnspod", "cdb", "postgres", "tag"]);
  });
});
