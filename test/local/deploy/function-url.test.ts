import { describe, expect, it } from "vitest";
import { createFunctionUrlRequest, extranetUrl, functionUrlChange, stagePageUrl, updateFunctionUrlRequest } from "../../../local/deploy/function-url.ts";
import type { ExistingTrigger } from "../../../local/deploy/triggers.ts";

// What the deploy does about the results-page function's URL, from the triggers SCF holds (ListTriggers'
// shapes: ../shared/reference/scf-2018-04-16-examples.json).

const URL = "https://1258888888-hulrzrbh9f.ap-chongqing.tencentscf.com";
const http = (desc: Record<string, unknown>, extra: Partial<ExistingTrigger> = {}): ExistingTrigger => ({ Type: "http", TriggerName: "hulrzrbh9f", Qualifier: "$LATEST", Enable: 1, TriggerDesc: JSON.stringify(desc), ...extra });
const OPEN = { AuthType: "NONE", NetConfig: { EnableIntranet: false, ExtranetUrl: URL, ExtranetHTTPUrl: URL.replace("https", "http"), EnableExtranet: true } };

describe("the Function URL the deploy keeps", () => {
  it.each<[string, ExistingTrigger[], string]>([
    ["none yet", [], "create"],
    ["a timer only", [{ Type: "timer", TriggerName: "csip-scan-x", Qualifier: "$LATEST" }], "create"],
    ["one on another version", [http(OPEN, { Qualifier: "$DEFAULT" })], "create"],
    ["one open and public, named by its URL's id", [http(OPEN)], "keep"],
    ["one someone closed with CAM authentication", [http({ ...OPEN, AuthType: "CAM" })], "update"],
    ["one with the public address off (the official example's internal-only URL)", [http({ AuthType: "NONE", NetConfig: { EnableIntranet: true, EnableExtranet: false } })], "update"],
  ])("%s: %s", (_, existing, action) => {
    expect(functionUrlChange(existing).action).toBe(action);
  });

  it("reads the public address back from the stored TriggerDesc, and nothing that is not https", () => {
    expect(extranetUrl(http(OPEN))).toBe(URL);
    expect(extranetUrl(http({ AuthType: "NONE", NetConfig: { ExtranetUrl: "" } }))).toBeUndefined();
    expect(extranetUrl({ Type: "http", TriggerDesc: "not json" })).toBeUndefined();
  });

  it("creates it as the document gives it, and updates it under the name SCF holds", () => {
    expect(createFunctionUrlRequest("csip-scan-dev-results-page", "default")).toEqual({
      FunctionName: "csip-scan-dev-results-page",
      Namespace: "default",
      Type: "http",
      TriggerName: "csip-scan-page",
      TriggerDesc: '{"AuthType":"NONE","NetConfig":{"EnableIntranet":false,"EnableExtranet":true}}',
      Qualifier: "$LATEST",
      Enable: "OPEN",
    });
    expect(updateFunctionUrlRequest("csip-scan-dev-results-page", "default", http({ AuthType: "CAM" }))).toMatchObject({ TriggerName: "hulrzrbh9f", Qualifier: "$LATEST", Type: "http" });
  });
});

describe("a pages' URL a person gives a stage where the deploy runs", () => {
  const GATEWAY = "https://reports.example.com/csip";
  it.each<[string, string, Record<string, string>, { url: string | undefined } | RegExp]>([
    ["nothing set: the function URL the deploy makes", "prod", {}, { url: undefined }],
    ["the stage's own", "prod", { CSIP_SCAN_PAGE_URL_PROD: GATEWAY }, { url: GATEWAY }],
    ["a stage with a dash", "eu-test", { CSIP_SCAN_PAGE_URL_EU_TEST: GATEWAY }, { url: GATEWAY }],
    ["another stage's only", "prod", { CSIP_SCAN_PAGE_URL_DEV: GATEWAY }, { url: undefined }],
    ["the shell-wide one beside the stage's own, the same", "prod", { CSIP_SCAN_PAGE_URL: GATEWAY, CSIP_SCAN_PAGE_URL_PROD: GATEWAY }, { url: GATEWAY }],
    ["the shell-wide one alone", "prod", { CSIP_SCAN_PAGE_URL: GATEWAY }, /^CSIP_SCAN_PAGE_URL is set where you deploy .* set CSIP_SCAN_PAGE_URL_PROD/],
    ["the shell-wide one beside another value", "prod", { CSIP_SCAN_PAGE_URL: GATEWAY, CSIP_SCAN_PAGE_URL_PROD: "https://prod.example.com" }, /^CSIP_SCAN_PAGE_URL is set where you deploy/],
    ["one that is not https", "prod", { CSIP_SCAN_PAGE_URL_PROD: "http://reports.example.com" }, /^CSIP_SCAN_PAGE_URL_PROD must be an https:\/\/ URL with no query/],
    ["one with a query", "prod", { CSIP_SCAN_PAGE_URL_PROD: `${GATEWAY}?x=1` }, /^CSIP_SCAN_PAGE_URL_PROD must be an https:\/\/ URL/],
  ])("%s", (_, stage, variables, expected) => {
    const given = stagePageUrl(stage, variables);
    if (expected instanceof RegExp) expect("problem" in given ? given.problem : given).toMatch(expected);
    else expect(given).toEqual(expected);
  });
});
