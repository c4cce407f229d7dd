import { getHeapStatistics } from "node:v8";
import * as z from "zod";
import type { Environment } from "../env.ts";
import { describeError } from "../errors.ts";
import { coldStartKey } from "../state/keys.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { StateStore } from "../state/store.ts";

/**
 * What a function found when its process started: the runtime, its memory and the heap V8 was given.
 * How SCF's Node.js runtime sizes V8 is not documented (local/cloud/ASSUMPTIONS.md, "V8's heap"), so each
 * function logs it at cold start, warns when the heap could outgrow the function, and keeps the last
 * facts in the state store, one small record per function, where `csip-scan doctor` reads them
 * (readColdStarts). Loose, so that a record written by another version still reads.
 */
export const ColdStartSchema = z.looseObject({
  /** The function's name in the function table (functions/index.ts). */
  function: z.string(),
  /** The SCF runtime the deploy chose (the policy file's `runtime`). */
  runtime: z.string().optional(),
  /** The Node.js version that runs it (`process.version`). */
  node: z.string(),
  /** The function's memory in MB, and where it was read: SCF's context (`memory_limit_in_mb`) or the deploy's CSIP_SCAN_MEMORY_MB. */
  memoryMb: z.number().optional(),
  memoryFrom: z.enum(["context", "environment"]).optional(),
  /** V8's heap_size_limit in MB, as Node started the process (the deploy's NODE_OPTIONS applied or not). */
  heapSizeLimitMb: z.number(),
  /** NODE_OPTIONS as the process sees it. */
  nodeOptions: z.string().optional(),
  /**
   * What holds the heap within the memory: `node` (Node's own limit fits), `worker` (it did not, and the
   * work runs in a worker thread whose heap does: functions/heap-bound.ts), `none` (nothing does, or the
   * memory is unknown).
   */
  heapBound: z.enum(["node", "worker", "none"]),
  /** The worker's heap_size_limit in MB, when the work runs in one. */
  boundHeapSizeLimitMb: z.number().optional(),
  /** When the process started, ISO 8601 UTC. */
  at: z.string(),
});
export type ColdStart = z.infer<typeof ColdStartSchema>;

/** V8's heap_size_limit of the running isolate, in MB. */
export function heapSizeLimitMb(): number {
  return Math.round(getHeapStatistics().heap_size_limit / 1_048_576);
}

/**
 * The function's memory: SCF's Node.js context carries `memory_limit_in_mb` (CloudBase's node-sdk reads it
 * there, `parseContext`); else the deploy's CSIP_SCAN_MEMORY_MB. Undefined when neither says (local runs).
 */
export function functionMemory(context: unknown, env: Pick<Environment, "memoryMb">): Pick<ColdStart, "memoryMb" | "memoryFrom"> {
  const fromContext = (context as { memory_limit_in_mb?: unknown } | null | undefined)?.memory_limit_in_mb;
  if (typeof fromContext === "number" && fromContext > 0) return { memoryMb: fromContext, memoryFrom: "context" };
  return env.memoryMb === undefined ? {} : { memoryMb: env.memoryMb, memoryFrom: "environment" };
}

/** Whether V8 may grow the heap past the function's memory, which kills the instance instead of failing a run. */
export function heapOutgrows(facts: Pick<ColdStart, "heapSizeLimitMb" | "memoryMb">): boolean {
  return facts.memoryMb !== undefined && facts.heapSizeLimitMb > facts.memoryMb;
}

/** The warning of a heap that could outgrow the function, saying what holds it. */
export function heapWarning(facts: ColdStart): string | undefined {
  if (!heapOutgrows(facts)) return undefined;
  const given = `V8's heap may grow to ${facts.heapSizeLimitMb} MB in a function of ${facts.memoryMb} MB: Node did not apply NODE_OPTIONS (${facts.nodeOptions ?? "not set"})`;
  return facts.heapBound === "worker"
    ? `${given}; the work runs in a worker thread whose heap is held to ${facts.boundHeapSizeLimitMb} MB`
    : `${given}, and nothing holds it: a large walk may be killed for memory; give the function more (the policy file's \`memory\`)`;
}

/**
 * Logs the cold start's facts, warns when the heap could outgrow the function, and keeps the facts under
 * the function's key. A record that cannot be written is a warning: it never fails the run.
 */
export async function noteColdStart(services: { logger: Logger; store: StateStore; config: Pick<Config, "runtime"> }, facts: ColdStart): Promise<void> {
  const record: ColdStart = { ...facts, runtime: facts.runtime ?? services.config.runtime };
  services.logger.info({ coldStart: record }, "cold start");
  const warning = heapWarning(record);
  if (warning) services.logger.warn({ heapSizeLimitMb: record.heapSizeLimitMb, memoryMb: record.memoryMb }, warning);
  try {
    await services.store.set(coldStartKey(record.function), record);
  } catch (error) {
    services.logger.warn(`the cold start's facts were not kept in the state store: ${describeError(error)}`);
  }
}

/** The last cold-start facts of each named function that has any (for `csip-scan doctor`). */
export async function readColdStarts(store: StateStore, functionNames: readonly string[]): Promise<ColdStart[]> {
  const found = await Promise.all(functionNames.map((name) => store.get(coldStartKey(name), ColdStartSchema)));
  return found.filter((facts): facts is ColdStart => facts !== undefined);
}
