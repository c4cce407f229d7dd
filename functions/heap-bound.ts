import { isMainThread, parentPort, SHARE_ENV, Worker, workerData } from "node:worker_threads";
import { heapLimitsFor, heapSizeLimitMb as limitOf } from "../shared/config/heap-limits.ts";
import { remainingFromContext } from "../shared/clock.ts";
import { readEnvironment } from "../shared/env.ts";
import { CsipScanError, describeError, RunFailedError } from "../shared/errors.ts";
import { functionMemory, heapOutgrows, heapSizeLimitMb, type ColdStart } from "../shared/run/cold-start.ts";
import type { Handler, HandlerOptions } from "./options.ts";

/**
 * A deployed function that holds its own heap within its memory. The deploy gives each function the V8
 * limits of its memory through NODE_OPTIONS (local/deploy/settings.ts), but nothing documents that SCF's
 * Node.js runtime applies them (local/cloud/ASSUMPTIONS.md, "V8's heap"), and V8's defaults on a large
 * host let the heap grow past 128 MB. So at cold start the function compares V8's heap_size_limit with its
 * memory: when the limit fits, the handler runs here as it is; when it does not, every invocation runs in
 * one worker thread whose heap is given those limits (Node's `resourceLimits`), kept across warm
 * invocations as the process is. Either way the facts are logged and kept (shared/run/cold-start.ts).
 *
 * The worker runs this same bundle: its top level builds the handler again and, seeing the worker's
 * mark, serves the invocations posted to it. A worker that dies (its heap exhausted) fails the invocation
 * it was running with a clear error, and the next invocation starts another.
 */

/** workerData's mark of a heap-bound worker, with the function it serves. */
const WORKER_MARK = "csipScanHeapBound";

interface WorkerSetup {
  [WORKER_MARK]: string;
  coldStart: ColdStart;
}

interface Invocation {
  id: number;
  event: unknown;
  /** The context's plain fields (SCF's memory_limit_in_mb, request_id...), and the time it had left. */
  context: Record<string, unknown>;
  remainingMs?: number;
}

/**
 * A thrown value as it crosses from the worker to the parent (structured clone keeps plain fields only):
 * what a summary and SCF's log read of it. `code` and `requestId` of a failed call (CloudApiError,
 * StateStoreError), `path` of a malformed event (EventError), the summary of a failed run.
 */
export interface ErrorShape {
  name: string;
  message: string;
  summary?: unknown;
  code?: string;
  requestId?: string;
  path?: string;
}

type Outcome = { id: number; value: unknown } | { id: number; error: ErrorShape };

/** The SCF entry point of function `name`, built by `build` with no options but the cold start's facts. */
export function deployedHandler(name: string, build: (options?: HandlerOptions) => Handler): Handler {
  const setup = isMainThread ? undefined : (workerData as Partial<WorkerSetup> | null);
  if (setup?.[WORKER_MARK] === name) {
    serveInWorker(build({ coldStart: { ...setup.coldStart!, boundHeapSizeLimitMb: heapSizeLimitMb() } }));
    return () => Promise.reject(new CsipScanError("a heap-bound worker serves its parent only"));
  }
  let run: Handler | undefined;
  return (event, context) => {
    run ??= start(name, build, context);
    return run(event, context);
  };
}

/** Decides at the first invocation where the handler runs: here, or in a worker bounded to the memory. */
function start(name: string, build: (options?: HandlerOptions) => Handler, context: unknown): Handler {
  const env = readEnvironment();
  const facts: ColdStart = {
    function: name,
    node: process.version,
    ...functionMemory(context, env),
    heapSizeLimitMb: heapSizeLimitMb(),
    ...(env.nodeOptions ? { nodeOptions: env.nodeOptions } : {}),
    heapBound: "none",
    at: new Date().toISOString(),
  };
  // The bundle's own file, which the worker runs: CommonJS, as SCF loads it (scripts/build.js).
  const file = typeof __filename === "string" ? __filename : undefined;
  if (facts.memoryMb === undefined || !heapOutgrows(facts) || file === undefined) {
    return build({ coldStart: { ...facts, heapBound: facts.memoryMb !== undefined && !heapOutgrows(facts) ? "node" : "none" } });
  }
  return workerHandler(file, name, facts.memoryMb, { ...facts, heapBound: "worker" });
}

