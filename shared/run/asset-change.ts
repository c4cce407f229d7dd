import * as z from "zod";
import { expandGroups } from "../assets/expand.ts";
import type { Asset } from "../assets/kinds.ts";
import { lookupAssets } from "../assets/lookup.ts";
import { durationMs, type Policy } from "../config/schema.ts";
import { memberParam } from "../csip/client.ts";
import { errorFacts } from "../errors.ts";
import type { Delivery, RejectedRecord } from "../events/delivery.ts";
import { assetIdsOf } from "../events/extractors.ts";
import type { RunError } from "../notify/report.ts";
import { planScanTasks, scanAssetType, type PlannedTask } from "../scan/requests.ts";
import { changeRunNames, cooldownKey, type NamedChange } from "../state/keys.ts";
import type { ActionReading } from "../csip/filter-readings.ts";
import { runReadings } from "./filter-readings.ts";
import { createAndAnnounce, type CreatedAndAnnounced } from "./policy-run.ts";
import type { RunContext } from "./services.ts";
import { NOT_RETRIED_WARNING, retryAfterFailure, summarize, type RunSummary } from "./summary.ts";

/** What one asset-change delivery did. */
export interface AssetChangeSummary {
  trigger: "asset-change";
  events: number;
  /** Records of a batch that could not be read, each with its index and the path of its bad field: acknowledged, not retried. */
  rejected: RejectedRecord[];
  /** Events whose type one row of the extractor table handles. */
  handled: number;
  /** Events of types not handled, counted by type: acknowledged, not errors. */
  ignored: Record<string, number>;
  eventIds: string[];
  /** Asset IDs the handled events name. */
  assets: string[];
  /** Named assets CSIP's inventory still does not know (after a sync, when enabled). */
  unknownAssets: string[];
  /** Assets a policy would scan but scanned within its cooldown. */
  cooledDown: { policy: string; asset: string }[];
  /** Known assets no policy with onAssetChange includes. */
  unmatched: string[];
  /** One run per policy that scans some of the assets. */
  runs: RunSummary[];
  inventoryCalls: number;
  /** How the account took each filter this delivery's reads sent (shared/run/filter-readings.ts). */
  filterReadings: ActionReading[];
  warnings: string[];
  errors: RunError[];
  durationsMs: { lookup: number; total: number };
  ok: boolean;
  /** Whether SCF may retry it when it failed (shared/run/summary.ts `retrySafe`). */
  retry: boolean;
}

/** The assets named, looked up (and, for new ones, looked up again after an inventory sync, with growing waits). */
async function findAssets(run: RunContext, ids: string[], memberIds: readonly string[] | undefined) {
  const first = await lookupAssets(run.csip, ids, memberIds, run.deadline);
  let calls = first.calls;
  const warnings = new Set(first.warnings);
  const found = first.found;
  let unknown = first.unknown;
  const notLookedUp = first.notLookedUp;
  const { syncUnknown, syncWaitSeconds } = run.config.assetChange;
  if (unknown.length > 0 && syncUnknown && syncWaitSeconds > 0) {
    await run.csip.call("CreateAssetSyncTask", memberParam(memberIds));
    const giveUpAt = run.clock.now() + Math.min(syncWaitSeconds * 1000, run.deadline.remainingMs());
    for (let wait = 1000; unknown.length > 0 && run.clock.now() + wait <= giveUpAt; wait *= 2) {
      await run.clock.sleep(wait);
      const again = await lookupAssets(run.csip, unknown, memberIds, run.deadline);
      calls += again.calls;
      for (const w of again.warnings) warnings.add(w);
      for (const [id, asset] of again.found) found.set(id, asset);
      unknown = [...again.unknown, ...again.notLookedUp];
    }
  }
  return { found, unknown, notLookedUp, calls, warnings: [...warnings] };
}

/** The changed assets a policy's groups include, by the same rules as its scheduled run. */
function matching(run: RunContext, policy: Policy, assets: Asset[]): Asset[] {
  const inventory = { assets };
  if (policy.all) {
    const excluded = new Set(expandGroups(policy.except ?? [], run.config.assetGroups, inventory).assets);
    return assets.filter((a) => !excluded.has(a));
  }
  return expandGroups(policy.targets ?? [], run.config.assetGroups, inventory).assets;
}

