import { describe, expect, it } from "vitest";
import { expandGroups, GroupMatcher, kindsNeeded, matchesTags } from "../../../shared/assets/expand.ts";
import type { Inventory } from "../../../shared/assets/inventory.ts";
import { ASSET_KINDS, kindsForId, type Asset, type AssetKind } from "../../../shared/assets/kinds.ts";
import type { AssetGroup } from "../../../shared/config/schema.ts";
import cvm from "../../fixtures/csip/describe-cvm-assets.json" with { type: "json" };
import db from "../../fixtures/csip/describe-db-assets.json" with { type: "json" };
import domain from "../../fixtures/csip/describe-domain-assets.json" with { type: "json" };
import publicIp from "../../fixtures/csip/describe-public-ip-assets.json" with { type: "json" };

const asset = (kind: AssetKind, id: string, tags: Record<string, string> = {}, aliases: string[] = []): Asset => ({
  kind,
  id,
  name: id,
  region: "ap-guangzhou",
  instanceType: kind === "cvm" ? "CVM" : "",
  tags: Object.entries(tags).map(([name, value]) => ({ name, value })),
  aliases,
});

const INVENTORY: Inventory = {
  assets: [
    asset("cvm", "ins-b", { env: "prod", tier: "web" }, ["203.0.113.2"]),
    asset("cvm", "ins-a", { env: "prod", tier: "api" }),
    asset("cvm", "ins-c", { env: "prod", tier: "web", scan: "skip" }),
    asset("cvm", "ins-d", { env: "dev", tier: "web" }),
    asset("db", "cdb-a", { env: "prod", tier: "db" }),
    asset("domain", "a.example.com", { env: "prod", tier: "web" }),
    asset("publicIp", "203.0.113.9", { env: "prod", tier: "web" }),
  ],
};

const group = (include: AssetGroup["include"], exclude: AssetGroup["exclude"] = []): AssetGroup => ({ include, exclude });
const ids = (groups: Record<string, AssetGroup>, names: string[]): string[] => expandGroups(names, groups, INVENTORY).assets.map((a) => a.id);

describe("matchesTags", () => {
  it.each([
    [{ env: "prod" }, true],
    [{ env: "prod", tier: "web" }, true],
    [{ env: "prod", tier: ["api", "web"] }, true],
    [{ env: "prod", tier: "api" }, false],
    [{ owner: "x" }, false],
    [{}, true],
  ])("%j on env=prod tier=web: %s", (selector, expected) => {
    expect(matchesTags(asset("cvm", "x", { env: "prod", tier: "web" }), selector)).toBe(expected);
  });
});

describe("expandGroups", () => {
  it("keeps every listed tag key, any of a value list, in a stable order without duplicates", () => {
    const groups = { web: group([{ tags: { env: "prod", tier: ["web", "api"] } }, { assets: ["ins-a"] }]) };
    expect(ids(groups, ["web"])).toEqual(["ins-a", "ins-b", "ins-c", "203.0.113.9", "a.example.com"]);
  });

  it("subtracts excludes, and nests groups at any depth", () => {
    const groups = {
      a: group([{ group: "b" }], [{ tags: { scan: "skip" } }]),
      b: group([{ group: "c" }, { assets: ["cdb-a"] }]),
      c: group([{ tags: { tier: "web" } }], [{ assets: ["ins-d"] }]),
    };
    // Ordered by kind (cvm, publicIp, domain, db), then ID.
    expect(ids(groups, ["a"])).toEqual(["ins-b", "203.0.113.9", "a.example.com", "cdb-a"]);
    expect(expandGroups(["a", "c"], groups, INVENTORY).perGroup).toEqual({ a: 4, c: 4 });
  });

  it("excludes a nested group's members", () => {
    const groups = { all: group([{ tags: { env: "prod" } }], [{ group: "web" }]), web: group([{ tags: { tier: "web" } }]) };
    expect(ids(groups, ["all"])).toEqual(["ins-a", "cdb-a"]);
  });

  it("finds a CVM by its public IP, and reports IDs the inventory does not know", () => {
    const groups = { g: group([{ assets: ["203.0.113.2", "ins-zzz", "cdb-a"] }], [{ assets: ["ins-also-unknown"] }]) };
    const expansion = expandGroups(["g"], groups, INVENTORY);
    expect(expansion.assets.map((a) => a.id)).toEqual(["ins-b", "cdb-a"]);
    expect(expansion.unknown).toEqual(["ins-zzz"]);
  });
});

