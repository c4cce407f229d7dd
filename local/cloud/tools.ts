/**
 * The plugin's own HTTP endpoints on `*.apigw.tencentcs.com` (serverless-tencent-tools): a telemetry report
 * and a "real-name authentication" check. They are not Tencent Cloud's API, and a deploy must not depend on
 * them (scripts/serverless-preload.cjs turns both off), so the stand-in makes that host unreachable: it
 * drops the connection without an answer, as a network failure would, and records the request.
 */

/** Whether the host is one of the plugin's API gateway endpoints. */
export function isToolsHost(host: string): boolean {
  return /\.apigw\.tencentcs\.com$/.test(host);
}

/** The paths the pinned plugin calls, named for the record (serverless-tencent-tools 0.0.11). */
const TOOLS_CALLS: Readonly<Record<string, string>> = {
  "/release/dataReport": "DataReport",
  "/release/getUserAuthInfo": "GetUserAuthInfo",
};

/** The record's name for a request to the tools host: the call it is, or its path. */
export function toolsCallName(path: string): string {
  return Object.hasOwn(TOOLS_CALLS, path) ? TOOLS_CALLS[path]! : path;
}
