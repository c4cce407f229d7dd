import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { sleep, type Clock } from "../shared/clock.ts";
import type { Config } from "../shared/config/schema.ts";
import type { CsipAction } from "../shared/csip/actions.ts";
import { createCsipClient, type CsipClient, type RequestOf, type ResponseOf } from "../shared/csip/client.ts";
import { readEnvironment, type Environment } from "../shared/env.ts";
import { CsipScanError, EventError } from "../shared/errors.ts";
import { silentLogger } from "../shared/log.ts";
import { createServices, startRun, type RunContext, type ServiceOverrides } from "../shared/run/services.ts";
import { LOCAL_ACCOUNT, type EmulatorAccount } from "../local/emulator/accounts.ts";
import type { EstateAssetInput } from "../local/emulator/estate.ts";
import { startEmulator, type Emulator, type EmulatorOptions } from "../local/emulator/server.ts";

/**
 * A real clock that reads `iso` now and runs on from there: a timer event's slot and the run's deadline
 * behave as on that day, whatever day the tests run.
 */
export function clockAt(iso: string): Clock {
  const offset = Date.parse(iso) - Date.now();
  return { now: () => Date.now() + offset, sleep };
}

/**
 * Emulated time, for tests about durations and deadlines: it stands still while the machine works, and
 * moves only when a `sleep` asks it to or the test says so, so a test reads the same on a busy machine.
 */
export function emulatedClock(iso: string): Clock & { advance(ms: number): void } {
  let now = Date.parse(iso);
  return {
    now: () => now,
    sleep: async (ms: number) => void (now += Math.max(0, ms)),
    advance: (ms: number) => void (now += ms),
  };
}

/**
 * The client `csip` (the official SDK against the emulator), whose answers take emulated time: after each
 * call answers, `clock` moves by what `takes` says of it. The request itself goes out as it is.
 */
export function takingTime(csip: CsipClient, clock: { advance(ms: number): void }, takes: (action: CsipAction, request: Record<string, unknown>) => number): CsipClient {
  return {
    ...(csip.account !== undefined ? { account: csip.account } : {}),
    call: async <A extends CsipAction>(action: A, request: RequestOf<A>): Promise<ResponseOf<A>> => {
      const answer = await csip.call(action, request);
      clock.advance(takes(action, request as Record<string, unknown>));
      return answer;
    },
  };
}

/** An environment of just these variables: never the developer's own. */
export function envOf(variables: Record<string, string> = {}): Environment {
  return readEnvironment(variables);
}