/** The policy as a targeted scan of just these assets (listed assets). */
function targeted(policy: Policy): Policy {
  const { all: _all, except: _except, urls: _urls, ...rest } = policy;
  return { ...rest, targets: policy.targets ?? ["(changed assets)"] };
}

/**
 * Scans the assets that change events name: pulls the IDs out of each event through the extractor
 * table, looks them up in the CSIP inventory (a lookup, not a walk), and creates one task per policy
 * with `onAssetChange: true` whose groups include them, holding only those assets. Task names come
 * from the event IDs, so a redelivered event creates nothing new; `cooldown` keeps one asset from
 * being rescanned by one policy too often. Unauthorized assets are notified as in the scheduled run.
 */
export async function runAssetChange(run: RunContext, delivery: Delivery): Promise<AssetChangeSummary> {
  const { events, rejected } = delivery;
  const started = run.clock.now();
  const ignored: Record<string, number> = {};
  /** What the run is named by: each event's ID and the assets it names (shared/state/keys.ts). */
  const changes: NamedChange[] = [];
  const ids = new Set<string>();
  for (const { event } of events) {
    const named = assetIdsOf(event);
    if (!named) {
      ignored[event.type] = (ignored[event.type] ?? 0) + 1;
      continue;
    }
    changes.push({ id: event.id, assets: named });
    for (const id of named) ids.add(id);
  }
  const assetIds = [...ids];
  const unknownAssets: string[] = [];
  const cooledDown: AssetChangeSummary["cooledDown"] = [];
  const runs: RunSummary[] = [];
  const errors: RunError[] = [];
  let inventoryCalls = 0;
  let lookupMs = 0;
  const matched = new Set<Asset>();
  const known = new Set<Asset>();

  const policies = run.config.policies.filter((p) => p.onAssetChange && !p.urls);
  const now = run.clock.now();
  const scopes = new Map<string, Policy[]>();
  for (const policy of assetIds.length > 0 ? policies : []) {
    const key = [...(policy.memberIds ?? [])].sort().join(",");
    scopes.set(key, [...(scopes.get(key) ?? []), policy]);
  }
  const lookupWarnings: string[] = [];
  for (const scoped of scopes.values()) {
    let assets: Asset[];
    try {
      const lookupStarted = run.clock.now();
      const { found, unknown, notLookedUp, calls, warnings } = await findAssets(run, assetIds, scoped[0]!.memberIds);
      inventoryCalls += calls;
      for (const w of warnings) if (!lookupWarnings.includes(w)) lookupWarnings.push(w);
      lookupMs += run.clock.now() - lookupStarted;
      if (notLookedUp.length > 0) {
        // Not an unknown asset: a retry (SCF's) looks again.
        errors.push({ code: "OutOfTime", message: `${notLookedUp.length} asset(s) were not looked up before the function's time ran out: ${notLookedUp.slice(0, 10).join(", ")}${notLookedUp.length > 10 ? ", …" : ""}` });
      }
      for (const id of unknown) if (!unknownAssets.includes(id)) unknownAssets.push(id);
      assets = [...new Set(found.values())];
      for (const a of assets) known.add(a);
    } catch (error) {
      errors.push(errorFacts(error));
      continue;
    }
    for (const policy of scoped) {
      const fresh: Asset[] = [];
      for (const asset of matching(run, policy, assets)) {
        matched.add(asset);
        const last = await run.store.get(cooldownKey(policy.name, `${asset.kind}:${asset.id}`), z.number());
        if (last !== undefined && now - last < durationMs(policy.cooldown)) cooledDown.push({ policy: policy.name, asset: asset.id });
        else fresh.push(asset);
      }
      if (fresh.length > 0) runs.push(await scanChangedAssets(run, targeted(policy), fresh, changes, new Date(now)));
    }
  }

  const readings = runReadings(run, lookupWarnings);
  const summary: AssetChangeSummary = {
    trigger: "asset-change",
    events: events.length,
    rejected,
    handled: changes.length,
    ignored,
    eventIds: changes.map((c) => c.id),
    assets: assetIds,
    unknownAssets,
    cooledDown,
    unmatched: [...known].filter((a) => !matched.has(a)).map((a) => a.id),
    runs,
    inventoryCalls,
    filterReadings: readings.filterReadings,
    warnings: [
      ...rejected.map((r) => `record ${r.index} was not read: ${r.path}: ${r.message}`),
      ...(unknownAssets.length > 0 ? [`CSIP's inventory does not know ${unknownAssets.join(", ")} yet; not scanned`] : []),
      ...run.storeWarnings,
      ...lookupWarnings,
      ...readings.warnings,
    ],
    errors,
    durationsMs: { lookup: lookupMs, total: run.clock.now() - started },
    ok: errors.length === 0 && runs.every((r) => r.ok),
    retry: await retryAfterFailure(run.store, runs),
  };
  if (!summary.ok && !summary.retry) summary.warnings.push(NOT_RETRIED_WARNING);
  run.logger.info(
    { summary: { ...summary, runs: summary.runs.map((r) => r.policy) } },
    `asset change: ${summary.handled}/${summary.events} event(s) handled, ${summary.assets.length} asset(s), ${summary.runs.length} policy run(s)`,
  );
  return summary;
}

