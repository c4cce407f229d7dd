import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refusal } from "../../../shared/run/serve-page.ts";
import { pageLinkOpens, type PageOpening } from "../../../shared/results/page-opens.ts";
import { startListener } from "../../helpers.ts";

// The check of a page link's headers (what `csip-scan doctor` will call), against real listeners on
// 127.0.0.1 answering as the hosts a link may point at do.

type Answer = { status: number; headers: Record<string, string> };
const ANSWERS: Record<string, Answer> = {
  "the results-page function": { status: 200, headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": "default-src 'none'", "cache-control": "private, no-store", "x-content-type-options": "nosniff" } },
  "COS's default domain, a bucket made after 2024-01-01": { status: 200, headers: { "content-type": "text/html; charset=utf-8", "x-cos-force-download": "true", "content-disposition": "attachment" } },
  "a force-download flag alone": { status: 200, headers: { "content-type": "text/html", "x-cos-force-download": "true" } },
  "an attachment with a file name": { status: 200, headers: { "content-type": "text/html", "content-disposition": 'attachment; filename="nightly.html"' } },
  "a binary type": { status: 200, headers: { "content-type": "application/octet-stream" } },
  "plain text": { status: 200, headers: { "content-type": "text/plain; charset=utf-8" } },
  "an expired signature": { status: 403, headers: { "content-type": "text/html; charset=utf-8" } },
  "a redirect": { status: 302, headers: { location: "https://elsewhere.example/" } },
};

let listener: Awaited<ReturnType<typeof startListener>>;
beforeAll(async () => {
  listener = await startListener((req) => {
    const name = decodeURIComponent(new URL(req.url, "http://x").searchParams.get("as") ?? "");
    const answer = ANSWERS[name]!;
    return { status: answer.status, headers: answer.headers, body: "<!DOCTYPE html><p>page</p>" };
  });
});
afterAll(() => listener.close());

const link = (name: string): string => `${listener.url.replace("/hook", "/pages/nightly.html")}?as=${encodeURIComponent(name)}&signature=secret-signature-value`;

describe("pageLinkOpens", () => {
  it.each<[string, PageOpening]>([
    ["the results-page function", "page"],
    ["COS's default domain, a bucket made after 2024-01-01", "download"],
    ["a force-download flag alone", "download"],
    ["an attachment with a file name", "download"],
    ["a binary type", "download"],
    ["plain text", "other"],
    ["an expired signature", "error"],
    ["a redirect", "error"],
  ])("%s: %s", async (name, opens) => {
    const check = await pageLinkOpens(link(name));
    expect(check.opens).toBe(opens);
    expect(check.status).toBe(ANSWERS[name]!.status);
    expect(JSON.stringify(check)).not.toContain("secret-signature-value");
  });

  it("reads the headers the page function really answers, a refusal included", async () => {
    const served = await startListener(() => {
      const answer = refusal(410);
      return { status: answer.statusCode, headers: Object.fromEntries(Object.entries(answer.headers).map(([k, v]) => [k.toLowerCase(), v])), body: answer.body };
    });
    try {
      expect(await pageLinkOpens(served.url)).toMatchObject({ opens: "error", status: 410, headers: { contentType: "text/html; charset=utf-8" } });
    } finally {
      await served.close();
    }
  });

  it("sends GET (a presigned COS link is signed for GET only) and follows no redirect", async () => {
    const before = listener.received.length;
    await pageLinkOpens(link("a redirect"));
    expect(listener.received.slice(before).map((r) => r.method)).toEqual(["GET"]);
  });

  it("a host that does not answer is an error, not a throw", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await pageLinkOpens(`http://127.0.0.1:${port}/pages/x.html`)).toMatchObject({ opens: "error", reason: "no answer (ECONNREFUSED)" });
  });
});
