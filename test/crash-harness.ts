import { execFile, fork, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as z from "zod";
import { FUNCTIONS } from "../functions/index.ts";
import { startLocalCos, LOCAL_COS_REGION, type LocalCos } from "../local/cos-local.ts";
import { LOCAL_ACCOUNT } from "../local/emulator/accounts.ts";
import type { EstateAssetInput } from "../local/emulator/estate.ts";
import { startEmulator, type Emulator } from "../local/emulator/server.ts";
import type { Clock } from "../shared/clock.ts";
import { parseConfig } from "../shared/config/load.ts";
import { readEnvironment } from "../shared/env.ts";
import { describeError } from "../shared/errors.ts";
import { silentLogger } from "../shared/log.ts";
import { PartsSentSchema } from "../shared/notify/parts-sent.ts";
import { idsDigest, RunRecordSchema, runRecord } from "../shared/run/policy-run.ts";
import { resultsTimer } from "../shared/run/timer-run.ts";
import { openRuns } from "../shared/results/open-runs.ts";
import { CosStateStore } from "../shared/state/cos-store.ts";
import { changeRunNames, historyKey, resultsKey, scheduledRunNames } from "../shared/state/keys.ts";
import { LEASE_MS, LeaseSchema, leaseKey, locateRecord, recordCopyKey, type LeaseObjects, type StoredLease } from "../shared/state/lease.ts";
import { FileStateStore, type StateStore } from "../shared/state/store.ts";
import { cvmWithLongFindings } from "./fixtures/estates.ts";

/**
 * Crash points, explored: each function runs as the process SCF runs (its bundle, loaded by the SCF
 * stand-in's runtime, local/cloud/scf-runtime.cjs) against the CSIP emulator, the COS stand-in or a state
 * folder, and real notifiers on 127.0.0.1. Every request it makes to CSIP, COS or a notifier is counted
 * (CSIP's and COS's pass a relay); at the Nth, the process is killed with SIGKILL, either before the
 * request goes on ("before": it never takes effect) or once the request took effect, its answer not yet
 * back ("after": the answer is lost). A request the process had sent that had not landed when it died is
 * dropped, as the lease protocol assumes of a client that is gone. SCF's retry then gets the same event
 * (twice at most, as SCF retries a failed asynchronous invocation), and the case is checked:
 * - one task per chunk: at most one live task of a name after every CSIP request, and at the end exactly
 *   the tasks an uncrashed run leaves;
 * - no task forgotten: the run's record, its tracked tasks and its open run (once told, its results) hold
 *   every task CSIP has of it, each record read as the next holder of its lock reads it;
 * - each part once: every part of every message at each notifier, under an uncrashed run's `webhook-id`;
 *   twice, with the same bytes and id, only when the killed process sent it and could not record it (no
 *   later part came from it, and its record, as the retry reads it, does not have it);
 * - no lock outlives its lease: a generation left unreleased is the killed process's and expires at most
 *   a lease after the kill, every other generation is released at the end, and none was taken before the
 *   one below it lapsed or was released.
 *
 * The retries run in this process, with the same code (the handler factory of functions/index.ts), a new
 * instance each, on a clock that starts at the real time of the retry and moves on at once when the
 * retry sleeps: a retry waits out the killed holder's lease (60 s, LEASE_MS) in emulated time, as the
 * lease protocol itself judges it, with nothing shortened and no lease written by the harness. After a
 * results look's retries, the next look (`checkEvery` later) must find nothing left to tell.
 */

export const CRASH_FUNCTIONS = ["scheduled-scan", "scan-results", "asset-change"] as const;
export type CrashFunction = (typeof CRASH_FUNCTIONS)[number];
export const STORES = ["folder", "cos"] as const;
export type StoreKind = (typeof STORES)[number];
export type KillWhen = "before" | "after";
export type Upstream = "CSIP" | "COS" | "notifier";

/**
 * Where to kill the first attempt: at its Nth request (from 1), or at the `occurrence`-th request whose
 * label matches (a point named by what it is, which stays put when requests are added elsewhere).
 */
export type KillPoint = { when: KillWhen; request: number } | { when: KillWhen; label: RegExp; occurrence?: number };

/** How SCF retries a failed asynchronous invocation: twice, a minute apart (local/emulator/ASSUMPTIONS.md). */
export const SCF_RETRIES = 2;
const SCF_RETRY_GAP_MS = 60_000;

/** The invariants checked after every case, as the table names them. */
export const INVARIANTS = ["one task per chunk", "no task forgotten", "each part once", "no lock outlives its lease"] as const;
export type Invariant = (typeof INVARIANTS)[number];

export interface CaseResult {
  fn: CrashFunction;
  store: StoreKind;
  /** The crash point reached: the request's number in the first attempt, its label, and when it was killed. */
  killed?: { when: KillWhen; request: number; upstream: Upstream; label: string };
  /** Requests the first attempt made (all of them when it was not killed). */
  requests: number;
  /** From the first retry's start to the end of the last, in the retries' (emulated) time; 0 without retries. */
  retriesMs: number;
  /** What happened: the first attempt, each retry, and for a results look the next one. */
  outcome: string;
  /** Broken invariants, each with what broke it; empty when every invariant held. */
  violations: { invariant: Invariant | "retries"; message: string }[];
  /** What the notifiers received, in order. */
  received: Received[];
}

/** One request a case's processes made, in arrival order. */
interface SeenRequest {
  /** The number of a first attempt's request (from 1); 0 for the retries' and the setup's. */
  index: number;
  phase: string;
  upstream: Upstream;
  label: string;
}

/** What a notifier received: which part (its label), under which `webhook-id`, from which process. */
export interface Received {
  notifier: string;
  label: string;
  webhookId: string;
  body: string;
  /** Sent by the first attempt (before it was killed), else by a retry or a later look. */
  byAttempt: boolean;
}

// ---------------------------------------------------------------------------------------------------
// The estate and the scenarios

/**
 * 88 web CVMs in four chunks of 22: in each of the first three, two authorized CVMs and 20 that CSIP
 * refuses (so their create is answered Status -1 and sent again without them); the fourth all
 * authorized. Four tasks, and a run message that names 60 unauthorized CVMs with long names: three WeCom parts.
 */
const ESTATE: EstateAssetInput[] = [
  ...Array.from({ length: 88 }, (_, i) => {
    const authorized = i >= 66 || i % 22 < 2;
    return {
      kind: "cvm" as const,
      // IDs in list order and in sorted order alike: the walk and the change event's plan chunk them the same.
      id: `ins-crash0${String(i).padStart(2, "0")}`,
      name: authorized ? `crash-web-${i}` : `unauthorized-web-server-${i}-in-the-crash-harness-estate-with-a-name-long-enough-to-fill-a-wecom-message`,
      tags: { team: "web" },
      authorized,
    };
  }),
  // One CVM with 30 long findings: the results message goes in parts too.
  cvmWithLongFindings("ins-crashrisk"),
];
const CHANGED_IDS = ESTATE.filter((a) => a.tags?.team === "web").map((a) => a.id);

/** The policy file of a case: the scenario's policy, its store, and its two notifiers (a WeCom robot and a webhook). */
function policyFile(fn: CrashFunction, state: string, robot: string, hook: string): string {
  const policy = {
    "scheduled-scan": `{ name: nightly, schedule: "0 0 * * * * *", targets: [web], scanItems: [port], maxAssetsPerTask: 22, notify: [robot, hook], notifyOn: [unauthorized] }`,
    "scan-results": `{ name: nightly, schedule: "0 0 * * * * *", targets: [risky], scanItems: [port], notify: [robot, hook], notifyOn: [results] }`,
    "asset-change": `{ name: on-change, schedule: "0 0 * * * * *", targets: [web], scanItems: [port], maxAssetsPerTask: 22, onAssetChange: true, notify: [robot, hook], notifyOn: [unauthorized] }`,
  }[fn];
  return `version: 1
timezone: UTC
${state}
rateLimit: { perSecond: 1000 }
retry: { baseMs: 1, capMs: 10, attempts: 4 }
results: { checkEvery: 10m, giveUpAfter: 24h, topFindings: 30 }
notifiers:
  robot: { type: wecom, url: "${robot}" }
  hook: { type: webhook, url: "${hook}" }
assetGroups:
  web: { include: [{ tags: { team: web } }] }
  risky: { include: [{ tags: { team: risky } }] }
policies:
  - ${policy}
`;
}

const CHANGE_EVENT_ID = "crash-harness-run-instances-0001";

/** An EventBridge RunInstances event naming every web CVM (CVM's event, as test/fixtures/events has it). */
function changeEvent(): unknown {
  return {
    specversion: "1.0",
    id: CHANGE_EVENT_ID,
    type: "cvm:CloudEvent:ApiCall",
    source: "cvm.cloud.tencent",
    subject: "qcs::cvm:ap-guangzhou:uin/100000000001:instance/ins-crash000",
    time: 1764385200000,
    region: "ap-guangzhou",
    resource: ["qcs::eb:ap-guangzhou:uid1250000000:eventbusid/eventruleid"],
    datacontenttype: "application/json;charset=utf-8",
    data: {
      eventName: "RunInstances",
      eventSource: "cvm.tencentcloudapi.com",
      eventRegion: "ap-guangzhou",
      apiVersion: "2017-03-12",
      requestParameters: "{}",
      responseElements: JSON.stringify({ InstanceIdSet: CHANGED_IDS, RequestId: "crash-harness" }),
      errorCode: 0,
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// One case's control: counting requests, killing the process, telling its requests from the others'

class CaseControl {
  phase = "setup";
  readonly received: Received[] = [];
  killed: CaseResult["killed"];
  /** Real time once the killed process has exited. */
  killedAt: number | undefined;
  private counted = 0;
  private matched = 0;
  private dying = false;
  private exited: Promise<void> | undefined;
  private child: ChildProcess | undefined;
  private inFlight = 0;
  private drainedWaiters: (() => void)[] = [];
  /** Which phase each connection was opened in: the first attempt's are the child's. */
  private readonly socketPhase = new WeakMap<Socket, string>();

  constructor(
    private readonly point: KillPoint | undefined,
    /** Checked after every CSIP request that took effect. */
    readonly afterCsip: (request: SeenRequest) => void,
  ) {}

  connected(socket: Socket): void {
    this.socketPhase.set(socket, this.phase);
  }

  fromAttempt(socket: Socket): boolean {
    return this.socketPhase.get(socket) === "attempt";
  }

  get requests(): number {
    return this.counted;
  }

  watch(child: ChildProcess, exited: Promise<void>): void {
    this.child = child;
    this.exited = exited;
  }

  /** A request arrived whole: what to do with it. */
  arrive(socket: Socket, upstream: Upstream, label: string): { seen: SeenRequest; kill?: KillWhen; drop?: true } {
    const attempt = this.fromAttempt(socket);
    if (attempt && this.dying) return { seen: { index: 0, phase: "attempt (dead)", upstream, label }, drop: true };
    const seen: SeenRequest = { index: attempt ? ++this.counted : 0, phase: attempt ? "attempt" : this.phase, upstream, label };
    if (!attempt || !this.point) return { seen };
    const hit = "request" in this.point ? this.point.request === seen.index : this.point.label.test(`${upstream} ${label}`) && ++this.matched === (this.point.occurrence ?? 1);
    if (!hit) return { seen };
    this.dying = true;
    this.killed = { when: this.point.when, request: seen.index, upstream, label };
    return { seen, kill: this.point.when };
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    this.dying = true;
    this.child?.kill("SIGKILL");
    await this.exited;
    this.killedAt ??= Date.now();
  }

  /** Counts a first attempt's request while it is passed on, so the retries start only once it landed or not. */
  async passing<T>(socket: Socket, work: () => Promise<T>): Promise<T> {
    const attempt = this.fromAttempt(socket);
    if (attempt) this.inFlight++;
    try {
      return await work();
    } finally {
      if (attempt && --this.inFlight === 0) for (const done of this.drainedWaiters.splice(0)) done();
    }
  }

  drained(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.drainedWaiters.push(resolve));
  }
}

// ---------------------------------------------------------------------------------------------------
// Relays and notifiers

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function forward(target: URL, req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const out = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      buffer(answer).then((data) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: data }), reject);
    });
    out.on("error", reject);
    out.end(body);
  });
}

