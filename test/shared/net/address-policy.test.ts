import { describe, expect, it } from "vitest";
import { isBlockedAddress, resolvePublicAddress, webhookUrlProblem, type Resolver } from "../../../shared/net/address-policy.ts";

// Only public unicast addresses pass. Each row is checked three ways: the URL with the address as its
// host (config check and send time), and a host name that resolves to it (send time).

const NOT_PUBLIC = "must point to a public address (internal ones only with CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1)";
const LITERAL = "it points to an internal address";
const RESOLVED = "its host name resolves to an internal address";

/** A resolver that knows `hook.example.test` only, and records what it was asked. */
function resolverOf(...addresses: string[]): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (host: string) => {
    asked.push(host);
    return host === "hook.example.test" ? addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })) : [];
  };
  return Object.assign(resolve, { asked });
}

const urlOf = (address: string): string => `https://${address.includes(":") ? `[${address}]` : address}/hook`;

describe("addresses that are not public unicast are refused", () => {
  it.each([
    // IPv4
    ["0.0.0.0", "unspecified"],
    ["10.0.0.1", "private 10/8"],
    ["10.255.255.255", "private 10/8"],
    ["100.64.0.1", "carrier-grade NAT 100.64/10"],
    ["100.127.255.254", "carrier-grade NAT 100.64/10"],
    ["127.0.0.1", "loopback"],
    ["127.255.0.1", "loopback"],
    ["169.254.0.23", "link-local, the metadata service"],
    ["172.16.0.1", "private 172.16/12, its first"],
    ["172.31.255.255", "private 172.16/12, its last"],
    ["192.168.0.1", "private 192.168/16"],
    ["192.168.255.255", "private 192.168/16"],
    ["192.0.0.1", "IETF protocol assignments 192.0.0/24"],
    ["192.0.2.1", "documentation TEST-NET-1"],
    ["198.51.100.7", "documentation TEST-NET-2"],
    ["203.0.113.50", "documentation TEST-NET-3"],
    ["198.18.0.1", "benchmarking 198.18/15"],
    ["198.19.255.255", "benchmarking 198.18/15"],
    ["224.0.0.1", "multicast 224/4"],
    ["239.255.255.250", "multicast 224/4"],
    ["240.0.0.1", "reserved 240/4"],
    ["255.255.255.255", "broadcast"],
    // IPv6
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["fc00::1", "unique-local fc00::/7"],
    ["fd00::1", "unique-local fc00::/7"],
    ["fe80::1", "link-local fe80::/10"],
    ["febf::1", "link-local fe80::/10"],
    ["ff02::1", "multicast ff00::/8"],
    ["ff0e::1", "multicast ff00::/8"],
    ["2001:db8::1", "documentation 2001:db8::/32"],
    // IPv6 forms that carry an internal IPv4 address
    ["::127.0.0.1", "IPv4-compatible loopback"],
    ["::10.0.0.1", "IPv4-compatible private"],
    ["::ffff:127.0.0.1", "IPv4-mapped loopback"],
    ["::ffff:10.0.0.1", "IPv4-mapped private"],
    ["::ffff:169.254.169.254", "IPv4-mapped link-local"],
    ["::ffff:0:10.0.0.1", "RFC 6145 translated private"],
    ["64:ff9b::127.0.0.1", "NAT64 loopback"],
    ["64:ff9b::a9fe:a9fe", "NAT64 link-local (169.254.169.254)"],
    ["64:ff9b::192.168.1.1", "NAT64 private"],
    ["64:ff9b:1::808:808", "RFC 8215 local-use NAT64, whose embedding cannot be told"],
    ["2002:7f00:1::1", "6to4 of loopback"],
    ["2002:a00:1::", "6to4 of private 10.0.0.1"],
    ["2002:a9fe:a9fe::1", "6to4 of link-local"],
    ["2001:0:808:808:0:0:f5ff:fffe", "Teredo whose client is 10.0.0.1"],
    ["2001:0:a00:1:0:0:f7f7:f7f7", "Teredo whose server is 10.0.0.1"],
  ])("%s (%s)", async (address) => {
    expect(isBlockedAddress(address)).toBe(true);
    expect(webhookUrlProblem(urlOf(address), false)).toBe(NOT_PUBLIC);
    expect(await resolvePublicAddress(new URL(urlOf(address)), resolverOf())).toBe(LITERAL);
    expect(await resolvePublicAddress(new URL("https://hook.example.test/hook"), resolverOf(address))).toBe(RESOLVED);
  });

  it.each([
    ["https://0x7f000001/hook", "loopback written in hex"],
    ["https://2130706433/hook", "loopback written as one number"],
    ["https://[0:0:0:0:0:ffff:7f00:1]/hook", "mapped loopback written out"],
  ])("%s (%s)", async (url) => {
    expect(webhookUrlProblem(url, false)).toBe(NOT_PUBLIC);
    expect(await resolvePublicAddress(new URL(url), resolverOf())).toBe(LITERAL);
  });

  it.each([
    ["https://localhost/hook", "host localhost is internal"],
    ["https://api.localhost/hook", "host api.localhost is internal"],
    ["https://metadata.tencentyun.com/latest", "host metadata.tencentyun.com is internal"],
    ["https://METADATA.tencentyun.com./latest", "host metadata.tencentyun.com. is internal"],
  ])("the name %s is refused without resolving it", async (url, message) => {
    const resolve = resolverOf("8.8.8.8");
    expect(webhookUrlProblem(url, false)).toBe(NOT_PUBLIC);
    expect(await resolvePublicAddress(new URL(url), resolve)).toBe(message);
    expect(resolve.asked).toEqual([]);
  });

  it("a resolver answer that is not an IP address is refused: it cannot be checked", async () => {
    expect(await resolvePublicAddress(new URL("https://hook.example.test/hook"), resolverOf("8.8.8.8", "internal.example"))).toBe(RESOLVED);
  });

  it("a name that does not resolve is refused", async () => {
    expect(await resolvePublicAddress(new URL("https://nowhere.example.test/hook"), resolverOf("8.8.8.8"))).toBe("its host name does not resolve");
    const failing: Resolver = () => Promise.reject(Object.assign(new Error("queryA ENOTFOUND"), { code: "ENOTFOUND" }));
    expect(await resolvePublicAddress(new URL("https://hook.example.test/hook"), failing)).toBe("its host name does not resolve");
  });
});

