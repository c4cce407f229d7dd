import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { createSecureContext } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Notifier } from "../../../shared/config/schema.ts";
import { HttpFailure, post } from "../../../shared/net/http.ts";
import { networkDelivery, type DeliveryOptions } from "../../../shared/notify/deliver.ts";
import { HOW_TO_AUTHORIZE, type RunReport } from "../../../shared/notify/report.ts";
import { WindowLimiter } from "../../../shared/notify/window-limiter.ts";
import { startListener } from "../../helpers.ts";

// A TLS listener on 127.0.0.1 with a fixed, test-only, self-signed certificate for localhost,
// hook.example.test and 127.0.0.1 (made once with `openssl req -x509 -newkey ec -pkeyopt
// ec_paramgen_curve:prime256v1 -nodes -days 36500 -subj /CN=localhost -addext subjectAltName=...`).
// No client trusts it, so a TLS connection to it fails with DEPTH_ZERO_SELF_SIGNED_CERT.
const TLS = {
  key: readFileSync(new URL("../../fixtures/tls/localhost.key", import.meta.url)),
  cert: readFileSync(new URL("../../fixtures/tls/localhost.crt", import.meta.url)),
};

async function startTlsListener() {
  const context = createSecureContext(TLS);
  const seen = { connections: 0, servernames: [] as string[], requests: 0 };
  const server = createHttpsServer(
    {
      ...TLS,
      SNICallback: (servername, callback) => {
        seen.servernames.push(servername);
        callback(null, context);
      },
    },
    (_req, res) => {
      seen.requests++;
      res.end("{}");
    },
  );
  server.on("connection", () => seen.connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const report: RunReport = {
  schema: "csip-scan.run/v1",
  reasons: ["unauthorized"],
  policy: "nightly-prod",
  trigger: "timer",
  scheduledTime: "2026-11-29T03:00:00.000Z",
  status: "ok",
  unauthorizedAssets: [{ id: "ins-00000001", name: "web-1", kind: "cvm", region: "ap-guangzhou" }],
  tasks: [],
  warnings: [],
  errors: [],
  howToAuthorize: HOW_TO_AUTHORIZE,
};

/** Delivery whose retries are recorded instead of slept. */
function delivery(options: DeliveryOptions) {
  const waits: number[] = [];
  const deliver = networkDelivery({
    timeoutMs: 2000,
    limiter: new WindowLimiter(() => 0),
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
  return { deliver, waits };
}

const webhook = (url: string): Notifier => ({ type: "webhook", url, language: "en" });

let tls: Awaited<ReturnType<typeof startTlsListener>>;
let plain: Awaited<ReturnType<typeof startListener>>;
beforeAll(async () => {
  tls = await startTlsListener();
  plain = await startListener(() => ({ status: 200, body: "{}" }));
});
afterAll(async () => {
  await tls.close();
  await plain.close();
});
afterEach(() => {
  tls.seen.connections = 0;
  tls.seen.requests = 0;
  tls.seen.servernames.length = 0;
  plain.received.length = 0;
});

describe("post", () => {
  it("connects to the address that was checked, whatever the host name resolves to", async () => {
    const port = new URL(plain.url).port;
    const answer = await post(new URL(`http://pinned.example.test:${port}/hook`), "{}", { "content-type": "application/json" }, {
      address: { address: "127.0.0.1", family: 4 },
      timeoutMs: 2000,
    });
    expect(answer.status).toBe(200);
    expect(plain.received).toHaveLength(1);
    expect(plain.received[0]!.headers.host).toBe(`pinned.example.test:${port}`);
  });

  it("over TLS, connects to the pinned address and still verifies the certificate for the URL's host name", async () => {
    const failure = await post(new URL(`https://hook.example.test:${tls.port}/hook`), "{}", {}, { address: { address: "127.0.0.1", family: 4 }, timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(HttpFailure);
    expect(failure).toMatchObject({ code: "DEPTH_ZERO_SELF_SIGNED_CERT", retryable: false });
    expect(tls.seen.servernames).toEqual(["hook.example.test"]);
    expect(tls.seen.requests).toBe(0);
  });
});

describe("HttpFailure", () => {
  it.each([
    "CERT_HAS_EXPIRED",
    "CERT_NOT_YET_VALID",
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "ERR_TLS_CERT_ALTNAME_INVALID",
    "CERT_REVOKED",
  ])("%s: a certificate that does not verify is final", (code) => {
    const failure = new HttpFailure(code);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toBe(`its TLS certificate was not accepted (${code})`);
  });

  it.each([
    ["ECONNREFUSED", "could not connect (ECONNREFUSED)"],
    ["ECONNRESET", "could not connect (ECONNRESET)"],
    ["ETIMEDOUT", "could not connect (ETIMEDOUT)"],
    ["EAI_AGAIN", "could not connect (EAI_AGAIN)"],
    ["Timeout", "no answer in time"],
  ])("%s may heal: retried", (code, message) => {
    const failure = new HttpFailure(code);
    expect(failure.retryable).toBe(true);
    expect(failure.message).toBe(message);
  });
});

describe("a TLS certificate that does not verify", () => {
  it("is tried once, and the error names the notifier and the TLS failure", async () => {
    const { deliver, waits } = delivery({ allowLocal: true, attempts: 4 });
    const result = await deliver("secops", webhook(`https://127.0.0.1:${tls.port}/hook`), report);
    expect(result).toEqual({ notifier: "secops", delivered: false, error: 'notifier "secops": its TLS certificate was not accepted (DEPTH_ZERO_SELF_SIGNED_CERT)' });
    expect(tls.seen.connections).toBe(1);
    expect(waits).toEqual([]);
  });

  it("a connection refused, by contrast, is retried", async () => {
    const closed = await startListener();
    await closed.close();
    const { deliver, waits } = delivery({ allowLocal: true, attempts: 3 });
    const result = await deliver("secops", webhook(closed.url), report);
    expect(result).toEqual({ notifier: "secops", delivered: false, error: 'notifier "secops": could not connect (ECONNREFUSED) (gave up after 3 attempts)' });
    expect(waits).toHaveLength(2);
  });
});

describe("end to end with local webhooks off: resolve, check, connect to the checked address", () => {
  const resolverOf =
    (...addresses: string[]) =>
    async () =>
      addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));

  it("a name that resolves to a public and an internal address is refused; nothing is dialled", async () => {
    const dialled: unknown[] = [];
    const { deliver } = delivery({
      allowLocal: false,
      resolve: resolverOf("8.8.8.8", "10.0.0.7"),
      connectTo: (checked) => {
        dialled.push(checked);
        return { address: "127.0.0.1", family: 4 };
      },
    });
    const result = await deliver("secops", webhook(`https://hook.example.test:${tls.port}/hook`), report);
    expect(result).toEqual({ notifier: "secops", delivered: false, error: 'notifier "secops": not sent: its host name resolves to an internal address' });
    expect(dialled).toEqual([]);
    expect(tls.seen.connections).toBe(0);
  });

  it("a name that resolves to public addresses is dialled at the first of them, the one checked", async () => {
    const dialled: unknown[] = [];
    const { deliver } = delivery({
      allowLocal: false,
      attempts: 4,
      resolve: resolverOf("8.8.8.8", "2001:4860:4860::8888"),
      // Tests reach only 127.0.0.1: the checked address is mapped there, any other is an error.
      connectTo: (checked) => {
        dialled.push(checked);
        if (checked.address !== "8.8.8.8") throw new Error(`dialled ${checked.address}, not the checked address`);
        return { address: "127.0.0.1", family: 4 };
      },
    });
    const result = await deliver("secops", webhook(`https://hook.example.test:${tls.port}/hook`), report);
    expect(dialled).toEqual([{ address: "8.8.8.8", family: 4 }]);
    // The listener was reached, and TLS checked the certificate for the URL's host name, not the address.
    expect(tls.seen.connections).toBe(1);
    expect(tls.seen.servernames).toEqual(["hook.example.test"]);
    expect(result).toEqual({ notifier: "secops", delivered: false, error: 'notifier "secops": its TLS certificate was not accepted (DEPTH_ZERO_SELF_SIGNED_CERT)' });
  });

  it.each([
    ["wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-000001"],
    ["dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t-000001"],
    ["feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/h-000001"],
    ["slack", "https://hooks.slack.com/services/T000/B000/s-000001"],
  ] as const)("%s: a robot host that resolves to an internal address is refused too", async (type, url) => {
    const { deliver } = delivery({ allowLocal: false, resolve: resolverOf("8.8.8.8", "169.254.0.23") });
    const result = await deliver("ops", { type, url, language: "en" }, report);
    expect(result).toEqual({ notifier: "ops", delivered: false, error: 'notifier "ops": not sent: its host name resolves to an internal address' });
  });
});
