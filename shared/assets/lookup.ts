import type { Deadline } from "../clock.ts";
import { memberParam, type CsipClient } from "../csip/client.ts";
import { ASSET_KINDS, kindsForId, type Asset, type AssetKind } from "./kinds.ts";

export interface Lookup {
  /** Assets found, by the ID they were asked for. */
  found: Map<string, Asset>;
  /** Looked for, and not found. */
  unknown: string[];
  /** Not looked for: the function's time ran out first. */
  notLookedUp: string[];
  /** List calls made. */
  calls: number;
}

/** Values per filtered call: keeps one request small, as a page holds at most 100 items. */
const VALUES_PER_CALL = 50;

/**
 * Finds named assets in the CSIP inventory without walking it: one filtered list call per kind and
 * field (Filter.Filters, exact match), with all the IDs of that kind as values.
 */
export async function lookupAssets(csip: CsipClient, ids: readonly string[], memberIds?: readonly string[], deadline?: Deadline): Promise<Lookup> {
  const found = new Map<string, Asset>();
  const queries = new Map<string, { kind: AssetKind; field: string; ids: string[] }>();
  for (const id of ids) {
    for (const kind of kindsForId(id)) {
      const field = ASSET_KINDS[kind].lookupField(id);
      const key = `${kind}/${field}`;
      const query = queries.get(key) ?? { kind, field, ids: [] };
      query.ids.push(id);
      queries.set(key, query);
    }
  }
  let calls = 0;
  const skipped = new Set<string>();
  for (const { kind, field, ids: wanted } of queries.values()) {
    const spec = ASSET_KINDS[kind];
    const open = wanted.filter((id) => !found.has(id));
    for (let i = 0; i < open.length; i += VALUES_PER_CALL) {
      const values = open.slice(i, i + VALUES_PER_CALL);
      if (deadline?.expired()) {
        for (const id of values) skipped.add(id);
        continue;
      }
      calls++;
      const answer = (await csip.call(spec.listAction, {
        ...memberParam(memberIds),
        Filter: { Limit: 100, Offset: 0, Filters: [{ Name: field, Values: values, OperatorType: 7 }] },
      })) as { Data?: Record<string, unknown>[] };
      for (const item of answer.Data ?? []) {
        const asset = spec.fromItem(item);
        if (!asset) continue;
        for (const id of values) if (asset.id === id || asset.aliases.includes(id)) found.set(id, asset);
      }
    }
  }
  const notLookedUp = ids.filter((id) => !found.has(id) && skipped.has(id));
  return { found, unknown: ids.filter((id) => !found.has(id) && !skipped.has(id)), notLookedUp, calls };
}
