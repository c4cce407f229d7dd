import { OWN_TRIGGER_PREFIX, type Config } from "../shared/config/schema.ts";
import { resultsTimer, timersOf } from "../shared/run/timer-run.ts";
import { scanResultsHandler } from "./scan-results/index.ts";
import { TRANSPORTS } from "../shared/events/transports/index.ts";
import { assetChangeHandler } from "./asset-change/index.ts";
import type { Handler, HandlerOptions } from "./options.ts";
import { resultsPageHandler } from "./results-page/index.ts";
import { scheduledScanHandler } from "./scheduled-scan/index.ts";

/**
 * The SCF functions, one row each. The bundler builds `functions/<name>/index.ts` for every row, the
 * CLI's `invoke` runs any row's handler, and serverless.yml's `functions` section is generated from
 * these rows (scripts/serverless-settings.cjs). Adding a function is adding a folder and a row.
 */
export interface FunctionRow {
  /** Shown in the SCF console. */
  description: string;
  timeoutSeconds: number;
  /**
   * Memory in MB unless the policy file's `memory` says otherwise: 128, SCF's smallest size but one. The
   * function's heap is held within it (functions/heap-bound.ts); bench/memory.ts measures a scheduled run's
   * peak at each size of estate (the README's sizing).
   */
  memoryMb: number;
  /** Builds the entry point; the deployed one is built with no options. */
  handler(options?: HandlerOptions): Handler;
  /** The function's serverless.yml triggers for a policy file. */
  triggers(config: Config): Record<string, unknown>[];
  /** The triggers csip-scan owns on this function: the deploy deletes those the policy file no longer asks for. */
  owns: readonly { type: string; prefix?: string }[];
  /** Serves HTTP through a Function URL, which the project's deploy plugin makes (local/deploy/function-url.ts). */
  functionUrl?: true;
  /**
   * Of the variables the deploy gives every function, the only ones this one gets (all when absent), with
   * those the policy file names in its state store's keys: a function anyone may call gets no webhook
   * address, secret or CDN key to leak (local/deploy/plugin.ts).
   */
  sharedVariables?: readonly string[];
  /** The variable that names a role of its own where the deploy runs; else it runs with the functions' role (`CSIP_SCAN_SCF_ROLE`). */
  roleVariable?: string;
}

export const FUNCTIONS = {
  "scheduled-scan": {
    description: "csip-scan scheduled scans, one timer per schedule",
    timeoutSeconds: 900,
    memoryMb: 128,
    handler: scheduledScanHandler,
    // One timer per schedule, named from it (the plugin cannot set a timer's message): its invocation
    // runs every policy on that schedule (shared/run/timer-run.ts).
    triggers: (config) =>
      timersOf(config).map((timer) => ({ timer: { name: timer.name, parameters: { cronExpression: timer.cron.normalized, enable: true } } })),
    owns: [{ type: "timer", prefix: OWN_TRIGGER_PREFIX }],
  },
  "asset-change": {
    description: "csip-scan targeted scans when assets change (EventBridge, CKafka)",
    timeoutSeconds: 300,
    memoryMb: 128,
    handler: assetChangeHandler,
    triggers: (config) =>
      Object.values(TRANSPORTS).flatMap((transport) => {
        if (!("config" in transport) || !("trigger" in transport.config)) return [];
        const settings = (config.assetChange as Record<string, unknown>)[transport.config.key];
        return settings === undefined ? [] : [(transport.config.trigger as (s: unknown) => Record<string, unknown>)(settings)];
      }),
    // The function exists for change events: every trigger of a transport serverless.yml makes is its own.
    owns: Object.values(TRANSPORTS).flatMap((t) => ("config" in t && "trigger" in t.config ? [{ type: t.name }] : [])),
  },
  "scan-results": {
    description: "csip-scan follows its scan tasks to their end and tells what they found",
    timeoutSeconds: 300,
    memoryMb: 128,
    handler: scanResultsHandler,
    // One timer, every `results.checkEvery`.
    triggers: (config) => {
      const timer = resultsTimer(config);
      return [{ timer: { name: timer.name, parameters: { cronExpression: timer.cron.normalized, enable: true } } }];
    },
    owns: [{ type: "timer", prefix: OWN_TRIGGER_PREFIX }],
  },
  "results-page": {
    description: "csip-scan serves each policy's results page to the signed links of its messages",
    // A person waits: two small COS reads, retried within the request timeout.
    timeoutSeconds: 30,
    memoryMb: 128,
    handler: resultsPageHandler,
    // No serverless.yml trigger: the pinned plugin cannot make `http` triggers; the project's plugin makes
    // the Function URL after the deploy, and keeps it (it is no trigger the policy file asks for).
    triggers: () => [],
    owns: [],
    functionUrl: true,
    // Public: where its policy file and state are, nothing else (not even the pages' URL: it makes no link).
    sharedVariables: ["CSIP_SCAN_CONFIG", "CSIP_SCAN_STATE_BUCKET", "CSIP_SCAN_STATE_REGION", "CSIP_SCAN_STATE_PREFIX"],
    // A role that may only read its deployment's pages and signing key (docs/cam-page-policy.json).
    roleVariable: "CSIP_SCAN_PAGE_ROLE",
  },
} satisfies Record<string, FunctionRow>;

export type FunctionName = keyof typeof FUNCTIONS;
export const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];

/** A function's memory in MB: the policy file's `memory`, else its row's. */
export function memoryOf(config: Config, name: FunctionName): number {
  return config.memory[name] ?? FUNCTIONS[name].memoryMb;
}

/** Names under the policy file's `memory` that are no function (a typo). */
export function unknownMemoryNames(config: Config): string[] {
  return Object.keys(config.memory).filter((name) => !(FUNCTION_NAMES as string[]).includes(name));
}

