import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

/** The IPv4 address held in 32 bits of an IPv6 address, from its 16-bit group `at` on, XORed with `mask`. */
function v4At(address: IPv6, at: number, mask = 0): IPv4 {
  const high = address.parts[at]! ^ (mask >>> 16);
  const low = address.parts[at + 1]! ^ (mask & 0xffff);
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR("64:ff9b::/96");

/**
 * IPv6 ranges (as ipaddr.js names them) whose addresses carry IPv4 addresses, and where. A packet to
 * one of them can end at such an IPv4 address, so each must itself be public. Where the embedding
 * cannot be told (RFC 8215's local-use 64:ff9b:1::/48), none is found and the address is refused.
 */
const EMBEDDED_V4: Partial<Record<string, (address: IPv6) => IPv4[]>> = {
  // ::ffff:a.b.c.d (RFC 4291) and ::ffff:0:a.b.c.d (RFC 6145).
  ipv4Mapped: (a) => [v4At(a, 6)],
  rfc6145: (a) => [v4At(a, 6)],
  // NAT64 (RFC 6052): 64:ff9b::a.b.c.d.
  rfc6052: (a) => (a.match(NAT64_WELL_KNOWN) ? [v4At(a, 6)] : []),
  // 6to4 (RFC 3056): 2002:AABB:CCDD::/48.
  "6to4": (a) => [v4At(a, 1)],
  // Teredo (RFC 4380): the server in bits 32-63, the client in the last 32 bits, inverted.
  teredo: (a) => [v4At(a, 2), v4At(a, 6, 0xffffffff)],
};

/** The IPv4 addresses an IPv6 address leads to, or undefined when it is not one of those forms. */
function carriedV4(address: IPv6): IPv4[] | undefined {
  const range = address.range();
  const embedded = EMBEDDED_V4[range];
  if (embedded) return embedded(address);
  // IPv4-compatible ::a.b.c.d (RFC 4291, deprecated): ipaddr.js counts it as plain unicast.
  if (range === "unicast" && address.parts.slice(0, 6).every((part) => part === 0)) return [v4At(address, 6)];
  return undefined;
}

/**
 * Whether an address is public: its range, as ipaddr.js tells it (the classification Express's
 * proxy-addr uses), is `unicast`, and so is every IPv4 address an IPv6 form of it carries. Refused:
 * unspecified, loopback, private (RFC 1918), carrier-grade NAT, link-local (169.254.0.0/16 holds the
 * cloud metadata service), multicast, broadcast, reserved and documentation ranges, unique-local, and
 * IPv6 forms (mapped, NAT64, 6to4, Teredo, IPv4-compatible) that lead to any of these.
 */
function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 4) return ipaddr.IPv4.parse(address).range() === "unicast";
  const v6 = ipaddr.IPv6.parse(address);
  const carried = carriedV4(v6);
  if (carried) return carried.length > 0 && carried.every((v4) => v4.range() === "unicast");
  return v6.range() === "unicast";
}

/** Names of internal services: this machine, and Tencent Cloud's metadata service. */
const BLOCKED_NAMES = /^(localhost|.*\.localhost|metadata\.tencentyun\.com)\.?$/i;

/** Whether `address` is an IP address a webhook may not reach (anything not public). Not an address: false. */
export function isBlockedAddress(address: string): boolean {
  return isIP(address) !== 0 && !isPublicAddress(address);
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
 * used, so the connection goes where the check looked. An answer that is not an IP address is
 * refused like an internal one: it cannot be checked.
 */
export async function resolvePublicAddress(url: URL, resolve: Resolver): Promise<{ address: string; family: number } | string> {
  const host = hostOf(url);
  if (BLOCKED_NAMES.test(host)) return `host ${host} is internal`;
  const literal = isIP(host);
  const addresses = literal ? [{ address: host, family: literal }] : await resolve(host).catch(() => []);
  if (addresses.length === 0) return "its host name does not resolve";
  if (!addresses.every((a) => isPublicAddress(a.address))) {
    return literal ? "it points to an internal address" : "its host name resolves to an internal address";
  }
  const [first] = addresses;
  return { address: first!.address, family: isIP(first!.address) };
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
