import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { cdnLinker, cdnTypeASign, checkPageRequest, functionUrlLinker, pageLinkerFor, pagePath, pageSigningKey, readPageSigningKey, signedPageUrl } from "../../../shared/results/page-link.ts";
import { pageName } from "../../../shared/results/publish.ts";
import { scrub } from "../../../shared/secrets.ts";
import { PAGE_SIGNING_KEY } from "../../../shared/state/keys.ts";
import { MemoryStateStore } from "../../../shared/state/memory-store.ts";

const KEY = Buffer.alloc(32, 7);
const NOW = Date.parse("2026-11-29T03:10:00Z");
const BASE = "https://1250000000-abcdefghij.ap-guangzhou.tencentscf.com";

/** The query of a link as the function's event gives it. */
const queryOf = (url: string): Record<string, string> => Object.fromEntries(new URL(url).searchParams);

describe("a page link's own signature", () => {
  const url = signedPageUrl(`${BASE}/`, KEY, "nightly", NOW / 1000 + 3600);

  it("is HMAC-SHA256 over the page's name, its path and the expiry, base64url, computed here independently", () => {
    const expires = NOW / 1000 + 3600;
    const expected = createHmac("sha256", KEY).update(`csip-scan-page/v1\nnightly\n/pages/nightly.html\n${expires}`).digest("base64url");
    expect(url).toBe(`${BASE}/pages/nightly.html?expires=${expires}&signature=${expected}`);
  });

  it("of a policy whose name has capitals, covers its page's name: lower case and the name's hash", () => {
    const expires = NOW / 1000 + 3600;
    const name = pageName("Nightly");
    expect(name).toMatch(/^nightly\.[0-9a-f]{8}\.html$/);
    const expected = createHmac("sha256", KEY).update(`csip-scan-page/v1\n${name.slice(0, -".html".length)}\n/pages/${name}\n${expires}`).digest("base64url");
    expect(signedPageUrl(BASE, KEY, "Nightly", expires)).toBe(`${BASE}/pages/${name}?expires=${expires}&signature=${expected}`);
  });

  it.each(["nightly", "Nightly", "prodWeb", "a", `P${"x".repeat(59)}`])("a link of %s opens its page while it has not expired, after whatever prefix a gateway puts before the path", (policy) => {
    const link = new URL(signedPageUrl(BASE, KEY, policy, NOW / 1000 + 3600));
    expect(checkPageRequest(KEY, link.pathname, queryOf(link.href), NOW)).toEqual({ page: pageName(policy) });
    expect(checkPageRequest(KEY, `/reports${link.pathname}`, queryOf(link.href), NOW)).toEqual({ page: pageName(policy) });
  });

  const refusals = (policy: string, other: string): [string, string, Record<string, unknown>, number, number][] => {
    const link = signedPageUrl(BASE, KEY, policy, NOW / 1000 + 3600);
    const path = pagePath(policy);
    return [
      ["a changed signature", path, { ...queryOf(link), signature: `${queryOf(link).signature!.slice(0, -1)}${queryOf(link).signature!.endsWith("A") ? "B" : "A"}` }, NOW, 403],
      ["a signature of another key", path, queryOf(signedPageUrl(BASE, Buffer.alloc(32, 8), policy, NOW / 1000 + 3600)), NOW, 403],
      ["a later expiry than signed", path, { ...queryOf(link), expires: String(NOW / 1000 + 7200) }, NOW, 403],
      ["another policy's page", pagePath(other), queryOf(link), NOW, 403],
      ["no signature", path, { expires: queryOf(link).expires }, NOW, 403],
      ["a repeated parameter (a list)", path, { ...queryOf(link), signature: [queryOf(link).signature] }, NOW, 403],
      ["the expiry passed", path, queryOf(link), NOW + 3600_000, 410],
      ["a path outside the pages", "/state/results-history/nightly.json", queryOf(link), NOW, 404],
      ["a path that climbs out", "/pages/../state/keys.html", queryOf(link), NOW, 404],
      ["the pages' folder itself", "/pages/", queryOf(link), NOW, 404],
      ["the page's name in capitals, which no page has", path.toUpperCase().replace("/PAGES/", "/pages/").replace(".HTML", ".html"), queryOf(link), NOW, 404],
    ];
  };

  it.each([...refusals("nightly", "weekly").map((row) => ["nightly", ...row] as const), ...refusals("Nightly", "nightly").map((row) => ["Nightly", ...row] as const)])(
    "%s: %s gets no page (%#)",
    (_, __, path, query, now, status) => {
      expect(checkPageRequest(KEY, path, query, now)).toMatchObject({ status });
    },
  );
});

describe("the signing key", () => {
  it("is made once in the state store, whoever asks first, and read back by the other: never a second key", async () => {
    const store = new MemoryStateStore();
    expect(await readPageSigningKey(store)).toBeUndefined();
    const [a, b] = await Promise.all([pageSigningKey(store, () => NOW), pageSigningKey(store, () => NOW)]);
    expect(a.equals(b!)).toBe(true);
    expect(a).toHaveLength(32);
    expect((await readPageSigningKey(store))!.equals(a)).toBe(true);
  });

  it("never shows in a log line: it is a registered secret once read", async () => {
    const store = new MemoryStateStore();
    await pageSigningKey(store, () => NOW);
    const { key } = (await store.get(PAGE_SIGNING_KEY, z.object({ key: z.string() })))!;
    expect(scrub(`the key is ${key}`)).toBe("the key is ***");
  });
});

