import COS from "cos-nodejs-sdk-v5";
import { describe, expect, it } from "vitest";
import { cosSignature } from "../../../shared/state/cos-signature.ts";

// The store signs COS requests itself; Tencent's own COS SDK must compute the same signature for the
// same request (its getAuth, https://cloud.tencent.com/document/product/436/7778).

const KEYS = { secretId: "AKIDsignaturecheck000000000000", secretKey: "signature-check-secret-key-0000" };
const HOST = "csip-scan-state-1250000000.cos.ap-guangzhou.myqcloud.com";
const NOW = 1_764_000_000;

describe("cosSignature", () => {
  it.each([
    ["a write-once PUT with metadata", "PUT", "state/locks/run/csip-scan:nightly:20261129T030000Z.lock", {}, { host: HOST, "content-length": "52", "x-cos-forbid-overwrite": "true", "x-cos-meta-csip-scan-writer": "0a1b2c" }],
    ["GET ?versioning", "GET", "", { versioning: "" }, { host: HOST }],
    ["a listing page", "GET", "", { prefix: "state/collections/results-open/", marker: "state/collections/results-open/a b.json", "max-keys": "1000" }, { host: HOST }],
    ["a key with spaces and Chinese", "GET", "state/cooldown/p/domain:例子 site.json", {}, { host: HOST }],
  ])("matches cos-nodejs-sdk-v5 for %s", (_, method, key, query, headers) => {
    const ours = cosSignature({ method, path: `/${key}`, query, headers }, KEYS, NOW, 600);
    const sdk = new URLSearchParams(
      COS.getAuthorization({ SecretId: KEYS.secretId, SecretKey: KEYS.secretKey, Method: method as "GET" | "PUT", Key: key, Query: query, Headers: headers, KeyTime: `${NOW - 1};${NOW - 1 + 600}` }),
    );
    expect(ours["q-sign-time"]).toBe(sdk.get("q-sign-time"));
    expect(ours["q-header-list"]).toBe(sdk.get("q-header-list"));
    expect(ours["q-url-param-list"]).toBe(sdk.get("q-url-param-list"));
    expect(ours["q-signature"]).toBe(sdk.get("q-signature"));
  });

  it("starts one second before now, as the SDK does when it chooses the time itself", () => {
    // The SDK reads Date.now() plus SystemClockOffset: the offset puts its now at NOW, give or take the
    // milliseconds between the two reads, which its rounding to the second absorbs.
    const sdk = new URLSearchParams(
      COS.getAuthorization({ SecretId: KEYS.secretId, SecretKey: KEYS.secretKey, Method: "GET", Key: "k", Headers: { host: HOST }, Expires: 600, SystemClockOffset: NOW * 1000 - Date.now() } as never),
    );
    expect(cosSignature({ method: "GET", path: "/k", query: {}, headers: { host: HOST } }, KEYS, NOW, 600)["q-sign-time"]).toBe(sdk.get("q-sign-time"));
    expect(sdk.get("q-sign-time")).toBe(`${NOW - 1};${NOW + 599}`);
  });
});
