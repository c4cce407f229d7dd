import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../shared/log.ts";
import { ColdStartSchema, functionMemory, heapWarning, noteColdStart, readColdStarts, type ColdStart } from "../../../shared/run/cold-start.ts";
import { coldStartKey } from "../../../shared/state/keys.ts";
import { MemoryStateStore } from "../../../shared/state/memory-store.ts";
import type { StateStore } from "../../../shared/state/store.ts";
import { envOf } from "../../helpers.ts";

/** A logger whose lines are kept, parsed. */
function keptLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
  return { logger: createLogger({ level: "info", destination: sink }), lines };
}

const facts = (over: Partial<ColdStart> = {}): ColdStart => ({
  function: "scheduled-scan",
  node: "v18.15.0",
  memoryMb: 128,
  memoryFrom: "context",
  heapSizeLimitMb: 2096,
  heapBound: "worker",
  boundHeapSizeLimitMb: 102,
  at: "2026-12-01T03:00:00.000Z",
  ...over,
});

describe("functionMemory", () => {
  it.each([
    ["SCF's context", { memory_limit_in_mb: 256 }, { CSIP_SCAN_MEMORY_MB: "128" }, { memoryMb: 256, memoryFrom: "context" }],
    ["the deploy's variable, when the context has none", { request_id: "r" }, { CSIP_SCAN_MEMORY_MB: "128" }, { memoryMb: 128, memoryFrom: "environment" }],
    ["nothing, when neither says", undefined, {}, {}],
    ["nothing from a context field that is not a number", { memory_limit_in_mb: "128" }, { CSIP_SCAN_MEMORY_MB: "lots" }, {}],
  ])("reads the memory from %s", (_from, context, env, expected) => {
    expect(functionMemory(context, envOf(env))).toEqual(expected);
  });
});

describe("the cold start's warning", () => {
  it.each([
    ["a heap limit above the memory, held by a worker", facts(), "V8's heap may grow to 2096 MB in a function of 128 MB: Node did not apply NODE_OPTIONS (not set); the work runs in a worker thread whose heap is held to 102 MB"],
    [
      "a heap limit above the memory, held by nothing",
      facts({ heapBound: "none", nodeOptions: "--max-old-space-size=96", boundHeapSizeLimitMb: undefined }),
      "V8's heap may grow to 2096 MB in a function of 128 MB: Node did not apply NODE_OPTIONS (--max-old-space-size=96), and nothing holds it: a large walk may be killed for memory; give the function more (the policy file's `memory`)",
    ],
    ["a heap limit below the memory", facts({ heapSizeLimitMb: 102, heapBound: "node" }), undefined],
    ["a heap limit equal to the memory", facts({ heapSizeLimitMb: 128, heapBound: "node" }), undefined],
    ["no memory known", facts({ memoryMb: undefined, memoryFrom: undefined, heapBound: "none" }), undefined],
  ])("%s: %s", (_case, given, warning) => {
    expect(heapWarning(given)).toBe(warning);
  });
});

describe("noteColdStart", () => {
  it("logs the facts, warns when the heap could outgrow the function, and keeps them for doctor under the function's key", async () => {
    const { logger, lines } = keptLogger();
    const store = new MemoryStateStore();
    await noteColdStart({ logger, store, config: { runtime: "Nodejs18.15" } }, facts());
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [30, "cold start"],
      [40, heapWarning(facts())],
    ]);
    expect(await store.get(coldStartKey("scheduled-scan"), ColdStartSchema)).toEqual({ ...facts(), runtime: "Nodejs18.15" });
    expect(await readColdStarts(store, ["scheduled-scan", "scan-results"])).toEqual([{ ...facts(), runtime: "Nodejs18.15" }]);
  });

  it("a heap that fits is logged without a warning", async () => {
    const { logger, lines } = keptLogger();
    await noteColdStart({ logger, store: new MemoryStateStore(), config: { runtime: "Nodejs18.15" } }, facts({ heapSizeLimitMb: 102, heapBound: "node" }));
    expect(lines.map((line) => line.level)).toEqual([30]);
  });

  it("a record the store refuses is a warning, never a failed run", async () => {
    const { logger, lines } = keptLogger();
    const store = new MemoryStateStore();
    const refusing: StateStore = Object.assign(Object.create(store) as StateStore, { set: () => Promise.reject(new Error("COS answered 403 AccessDenied")) });
    await noteColdStart({ logger, store: refusing, config: { runtime: "Nodejs18.15" } }, facts({ heapSizeLimitMb: 102, heapBound: "node" }));
    expect(lines.at(-1)).toMatchObject({ level: 40, msg: "the cold start's facts were not kept in the state store: COS answered 403 AccessDenied" });
  });
});
