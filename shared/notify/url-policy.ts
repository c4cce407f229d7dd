/** `CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1` allows http:// and loopback webhook URLs, for local mode and tests. */
export function allowLocalWebhooks(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS === "1";
}
