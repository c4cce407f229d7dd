import { createHash } from "node:crypto";
import { expandGroups } from "../assets/expand.ts";
import { buildInventory } from "../assets/inventory.ts";
import { ALL_KINDS, type Asset } from "../assets/kinds.ts";
import { lookupAssets } from "../assets/lookup.ts";
import { errorFacts } from "../errors.ts";
import { memberParam } from "../csip/client.ts";
import { durationMs, type Config, type Policy } from "../config/schema.ts";
import type { ChangeEvent } from "../events/asset-change-event.ts";
import { assetIdsOf } from "../events/extractors.ts";
import type { RunError } from "../notify/report.ts";
import { planScanTasks } from "../scan/requests.ts";
import { executePlanned, finishSummary, newSummary, type RunDeps } from "./policy-run.ts";
import type { RunSummary } from "./summary.ts";

/** What one asset-change delivery did. */
export interface AssetChangeSummary {
  trigger: "asset-change";
  events: number;
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
  warnings: string[];
  errors: RunError[];
  durationsMs: { lookup: number; total: number };
  ok: boolean;
}

const sleepFor = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The assets named, looked up (and, for new ones, looked up again after an inventory sync). */
async function findAssets(deps: RunDeps, config: Config, ids: string[], memberIds: readonly string[] | undefined, summary: AssetChangeSummary) {
  const first = await lookupAssets(deps.csip, ids, memberIds);
  summary.inventoryCalls += first.calls;
  const found = first.found;
  let unknown = first.unknown;
  const { syncUnknown, syncWaitSeconds } = config.assetChange;
  if (unknown.length > 0 && syncUnknown && syncWaitSeconds > 0) {
    await deps.csip.call("CreateAssetSyncTask", memberParam(memberIds));
    const giveUpAt = Date.now() + Math.min(syncWaitSeconds * 1000, deps.deadline.remainingMs());
    for (let wait = 1000; unknown.length > 0 && Date.now() + wait <= giveUpAt; wait *= 2) {
      await (deps.sleep ?? sleepFor)(wait);
      const again = await lookupAssets(deps.csip, unknown, memberIds);
      summary.inventoryCalls += again.calls;
      for (const [id, asset] of again.found) found.set(id, asset);
      unknown = again.unknown;
    }
  }
  return { found, unknown };
}

/** The changed assets a policy's groups include, by the same rules as its scheduled run. */
function matching(policy: Policy, config: Config, assets: Asset[]): Asset[] {
  const inventory = buildInventory(ALL_KINDS, assets);
  if (policy.all) {
    const excluded = new Set(expandGroups(policy.except ?? [], config.assetGroups, inventory).assets);
    return assets.filter((a) => !excluded.has(a));
  }
  return expandGroups(policy.targets ?? [], config.assetGroups, inventory).assets;
}

/** The policy as a targeted scan of just these assets (ScanAssetType 1). */
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
export async function runAssetChange(deps: RunDeps, config: Config, events: ChangeEvent[]): Promise<AssetChangeSummary> {
  const started = Date.now();
  const summary: AssetChangeSummary = {
    trigger: "asset-change",
    events: events.length,
    handled: 0,
    ignored: {},
    eventIds: [],
    assets: [],
    unknownAssets: [],
    cooledDown: [],
    unmatched: [],
    runs: [],
    inventoryCalls: 0,
    warnings: [],
    errors: [],
    durationsMs: { lookup: 0, total: 0 },
    ok: true,
  };
  const ids = new Set<string>();
  for (const { event } of events) {
    const named = assetIdsOf(event);
    if (!named) {
      summary.ignored[event.type] = (summary.ignored[event.type] ?? 0) + 1;
      continue;
    }
    summary.handled++;
    summary.eventIds.push(event.id);
    for (const id of named) ids.add(id);
  }
  summary.assets = [...ids];
  const policies = config.policies.filter((p) => p.onAssetChange && !p.urls);
  if (ids.size === 0 || policies.length === 0) return finish(deps, summary, started);

  const batch = createHash("sha256").update([...new Set(summary.eventIds)].sort().join("\n")).digest("hex").slice(0, 16);
  const now = deps.now();
  const scopes = new Map<string, Policy[]>();
  for (const policy of policies) {
    const key = [...(policy.memberIds ?? [])].sort().join(",");
    scopes.set(key, [...(scopes.get(key) ?? []), policy]);
  }
  const matched = new Set<Asset>();
  const known = new Set<Asset>();
  for (const scoped of scopes.values()) {
    const memberIds = scoped[0]!.memberIds;
    let assets: Asset[];
    try {
      const lookupStarted = Date.now();
      const { found, unknown } = await findAssets(deps, config, summary.assets, memberIds, summary);
      summary.durationsMs.lookup += Date.now() - lookupStarted;
      for (const id of unknown) if (!summary.unknownAssets.includes(id)) summary.unknownAssets.push(id);
      assets = [...new Set(found.values())];
      for (const a of assets) known.add(a);
    } catch (error) {
      summary.errors.push(errorFacts(error));
      continue;
    }
    for (const policy of scoped) {
      const fresh: Asset[] = [];
      for (const asset of matching(policy, config, assets)) {
        matched.add(asset);
        const last = await deps.store.get<number>(cooldownKey(policy, asset));
        if (last !== undefined && now.getTime() - last < durationMs(policy.cooldown)) summary.cooledDown.push({ policy: policy.name, asset: asset.id });
        else fresh.push(asset);
      }
      if (fresh.length > 0) summary.runs.push(await scan(deps, config, targeted(policy), fresh, batch, now));
    }
  }
  summary.unmatched = [...known].filter((a) => !matched.has(a)).map((a) => a.id);
  if (summary.unknownAssets.length > 0) {
    summary.warnings.push(`CSIP's inventory does not know ${summary.unknownAssets.join(", ")} yet; not scanned`);
  }
  return finish(deps, summary, started);
}

function cooldownKey(policy: Policy, asset: Asset): string {
  return `cooldown/${policy.name}/${asset.kind}:${asset.id}`;
}

async function scan(deps: RunDeps, config: Config, policy: Policy, assets: Asset[], batch: string, now: Date): Promise<RunSummary> {
  const started = Date.now();
  const summary = newSummary(policy, now.toISOString(), "asset-change");
  summary.assets = assets.length;
  summary.assetsPerGroup = { "changed assets": assets.length };
  const planned = planScanTasks(policy, assets, (chunk) => `csip-scan:${policy.name}:evt-${batch}:${chunk}`);
  await executePlanned(deps, config, policy, planned, `run/csip-scan:${policy.name}:evt-${batch}`, assets, summary);
  finishSummary(deps, summary, started);
  // Only a whole success starts the cooldown: a retry must plan the same chunks again.
  if (summary.ok) for (const asset of assets) await deps.store.set(cooldownKey(policy, asset), now.getTime());
  return summary;
}

function finish(deps: RunDeps, summary: AssetChangeSummary, started: number): AssetChangeSummary {
  summary.ok = summary.errors.length === 0 && summary.runs.every((r) => r.ok);
  summary.durationsMs.total = Date.now() - started;
  deps.logger.info(
    { summary: { ...summary, runs: summary.runs.map((r) => r.policy) } },
    `asset change: ${summary.handled}/${summary.events} event(s) handled, ${summary.assets.length} asset(s), ${summary.runs.length} policy run(s)`,
  );
  return summary;
}