describe("public unicast addresses pass, with local webhooks off", () => {
  it.each([
    ["8.8.8.8", 4],
    ["1.1.1.1", 4],
    ["172.15.255.255", 4],
    ["172.32.0.1", 4],
    ["100.63.255.255", 4],
    ["100.128.0.1", 4],
    ["169.253.255.255", 4],
    ["192.169.0.1", 4],
    ["198.20.0.1", 4],
    ["223.255.255.254", 4],
    ["2001:4860:4860::8888", 6],
    ["2400:cb00::1", 6],
    ["::ffff:8.8.8.8", 6],
    ["64:ff9b::8.8.8.8", 6],
    ["2002:808:808::1", 6],
    ["2001:0:808:808:0:0:f7f7:f7f7", 6],
  ])("%s", async (address, family) => {
    expect(isBlockedAddress(address)).toBe(false);
    expect(webhookUrlProblem(urlOf(address), false)).toBeUndefined();
    expect(await resolvePublicAddress(new URL("https://hook.example.test/hook"), resolverOf(address))).toEqual({ address, family });
  });

  it("a literal public address is used as it is, without asking the resolver", async () => {
    const resolve = resolverOf("10.0.0.1");
    expect(await resolvePublicAddress(new URL("https://8.8.8.8/hook"), resolve)).toEqual({ address: "8.8.8.8", family: 4 });
    expect(await resolvePublicAddress(new URL("https://[2001:4860:4860::8888]/hook"), resolve)).toEqual({ address: "2001:4860:4860::8888", family: 6 });
    expect(resolve.asked).toEqual([]);
  });
});

describe("every address a name resolves to is checked", () => {
  it.each([
    [["8.8.8.8", "10.0.0.1"]],
    [["2001:4860:4860::8888", "::1"]],
    [["8.8.8.8", "1.1.1.1", "169.254.0.23"]],
    [["8.8.8.8", "::ffff:127.0.0.1"]],
  ])("%j: one internal address refuses the name", async (addresses) => {
    expect(await resolvePublicAddress(new URL("https://hook.example.test/hook"), resolverOf(...addresses))).toBe(RESOLVED);
  });

  it("when all are public, the first is the one to connect to", async () => {
    expect(await resolvePublicAddress(new URL("https://hook.example.test/hook"), resolverOf("1.1.1.1", "8.8.8.8", "2001:4860:4860::8888"))).toEqual({ address: "1.1.1.1", family: 4 });
    expect(await resolvePublicAddress(new URL("https://hook.example.test/hook"), resolverOf("2001:4860:4860::8888", "1.1.1.1"))).toEqual({ address: "2001:4860:4860::8888", family: 6 });
  });
});

describe("webhookUrlProblem", () => {
  it.each([
    ["not a url", false, "is not a URL"],
    ["http://8.8.8.8/hook", false, "must be an https:// URL (http:// only with CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS=1)"],
    ["ftp://8.8.8.8/hook", true, "must be an http:// or https:// URL"],
    ["http://127.0.0.1:8080/hook", true, undefined],
    ["https://[::1]/hook", true, undefined],
    ["https://hooks.example.com/hook", false, undefined],
  ])("%s with local webhooks %s", (url, allowLocal, problem) => {
    expect(webhookUrlProblem(url, allowLocal)).toBe(problem);
  });
});
