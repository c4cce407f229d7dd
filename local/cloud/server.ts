import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { buffer } from "node:stream/consumers";
import type { EmulatorAccount } from "../emulator/accounts.ts";
import { freshAccount, type AccountState } from "./account.ts";
import { handleCloudApi } from "./cloud-api.ts";
import { httpDate } from "./clock.ts";
import { cosInternalError, cosSlowDown, DEFAULT_COS_READINGS, handleCos, isCosHost, type CosReadings } from "./cos.ts";
import { REHEARSAL_ACCOUNT } from "./credentials.ts";
import { isFunctionUrlHost, serveFunctionUrl, type FunctionUrlReadings } from "./function-urls.ts";
import { SCF_REGIONS } from "./scf-rules.ts";
import { FunctionRunner, type FunctionRunnerOptions, type Invocation } from "./scf-runner.ts";
import { selfSignedCertificate } from "./self-signed.ts";
import type { RecordedCall } from "./record.ts";
import { isToolsHost, toolsCallName } from "./tools.ts";

/**
 * One HTTP server on 127.0.0.1 standing in for the Tencent Cloud hosts a deploy talks to. Requests arrive
 * through local/deploy/redirect.cjs with their original Host header, which picks the service (and which the
 * signatures cover): `*.tencentcloudapi.com` → the Cloud API (scf, cam, tag, eb), COS service and bucket
 * hosts → COS, Function URL hosts (`APPID-URLID.REGION.tencentscf.com`) → the function behind the URL, run
 * from its deployed code (local/cloud/function-urls.ts) when the stand-in runs functions. The plugin's tools
 * host (`*.apigw.tencentcs.com`) is unreachable: its connection is dropped. Anything else is refused
 * loudly. Every request, of any host, is recorded.
 */

export interface CloudStandInOptions {
  /** The account to serve; a fresh one of the rehearsal key pair's owner when absent. */
  account?: AccountState;
  /** Key pairs whose signatures are accepted (default: the rehearsal key pair only). */
  keys?: readonly EmulatorAccount[];
  port?: number;
  /** How long a created or updated function stays Creating/Updating (default 500 ms). */
  settleMs?: number;
  /**
   * A fault to inject into a COS request (tests): `error` answers 500 InternalError and does nothing;
   * `slow-down` answers 429 SlowDown and does nothing; `lose-answer` does the request, then drops the
   * connection before answering. A promise holds the
   * request until it settles (to order concurrent requests).
   */
  cosFault?: (request: { method: string; key: string; query: URLSearchParams }) => CosFault | undefined | Promise<CosFault | undefined>;
  /** How COS answers where the documents leave it open (`CosReadings`); the stand-in's defaults otherwise. */
  cosReadings?: Partial<CosReadings>;
  /** How far COS's clock is ahead of this machine's, in ms (negative: behind): what its signature checks and `Date` headers use. */
  cosClockOffsetMs?: number;
  /**
   * Run the deployed functions (their Function URLs, and `invoke`): where their code is unpacked, the keys
   * of their role (default: the first accepted key pair), what to add to their environment. Also opens an
   * HTTPS listener, with a certificate made for the run, for clients that open the https:// URLs.
   */
  functions?: Omit<FunctionRunnerOptions, "standInUrl" | "roleKeys"> & { roleKeys?: FunctionRunnerOptions["roleKeys"] } & FunctionUrlReadings;
}

export type CosFault = "error" | "slow-down" | "lose-answer";

export interface CloudStandIn {
  /** `http://127.0.0.1:PORT`: the value of CSIP_SCAN_CLOUD_STANDIN for the redirect. */
  url: string;
  port: number;
  readonly account: AccountState;
  /** Every request that reached the stand-in, in arrival order: Cloud API and COS calls, tools and refused hosts too. */
  readonly calls: RecordedCall[];
  /** Hosts that reached the stand-in but are none of its services. */
  readonly refusedHosts: string[];
  /** The COS readings answered with; a test may switch one between requests. */
  readonly cosReadings: CosReadings;
  /**
   * Role keys that rotate: from now on only `keys` are accepted, and a request signed with another
   * SecretId is refused as an unknown key (Cloud API `AuthFailure.SecretIdNotFound`, COS `InvalidAccessKeyId`).
   */
  rotateKeys(keys: readonly EmulatorAccount[]): void;
  /** With `functions`: the HTTPS listener's port (every host), which a browser is pointed at for https:// Function URLs. */
  httpsPort?: number;
  /** With `functions`: runs a deployed function on an event, as an SCF invocation would (a timer's, say). */
  invoke(functionName: string, event: unknown): Promise<Invocation>;
  close(): Promise<void>;
}