describe("GroupMatcher, one asset at a time as the walk meets them", () => {
  const walk = (groups: Record<string, AssetGroup>, names: string[], assets: Asset[]) => {
    const matcher = new GroupMatcher(names, groups);
    const now = assets.filter((a) => matcher.offer(a)).map((a) => a.id);
    return { now, atEnd: matcher.end().map((a) => a.id), perGroup: matcher.perGroup, unknown: matcher.unknown() };
  };

  it("decides an asset no group names by an alias at once", () => {
    const groups = { web: group([{ tags: { tier: "web" } }], [{ tags: { scan: "skip" } }]) };
    expect(walk(groups, ["web"], [...INVENTORY.assets])).toEqual({
      now: ["ins-b", "ins-d", "a.example.com", "203.0.113.9"],
      atEnd: [],
      perGroup: { web: 4 },
      unknown: [],
    });
  });

  it.each([
    ["the IP list has the address as its ID: the IP, not the CVM", true, ["203.0.113.2"]],
    ["no asset has the address as its ID: the CVM, by its public IP", false, ["ins-b"]],
  ])("an address a group lists, held back to the walk's end: %s", (_, listed, expected) => {
    const groups = { g: group([{ assets: ["203.0.113.2"] }]) };
    const cvmFirst = [asset("cvm", "ins-b", {}, ["203.0.113.2"]), ...(listed ? [asset("publicIp", "203.0.113.2", {}, ["ins-b"])] : [])];
    const found = walk(groups, ["g"], cvmFirst);
    expect([...found.now, ...found.atEnd]).toEqual(expected);
    expect(found.unknown).toEqual([]);
  });

  it("an instance a group lists is the CVM, not the public IP whose row names it, whichever comes first", () => {
    const groups = { g: group([{ assets: ["ins-b"] }]) };
    const ip = asset("publicIp", "203.0.113.2", {}, ["ins-b"]);
    const host = asset("cvm", "ins-b", {}, ["203.0.113.2"]);
    for (const order of [[ip, host], [host, ip]]) {
      const found = walk(groups, ["g"], order);
      expect([...found.now, ...found.atEnd]).toEqual(["ins-b"]);
      expect(found.perGroup).toEqual({ g: 1 });
    }
  });

  it("an address a group lists is not unknown when the asset it names came in by another selector first", () => {
    const groups = { g: group([{ tags: { env: "prod" } }, { assets: ["203.0.113.2"] }]) };
    const found = walk(groups, ["g"], [asset("cvm", "ins-b", { env: "prod" }, ["203.0.113.2"])]);
    expect(found).toEqual({ now: [], atEnd: ["ins-b"], perGroup: { g: 1 }, unknown: [] });
  });

  it("an exclude by alias follows the same rule", () => {
    const groups = { g: group([{ tags: { env: "prod" } }], [{ assets: ["203.0.113.2"] }]) };
    const found = walk(groups, ["g"], [asset("cvm", "ins-b", { env: "prod" }, ["203.0.113.2"]), asset("cvm", "ins-a", { env: "prod" })]);
    expect(found).toMatchObject({ now: ["ins-a"], atEnd: [], perGroup: { g: 1 } });
  });
});

describe("kindsNeeded", () => {
  it.each([
    [[{ assets: ["ins-1"] }], ["cvm"]],
    [[{ assets: ["cdb-1", "shop.example.com"] }], ["domain", "db"]],
    [[{ assets: ["203.0.113.1"] }], ["cvm", "publicIp"]],
    [[{ tags: { env: "prod" } }], ["cvm", "publicIp", "domain", "db"]],
    [[{ assets: ["???"] }], ["cvm", "publicIp", "domain", "db"]],
  ])("%j needs %j", (include, kinds) => {
    expect(kindsNeeded(["g"], { g: group(include as AssetGroup["include"]) })).toEqual(kinds);
  });

  it("follows nested groups", () => {
    expect(kindsNeeded(["a"], { a: group([{ group: "b" }]), b: group([{ assets: ["cdb-1"] }]) })).toEqual(["db"]);
  });

  it("guesses kinds from ID forms", () => {
    expect(kindsForId("ins-0a1b2c3d")).toEqual(["cvm"]);
    expect(kindsForId("2001:db8::1")).toEqual(["publicIp", "cvm"]);
  });
});

describe("reading the official list examples", () => {
  it.each([
    ["cvm", cvm.Data, { kind: "cvm", id: "ins-ggrnxdwj", name: "主机测试2-win", region: "ap-chengdu", instanceType: "CVM", memberId: "mem-625c522c0913c901", aliases: ["139.*.*.171"] }],
    ["publicIp", publicIp.Data, { kind: "publicIp", id: "106.52.96.220", name: "cluster-node-10.26", instanceType: "CVM", tags: [{ name: "name1", value: "value1" }] }],
    ["domain", domain.Data, { kind: "domain", id: "book.szzucieva.com", name: "book.szzucieva.com", region: "other", instanceType: "未知" }],
    ["db", db.Data, { kind: "db", id: "postgres-n3rvf26b", name: "Unnamed", instanceType: "POSTGRES", tags: [{ name: "new", value: "sign" }, { name: "业务测试", value: "业务测试数据" }] }],
  ] as const)("%s", (kind, items, expected) => {
    expect(ASSET_KINDS[kind].fromItem(items[0] as Record<string, unknown>)).toMatchObject(expected);
  });

  it("skips an item without an ID", () => {
    expect(ASSET_KINDS.cvm.fromItem({ AssetName: "ghost" })).toBeUndefined();
  });
});
