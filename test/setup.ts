import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

// The SDK routes every call through a lowercase http_proxy when one is set, even calls to 127.0.0.1
// (../shared/reference/README.md). Tests talk only to local servers, so no proxy may apply.
for (const name of ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]) {
  delete process.env[name];
}
// Tests must never pick up a developer's real credentials.
for (const name of ["TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN", "CSIP_ENDPOINT", "CSIP_SCAN_CONFIG"]) {
  delete process.env[name];
}

// Every temporary folder a test file makes, and those of the CLI processes it starts (they inherit
// TMPDIR), goes in one folder of its own, removed when the file's tests end: nothing is left behind,
// whichever test made it and however it ended.
const ownTemp = mkdtempSync(join(tmpdir(), "csip-scan-test-"));
for (const name of ["TMPDIR", "TMP", "TEMP"]) process.env[name] = ownTemp;
// Retried: a browser's helper process may still be writing its profile while the folder goes.
afterAll(() => rmSync(ownTemp, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }));
