import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { buffer } from "node:stream/consumers";
import { callerIdentity, LOCAL_ACCOUNT, STS_VERSION, type EmulatorAccount } from "./accounts.ts";
import { actionHandlers, runAction, type EmulatorState, type UnauthorizedAnswer } from "./actions.ts";
import { toEstateAssets, type EstateAssetInput } from "./estate.ts";
import { checkParams } from "./params.ts";
import { REPORT_PATH, reportPdf } from "./reports.ts";
import { DEFAULT_MAX_PAGE_SIZE, DEFAULT_SCAN_TIMING, type MultiValueAnswer, type ScanTiming, type TaskOrder } from "./state.ts";
import { expectedSignature, parseAuthorization, sameSignature, signedHost } from "./signature.ts";

/** What the emulator gives instead of an answer. */
export type Failure =
  | { type: "error"; code: string; message?: string }
  | { type: "http"; status: number }
  | { type: "drop" }
  | { type: "notJson" };

export type Fault =
  | Failure
  /**
   * The answer comes `ms` late. The work is done after the wait, or, with `doneFirst`, as the request
   * arrives: then a caller that gave up waiting finds the work done whatever the machine's speed.
   */
  | { type: "slow"; ms: number; doneFirst?: boolean }
  /**
   * CSIP does the work but answers `answer` (a failure); what the work made shows in the lists only
   * later: `afterMs` later, or just before the emulator answers the `call`-th request of `action` that
   * comes after it (`landsBefore`: a landing ordered by requests, whatever the machine's speed), or
   * when a test settles the emulator with `late: "land"`, whichever comes first.
   */
  | { type: "late"; answer: Failure; afterMs?: number; landsBefore?: { action: string; call: number } }
  /** A well-formed API answer with this content instead of the real one (a malformed list, say). */
  | { type: "answer"; response: Record<string, unknown> };

export interface RecordedCall {
  action: string;
  params: Record<string, unknown>;
  /** Milliseconds since the epoch when the request arrived. */
  at: number;
  /** "OK", an API error code, or the fault given instead of an answer. */
  outcome: string;
  requestId: string;
}

export interface EmulatorOptions {
  port?: number;
  estate?: readonly EstateAssetInput[];
  accounts?: readonly EmulatorAccount[];
  /** Requests per second per action per account, in a sliding one-second window; false: no limit. */
  rateLimit?: number | false;
  /** What CSIP does with a chunk holding unauthorized assets (undocumented; see ASSUMPTIONS.md). */
  whenUnauthorized?: UnauthorizedAnswer;
  /** Largest Filter.Limit the list actions accept (undocumented; switches.ts); default 100. Also `state.maxPageSize`. */
  maxPageSize?: number;
  regions?: readonly string[];
  /**
   * The emulated clock (milliseconds since the epoch; default Date.now): task progress, the times in
   * answers and report readiness. Signatures and the rate limit keep real time. Also `state.now`.
   */
  now?: () => number;
  /** How long a scan-now task stays initial (0), then scanning (1); default 2 s and 6 s. Also `state.scanTiming`. */
  scanTiming?: ScanTiming;
  /** How long after a task is done its report is listed and has a link; default 0. Also `state.reportDelayMs`. */
  reportDelayMs?: number;
  /** How a filter with several values is answered (undocumented; switches.ts); default ORed. Also `state.multiValueFilters`. */
  multiValueFilters?: MultiValueAnswer;
  /** `Action.FilterName` pairs refused with an error (switches.ts). Also `refuseFilter`, `state.refusedFilters`. */
  refusedFilters?: readonly string[];
  /** `Action.FilterName` pairs answered as if absent. Also `ignoreFilter`. */
  ignoredFilters?: readonly string[];
  /** DescribeScanTaskList's order (undocumented; switches.ts); default newest first. Also `state.taskOrder`. */
  taskOrder?: TaskOrder;
}