/** A relay in front of the emulator or the COS stand-in: counts each request, and kills where the case says. */
async function startRelay(upstream: "CSIP" | "COS", target: string, control: () => CaseControl | undefined, labelOf: (req: IncomingMessage) => string): Promise<{ url: string; close(): Promise<void> }> {
  const targetUrl = new URL(target);
  const server = createServer((req, res) => {
    void relay(req, res).catch(() => res.destroy());
  });
  const relay = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await buffer(req);
    const c = control();
    if (!c) {
      const answer = await forward(targetUrl, req, body);
      res.writeHead(answer.status, answer.headers).end(answer.body);
      return;
    }
    const decision = c.arrive(req.socket, upstream, labelOf(req));
    if (decision.drop) return void req.socket.destroy();
    if (decision.kill === "before") {
      await c.kill();
      return void req.socket.destroy();
    }
    const answer = await c.passing(req.socket, () => forward(targetUrl, req, body));
    if (upstream === "CSIP") c.afterCsip(decision.seen);
    if (decision.kill === "after") {
      await c.kill();
      return void req.socket.destroy();
    }
    res.writeHead(answer.status, answer.headers).end(answer.body);
  };
  return serveCases(server, control);
}

/** The part a WeCom request carries (`2/3`), from its title; "whole" for a message in one piece. */
function partLabel(body: string): string {
  try {
    const content = (JSON.parse(body) as { markdown?: { content?: string } }).markdown?.content;
    return (content && /^### .*\((\d+\/\d+)\)$/m.exec(content)?.[1]) ?? "whole";
  } catch {
    return "whole";
  }
}

/** Listens on 127.0.0.1, each connection made known to the case, until closed. */
async function serveCases(server: Server, control: () => CaseControl | undefined): Promise<{ url: string; close(): Promise<void> }> {
  server.on("connection", (socket) => control()?.connected(socket));
  const url = await listen(server);
  return {
    url,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The notifiers of every case: a WeCom robot and a webhook, at `/c<case>/robot` and `/c<case>/hook`. */
async function startNotifiers(control: () => CaseControl | undefined): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    void (async () => {
      const body = (await buffer(req)).toString("utf8");
      const notifier = /\/(robot|hook)$/.exec(req.url ?? "")?.[1] ?? "?";
      const label = partLabel(body);
      const answer = (): void => {
        res.writeHead(200, { "content-type": "application/json" }).end(notifier === "robot" ? JSON.stringify({ errcode: 0, errmsg: "ok" }) : "{}");
      };
      const c = control();
      if (!c) return answer();
      const decision = c.arrive(req.socket, "notifier", `${notifier} ${label}`);
      if (decision.drop) return void req.socket.destroy();
      if (decision.kill === "before") {
        await c.kill();
        return void req.socket.destroy();
      }
      c.received.push({ notifier, label, webhookId: String(req.headers["webhook-id"] ?? ""), body, byAttempt: c.fromAttempt(req.socket) });
      if (decision.kill === "after") {
        await c.kill();
        return void req.socket.destroy();
      }
      answer();
    })().catch(() => res.destroy());
  });
  return serveCases(server, control);
}

