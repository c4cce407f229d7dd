import { BlockList, isIP } from "node:net";

/** `CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1` allows http:// and loopback webhook URLs, for local mode and tests. */
export function allowLocalWebhooks(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS === "1";
}

/** Addresses a webhook must never reach: loopback, private, link-local (cloud metadata), CGNAT, unique-local. */
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
] as const) {
  BLOCKED.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
] as const) {
  BLOCKED.addSubnet(net, prefix, "ipv6");
}

const BLOCKED_NAMES = /^(localhost|metadata\.tencentyun\.com)\.?$/i;

export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return BLOCKED.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * Why a webhook URL may not be used, or undefined when it may. Checks the scheme and a literal
 * address or well-known internal name; names that resolve to internal addresses are not checked here.
 */
export function webhookUrlProblem(url: string, allowLocal: boolean): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "is not a URL";
  }
  if (allowLocal) {
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? undefined : "must be an http:// or https:// URL";
  }
  if (parsed.protocol !== "https:") return "must be an https:// URL (http:// only with CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1)";
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (BLOCKED_NAMES.test(host) || isBlockedAddress(host)) {
    return "must point to a public address (internal ones only with CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1)";
  }
  return undefined;
}

/** Whether the URL's host is this machine. */
export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    return host === "localhost" || host === "::1" || host.startsWith("127.");
  } catch {
    return false;
  }
}
