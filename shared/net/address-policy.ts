import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

/**
 * Addresses a webhook must never reach: unspecified, private (RFC 1918), carrier-grade NAT, loopback,
 * link-local (169.254.0.0/16 holds the cloud metadata service), IPv6 loopback, unique-local, link-local,
 * and IPv4-mapped forms of all of these.
 */
const BLOCKED_V4: [string, number][] = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
];
const BLOCKED = new BlockList();
for (const [net, prefix] of BLOCKED_V4) {
  BLOCKED.addSubnet(net, prefix, "ipv4");
  BLOCKED.addSubnet(`::ffff:${net}`, 96 + prefix, "ipv6");
}
for (const [net, prefix] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10]] as const) BLOCKED.addSubnet(net, prefix, "ipv6");

/** Names of internal services: this machine, and Tencent Cloud's metadata service. */
const BLOCKED_NAMES = /^(localhost|.*\.localhost|metadata\.tencentyun\.com)\.?$/i;

export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return BLOCKED.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** The host of a URL without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "");
}

/**
 * Why a webhook URL may not be used, from the URL alone, or undefined when it may. The name's
 * addresses are checked when the message is sent (`resolvePublicAddress`).
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
  const host = hostOf(parsed);
  if (BLOCKED_NAMES.test(host) || isBlockedAddress(host)) {
    return "must point to a public address (internal ones only with CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1)";
  }
  return undefined;
}

/** Resolves a host name to all its addresses. Passed in, so tests can give names of their own. */
export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

export const systemResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

/**
 * The address to connect to: every address the name resolves to must be public, and the first is
 * used, so the connection goes where the check looked.
 */
export async function resolvePublicAddress(url: URL, resolve: Resolver): Promise<{ address: string; family: number } | string> {
  const host = hostOf(url);
  if (BLOCKED_NAMES.test(host)) return `host ${host} is internal`;
  const literal = isIP(host);
  const addresses = literal ? [{ address: host, family: literal }] : await resolve(host).catch(() => []);
  if (addresses.length === 0) return "its host name does not resolve";
  const blocked = addresses.find((a) => isBlockedAddress(a.address));
  if (blocked) return literal ? "it points to an internal address" : "its host name resolves to an internal address";
  return addresses[0]!;
}

/** Whether the URL's host is this machine. */
export function isLoopbackUrl(url: string): boolean {
  try {
    const host = hostOf(new URL(url));
    return host === "localhost" || host === "::1" || host.startsWith("127.");
  } catch {
    return false;
  }
}