// ---------------------------------------------------------------------------------------------------
// Reading the store from outside

/** The leases of a case's store, each by the object or file it is in. */
function leasesIn(store: StoreKind, where: { stateDir: string; cos: LocalCos; prefix: string }): Map<string, StoredLease> {
  const leases = new Map<string, StoredLease>();
  const add = (id: string, text: string): void => {
    try {
      const parsed = LeaseSchema.safeParse(JSON.parse(text));
      if (parsed.success) leases.set(id, parsed.data);
    } catch {
      // Not a lease (a hint, or a file half written by a rename that never happened).
    }
  };
  if (store === "cos") {
    for (const o of where.cos.standIn.account.objects) {
      if (o.Key.startsWith(`${where.prefix}locks/`) && /\/\d+\.json$/.test(o.Key) && o.Body) add(o.Key, Buffer.from(o.Body, "base64").toString("utf8"));
    }
  } else {
    const dir = join(where.stateDir, "locks");
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith(".json"));
    } catch {
      names = [];
    }
    for (const name of names) add(name, readFileSync(join(dir, name), "utf8"));
  }
  return leases;
}

/** The lease protocol's objects, read only, through a store of the harness's own. */
function readOnly(store: StateStore): LeaseObjects {
  const read = async (key: string): Promise<string | undefined> => {
    const value = await store.get(key, z.unknown());
    return value === undefined ? undefined : JSON.stringify(value);
  };
  const refuse = (): never => {
    throw new Error("the harness only reads the store");
  };
  return { read, exists: async (key) => (await read(key)) !== undefined, create: refuse, write: refuse, remove: refuse };
}