export interface Emulator {
  url: string;
  port: number;
  readonly state: EmulatorState;
  /** Every request that named an action, in arrival order. */
  readonly calls: RecordedCall[];
  /** Replaces the estate. */
  seed(assets: readonly EstateAssetInput[]): void;
  /** The next `times` calls of `action` get `fault` instead of (or, for `slow`, before) their answer. */
  inject(action: string, fault: Fault, times?: number): void;
  /** Drops every fault not yet used. */
  clearFaults(): void;
  /** From now on `action` answers as if `Filter.Filters` named no `filterName` (a server that ignores it). */
  ignoreFilter(action: string, filterName: string): void;
  /** From now on `action` refuses a `Filter.Filters` naming `filterName` (FILTER_REFUSAL.name). */
  refuseFilter(action: string, filterName: string): void;
  /**
   * `asset` joins the estate at the front of its kind's list right after the next first page (Offset 0) of
   * that list is answered: the pages read after it shift by one, so a row repeats (an offset shift while the estate
   * changes) and the new asset is not seen by that read.
   */
  addDuringRead(asset: EstateAssetInput): void;
  /**
   * Role keys that rotate: from now on only `keys` are accepted. A request signed with a SecretId no
   * longer listed is refused `AuthFailure.SecretIdNotFound`, one with a listed SecretId but another
   * token `AuthFailure.TokenFailure` (https://cloud.tencent.com/document/api/664/90810).
   */
  rotateKeys(keys: readonly EmulatorAccount[]): void;
  setRateLimit(perSecond: number | false): void;
  callsOf(action: string): RecordedCall[];
  /**
   * Resolves when no request is in progress: what a test did is over. Late work still pending is
   * dropped (`late: "drop"`, the default) or lands now (`late: "land"`): a test that gives a late create
   * an `afterMs` longer than it runs decides itself when the create lands, whatever the machine's speed.
   */
  settle(options?: { late?: "drop" | "land" }): Promise<void>;
  close(): Promise<void>;
}

export const API_VERSION = "2022-11-21";

/** Regions CSIP is called in (https://cloud.tencent.com/document/api/664/90811 lists ap-guangzhou; more are harmless). */
const DEFAULT_REGIONS = [
  "ap-guangzhou", "ap-shanghai", "ap-beijing", "ap-chengdu", "ap-chongqing", "ap-nanjing",
  "ap-hongkong", "ap-singapore", "ap-tokyo", "ap-seoul", "ap-bangkok", "ap-jakarta",
  "na-siliconvalley", "na-ashburn", "eu-frankfurt", "sa-saopaulo",
];

