import { describe, expect, it } from "vitest";
import { configWarnings } from "../../../shared/config/checks.ts";
import { parseConfig } from "../../../shared/config/load.ts";
import { cosBucketNameProblem } from "../../../shared/config/schema.ts";
import { ConfigError } from "../../../shared/errors.ts";
import { envOf } from "../../helpers.ts";

// Warnings (settings that are valid but may fail on a real account, which `validate` prints), and the
// settings a real account refuses, refused here first.

const file = (assetChange: string): string => `version: 1
assetGroups:
  web: { include: [{ tags: { tier: web } }] }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", targets: [web], scanItems: [port] }
${assetChange}`;

describe("configWarnings", () => {
  it.each([
    ["no assetChange", ""],
    ["CKafka and EventBridge", "assetChange:\n  ckafka: { instance: ckafka-0a1b2c3d, topic: asset-events }\n  eventBridge: { bus: default }\n"],
  ])("has nothing to say about %s", (_what, assetChange) => {
    expect(configWarnings(parseConfig(file(assetChange), "p.yaml", envOf()))).toEqual([]);
  });
});

describe("assetChange.cmq", () => {
  it("is an error with file, line and key path that names EventBridge and CKafka: SCF refuses cmq triggers", () => {
    const error = caughtSync(() => parseConfig(file("assetChange:\n  cmq: { topic: csip-asset-change }\n"), "p.yaml", envOf()));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      { file: "p.yaml", line: 7, column: 8, path: "assetChange.cmq", message: expect.stringMatching(/SCF no longer makes cmq triggers.*assetChange\.eventBridge .*assetChange\.ckafka/) },
    ]);
  });
});

describe("cosBucketNameProblem", () => {
  it.each([
    ["COS's own example, 60 characters in ap-beijing", "123456789012345678901-1250000000", "ap-beijing", false],
    ["one character more", "1234567890123456789012-1250000000", "ap-beijing", true],
    ["the deploy's default in the longest region name", "csip-scan-state-1250000000", "na-siliconvalley", false],
    ["a 37-character name, short by itself, in na-siliconvalley", "csip-scan-state-production-1250000000", "na-siliconvalley", true],
  ])("%s", (_, bucket, region, tooLong) => {
    const problem = cosBucketNameProblem(bucket, region);
    expect(problem !== undefined).toBe(tooLong);
    if (problem) expect(problem).toContain(`${bucket}.cos.${region}.myqcloud.com`);
  });
});

function caughtSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}