/** The record under `key` as the next holder of its lock will read it (shared/state/lease.ts), taking nothing. */
async function recordForNextHolder(objects: LeaseObjects, key: string): Promise<unknown> {
  let latest = 0;
  while (await objects.exists(leaseKey(key, latest + 1))) latest++;
  let at = 0;
  if (latest > 0) {
    const head = LeaseSchema.parse(JSON.parse((await objects.read(leaseKey(key, latest)))!));
    at = head.released && head.record !== null ? head.record : await locateRecord(objects, key, latest, head);
  }
  const text = await objects.read(at === 0 ? key : recordCopyKey(key, at));
  return text === undefined ? undefined : withPages(objects, key, JSON.parse(text));
}

/**
 * A head with the pages it names, as a run's record loads (shared/state/paged-record.ts): the pages live
 * under the record's own key, whichever copy the head was read from.
 */
async function withPages(objects: LeaseObjects, key: string, head: unknown): Promise<unknown> {
  if (typeof head !== "object" || head === null || !("pages" in head)) return head;
  const reader: Pick<StateStore, "get"> = {
    get: async (k, schema) => {
      if (k === key) return schema.parse(head);
      const text = await objects.read(k);
      return text === undefined ? undefined : schema.parse(JSON.parse(text));
    },
  };
  return runRecord(reader as StateStore, key).load();
}

/** What a record (a run's, or its results') says each notifier has: every part, or the parts listed. */
const NotifierProgressSchema = z.object({
  notified: z.record(z.string(), z.string()).default({}),
  partsSent: z.record(z.string(), PartsSentSchema).default({}),
});

function knownSent(record: unknown, notifier: string, label: string): boolean {
  const parsed = NotifierProgressSchema.safeParse(record ?? {});
  if (!parsed.success) return false;
  if (parsed.data.notified[notifier]) return true;
  // A message in one piece is part 1 of 1.
  const [part, of] = label === "whole" ? [1, 1] : (/^(\d+)\/(\d+)$/.exec(label)?.slice(1).map(Number) ?? [0, 0]);
  const parts = parsed.data.partsSent[notifier];
  return parts !== undefined && parts.of === of && parts.sent.includes(part!);
}

// ---------------------------------------------------------------------------------------------------
// The world: emulator, COS stand-in, relays, notifiers, the bundles

/** What a function does when nothing kills it: the reference every case of it is checked against. */
export interface Reference {
  fn: CrashFunction;
  store: StoreKind;
  /** Requests an uncrashed first attempt makes: the crash points are 1 to this. */
  requests: number;
  /** Per notifier and part, the `webhook-id` it came under. */
  parts: Map<string, string>;
  /** The names of the run's tasks. */
  taskNames: string[];
}