/** Starts the stand-ins on 127.0.0.1 (a free port unless given), serving `account` and changing it in place. */
export async function startCloudStandIn(options: CloudStandInOptions = {}): Promise<CloudStandIn> {
  const account = options.account ?? freshAccount(REHEARSAL_ACCOUNT);
  let keys = options.keys ?? [REHEARSAL_ACCOUNT];
  const cosReadings: CosReadings = { ...DEFAULT_COS_READINGS, ...options.cosReadings };
  const cosClockOffsetMs = options.cosClockOffsetMs ?? 0;
  const settleMs = options.settleMs ?? 500;
  const calls: RecordedCall[] = [];
  const refusedHosts: string[] = [];

  let runner: FunctionRunner | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await buffer(req);
    const host = String(req.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
    const url = new URL(req.url ?? "/", "http://stand-in");
    const method = req.method ?? "GET";
    if (isFunctionUrlHost(host)) {
      const request = { method, host, path: url.pathname, query: url.searchParams, headers: req.headers, body, remoteAddress: req.socket.remoteAddress ?? "127.0.0.1" };
      const answer = await serveFunctionUrl(request, account, runner, options.functions ?? {});
      calls.push({ service: "scf-url", action: answer.action, params: { host, status: answer.status } });
      res.writeHead(answer.status, answer.headers);
      res.end(method === "HEAD" ? undefined : answer.body);
    } else if (host.endsWith(".tencentcloudapi.com")) {
      const { body: answer, call } = handleCloudApi(
        { method, host, path: url.pathname, query: url.search.slice(1), headers: req.headers, body },
        { account, keys, settleMs, now: Date.now() },
      );
      calls.push(call);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(answer);
    } else if (isCosHost(host)) {
      const fault = await options.cosFault?.({ method, key: decodeURIComponent(url.pathname).replace(/^\//, ""), query: url.searchParams });
      const now = Date.now() + cosClockOffsetMs;
      const answer =
        fault === "error"
          ? cosInternalError("")
          : fault === "slow-down"
            ? cosSlowDown("")
            : handleCos({ method, host, path: url.pathname, query: url.searchParams, headers: req.headers, body }, account, keys, now, cosReadings);
      answer.headers.date = httpDate(now);
      if (answer.action) calls.push({ service: "cos", action: answer.action, params: answer.params, ...(answer.error ? { error: answer.error } : {}) });
      if (fault === "lose-answer") {
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.status, answer.headers);
      res.end(method === "HEAD" ? undefined : answer.body);
    } else if (isToolsHost(host)) {
      calls.push({ service: "tools", action: toolsCallName(url.pathname), params: { host }, error: "Unreachable" });
      res.socket?.destroy();
    } else {
      refusedHosts.push(host);
      calls.push({ service: "refused", action: `${method} ${url.pathname}`, params: { host }, error: "NotServed" });
      res.writeHead(421, { "content-type": "text/plain" });
      res.end(`The csip-scan cloud stand-in does not serve ${host || "(no Host header)"}.\n`);
    }
  };

  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`cloud stand-in error: ${String(error)}`);
    });
  };
  const listen = async (server: Server, port = 0): Promise<number> => {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    return (server.address() as AddressInfo).port;
  };
  const server = createServer(serve);
  const port = await listen(server, options.port);
  const url = `http://127.0.0.1:${port}`;
  const servers: Server[] = [server];
  let httpsPort: number | undefined;
  if (options.functions) {
    const { forceDownload: _reading, roleKeys, ...runnerOptions } = options.functions;
    runner = new FunctionRunner(account, { ...runnerOptions, standInUrl: url, roleKeys: roleKeys ?? keys[0]! });
    const names = [...SCF_REGIONS].flatMap((region) => [`*.${region}.tencentscf.com`, `*.in.${region}.tencentscf.com`]);
    const tlsServer = createTlsServer(selfSignedCertificate([...names, "localhost"]), serve);
    httpsPort = await listen(tlsServer);
    servers.push(tlsServer);
  }
  return {
    url,
    port,
    account,
    calls,
    refusedHosts,
    cosReadings,
    rotateKeys(next) {
      keys = [...next];
    },
    ...(httpsPort !== undefined ? { httpsPort } : {}),
    async invoke(functionName, event) {
      const f = account.functions.find((candidate) => candidate.FunctionName === functionName);
      if (!f) return { ok: false, error: `no function ${functionName}` };
      if (!runner) return { ok: false, error: "the stand-in was started without running functions (options.functions)" };
      return runner.invoke(f, event);
    },
    async close() {
      runner?.close();
      await Promise.all(
        servers.map((s) => {
          s.closeAllConnections();
          return new Promise<void>((resolve) => s.close(() => resolve()));
        }),
      );
    },
  };
}