/** One policy's targeted scan of the changed assets it includes. */
async function scanChangedAssets(run: RunContext, policy: Policy, assets: Asset[], changes: readonly NamedChange[], now: Date): Promise<RunSummary> {
  const started = run.clock.now();
  const names = changeRunNames(policy.name, changes, run.deployment);
  const planned = planScanTasks(policy, assets, names.taskName);
  const scheduledTime = now.toISOString();
  const done = await createAndAnnounce(run, policy, names, planned, { scheduledTime, trigger: "asset-change", warnings: [], errors: [] });
  const summary = summarize(run.logger, {
    policy: policy.name,
    scheduledTime,
    trigger: "asset-change",
    dryRun: false,
    scanAssetType: scanAssetType(policy),
    assetsPerGroup: { "changed assets": assets.length },
    assets: assets.length,
    tasks: done.tasks,
    unauthorized: done.unauthorized,
    warnings: [
      ...done.warnings,
      ...(done.refilledOtherwise.length > 0
        ? [`chunk(s) ${done.refilledOtherwise.join(", ")} kept the task an earlier attempt of this run made for other assets (a cooldown ran out between attempts): their assets start no cooldown, and the next change event scans them`]
        : []),
    ],
    errors: done.errors,
    notifications: done.notifications,
    durationsMs: { inventory: 0, tasks: done.durationsMs.tasks, notify: done.durationsMs.notify, total: run.clock.now() - started },
  });
  // Only a whole success starts the cooldown, since a retry must plan the same chunks again; and only
  // for the assets a task scans: one CSIP refused, in a chunk left without a task, or in a chunk whose
  // task an earlier attempt made for other assets (a cooldown ran out between attempts), was not scanned.
  if (summary.ok) for (const asset of scannedAssets(planned, done)) await run.store.set(cooldownKey(policy.name, `${asset.kind}:${asset.id}`), now.getTime());
  return summary;
}

/**
 * The planned assets in a chunk whose task scanned them, without those CSIP refused (by ID or by an
 * alias): not a chunk without a task, nor one whose task an earlier attempt made for other assets.
 */
function scannedAssets(planned: readonly PlannedTask[], done: Pick<CreatedAndAnnounced, "tasks" | "refilledOtherwise" | "unauthorized">): Asset[] {
  const withTask = new Set(done.tasks.map((t) => t.chunk).filter((chunk) => !done.refilledOtherwise.includes(chunk)));
  const refused = new Set(done.unauthorized.map((a) => a.id));
  return planned.filter((p) => withTask.has(p.chunk)).flatMap((p) => p.assets.filter((a) => !refused.has(a.id) && !a.aliases.some((alias) => refused.has(alias))));
}
