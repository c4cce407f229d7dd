/**
 * The V8 heap a function of a given memory may have, in one place: the deploy gives each function these
 * limits through NODE_OPTIONS (local/deploy/settings.ts), a function whose Node did not apply them bounds
 * its work to them itself (functions/heap-bound.ts), and bench/memory.ts measures the walk under them.
 *
 * Three quarters of the memory for the old generation, the rest for the runtime, the code and the
 * buffers beside the heap; and semi-spaces of a sixty-fourth of it, between V8's 1 and 16 MB: V8's own
 * default on a large machine is 16 MB each, which alone would hold some 30 MB of garbage between
 * collections. For 128 MB: 96 MB and 2 MB, with which a walk of 100,000 CVMs peaks at about 80 MB
 * (docs/reliability-and-security.md, sizing). AWS Lambda's Node.js runtime sizes V8 from the function's
 * memory the same way; SCF documents nothing of the kind (local/cloud/ASSUMPTIONS.md, "V8's heap").
 */
export interface HeapLimits {
  /** --max-old-space-size, in MB. */
  oldSpaceMb: number;
  /** --max-semi-space-size, in MB: the young generation is three of them. */
  semiSpaceMb: number;
}

export function heapLimitsFor(memoryMb: number): HeapLimits {
  return {
    oldSpaceMb: Math.floor((memoryMb * 3) / 4),
    semiSpaceMb: Math.min(16, Math.max(1, Math.floor(memoryMb / 64))),
  };
}

/** The largest heap those limits allow (V8's `heap_size_limit`): the old generation and three semi-spaces. */
export function heapSizeLimitMb(limits: HeapLimits): number {
  return limits.oldSpaceMb + 3 * limits.semiSpaceMb;
}

/** The node flags for a function of `memoryMb`, as NODE_OPTIONS holds them. */
export function nodeOptionsFor(memoryMb: number): string {
  const { oldSpaceMb, semiSpaceMb } = heapLimitsFor(memoryMb);
  return `--max-old-space-size=${oldSpaceMb} --max-semi-space-size=${semiSpaceMb}`;
}