/** Starts an emulated CSIP on 127.0.0.1 that the official SDK can call. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  let accounts = options.accounts ?? [LOCAL_ACCOUNT];
  const regions = new Set(options.regions ?? DEFAULT_REGIONS);
  let rateLimit = options.rateLimit ?? 20;
  const clock = options.now ?? Date.now;
  const state: EmulatorState = {
    estate: toEstateAssets(options.estate ?? []),
    pendingSync: [],
    tasks: [],
    whenUnauthorized: options.whenUnauthorized ?? "no-task",
    maxPageSize: options.maxPageSize ?? DEFAULT_MAX_PAGE_SIZE,
    now: clock,
    scanTiming: { ...(options.scanTiming ?? DEFAULT_SCAN_TIMING) },
    reportDelayMs: options.reportDelayMs ?? 0,
    startedAt: clock(),
    ignoredFilters: new Set(options.ignoredFilters ?? []),
    refusedFilters: new Set(options.refusedFilters ?? []),
    multiValueFilters: options.multiValueFilters ?? "ored",
    taskOrder: options.taskOrder ?? "newest-first",
    arrivingDuringRead: [],
  };
  let origin = "";
  const calls: RecordedCall[] = [];
  const faults = new Map<string, Fault[]>();
  const windows = new Map<string, number[]>();

  const overLimit = (key: string, now: number): boolean => {
    if (rateLimit === false) return false;
    const recent = (windows.get(key) ?? []).filter((t) => now - t < 1000);
    const limited = recent.length >= rateLimit;
    if (!limited) recent.push(now);
    windows.set(key, recent);
    return limited;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await buffer(req);
    const now = Date.now();
    const requestId = randomUUID();
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const action = header("x-tc-action") ?? "";
    let params: Record<string, unknown> = {};
    const record: RecordedCall = { action, params, at: now, outcome: "OK", requestId };
    if (action) calls.push(record);
    const send = (response: Record<string, unknown>): void => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ Response: { ...response, RequestId: requestId } }));
    };
    const fail = (code: string, message: string): void => {
      record.outcome = code;
      send({ Error: { Code: code, Message: message } });
    };

    if (req.method === "GET" && REPORT_PATH.test(new URL(req.url ?? "/", "http://emulator").pathname)) return sendReport(req, res);
    if (req.method !== "POST") return fail("UnsupportedProtocol", "Only POST requests with a JSON body are emulated.");
    try {
      const parsed: unknown = JSON.parse(body.toString("utf8") || "{}");
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
      params = parsed as Record<string, unknown>;
      record.params = params;
    } catch {
      return fail("InvalidParameter", "The request body is not a JSON object.");
    }

    // Signature v3: https://cloud.tencent.com/document/api/664/90809 ; error codes: https://cloud.tencent.com/document/api/664/90810
    const auth = parseAuthorization(header("authorization"));
    if (!auth) return fail("AuthFailure.InvalidAuthorization", "The Authorization header is missing or malformed.");
    const account = accounts.find((a) => a.secretId === auth.secretId);
    if (!account) return fail("AuthFailure.SecretIdNotFound", "The SecretId is not found.");
    const timestamp = header("x-tc-timestamp") ?? "";
    if (!/^\d+$/.test(timestamp) || Math.abs(now / 1000 - Number(timestamp)) > 300) {
      return fail("AuthFailure.SignatureExpire", "The signature expired: X-TC-Timestamp is more than 300 s from server time.");
    }
    const date = new Date(Number(timestamp) * 1000).toISOString().slice(0, 10);
    const service = signedHost({ method: "", path: "", query: "", headers: req.headers, body }).split(".")[0];
    const url = new URL(req.url ?? "/", "http://emulator");
    const expected = expectedSignature(
      { method: req.method, path: url.pathname, query: url.search.slice(1), headers: req.headers, body },
      auth,
      account.secretKey,
      timestamp,
    );
    if (auth.date !== date || auth.service !== service || !sameSignature(expected, auth.signature)) {
      return fail("AuthFailure.SignatureFailure", "The provided credentials could not be validated.");
    }
    if ((header("x-tc-token") ?? "") !== (account.token ?? "")) {
      return fail("AuthFailure.TokenFailure", "The session token is missing or wrong.");
    }
    if (!action) return fail("MissingParameter", "The request is missing a required parameter `Action`.");
    // STS's GetCallerIdentity, which the emulator answers for the account it serves: who the keys are.
    if (action === "GetCallerIdentity") {
      if (header("x-tc-version") !== STS_VERSION) return fail("NoSuchVersion", `The API version \`${header("x-tc-version") ?? ""}\` is not found.`);
      return send(callerIdentity(account));
    }
    const handler = Object.hasOwn(actionHandlers, action) ? actionHandlers[action as keyof typeof actionHandlers] : undefined;
    if (!handler) return fail("InvalidAction", `The action \`${action}\` is not found.`);
    if (header("x-tc-version") !== API_VERSION) {
      return fail("NoSuchVersion", `The API version \`${header("x-tc-version") ?? ""}\` is not found.`);
    }
    const region = header("x-tc-region");
    if (region !== undefined && !regions.has(region)) {
      return fail("UnsupportedRegion", `The region \`${region}\` is not supported.`);
    }

    const sendFailure = (failure: Failure): void => {
      switch (failure.type) {
        case "error":
          return fail(failure.code, failure.message ?? "Injected by the emulator.");
        case "http":
          res.writeHead(failure.status, { "content-type": "text/plain" });
          res.end("emulated upstream failure");
          return;
        case "drop":
          req.socket.destroy();
          return;
        case "notJson":
          res.writeHead(200, { "content-type": "text/html" });
          res.end("<html><body>502 Bad Gateway</body></html>");
          return;
      }
    };

    for (const [land, before] of [...landingBefore]) if (before.action === action && --before.call <= 0) land();
    const fault = faults.get(action)?.shift();
    if (fault) {
      record.outcome = fault.type === "error" ? fault.code : fault.type === "late" ? `fault:late:${fault.answer.type}` : `fault:${fault.type}`;
      if (fault.type === "slow") {
        if (!fault.doneFirst) await new Promise((resolve) => setTimeout(resolve, fault.ms));
        record.outcome = "OK";
      } else if (fault.type === "answer") {
        return send(fault.response);
      } else if (fault.type !== "late") {
        return sendFailure(fault);
      }
    }

    if (overLimit(`${account.secretId}/${action}`, now)) {
      return fail("RequestLimitExceeded", "Your current request times exceeds the limit, please try again later.");
    }
    const problem = checkParams(action, params);
    if (problem) return fail(problem.code, problem.message);
    const before = new Set(state.tasks);
    const answer = runAction(handler, params, { state, account, now: state.now(), origin, action: action as keyof typeof actionHandlers });
    if (fault?.type === "late") {
      // The work is done, but what it made is listed only later, and the caller hears of a failure.
      const made = state.tasks.filter((t) => !before.has(t));
      state.tasks = state.tasks.filter((t) => before.has(t));
      const land = (): void => {
        clearTimeout(timer);
        landingBefore.delete(land);
        if (pendingLate.delete(timer)) state.tasks.push(...made);
      };
      // Unreferenced: late work no test waits for does not keep the process alive.
      const timer = setTimeout(land, fault.afterMs ?? 2 ** 31 - 1).unref();
      pendingLate.set(timer, land);
      if (fault.landsBefore) landingBefore.set(land, { ...fault.landsBefore });
      return sendFailure(fault.answer);
    }
    if ("error" in answer) return fail(answer.error.code, answer.error.message);
    if (fault?.type === "slow" && fault.doneFirst) await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (res.destroyed) return;
    send(answer.response);
  };

  /** A report's PDF, like the presigned COS link of the real service: no signature. */
  const sendReport = (req: IncomingMessage, res: ServerResponse): void => {
    const id = REPORT_PATH.exec(new URL(req.url ?? "/", "http://emulator").pathname)?.[1] ?? "";
    const pdf = reportPdf(state, id, state.now());
    if (!pdf) {
      res.writeHead(404, { "content-type": "application/xml" });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Resource>/reports/${id}.pdf</Resource></Error>`);
      return;
    }
    res.writeHead(200, { "content-type": "application/pdf", "content-length": pdf.length, "content-disposition": `inline; filename="${id}.pdf"` });
    res.end(pdf);
  };

  /** Late work not yet landed, each with what lands it. */
  const pendingLate = new Map<NodeJS.Timeout, () => void>();
  /** Late work that lands before a later request of an action: how many more of them until it does. */
  const landingBefore = new Map<() => void, { action: string; call: number }>();
  let inFlight = 0;
  const idle: (() => void)[] = [];
  const server = createServer((req, res) => {
    // In flight until the handler is done, even when the client gave up (a slow answer still does the work).
    inFlight++;
    handle(req, res)
      .catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`emulator error: ${String(error)}`);
      })
      .finally(() => {
        inFlight--;
        if (inFlight === 0) for (const done of idle.splice(0)) done();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: origin,
    port,
    state,
    calls,
    seed(assets) {
      state.estate = toEstateAssets(assets);
    },
    inject(action, fault, times = 1) {
      const queue = faults.get(action) ?? [];
      for (let i = 0; i < times; i++) queue.push(fault);
      faults.set(action, queue);
    },
    clearFaults() {
      faults.clear();
      state.ignoredFilters.clear();
    },
    ignoreFilter(action, filterName) {
      state.ignoredFilters.add(`${action}.${filterName}`);
    },
    refuseFilter(action, filterName) {
      state.refusedFilters.add(`${action}.${filterName}`);
    },
    addDuringRead(asset) {
      state.arrivingDuringRead.push(...toEstateAssets([asset]));
    },
    rotateKeys(keys) {
      accounts = [...keys];
    },
    setRateLimit(perSecond) {
      rateLimit = perSecond;
    },
    callsOf(action) {
      return calls.filter((c) => c.action === action);
    },
    async settle({ late = "drop" } = {}) {
      if (inFlight > 0) await new Promise<void>((resolve) => idle.push(resolve));
      if (late === "drop") {
        for (const timer of pendingLate.keys()) clearTimeout(timer);
        pendingLate.clear();
        landingBefore.clear();
      } else {
        for (const land of [...pendingLate.values()]) land();
      }
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

