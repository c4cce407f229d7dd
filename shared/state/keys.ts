import { createHash } from "node:crypto";
import { OWN_TRIGGER_PREFIX } from "../config/own-names.ts";
import { SCF_LIMITS } from "../config/scf-limits.ts";

/**
 * Every name csip-scan gives: the TaskName of each scan task, and the keys of what the state store
 * remembers. One file, so that changing the scheme is changing this file.
 *
 * Task names are deterministic: CSIP has no idempotency token, so a retried invocation recognises the
 * tasks it already created by their names. CSIP documents no length limit or character set for
 * TaskName; policy names are at most 60 characters, so a name stays under 90 characters in local mode and
 * reaches about 150 with a long deployment name (local/emulator/ASSUMPTIONS.md, "TaskName length").
 */

/** The names of one run of one policy. */
export interface RunNames {
  /** What every TaskName of the run starts with; how its tasks are found in CSIP's task list. */
  taskPrefix: string;
  /** The TaskName of chunk `chunk` (from 1). */
  taskName(chunk: number): string;
  /**
   * The state key of the run's record (tasks created, messages sent), and of its lock: it names the
   * deployment as the task names do, so a key, and every message ID made from it, means one
   * deployment's run and no other's.
   */
  recordKey: string;
}

const PRODUCT = "csip-scan";

/** What every TaskName csip-scan gives without a deployment (local mode) begins with. */
const TASK_NAME_PREFIX = `${PRODUCT}:`;

/**
 * What every TaskName of a deployment begins with: `csip-scan-dev-ap-guangzhou:` for the deployment the
 * deploy names `dev-ap-guangzhou` (CSIP_SCAN_DEPLOYMENT), `csip-scan:` without one. Two deployments in
 * one account share CSIP's task list: by its names each finds its own tasks and no other's, so neither
 * takes the other's task for its own nor removes it as a duplicate.
 */
export function taskNamePrefix(deployment?: string): string {
  return deployment ? `${PRODUCT}-${deployment}:` : TASK_NAME_PREFIX;
}

function runNames(policy: string, occasion: string, deployment: string | undefined): RunNames {
  const taskPrefix = `${taskNamePrefix(deployment)}${policy}:${occasion}:`;
  return {
    taskPrefix,
    taskName: (chunk) => `${taskPrefix}${chunk}`,
    recordKey: `run/${taskPrefix.slice(0, -1)}`,
  };
}

/** `2026-11-29T03:00:00.000Z` as `20261129T030000Z`. */
function stamp(time: Date): string {
  return time.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
}

/** A scheduled run: the policy at one scheduled time (its slot), of the deployment the deploy named. */
export function scheduledRunNames(policy: string, slot: Date, deployment?: string): RunNames {
  return runNames(policy, stamp(slot), deployment);
}

/** A change event as its run is named by it: its ID and the asset IDs it names. */
export interface NamedChange {
  id: string;
  assets: readonly string[];
}

/**
 * An asset-change run: the policy over the events of one delivery, each event by its ID and the assets
 * it names, so a redelivery finds the same names, and a producer that reuses an event ID for another
 * asset makes another run rather than finding the first one's task.
 */
export function changeRunNames(policy: string, events: readonly NamedChange[], deployment?: string): RunNames {
  const lines = new Set(events.map((e) => `${e.id}\t${[...new Set(e.assets)].sort().join(",")}`));
  const batch = createHash("sha256").update([...lines].sort().join("\n")).digest("hex").slice(0, 16);
  return runNames(policy, `evt-${batch}`, deployment);
}

/** What a task name says: its deployment, the policy, the occasion (slot stamp or event batch), the chunk. */
export interface ParsedTaskName {
  /** The deployment whose task it is; undefined for a task of local mode (`csip-scan:`). */
  deployment: string | undefined;
  policy: string;
  occasion: string;
  chunk: number;
  /** The names of the run the task belongs to. */
  run: RunNames;
}

/**
 * A task name csip-scan gave, read back (how the results are found in CSIP's task list when no shared
 * state store knows the runs); undefined for any other name.
 */