/** The environment tests run under: local webhooks (listeners on 127.0.0.1) allowed. */
export const LOCAL_WEBHOOKS = envOf({ CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1" });

/** A run of `config` through `sdk` (the official SDK against the emulator), quiet unless told otherwise. */
export function runWith(config: Config, sdk: CsipClient, overrides: ServiceOverrides = {}, env: Environment = LOCAL_WEBHOOKS): RunContext {
  return startRun(createServices(config, env, { sdk, logger: silentLogger(), ...overrides }));
}

/** The official SDK pointed at the emulator. */
export function sdkClient(emulator: Emulator, account: EmulatorAccount = LOCAL_ACCOUNT, extra: { region?: string; timeoutSeconds?: number } = {}): CsipClient {
  return createCsipClient({
    credentials: account.token ? { secretId: account.secretId, secretKey: account.secretKey, token: account.token } : account,
    region: extra.region ?? "ap-guangzhou",
    endpoint: emulator.url,
    ...(extra.timeoutSeconds ? { timeoutSeconds: extra.timeoutSeconds } : {}),
  });
}

export interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP listener on 127.0.0.1 that records what it receives and answers `status`. */
export async function startListener(
  answer: (req: Captured) => { status: number; body?: string; headers?: Record<string, string> } = () => ({ status: 200 }),
) {
  const received: Captured[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const captured = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      received.push(captured);
      const { status, body, headers } = answer(captured);
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(body ?? "{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * An independent TC3-HMAC-SHA256 signer written from Tencent's signature v3 document
 * (https://cloud.tencent.com/document/api/664/90809), so tests can send requests the SDK never would:
 * old timestamps, other services, missing headers.
 */
export async function rawCall(
  emulator: Emulator,
  action: string,
  body: unknown,
  options: {
    account?: EmulatorAccount;
    timestamp?: number;
    service?: string;
    version?: string;
    region?: string;
    token?: string;
    omitAction?: boolean;
  } = {},
): Promise<{ Response: Record<string, unknown> & { Error?: { Code: string; Message: string }; RequestId: string } }> {
  const account = options.account ?? LOCAL_ACCOUNT;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const service = options.service ?? "127";
  const payload = JSON.stringify(body);
  const date = new Date(timestamp * 1000).toISOString().slice(0, 10);
  const sha = (s: string): string => createHash("sha256").update(s).digest("hex");
  const canonical = ["POST", "/", "", "content-type:application/json\nhost:127.0.0.1\n", "content-type;host", sha(payload)].join("\n");
  const scope = `${date}/${service}/tc3_request`;
  const toSign = ["TC3-HMAC-SHA256", String(timestamp), scope, sha(canonical)].join("\n");
  const kDate = createHmac("sha256", `TC3${account.secretKey}`).update(date).digest();
  const kService = createHmac("sha256", kDate).update(service).digest();
  const kSigning = createHmac("sha256", kService).update("tc3_request").digest();
  const signature = createHmac("sha256", kSigning).update(toSign).digest("hex");
  const headers: Record<string, string> = {
    "content-type": "application/json",
    authorization: `TC3-HMAC-SHA256 Credential=${account.secretId}/${scope}, SignedHeaders=content-type;host, Signature=${signature}`,
    "x-tc-timestamp": String(timestamp),
    "x-tc-version": options.version ?? "2022-11-21",
    "x-tc-region": options.region ?? "ap-guangzhou",
  };
  if (!options.omitAction) headers["x-tc-action"] = action;
  if (options.token ?? account.token) headers["x-tc-token"] = (options.token ?? account.token)!;
  const response = await fetch(emulator.url, { method: "POST", headers, body: payload });
  return (await response.json()) as never;
}

/** Rejects with the error a promise throws, or fails when it resolves. */
export async function caught(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error("expected the promise to reject");
}

const HANDLER_ENV = ["TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "CSIP_ENDPOINT", "CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS", "CSIP_SCAN_LOG_LEVEL", "CSIP_SCAN_CONFIG"];

/**
 * Starts the emulator and a webhook listener, and sets the variables a deployed handler reads (the
 * emulator's key, CSIP_ENDPOINT, local webhooks allowed) as SCF would. `stop` closes both and unsets them.
 */
export async function startHandlerWorld(estate: EstateAssetInput[], options: EmulatorOptions = {}) {
  const emulator = await startEmulator({ estate, ...options });
  const initialTiming = { ...emulator.state.scanTiming };
  const initialReportDelay = emulator.state.reportDelayMs;
  const initialNow = emulator.state.now;
  const initialReadings = { multiValueFilters: emulator.state.multiValueFilters, taskOrder: emulator.state.taskOrder, refusedFilters: [...emulator.state.refusedFilters], maxPageSize: emulator.state.maxPageSize };
  const hook = await startListener();
  Object.assign(process.env, {
    TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId,
    TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey,
    CSIP_ENDPOINT: emulator.url,
    CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1",
    CSIP_SCAN_LOG_LEVEL: "silent",
  });
  return {
    emulator,
    hook,
    /**
     * Waits for the last test's requests to end (a slow answer still does its work), then forgets
     * calls, tasks, faults, settings and received messages: each test starts clean.
     */
    async reset() {
      await emulator.settle();
      emulator.calls.length = 0;
      emulator.state.tasks = [];
      emulator.state.pendingSync = [];
      emulator.state.whenUnauthorized = "no-task";
      emulator.state.scanTiming = { ...initialTiming };
      emulator.state.reportDelayMs = initialReportDelay;
      emulator.state.now = initialNow;
      emulator.state.multiValueFilters = initialReadings.multiValueFilters;
      emulator.state.taskOrder = initialReadings.taskOrder;
      emulator.state.refusedFilters = new Set(initialReadings.refusedFilters);
      emulator.state.maxPageSize = initialReadings.maxPageSize;
      emulator.clearFaults();
      hook.received.length = 0;
    },
    async stop() {
      await emulator.close();
      await hook.close();
      for (const name of HANDLER_ENV) delete process.env[name];
    },
  };
}

/**
 * Feeds a handler generated input: whatever it is given, only the project's typed errors come out,
 * and an input rejected as a bad event makes no call to CSIP.
 */
export async function expectOnlyTypedErrors(
  handler: (event: unknown, context: unknown) => Promise<unknown>,
  inputs: fc.Arbitrary<unknown>,
  emulator: Emulator,
  numRuns: number,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(inputs, async (input) => {
      emulator.calls.length = 0;
      try {
        await handler(input, {});
      } catch (error) {
        expect(error).toBeInstanceOf(CsipScanError);
        if (error instanceof EventError) expect(emulator.calls).toHaveLength(0);
      }
    }),
    { numRuns },
  );
}

export type HandlerWorld = Awaited<ReturnType<typeof startHandlerWorld>>;

/** Registers the hooks of a suite that runs handlers: the world for the file, reset before each test. */
export function useHandlerWorld(estate: EstateAssetInput[], options: EmulatorOptions, bind: (world: HandlerWorld) => void): void {
  let world: HandlerWorld;
  beforeAll(async () => {
    world = await startHandlerWorld(estate, options);
    bind(world);
  });
  afterAll(() => world.stop());
  beforeEach(() => world.reset());
}