describe("CDN URL authentication type A (https://cloud.tencent.com/document/product/228/41623)", () => {
  it("matches the document's own example: /test.jpg, 1582791032, im1acp76sx9sdqe601v, uid 0, key dimtm5evg50ijsx2hvuwyfoiu65", () => {
    expect(cdnTypeASign("/test.jpg", 1582791032, "im1acp76sx9sdqe601v", "dimtm5evg50ijsx2hvuwyfoiu65")).toBe("1582791032-im1acp76sx9sdqe601v-0-3fbb88382c9356b6faaf9d68c7b2ae3a");
  });

  it("signs the page's object key on the CDN domain, valid for pageLinkValidFor, a hash computed here independently", async () => {
    const link = await cdnLinker("reports.example.com", "Abc123Key", "state/", 7 * 86_400, () => NOW, () => "0f1e2d3c4b5a6978")({ policy: "nightly", key: "pages/nightly.html" });
    const timestamp = NOW / 1000;
    const md5 = createHash("md5").update(`/state/pages/nightly.html-${timestamp}-0f1e2d3c4b5a6978-0-Abc123Key`).digest("hex");
    expect(link).toEqual({
      url: `https://reports.example.com/state/pages/nightly.html?sign=${timestamp}-0f1e2d3c4b5a6978-0-${md5}`,
      opens: "page",
      validUntil: "2026-12-06T03:10:00.000Z",
    });
    const [ts, rand, uid, hash] = new URL(link.url).searchParams.get("sign")!.split("-");
    expect([Number(ts), /^[A-Za-z0-9]{1,100}$/.test(rand!), uid, /^[0-9a-f]{32}$/.test(hash!)]).toEqual([timestamp, true, "0", true]);
  });
});

describe("which link a message gets", () => {
  const store = () => Object.assign(new MemoryStateStore(), { temporaryKeys: true, presignedGetUrl: (key: string, s: number) => `https://bucket.cos.ap-guangzhou.myqcloud.com/state/${key}?q-sign-time=0;${s}` });
  const settings = { pageUrl: undefined, prefix: "state/", validForSeconds: 86_400 };
  const page = { policy: "nightly", key: "pages/nightly.html" };

  it("the CDN domain when set, even beside a page URL", async () => {
    const link = await pageLinkerFor({ ...settings, pageUrl: BASE, cdnDomain: "reports.example.com", cdnAuthKey: "Abc123Key" }, store(), () => NOW)(page);
    expect(link.url).toMatch(/^https:\/\/reports\.example\.com\/state\/pages\/nightly\.html\?sign=/);
  });

  it("else the page URL, signed with the store's key, lasting pageLinkValidFor whatever the role's keys do", async () => {
    const s = store();
    const link = await pageLinkerFor({ ...settings, pageUrl: BASE }, s, () => NOW)(page);
    expect(link).toMatchObject({ opens: "page", validUntil: "2026-11-30T03:10:00.000Z" });
    expect(link).not.toHaveProperty("expiresWithKeys");
    expect(checkPageRequest((await readPageSigningKey(s))!, new URL(link.url).pathname, queryOf(link.url), NOW + 86_399_000)).toEqual({ page: "nightly.html" });
  });

  it("else a presigned COS link, which downloads and dies with the keys", async () => {
    expect(await pageLinkerFor(settings, store(), () => NOW)(page)).toEqual({
      url: "https://bucket.cos.ap-guangzhou.myqcloud.com/state/pages/nightly.html?q-sign-time=0;86400",
      opens: "download",
      validUntil: "2026-11-30T03:10:00.000Z",
      expiresWithKeys: true,
    });
  });

  it("a Function URL linker reads the key for every link: a key deleted to rotate it is replaced and used at once", async () => {
    const s = store();
    const linker = pageLinkerFor({ ...settings, pageUrl: BASE }, s, () => NOW);
    const before = await linker(page);
    await s.set(PAGE_SIGNING_KEY, { key: Buffer.alloc(32, 9).toString("base64url"), created: "2026-11-30T00:00:00.000Z" });
    const after = await linker(page);
    expect(checkPageRequest(Buffer.alloc(32, 9), "/pages/nightly.html", queryOf(after.url), NOW)).toEqual({ page: "nightly.html" });
    expect(checkPageRequest(Buffer.alloc(32, 9), "/pages/nightly.html", queryOf(before.url), NOW)).toMatchObject({ status: 403 });
  });

  it("a key that cannot be read holds the link back with the store's error", async () => {
    const linker = functionUrlLinker(BASE, () => Promise.reject(new Error("COS 503")), 60, () => NOW);
    await expect(linker(page)).rejects.toThrow("COS 503");
  });
});
