import type { Deadline } from "../clock.ts";
import { memberParam, type CsipClient } from "../csip/client.ts";
import { ignoredFilterWarning, readFiltered } from "../csip/pager.ts";
import { ASSET_KINDS, kindsForId, lookupField, type Asset, type AssetKind } from "./kinds.ts";

export interface Lookup {
  /** Assets found, by the ID they were asked for. */
  found: Map<string, Asset>;
  /** Looked for, and not found. */
  unknown: string[];
  /** Not looked for: the function's time ran out first. */
  notLookedUp: string[];
  /** List calls made. */
  calls: number;
  /** One per action whose filter the server ignored (the list was then read whole). */
  warnings: string[];
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
      const field = lookupField(kind, id);
      const key = `${kind}/${field}`;
      const query = queries.get(key) ?? { kind, field, ids: [] };
      query.ids.push(id);
      queries.set(key, query);
    }
  }
  let calls = 0;
  const skipped = new Set<string>();
  const warnings: string[] = [];
  for (const { kind, field, ids: wanted } of queries.values()) {
    const spec = ASSET_KINDS[kind];
    const open = wanted.filter((id) => !found.has(id));
    if (open.length === 0) continue;
    if (deadline?.expired()) {
      for (const id of open) skipped.add(id);
      continue;
    }
    // Undocumented filter names: read to the end and match here (a domain row's fields are lists).
    const read = await readFiltered({
      csip,
      action: spec.listAction,
      request: { ...memberParam(memberIds) },
      field,
      values: open,
      batch: VALUES_PER_CALL,
      ...(deadline ? { stop: () => deadline.expired() } : {}),
    });
    calls += read.calls;
    for (const id of read.unread) skipped.add(id);
    if (read.ignored) {
      const warning = ignoredFilterWarning(spec.listAction, field);
      if (!warnings.includes(warning)) warnings.push(warning);
    }
    const wantedHere = new Set(open);
    for (const item of read.rows) {
      const asset = spec.fromItem(item);
      if (!asset) continue;
      for (const name of [asset.id, ...asset.aliases]) if (wantedHere.has(name)) found.set(name, asset);
    }
  }
  const notLookedUp = ids.filter((id) => !found.has(id) && skipped.has(id));
  return { found, unknown: ids.filter((id) => !found.has(id) && !skipped.has(id)), notLookedUp, calls, warnings };
}