/** Invocations posted to one worker at a time, its heap limited to what `memoryMb` allows. */
function workerHandler(file: string, name: string, memoryMb: number, coldStart: ColdStart): Handler {
  const limits = heapLimitsFor(memoryMb);
  let worker: Worker | undefined;
  let nextId = 1;
  const waiting = new Map<number, { resolve: (value: never) => void; reject: (error: Error) => void }>();
  const failAll = (error: Error): void => {
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  };
  const spawn = (): Worker => {
    const setup: WorkerSetup = { [WORKER_MARK]: name, coldStart };
    const w = new Worker(file, {
      workerData: setup,
      // One environment for both threads: what SCF sets for an invocation (its keys) reaches the worker.
      env: SHARE_ENV,
      resourceLimits: { maxOldGenerationSizeMb: limits.oldSpaceMb, maxYoungGenerationSizeMb: 3 * limits.semiSpaceMb },
    });
    w.on("message", (outcome: Outcome) => {
      const waiter = waiting.get(outcome.id);
      if (!waiter) return;
      waiting.delete(outcome.id);
      if ("value" in outcome) waiter.resolve(outcome.value as never);
      else waiter.reject(rebuiltError(outcome.error));
      if (waiting.size === 0) w.unref();
    });
    w.on("error", (error) => {
      failAll(new CsipScanError(`the function's work stopped in its worker, whose heap is held to ${limitOf(limits)} MB for the function's ${memoryMb} MB: ${describeError(error)}`, { cause: error }));
    });
    w.on("exit", (code) => {
      if (worker === w) worker = undefined;
      failAll(new CsipScanError(`the function's worker ended (exit code ${code}) before it answered`));
    });
    return w;
  };
  return (event, context) => {
    worker ??= spawn();
    // Held while an invocation runs, so that the process waits for its answer; let go between invocations.
    worker.ref();
    const remainingMs = remainingFromContext(context);
    const invocation: Invocation = { id: nextId++, event, context: plainFields(context), ...(remainingMs !== undefined ? { remainingMs } : {}) };
    const answered = new Promise<never>((resolve, reject) => waiting.set(invocation.id, { resolve, reject }));
    worker.postMessage(invocation);
    return answered;
  };
}

/** The worker's side: each invocation posted is run by `handler`, and its outcome posted back. */
function serveInWorker(handler: Handler): void {
  parentPort!.on("message", (invocation: Invocation) => {
    const deadline = invocation.remainingMs === undefined ? undefined : Date.now() + invocation.remainingMs;
    const context = { ...invocation.context, ...(deadline === undefined ? {} : { getRemainingTimeInMillis: () => deadline - Date.now() }) };
    handler(invocation.event, context).then(
      (value) => parentPort!.postMessage({ id: invocation.id, value } satisfies Outcome),
      (error: unknown) => parentPort!.postMessage({ id: invocation.id, error: errorShape(error) } satisfies Outcome),
    );
  });
}

/** A thrown value as it crosses to the parent: its name, message, and the fields ErrorShape names. */
export function errorShape(error: unknown): ErrorShape {
  const e = error instanceof Error ? error : new Error(String(error));
  const fields = e as { code?: unknown; requestId?: unknown; path?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(e instanceof RunFailedError ? { summary: e.summary } : {}),
    ...(typeof fields.code === "string" ? { code: fields.code } : {}),
    ...(typeof fields.requestId === "string" ? { requestId: fields.requestId } : {}),
    ...(typeof fields.path === "string" ? { path: fields.path } : {}),
  };
}

/** The error the handler threw in the worker, as the parent throws it to SCF: its class's name and fields. */
export function rebuiltError(shape: ErrorShape): Error {
  if (shape.name === "RunFailedError") return new RunFailedError(shape.message, shape.summary);
  const { name, message, summary: _summary, ...fields } = shape;
  const error = Object.assign(new CsipScanError(message), fields);
  error.name = name;
  return error;
}

/** A context's fields that are plain values (SCF's Node.js context also holds functions). */
function plainFields(context: unknown): Record<string, unknown> {
  if (context === null || typeof context !== "object") return {};
  return Object.fromEntries(Object.entries(context).filter(([, value]) => value === null || ["string", "number", "boolean"].includes(typeof value)));
}
