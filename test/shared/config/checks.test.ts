import { describe, expect, it } from "vitest";
import { configWarnings } from "../../../shared/config/checks.ts";
import { parseConfig } from "../../../shared/config/load.ts";
import { envOf } from "../../helpers.ts";

// Warnings: settings that are valid but may fail on a real account, which `validate` prints.

const file = (assetChange: string): string => `version: 1
assetGroups:
  web: { include: [{ tags: { tier: web } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [web], scanItems: [port] }
${assetChange}`;

describe("configWarnings", () => {
  it("warns that assetChange.cmq makes a trigger type SCF's CreateTrigger no longer lists, naming the ways that remain", () => {
    const config = parseConfig(file("assetChange:\n  cmq: { topic: csip-asset-change }\n"), "p.yaml", envOf());
    expect(configWarnings(config)).toEqual([
      { path: ["assetChange", "cmq"], message: expect.stringMatching(/cmq trigger, a type SCF's CreateTrigger no longer lists .*assetChange\.eventBridge or assetChange\.ckafka/) },
    ]);
  });

  it.each([
    ["no assetChange", ""],
    ["CKafka and EventBridge", "assetChange:\n  ckafka: { instance: ckafka-0a1b2c3d, topic: asset-events }\n  eventBridge: { bus: default }\n"],
  ])("has nothing to say about %s", (_what, assetChange) => {
    expect(configWarnings(parseConfig(file(assetChange), "p.yaml", envOf()))).toEqual([]);
  });
});
