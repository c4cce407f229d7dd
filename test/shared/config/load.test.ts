import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadConfig, MAX_CONFIG_BYTES, parseConfig, parseStoreSettings } from "../../../shared/config/load.ts";
import { ConfigError } from "../../../shared/errors.ts";
import { caught, envOf } from "../../helpers.ts";

const GOOD = `version: 1
region: ap-guangzhou
timezone: Asia/Shanghai
notifiers:
  secops:
    type: webhook
    url: https://hooks.example.com/csip
assetGroups:
  web:
    include:
      - tags: { env: prod }
policies:
  - name: nightly
    schedule: "0 0 3 * * * *"
    targets: [web]
    scanItems: [port]
    notify: [secops]
`;

/** The text of the ConfigError the loader throws for `text`. */
function problems(text: string, variables: Record<string, string> = {}): string {
  try {
    parseConfig(text, "policies.yaml", envOf(variables));
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("shipped configs", () => {
  it.each(readdirSync("config").filter((f) => /^scan-policies.*\.(ya?ml|json)$/.test(f)))("config/%s validates", async (file) => {
    const { config } = await loadConfig(`config/${file}`, envOf());
    expect(config.policies.length).toBeGreaterThan(0);
  });
});

describe("parseConfig", () => {
  it("applies the documented defaults", () => {
    const config = parseConfig(GOOD, "p.yaml", envOf());
    expect(config.results).toEqual({ checkEvery: "10m", giveUpAfter: "24h", topFindings: 5, history: 30, pageLinkValidFor: "7d", page: {} });
    const policy = config.policies[0]!;
    expect(policy).toMatchObject({
      mode: "standard",
      notifyOn: ["unauthorized", "failure", "results"],
      onAssetChange: false,
      maxAssetsPerTask: 200,
      unauthorized: "scan-authorized",
    });
  });

  it("reads JSON too, with lines", () => {
    const json = JSON.stringify({ version: 1, policies: [{ name: "a", schedule: "0 0 3 * * * *", urls: ["x.example.com"], scanItems: ["porty"] }] }, null, 2);
    expect(problems(json)).toBe('policies.yaml:11:9 policies[0].scanItems[0]: "porty" is not one of port, poc, weakpass, webcontent, configrisk, exposedserver');
  });

  it("substitutes ${VAR} and ${VAR:-default} from the environment", () => {
    const text = GOOD.replace("https://hooks.example.com/csip", "${HOOK}").replace("region: ap-guangzhou", "region: ${REGION:-ap-shanghai}");
    const config = parseConfig(text, "p.yaml", envOf({ HOOK: "https://hooks.example.com/from-env" }));
    expect(config.notifiers.secops!.url).toBe("https://hooks.example.com/from-env");
    expect(config.region).toBe("ap-shanghai");
  });

  it("lists three mistakes on three lines, each with file, line, column and key path", () => {
    const text = GOOD.replace("timezone: Asia/Shanghai", "timezone: Mars/Olympus")
      .replace("targets: [web]", "targets: [webb]")
      .replace("scanItems: [port]", "scanItems: [port]\n    notfy: [secops]");
    const lines = problems(text).split("\n");
    expect(lines).toEqual([
      'policies.yaml:3:11 timezone: "Mars/Olympus" is not an IANA time zone such as Asia/Shanghai',
      'policies.yaml:15:15 policies[0].targets[0]: unknown asset group "webb" (known: web)',
      'policies.yaml:17:5 policies[0].notfy: unknown key "notfy"',
    ]);
  });

  // Each broken config and the exact text people see. The snapshot fails when a message gets worse.
  it.each([
    ["not YAML", "version: 1\npolicies: [\n"],
    ["not a mapping", "- 1\n- 2\n"],
    ["wrong version", GOOD.replace("version: 1", "version: 2")],
    ["missing policies", "version: 1\n"],
    ["typo in a top-level key", GOOD.replace("assetGroups:", "assetGroup:")],
    ["missing environment variable", GOOD.replace("https://hooks.example.com/csip", "${SECOPS_WEBHOOK_URL}")],
    ["unknown notifier type", GOOD.replace("type: webhook", "type: email")],
    ["plain http webhook", GOOD.replace("https://hooks.example.com/csip", "http://hooks.example.com/csip")],
    ["internal webhook address", GOOD.replace("https://hooks.example.com/csip", "https://169.254.0.23/latest")],
    ["unknown notifier", GOOD.replace("notify: [secops]", "notify: [secops, oncall]")],
    ["empty scanItems", GOOD.replace("scanItems: [port]", "scanItems: []")],
    ["unknown scan item", GOOD.replace("scanItems: [port]", "scanItems: [port, virus]")],
    ["no targets", GOOD.replace("    targets: [web]\n", "")],
    ["two scopes", GOOD.replace("targets: [web]", "targets: [web]\n    all: true")],
    ["except without all", GOOD.replace("targets: [web]", "targets: [web]\n    except: [web]")],
    ["bad schedule", GOOD.replace('"0 0 3 * * * *"', '"0 0 25 * * 8 *"')],
    ["six-field schedule", GOOD.replace('"0 0 3 * * * *"', '"0 0 3 * * *"')],
    ["duplicate policy", `${GOOD}  - name: nightly\n    schedule: "0 0 4 * * * *"\n    targets: [web]\n    scanItems: [poc]\n`],
    ["policy names that differ only by case", `${GOOD}  - name: Nightly\n    schedule: "0 0 4 * * * *"\n    targets: [web]\n    scanItems: [poc]\n`],
    ["policy name unusable as a trigger", GOOD.replace("name: nightly", "name: 1-nightly scan")],
    ["selector with two kinds", GOOD.replace("- tags: { env: prod }", "- tags: { env: prod }\n        assets: [ins-1]")],
    ["unknown nested group", GOOD.replace("- tags: { env: prod }", "- group: nowhere")],
    [
      "group cycle",
      GOOD.replace(
        "      - tags: { env: prod }\n",
        "      - group: api\n  api:\n    include:\n      - group: db\n  db:\n    include:\n      - group: web\n",
      ),
    ],
    ["advanced without advanced mode", GOOD.replace("notify: [secops]", "notify: [secops]\n    advanced: { PortRisk: [{ PortSets: '80', CheckType: 0 }] }")],
    ["advanced typo", GOOD.replace("notify: [secops]", "notify: [secops]\n    mode: advanced\n    advanced: { PortRisks: [] }")],
    ["maxAssetsPerTask zero", GOOD.replace("notify: [secops]", "notify: [secops]\n    maxAssetsPerTask: 0")],
    ["bad mode", GOOD.replace("notify: [secops]", "notify: [secops]\n    mode: thorough")],
    ["wrong type", GOOD.replace("notify: [secops]", "notify: secops")],
    ["state bucket too long for its region, as COS counts it", GOOD.replace("region: ap-guangzhou", "region: na-siliconvalley\nstate: { cos: { bucket: csip-scan-state-production-1250000000 } }")],
    ["a cmq trigger, which SCF no longer makes", `${GOOD}assetChange:\n  cmq: { topic: csip-asset-change }\n`],
  ])("%s", (_, text) => {
    expect(problems(text)).toMatchSnapshot();
  });

  it("reports the problems of every stage in one pass: variables, values, names and schedules", () => {
    const text = `version: 1
notifiers:
  secops: { type: webhook, url: "\${SECOPS_URL}" }
assetGroups:
  web: { include: [{ tags: { tier: web } }] }
policies:
  - name: nightly
    schedule: "0 3 * * * *"
    targets: [web, api]
    scanItems: [port, portscan]
    notify: [secops, oncall]
`;
    expect(problems(text).split("\n")).toEqual([
      "policies.yaml:3:33 notifiers.secops.url: environment variable SECOPS_URL is not set",
      'policies.yaml:8:15 policies[0].schedule: SCF cron needs 7 fields (second minute hour day-of-month month day-of-week year), or the legacy 5 (minute hour day-of-month month day-of-week), got 6 in "0 3 * * * *"',
      'policies.yaml:9:20 policies[0].targets[1]: unknown asset group "api" (known: web)',
      'policies.yaml:10:23 policies[0].scanItems[1]: "portscan" is not one of port, poc, weakpass, webcontent, configrisk, exposedserver',
      'policies.yaml:11:22 policies[0].notify[1]: unknown notifier "oncall" (known: secops)',
    ]);
    expect(problems(text)).toMatchSnapshot();
  });

  it.each([
    ["a group named like an Object method", GOOD.replace("targets: [web]", "targets: [toString]"), 'policies.yaml:15:15 policies[0].targets[0]: unknown asset group "toString" (known: web)'],
    ["a nested group named like an Object method", GOOD.replace("- tags: { env: prod }", "- group: constructor"), 'policies.yaml:11:16 assetGroups.web.include[0].group: unknown asset group "constructor" (known: web)'],
    // The policy would otherwise target these URLs: the schema sees the keys of a prototype as its own.
    ["__proto__ inside a policy", GOOD.replace("    notify: [secops]", "    notify: [secops]\n    __proto__: { urls: [evil.example.com] }"), 'policies.yaml:18:5 policies[0].__proto__: "__proto__" is not a usable key'],
    ["__proto__ at the top", `${GOOD}__proto__: { timezone: Asia/Nowhere }\n`, 'policies.yaml:18:1 __proto__: "__proto__" is not a usable key'],
    // Left out, it would leave a selector that matches every asset.
    ["__proto__ as a tag", GOOD.replace("- tags: { env: prod }", "- tags: { __proto__: x }"), 'policies.yaml:11:15 assetGroups.web.include[0].tags: must name at least one tag\npolicies.yaml:11:17 assetGroups.web.include[0].tags.__proto__: "__proto__" is not a usable key'],
    ["__proto__ as a group name", GOOD.replace("assetGroups:\n", "assetGroups:\n  __proto__: { include: [{ tags: { a: b } }] }\n"), 'policies.yaml:9:3 assetGroups.__proto__: "__proto__" is not a usable key'],
  ])("names that every JavaScript object has: %s", (_, text, expected) => {
    expect(problems(text)).toBe(expected);
  });

  it.each([
    ["wecom", "https://qyapi.weixin.qq.com.evil.example/cgi-bin/webhook/send?key=k"],
    ["wecom", "https://qyapi.weixin.qq.com@evil.example/cgi-bin/webhook/send?key=k"],
    ["wecom", "https://user@qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"],
    ["wecom", "https://qyapi.weixin.qq.com:8443/cgi-bin/webhook/send?key=k"],
    ["dingtalk", "https://oapi.dingtalk.com.example/robot/send?access_token=t"],
    ["feishu", "https://open.feishu.cn.example/open-apis/bot/v2/hook/h"],
    ["slack", "https://hooks.slack.com.example/services/T/B/x"],
  ])("a %s robot on another host is refused at validate: %s", (type, url) => {
    const hosts = { wecom: "qyapi.weixin.qq.com", dingtalk: "oapi.dingtalk.com", feishu: "open.feishu.cn or open.larksuite.com", slack: "hooks.slack.com" }[type];
    const text = GOOD.replace("type: webhook", `type: ${type}`).replace("https://hooks.example.com/csip", url);
    expect(problems(text)).toBe(`policies.yaml:7:10 notifiers.secops.url: a ${type} robot URL must be https:// on ${hosts}, with no port and no user name`);
  });

  it.each([
    ["wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"],
    ["feishu", "https://open.larksuite.com/open-apis/bot/v2/hook/h"],
    ["slack", "https://hooks.slack.com/services/T/B/x"],
  ])("a %s robot on its official host passes", (type, url) => {
    const text = GOOD.replace("type: webhook", `type: ${type}`).replace("https://hooks.example.com/csip", url);
    expect(parseConfig(text, "p.yaml", envOf()).notifiers.secops?.url).toBe(url);
  });

  it("a file above 256 KB is refused before it is parsed", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "csip-scan-big-")), "big.yaml");
    writeFileSync(file, `${GOOD}# ${"x".repeat(MAX_CONFIG_BYTES)}\n`);
    const error = await caught(loadConfig(file, envOf()));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(`${file} is ${MAX_CONFIG_BYTES + GOOD.length + 3} bytes; a policy file may hold at most 262144 (256 KB)`);
  });

  /** Groups g0 includes g1 includes ... g(n-1), which has tags. */
  const chain = (n: number): string =>
    GOOD.replace("  web:\n    include:\n      - tags: { env: prod }\n", [
      "  web: { include: [{ group: g0 }] }\n",
      ...Array.from({ length: n - 1 }, (_, i) => `  g${i}: { include: [{ group: g${i + 1} }] }\n`),
      `  g${n - 1}: { include: [{ tags: { env: prod } }] }\n`,
    ].join(""));

  it("groups nest at most 32 levels; a chain of 5,000 is a located error, not a stack overflow", () => {
    expect(() => parseConfig(chain(31), "p.yaml", envOf())).not.toThrow();
    expect(problems(chain(32))).toBe("policies.yaml:9:8 assetGroups.web: groups nest 33 deep from here; at most 32 levels");
    expect(problems(chain(5000))).toBe("policies.yaml:9:8 assetGroups.web: groups nest 5001 deep from here; at most 32 levels");
  });

  it("numbers and booleans may come from the environment as text", () => {
    const text = GOOD.replace("notify: [secops]", "notify: [secops]\n    maxAssetsPerTask: ${MAX}\n    onAssetChange: ${ON_CHANGE}").replace(
      "timezone: Asia/Shanghai",
      "timezone: Asia/Shanghai\nretry: { attempts: \"${ATTEMPTS:-3}\" }",
    );
    const config = parseConfig(text, "p.yaml", envOf({ MAX: "50", ON_CHANGE: "true" }));
    expect([config.policies[0]!.maxAssetsPerTask, config.policies[0]!.onAssetChange, config.retry.attempts]).toEqual([50, true, 3]);
    expect(problems(text, { MAX: "fifty", ON_CHANGE: "yes" })).toBe(
      "policies.yaml:19:23 policies[0].maxAssetsPerTask: must be a number\npolicies.yaml:20:20 policies[0].onAssetChange: must be a boolean",
    );
  });

  it.each([
    ["a right-to-left override in a group name", GOOD.replaceAll("web", "web\u202Egpj"), "U+202E"],
    ["a zero-width space in an asset ID", GOOD.replace("- tags: { env: prod }", "- assets: [ins-12\u200B34]"), "U+200B"],
    ["a control character in a description", GOOD.replace("notify: [secops]", "notify: [secops]\n    description: \"ok\\u0007\""), "U+0007"],
  ])("%s is refused", (_, text, code) => {
    expect(problems(text)).toContain(`contains ${code}, an invisible or direction-changing character`);
  });

  it("a group and a notifier may be called constructor: lookups use own keys", () => {
    const text = GOOD.replaceAll("secops", "constructor").replace("  web:", "  toString:").replace("targets: [web]", "targets: [toString]");
    const config = parseConfig(text, "p.yaml", envOf());
    expect(Object.entries(config.assetGroups)).toEqual([["toString", { include: [{ tags: { env: "prod" } }], exclude: [] }]]);
    expect(Object.keys(config.notifiers)).toEqual(["constructor"]);
  });

  it("never echoes a secret it substituted", () => {
    const text = GOOD.replace("https://hooks.example.com/csip", "${HOOK}").replace("type: webhook", "type: email");
    const message = problems(text, { HOOK: "https://hooks.example.com/s3cr3t-robot-key" });
    expect(message).not.toContain("s3cr3t");
  });

  it("gives a Config or a ConfigError for any text, never another exception", () => {
    const yamlish = fc.oneof(
      fc.string(),
      fc.constantFrom(GOOD, "version: 1", "{", "- [", "a: *x", "&a [*a]", "version: 1\npolicies: ~", "!!binary x"),
      fc.tuple(fc.constant(GOOD), fc.nat(GOOD.length), fc.string()).map(([g, i, s]) => g.slice(0, i) + s + g.slice(i)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(yamlish, (text) => {
        try {
          parseConfig(text, "fuzz.yaml", envOf());
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          for (const p of error.problems) expect(p.line).toBeGreaterThanOrEqual(1);
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe("parseStoreSettings, what the results-page function reads", () => {
  const FILE = `version: 1
region: ap-guangzhou
notifiers:
  secops: { type: webhook, url: "\${SECOPS_WEBHOOK_URL}", secret: "\${SECOPS_SECRET}" }
results: { page: { cdnDomain: reports.example.com, cdnAuthKey: "\${CSIP_SCAN_CDN_KEY}" } }
timeouts: { requestSeconds: "\${REQUEST_SECONDS:-5}" }
state:
  cos: { bucket: "\${STATE_BUCKET}", prefix: reports/ }
policies:
  - { name: nightly, schedule: "0 0 3 * * * *", all: true, scanItems: [port], notify: [secops], typo: 1 }
`;

  it("reads the state store's keys alone: variables and mistakes elsewhere in the file are none of its business", () => {
    const settings = parseStoreSettings(FILE, "p.yaml", envOf({ STATE_BUCKET: "csip-scan-state-1250000000" }));
    expect(settings).toEqual({
      version: 1,
      region: "ap-guangzhou",
      runtime: "Nodejs18.15",
      retry: { baseMs: 200, capMs: 5000, attempts: 5 },
      timeouts: { requestSeconds: 5, runSeconds: 900, reserveSeconds: 10 },
      state: { cos: { bucket: "csip-scan-state-1250000000", prefix: "reports/" } },
    });
    expect(problems(FILE, { STATE_BUCKET: "csip-scan-state-1250000000" })).toContain("SECOPS_WEBHOOK_URL");
  });

  it("locates a problem in its keys as parseConfig does", () => {
    expect(() => parseStoreSettings(FILE, "p.yaml", envOf())).toThrow("p.yaml:8:18 state.cos.bucket: environment variable STATE_BUCKET is not set");
  });
});
