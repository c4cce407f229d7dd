import { describe, expect, it } from "vitest";
import { looksLikeKey, registerMessageSecret, registerSecret, registerUrlSecrets, scrub } from "../../shared/secrets.ts";

// The registry is one per process: each test uses values of its own.

describe("scrub", () => {
  it("replaces a registered secret every time it appears in a line", () => {
    registerSecret("twice-secret-1");
    expect(scrub("key twice-secret-1, again twice-secret-1.")).toBe("key ***, again ***.");
  });

  it("replaces the query string of any URL", () => {
    expect(scrub("https://x/y?a=b c")).toBe("https://x/y?*** c");
    expect(scrub('sent to "http://hooks.example.test/send?key=abc&sign=d%2Be" and failed')).toBe('sent to "http://hooks.example.test/send?***" and failed');
  });

  it("ignores values shorter than 6 characters: they would mask ordinary words", () => {
    registerSecret("abcde");
    registerSecret(undefined);
    registerSecret("");
    expect(scrub("abcde abcdef")).toBe("abcde abcdef");
    registerSecret("abcdef");
    expect(scrub("abcde abcdef")).toBe("abcde ***");
  });

  it("is idempotent", () => {
    registerSecret("idempotent-secret");
    const once = scrub("x idempotent-secret y https://h/p?q=idempotent-secret z");
    expect(once).toBe("x *** y https://h/p?*** z");
    expect(scrub(once)).toBe(once);
  });

  it("replaces a longer secret whole, even when a shorter one is inside it", () => {
    registerSecret("inner-token");
    registerSecret("outer-inner-token-tail");
    expect(scrub("a outer-inner-token-tail b inner-token")).toBe("a *** b ***");
  });

  it("replaces a message's signature while it is among the last 1000 registered", () => {
    registerMessageSecret("first-signature=");
    expect(scrub("sign first-signature=")).toBe("sign ***");
    for (let i = 0; i < 1000; i++) registerMessageSecret(`signature-${i}`);
    expect(scrub("sign signature-999 signature-0")).toBe("sign *** ***");
    expect(scrub("sign first-signature=")).toBe("sign first-signature=");
  });
});

describe("registerUrlSecrets: secrets, not words", () => {
  it("keeps an ordinary last path segment readable: the default webhook does not mask csip-scan", () => {
    registerUrlSecrets("https://webhook.invalid/csip-scan");
    expect(scrub("task csip-scan:nightly-prod:1 via /csip-scan")).toBe("task csip-scan:nightly-prod:1 via /csip-scan");
    expect(scrub("posted to https://webhook.invalid/csip-scan")).toBe("posted to ***");
  });

  it.each([
    ["Slack's last segment", "https://hooks.slack.com/services/T0ABCDEF/B0ABCDEF/Xq7LmN2pR8sT4vW6yZ1aB3cD", "Xq7LmN2pR8sT4vW6yZ1aB3cD"],
    ["Feishu's hook id", "https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"],
    ["WeCom's key (a query value)", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa", "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"],
  ])("masks %s", (_, url, key) => {
    registerUrlSecrets(url);
    expect(scrub(`answer echoed ${key}`)).toBe("answer echoed ***");
  });

  it.each([
    ["csip-scan", false],
    ["send", false],
    ["hook-for-the-security-team", false],
    ["Xq7LmN2pR8sT4vW6yZ1aB3cD", true],
    ["0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", true],
  ])("looksLikeKey(%s) is %s", (segment, expected) => {
    expect(looksLikeKey(segment)).toBe(expected);
  });
});
