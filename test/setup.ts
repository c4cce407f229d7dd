// The SDK routes every call through a lowercase http_proxy when one is set, even calls to 127.0.0.1
// (../shared/reference/README.md). Tests talk only to local servers, so no proxy may apply.
for (const name of ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]) {
  delete process.env[name];
}
// Tests must never pick up a developer's real credentials.
for (const name of ["TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN", "CSIP_ENDPOINT", "CSIP_SCAN_CONFIG"]) {
  delete process.env[name];
}