const RUNTIME = fileURLToPath(new URL("../local/cloud/scf-runtime.cjs", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A clock for SCF's retries: the real time, plus whatever the retries slept, which passes at once. */
function retryClock(): Clock & { skipTo(ms: number): void } {
  let ahead = 0;
  return {
    now: () => Date.now() + ahead,
    sleep: async (ms) => {
      ahead += Math.max(0, ms);
      await new Promise((resolve) => setImmediate(resolve));
    },
    skipTo: (ms) => void (ahead = Math.max(ahead, ms - Date.now())),
  };
}

export class CrashWorld {
  private current: CaseControl | undefined;
  private cases = 0;
  /** The scheduled time of every case's run: the latest hour, a fire time of the policies' schedule. */
  readonly slot = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
  /** The results look's slot: the latest fire time of `checkEvery` (10 minutes), after the run was made. */
  private resultsSlot = new Date(Math.floor(Date.now() / 600_000) * 600_000);

  private constructor(
    private readonly dir: string,
    private readonly emulator: Emulator,
    private readonly cos: LocalCos,
    private readonly csipRelay: { url: string; close(): Promise<void> },
    private readonly cosRelay: { url: string; close(): Promise<void> },
    private readonly notifiers: { url: string; close(): Promise<void> },
  ) {}

  /** Starts the stand-ins and builds the bundles SCF would run (scripts/build.js), in a folder of its own. */
  static async start(): Promise<CrashWorld> {
    const dir = join(tmpdir(), `csip-scan-crash-${process.pid}-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    await promisify(execFile)(process.execPath, [join(ROOT, "scripts/build.js"), join(dir, "dist")], { cwd: ROOT });
    const emulator = await startEmulator({ estate: ESTATE, rateLimit: false, scanTiming: { queuedMs: 0, scanningMs: 0 } });
    const cos = await startLocalCos();
    let world: CrashWorld | undefined;
    const control = (): CaseControl | undefined => world?.current;
    const csipRelay = await startRelay("CSIP", emulator.url, control, (req) => String(req.headers["x-tc-action"] ?? `${req.method} ${req.url}`));
    const cosRelay = await startRelay("COS", cos.standIn.url, control, (req) => world!.cosLabel(req));
    const notifiers = await startNotifiers(control);
    world = new CrashWorld(dir, emulator, cos, csipRelay, cosRelay, notifiers);
    return world;
  }

  private casePrefix = "";

  /** A COS request as the table shows it: method and key within the case's folder, and what its query asks. */
  private cosLabel(req: IncomingMessage): string {
    const url = new URL(req.url ?? "/", "http://cos");
    const key = decodeURIComponent(url.pathname).replace(/^\//, "").replace(this.casePrefix, "");
    const query = [...url.searchParams.keys()].filter((k) => k === "versioning" || k === "prefix");
    const listed = url.searchParams.get("prefix")?.replace(this.casePrefix, "");
    return `${req.method} ${key}${query.includes("versioning") ? "?versioning" : ""}${listed !== undefined ? `?prefix=${listed}` : ""}`;
  }

  async close(): Promise<void> {
    // A case cut short (a test's time ran out): its process goes too.
    await this.current?.kill();
    await Promise.all([this.csipRelay.close(), this.cosRelay.close(), this.notifiers.close()]);
    await this.emulator.close();
    await this.cos.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The run record key and the record keys whose notifier progress counts, for a scenario. */
  private recordKeys(fn: CrashFunction): { run: string; notifying: string } {
    if (fn === "asset-change") {
      const run = changeRunNames("on-change", [{ id: CHANGE_EVENT_ID, assets: CHANGED_IDS }]).recordKey;
      return { run, notifying: run };
    }
    const run = scheduledRunNames("nightly", this.slot).recordKey;
    return { run, notifying: fn === "scan-results" ? resultsKey(run) : run };
  }

  /** Runs `fn` once with nothing killed: how many requests it makes, and what a case must end with. */
  async reference(fn: CrashFunction, store: StoreKind): Promise<Reference & { result: CaseResult }> {
    const { result, control } = await this.runCase(fn, store, undefined);
    const parts = new Map(control.received.map((r) => [`${r.notifier} ${r.label}`, r.webhookId]));
    return { fn, store, requests: result.requests, parts, taskNames: this.taskNames(), result };
  }

  private taskNames(): string[] {
    return this.emulator.state.tasks.map((t) => t.TaskName).sort();
  }

  /** One crash point of `fn` on `store`, checked against what an uncrashed run did (`reference`). */
  async crash(reference: Reference, point: KillPoint): Promise<CaseResult> {
    const { result, control } = await this.runCase(reference.fn, reference.store, point);
    // Every part once, as the uncrashed run sent it, under the same webhook-id.
    const got = new Map<string, Received[]>();
    for (const r of control.received) got.set(`${r.notifier} ${r.label}`, [...(got.get(`${r.notifier} ${r.label}`) ?? []), r]);
    for (const [part, webhookId] of reference.parts) {
      const copies = got.get(part) ?? [];
      if (copies.some((c) => c.webhookId !== webhookId)) result.violations.push({ invariant: "each part once", message: `${part} came under another webhook-id than an uncrashed run's` });
    }
    for (const part of got.keys()) {
      if (!reference.parts.has(part)) result.violations.push({ invariant: "each part once", message: `${part} is no part an uncrashed run sends` });
    }
    for (const part of reference.parts.keys()) if (!got.has(part)) result.violations.push({ invariant: "each part once", message: `${part} never arrived` });
    const names = this.taskNames();
    if (names.join() !== reference.taskNames.join()) {
      result.violations.push({ invariant: "one task per chunk", message: `tasks at the end ${names.join(", ") || "none"}; an uncrashed run leaves ${reference.taskNames.join(", ")}` });
    }
    return result;
  }

  private async runCase(fn: CrashFunction, store: StoreKind, point: KillPoint | undefined): Promise<{ result: CaseResult; control: CaseControl }> {
    const id = ++this.cases;
    const caseDir = join(this.dir, `c${id}`);
    mkdirSync(caseDir, { recursive: true });
    const stateDir = join(caseDir, "state");
    const prefix = `state/c${id}/`;
    this.casePrefix = prefix;
    const configPath = join(caseDir, "policies.yaml");
    writeFileSync(configPath, policyFile(fn, store === "folder" ? `state: { path: ${stateDir} }` : "", `${this.notifiers.url}/c${id}/robot`, `${this.notifiers.url}/c${id}/hook`));
    const variables: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId,
      TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey,
      TENCENTCLOUD_REGION: LOCAL_COS_REGION,
      CSIP_ENDPOINT: this.csipRelay.url,
      CSIP_SCAN_CONFIG: configPath,
      CSIP_SCAN_ALLOW_LOCAL_WEBHOOKS: "1",
      CSIP_SCAN_LOG_LEVEL: "silent",
      ...(store === "cos" ? { ...this.cos.env, CSIP_SCAN_COS_ENDPOINT: this.cosRelay.url, CSIP_SCAN_STATE_PREFIX: prefix } : {}),
    };
    const env = readEnvironment(variables);
    const keys = this.recordKeys(fn);
    const harnessStore: StateStore =
      store === "cos"
        ? new CosStateStore({ bucket: this.cos.env.CSIP_SCAN_STATE_BUCKET, region: LOCAL_COS_REGION, prefix, credentials: LOCAL_ACCOUNT, endpoint: this.cos.standIn.url, timeoutMs: 10_000, retry: { baseMs: 1, capMs: 10, attempts: 4 } })
        : new FileStateStore(stateDir);
    this.emulator.state.tasks = [];
    this.emulator.calls.length = 0;

    const result: CaseResult = { fn, store, requests: 0, retriesMs: 0, outcome: "", violations: [], received: [] };
    const doubled = new Set<string>();
    const control = new CaseControl(point, (seen) => {
      const byName = new Map<string, number>();
      for (const t of this.emulator.state.tasks) byName.set(t.TaskName, (byName.get(t.TaskName) ?? 0) + 1);
      for (const [name, n] of byName) {
        if (n > 1 && !doubled.has(name) && doubled.add(name)) result.violations.push({ invariant: "one task per chunk", message: `${n} live tasks named ${name} after ${seen.phase} request ${seen.index > 0 ? seen.index : ""} ${seen.label}`.replace(/\s+/g, " ") });
      }
    });
    this.current = control;
    const handlerOf = (clock: Clock) => FUNCTIONS[fn].handler({ env, configPath, logger: silentLogger(), clock });
    const context = { time_limit_in_ms: FUNCTIONS[fn].timeoutSeconds * 1000 };
    const clock = retryClock();
    const config = parseConfig(readFileSync(configPath, "utf8"), configPath, env);
    const event =
      fn === "asset-change"
        ? changeEvent()
        : fn === "scan-results"
          ? { Type: "Timer", TriggerName: resultsTimer(config).name, Time: this.resultsSlot.toISOString() }
          : { Type: "Timer", TriggerName: "nightly", Time: this.slot.toISOString() };
    const steps: string[] = [];
    try {
      if (fn === "scan-results") {
        // The run whose results the look tells, made and uncounted; its tasks end at once.
        await FUNCTIONS["scheduled-scan"].handler({ env, configPath, logger: silentLogger() })({ Type: "Timer", TriggerName: "nightly", Time: this.slot.toISOString() }, context);
        this.resultsSlot = new Date(Math.max(this.resultsSlot.getTime(), Math.floor(Date.now() / 600_000) * 600_000));
        (event as { Time: string }).Time = this.resultsSlot.toISOString();
      }

      // The first attempt: the bundle SCF runs, in a process of its own.
      control.phase = "attempt";
      const first = await this.attempt(fn, variables, event, context, control);
      steps.push(first);
      result.requests = control.requests;
      if (control.killed) result.killed = control.killed;
      await control.drained();
      const killedAt = control.killedAt;
      const leasesAtKill = leasesIn(store, { stateDir, cos: this.cos, prefix });
      const recordAtKill = killedAt === undefined ? undefined : await recordForNextHolder(readOnly(harnessStore), keys.notifying);
      if (killedAt !== undefined) {
        for (const [where, lease] of leasesAtKill) {
          if (!lease.released && lease.expires > killedAt + LEASE_MS) {
            result.violations.push({ invariant: "no lock outlives its lease", message: `${where} expires ${lease.expires - killedAt} ms after the kill, more than a lease` });
          }
        }
      }

      // SCF's retries of a failed invocation, each a new instance, until one succeeds.
      let succeeded = first === "ran to the end, ok";
      const retriesStarted = clock.now();
      for (let retry = 1; !succeeded && retry <= SCF_RETRIES; retry++) {
        control.phase = `retry ${retry}`;
        if (retry > 1) await clock.sleep(SCF_RETRY_GAP_MS);
        try {
          await handlerOf(clock)(event, context);
          steps.push(`retry ${retry} ok`);
          succeeded = true;
        } catch (error) {
          steps.push(`retry ${retry} failed: ${describeError(error).slice(0, 200)}`);
        }
      }
      if (first !== "ran to the end, ok") result.retriesMs = clock.now() - retriesStarted;
      if (!succeeded) result.violations.push({ invariant: "retries", message: `SCF's retries were spent: ${steps.join("; ")}` });
      if (fn === "scan-results") {
        // The next look, `checkEvery` later, finds nothing left to tell: the retries told the run, and
        // nothing goes out again.
        control.phase = "next look";
        const next = new Date(this.resultsSlot.getTime() + 600_000);
        clock.skipTo(next.getTime() + 1000);
        try {
          const summary = (await handlerOf(clock)({ ...(event as object), Time: next.toISOString() }, context)) as { told: unknown[] };
          steps.push(summary.told.length > 0 ? "the next look told it" : "the next look had nothing to tell");
          if (summary.told.length > 0) result.violations.push({ invariant: "each part once", message: "SCF's retries left the run's results to the next look" });
        } catch (error) {
          steps.push(`the next look failed: ${describeError(error).slice(0, 200)}`);
          result.violations.push({ invariant: "retries", message: `the next look failed: ${describeError(error)}` });
        }
      }
      result.outcome = steps.join("; ");
      result.received = control.received;

      await this.checkRecords(fn, result, harnessStore, keys);
      this.checkParts(result, control, recordAtKill);
      this.checkLeases(result, leasesAtKill, leasesIn(store, { stateDir, cos: this.cos, prefix }), killedAt);
      await this.checkTakeovers(result, harnessStore, fn === "scan-results" ? [keys.run, keys.notifying, historyKey("nightly")] : [keys.run]);
      return { result, control };
    } finally {
      this.current = undefined;
      await this.emulator.settle();
      if (result.violations.length === 0) {
        rmSync(caseDir, { recursive: true, force: true });
        const objects = this.cos.standIn.account.objects;
        for (let i = objects.length - 1; i >= 0; i--) if (objects[i]!.Key.startsWith(prefix)) objects.splice(i, 1);
      }
    }
  }

  /** The first attempt: the function's bundle in the SCF stand-in's runtime, killed where the case says. */
  private async attempt(fn: CrashFunction, variables: Record<string, string>, event: unknown, context: object, control: CaseControl): Promise<string> {
    const child = fork(RUNTIME, [], { env: variables, execArgv: [], stdio: ["ignore", "ignore", "pipe", "ipc"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-2000)));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    control.watch(child, exited);
    const outcome = await new Promise<string>((resolve) => {
      child.on("message", (message: { result?: unknown; error?: string }) => resolve(message.error === undefined ? "ran to the end, ok" : `failed: ${message.error.slice(0, 200)}`));
      void exited.then(() => resolve(control.killed ? "killed" : `died: ${stderr.trim().split("\n").at(-1) ?? ""}`));
      child.send({ id: "1", file: join(this.dir, "dist", fn, "index.js"), method: "main_handler", event, context });
    });
    if (!control.killed) {
      child.kill("SIGKILL");
      await exited;
    }
    return outcome;
  }

  /** No task forgotten: the run's record and its open run (or, once told, its results) hold every task CSIP has of it. */
  private async checkRecords(fn: CrashFunction, result: CaseResult, store: StateStore, keys: { run: string; notifying: string }): Promise<void> {
    {
      const tasks = this.emulator.state.tasks.map((t) => t.TaskId);
      const forgotten = (where: string, ids: readonly string[]): void => {
        const missing = tasks.filter((id) => !ids.includes(id));
        if (missing.length > 0) result.violations.push({ invariant: "no task forgotten", message: `${where} does not hold ${missing.join(", ")}` });
      };
      // Each record as the next holder of its lock reads it: the plain key lags behind a holder that was killed.
      const record = RunRecordSchema.safeParse(await recordForNextHolder(readOnly(store), keys.run)).data;
      if (!record) return void result.violations.push({ invariant: "no task forgotten", message: `no record of the run ${keys.run}` });
      forgotten("the run's record", Object.values(record.tasks).map((t) => t.taskId));
      // Tracked as a digest of the task IDs (records of older versions list them).
      const tracked = record.tracked?.taskIds ?? (record.tracked?.digest === idsDigest(tasks) ? tasks : []);
      forgotten("the run's tracked tasks", tracked);
      const open = (await openRuns(store)).find((o) => o.run === keys.run);
      if (fn === "scan-results") {
        if (open) result.violations.push({ invariant: "no task forgotten", message: "the run is still open after its results were told" });
        const told = z.object({ told: z.boolean(), message: z.object({ report: z.string() }).optional() }).safeParse(await recordForNextHolder(readOnly(store), keys.notifying));
        if (!told.success || !told.data.told) result.violations.push({ invariant: "no task forgotten", message: "the run's results are not recorded as told" });
        const report = told.success && told.data.message ? (JSON.parse(told.data.message.report) as { tasks?: { taskId: string }[] }) : undefined;
        forgotten("the results told", report?.tasks?.map((t) => t.taskId) ?? []);
      } else {
        forgotten("the open run", open?.taskIds ?? []);
      }
    }
  }

  /**
   * Each part once. Twice only where the killed process lost the notifier's answer, or had it but died
   * before it could record it: it sent the part, no later part of the same message came from it (parts go
   * one at a time, each recorded before the next), and its record, as the retry reads it, does not have it.
   */
  private checkParts(result: CaseResult, control: CaseControl, recordAtKill: unknown): void {
    const byPart = new Map<string, Received[]>();
    for (const r of control.received) byPart.set(`${r.notifier} ${r.label}`, [...(byPart.get(`${r.notifier} ${r.label}`) ?? []), r]);
    const partOf = (label: string): [number, number] => (label === "whole" ? [1, 1] : ((/^(\d+)\/(\d+)$/.exec(label)?.slice(1).map(Number) as [number, number] | undefined) ?? [0, 0]));
    // What the killed process sent, with the request it was killed at (a part it was about to send).
    const sentByAttempt = [
      ...control.received.filter((r) => r.byAttempt).map((r) => `${r.notifier} ${r.label}`),
      ...(control.killed?.upstream === "notifier" ? [control.killed.label] : []),
    ];
    for (const [part, copies] of byPart) {
      const [notifier, label] = [copies[0]!.notifier, copies[0]!.label];
      const [n, of] = partOf(label);
      const laterSent = sentByAttempt.some((sent) => {
        const [name, other] = sent.split(" ") as [string, string];
        const [m, ofOther] = partOf(other);
        return name === notifier && ofOther === of && m > n;
      });
      const lost = control.killedAt !== undefined && copies.some((c) => c.byAttempt) && !laterSent && !knownSent(recordAtKill, notifier, label);
      const expected = lost ? 2 : 1;
      if (copies.length !== expected) {
        const why = lost ? "the killed process sent it and died before it could record it" : laterSent ? "the killed process had its answer: it sent a later part" : "the killed process never sent it, or its record had it";
        result.violations.push({
          invariant: "each part once",
          message: `${part} arrived ${copies.length} time(s) (${copies.map((c) => (c.byAttempt ? "killed process" : "later")).join(", ")}); expected ${expected}: ${why}`,
        });
      }
      if (new Set(copies.map((c) => c.webhookId)).size > 1) result.violations.push({ invariant: "each part once", message: `${part} came again under another webhook-id` });
      if (new Set(copies.map((c) => c.body)).size > 1) result.violations.push({ invariant: "each part once", message: `${part} came again with other bytes` });
    }
  }

  /** No lock outlives its lease: what is unreleased at the end is the killed holder's, a lease after the kill at most. */
  private checkLeases(result: CaseResult, atKill: Map<string, StoredLease>, atEnd: Map<string, StoredLease>, killedAt: number | undefined): void {
    for (const [where, lease] of atEnd) {
      if (lease.released) continue;
      const before = atKill.get(where);
      if (killedAt === undefined || !before || before.released || before.expires !== lease.expires) {
        result.violations.push({ invariant: "no lock outlives its lease", message: `${where} (generation ${lease.generation}) is unreleased at the end and is not the killed process's` });
      }
    }
  }

  /**
   * No lock taken while held: a generation that was never released was followed only once it lapsed.
   * The next one's `expires`, a lease past when it was taken or last stamped, tells when it was taken at the earliest.
   */
  private async checkTakeovers(result: CaseResult, store: StateStore, keys: readonly string[]): Promise<void> {
    const objects = readOnly(store);
    for (const key of keys) {
      const row: StoredLease[] = [];
      for (let text = await objects.read(leaseKey(key, 1)); text !== undefined; text = await objects.read(leaseKey(key, row.length + 1))) row.push(LeaseSchema.parse(JSON.parse(text)));
      for (const [i, lease] of row.entries()) {
        const next = row[i + 1];
        if (next && !lease.released && next.expires - LEASE_MS < lease.expires) {
          result.violations.push({ invariant: "no lock outlives its lease", message: `${key}: generation ${next.generation} was taken before generation ${lease.generation} lapsed or was released` });
        }
      }
    }
  }
}
