/**
 * The plugin's own HTTP endpoints on `*.apigw.tencentcs.com` (serverless-tencent-tools): a telemetry report,
 * whose answer is ignored, and the "real-name authentication" check, without which `serverless deploy`
 * exits 255. Unsigned plain HTTP; the answers are the ones the plugin reads (/tmp/plugin-report.md §6).
 */

/** Whether the host is one of the plugin's API gateway endpoints. */
export function isToolsHost(host: string): boolean {
  return /\.apigw\.tencentcs\.com$/.test(host);
}

const PATHS: Readonly<Record<string, unknown>> = {
  "/release/dataReport": {},
  "/release/getUserAuthInfo": { Error: false, Message: { Authentication: 1 } },
};

/** The answer to a path of the tools endpoint; an unknown path is a loud 404. */
export function handleTools(path: string): { status: number; body: string } {
  const answer = Object.hasOwn(PATHS, path) ? PATHS[path] : undefined;
  return answer === undefined ? { status: 404, body: JSON.stringify({ Error: true, Message: `${path} is not emulated` }) } : { status: 200, body: JSON.stringify(answer) };
}