export function parseTaskName(name: string): ParsedTaskName | undefined {
  const match = /^csip-scan(?:-([A-Za-z0-9_-]+))?:([A-Za-z][A-Za-z0-9_-]{0,59}):(\d{8}T\d{6}Z|evt-[0-9a-f]{16}):(\d+)$/.exec(name);
  if (!match) return undefined;
  const [, deployment, policy, occasion, chunk] = match as unknown as [string, string | undefined, string, string, string];
  return { deployment, policy, occasion, chunk: Number(chunk), run: runNames(policy, occasion, deployment) };
}

/**
 * A deployment's name as the deploy gives it (CSIP_SCAN_DEPLOYMENT): its stage and region,
 * `dev-ap-guangzhou`. A stage deployed to two regions is two deployments, each with its own functions.
 */
export function deploymentName(stage: string, region: string): string {
  return `${stage}-${region}`;
}

/**
 * Where a deployment keeps its state (CSIP_SCAN_STATE_PREFIX): a folder of its own under the policy
 * file's prefix, `state/dev-ap-guangzhou/`. No key of local mode's `state/` begins with a name that
 * holds a region, so the two never meet either.
 */
export function deploymentStatePrefix(prefix: string, deployment: string): string {
  return `${prefix}${deployment}/`;
}

/** The collection of runs whose results are still to be told (shared/results/open-runs.ts), each under its record key. */
export const OPEN_RUNS = "results-open";

/** The lock of telling a run's results, and the record that they were told. */
export function resultsKey(recordKey: string): string {
  return `results/${recordKey}`;
}

/** What the last told results of a policy found: the comparison of its next run starts there. */
export function lastResultsKey(policy: string): string {
  return `results-last/${policy}`;
}

/** The last runs of a policy as its results page shows them (shared/results/history.ts). */
export function historyKey(policy: string): string {
  return `results-history/${policy}`;
}

/** What a function found at its last cold start: runtime, memory, V8's heap (shared/run/cold-start.ts). */
export function coldStartKey(functionName: string): string {
  return `cold-start/${functionName}`;
}

/**
 * When a warm instance of a function found new role keys in its environment, and how long the keys before
 * had served it (shared/run/role-keys.ts): what can be seen of the keys' life.
 */
export function roleKeysKey(functionName: string): string {
  return `role-keys/${functionName}`;
}

/**
 * What `csip-scan doctor` found of the readings the documents leave open on this account (shared/run/account-readings.ts):
 * one small record, which the functions read at each invocation and act on.
 */
export const ACCOUNT_READINGS = "doctor/readings";

/**
 * The key the links to results pages are signed with (shared/results/page-link.ts): made once, read by
 * the functions that write messages and by the results-page function. Never in the environment.
 */
export const PAGE_SIGNING_KEY = "results-page/signing-key";

/** When a policy last scanned an asset because it changed (its `cooldown`). */
export function cooldownKey(policy: string, asset: string): string {
  return `cooldown/${policy}/${asset}`;
}

/**
 * What a notifier was last told about a policy's unauthorized assets. Event-driven runs see a few
 * assets at a time: they keep their own memory, so they do not disturb the scheduled runs' reminders.
 */
export function announcementKey(policy: string, notifier: string, eventDriven: boolean): string {
  return `announced/${eventDriven ? "change:" : ""}${policy}/${notifier}`;
}


/**
 * The timer trigger of a schedule (its seven-field form, shared/config/scf-cron.ts): readable, stable,
 * and a valid SCF trigger name (a letter first, `[A-Za-z0-9_-]`, at most 60). `*` reads `x`, `?` `q`,
 * `/` `s`, `,` `c`, `#` `n`; a short hash keeps two schedules that read alike apart.
 */
export function timerName(schedule: string): string {
  const readable = schedule
    .trim()
    .split(/\s+/)
    .map((field) => field.replace(/\*/g, "x").replace(/\?/g, "q").replace(/\//g, "s").replace(/,/g, "c").replace(/#/g, "n").replace(/[^A-Za-z0-9-]/g, ""))
    .join("_");
  const hash = createHash("sha256").update(schedule.trim().split(/\s+/).join(" ")).digest("hex").slice(0, 6);
  return `${OWN_TRIGGER_PREFIX}${readable.slice(0, SCF_LIMITS.triggerNameLength - OWN_TRIGGER_PREFIX.length - hash.length - 1)}-${hash}`;
}
