import { memberParam, type CsipClient } from "../csip/client.ts";
import { sleep as realSleep } from "../clock.ts";
import { DEFAULT_PAGING, readPages, type PageLimits } from "../csip/pager.ts";
import { CsipScanError } from "../errors.ts";
import { Compactor } from "./compact.ts";
import { SeenIds } from "./seen-ids.ts";
import { ALL_KINDS, ASSET_KINDS, type Asset, type AssetKind } from "./kinds.ts";

/**
 * Paging limits. CSIP documents no largest page size; 100 is the assumption (the emulator enforces it).
 * `maxPages` caps one kind's walk when nothing says how long the walk may take; a run's walk is capped by
 * its time instead (pagesWithin), so that a large kind is refused only when its pages cannot be read
 * before the function's deadline.
 */
export const INVENTORY_PAGING: PageLimits = { ...DEFAULT_PAGING, maxPages: 2000 };

/** The most pages one kind's read may take, and why, for the message of a list longer than that. */
export interface PageCap {
  maxPages: number;
  why: string;
}

/**
 * The pages the time left can read, one call every `spacingMs` (the rate limiter's spacing of one
 * action): a list longer than that is refused before it is walked, since its walk would run out of time
 * with the rest unread. A list that stops growing within it is walked whole, however long.
 */
export function pagesWithin(remainingMs: number, spacingMs: number): PageCap {
  const maxPages = Math.max(1, Math.floor(remainingMs / spacingMs));
  return {
    maxPages,
    why: `the function's ${Math.round(remainingMs / 1000)} s left read at most ${maxPages} pages at ${Number((1000 / spacingMs).toPrecision(3))} calls a second; split the policies over schedules or member accounts (the README's sizing)`,
  };
}

/** The assets of some kinds, as one member scope sees them, held whole (the CLI's plan, changed assets). */
export interface Inventory {
  readonly assets: readonly Asset[];
}

/**
 * How long the first policy to reach a walk waits for the others of its run that said they would walk
 * the same list: long enough for each to take its run's lock (a few state-store calls), short against a
 * walk. A policy arriving later walks on its own.
 */
export const JOIN_WAIT_MS = 2_000;

/** The assets of one page, in list order; the walk waits for a returned promise. */
export type AssetPage = (assets: readonly Asset[]) => void | Promise<void>;

/** What a walk's reads came to, besides the assets handed over. */
export interface Walked {
  /**
   * Rows the lists repeated, left out: an asset already handed over in the same read (an offset shift
   * while the estate changed) goes into one task.
   */
  repeated: number;
}

/** One policy's part in a run's walks: `walk` once, or `leave` when it will not walk after all. */
export interface Walker {
  /** Hands over the assets of the walker's kinds, one kind after another in the table's order, page by page. */
  walk(onPage: AssetPage): Promise<Walked>;
  /** Gives up the kinds not walked yet, so that the others waiting for this walker need not wait. */
  leave(): void;
}

interface Joined {
  onPage: AssetPage;
  done(error?: unknown, walked?: Walked): void;
}

/** A read of one (kind, member scope) for the walkers that join it before it starts. */
interface KindWalk {
  kind: AssetKind;
  memberIds: readonly string[] | undefined;
  /** Walkers that said they would walk this list and have not yet joined or left. */
  expected: number;
  joined: Joined[];
  started: boolean;
}

/**
 * Walks the inventory for the policies of a run. Each read hands its pages over in list order to every
 * policy walking that list at once, and waits for them: a policy creates its tasks as its chunks fill,
 * so no asset is kept and memory does not grow with the estate (bench/memory.ts), and each list is read
 * once however many policies of a timer need it. A policy says what it will walk (`walker`) before it
 * takes its lock; the read starts when every policy that said so has joined or left, or `JOIN_WAIT_MS`
 * after the first joined.
 */
export class InventoryCache {
  private readonly forming = new Map<string, KindWalk>();
  /** One string table for the run: regions, types, tag names and tag sets repeat across thousands of rows. */
  private readonly compact = new Compactor();
  /** Number of list calls made, for the run summary and the benchmark. */
  calls = 0;

  constructor(
    private readonly csip: CsipClient,
    private readonly paging: PageLimits = INVENTORY_PAGING,
    private readonly sleep: (ms: number) => Promise<void> = realSleep,
    private readonly joinWaitMs = JOIN_WAIT_MS,
    /** The page cap of each read as it starts (a run's: pagesWithin its deadline); else `paging.maxPages`. */
    private readonly pageCap?: () => PageCap,
  ) {}

  /** The inventory of `kinds` for the caller's account, or for the member accounts given, held whole. */
  async load(kinds: readonly AssetKind[], memberIds?: readonly string[]): Promise<Inventory> {
    const assets: Asset[] = [];
    await this.walker(kinds, memberIds).walk((page) => {
      assets.push(...page);
    });
    return { assets };
  }

  /** Says that one more policy will walk `kinds` in this member scope, and returns its part. */
  walker(kinds: readonly AssetKind[], memberIds: readonly string[] | undefined): Walker {
    const ordered = ALL_KINDS.filter((k) => kinds.includes(k));
    for (const kind of ordered) this.formingWalk(kind, memberIds).expected++;
    const pending = new Set(ordered);
    const leave = (): void => {
      for (const kind of pending) this.depart(kind, memberIds);
      pending.clear();
    };
    return {
      leave,
      walk: async (onPage) => {
        const walked: Walked = { repeated: 0 };
        try {
          for (const kind of ordered) {
            pending.delete(kind);
            walked.repeated += (await this.join(kind, memberIds, onPage)).repeated;
          }
        } finally {
          leave();
        }
        return walked;
      },
    };
  }

  private keyOf(kind: AssetKind, memberIds: readonly string[] | undefined): string {
    return `${kind}|${[...(memberIds ?? [])].sort().join(",")}`;
  }

  private formingWalk(kind: AssetKind, memberIds: readonly string[] | undefined): KindWalk {
    const key = this.keyOf(kind, memberIds);
    let walk = this.forming.get(key);
    if (!walk) {
      walk = { kind, memberIds, expected: 0, joined: [], started: false };
      this.forming.set(key, walk);
    }
    return walk;
  }

  private join(kind: AssetKind, memberIds: readonly string[] | undefined, onPage: AssetPage): Promise<Walked> {
    const walk = this.formingWalk(kind, memberIds);
    return new Promise((resolve, reject) => {
      walk.expected--;
      walk.joined.push({ onPage, done: (error, walked) => (error === undefined ? resolve(walked ?? { repeated: 0 }) : reject(error)) });
      if (walk.expected <= 0) this.start(walk);
      else if (walk.joined.length === 1) void this.sleep(this.joinWaitMs).then(() => this.start(walk));
    });
  }

  private depart(kind: AssetKind, memberIds: readonly string[] | undefined): void {
    const walk = this.forming.get(this.keyOf(kind, memberIds));
    if (!walk) return;
    walk.expected--;
    if (walk.expected <= 0 && walk.joined.length > 0) this.start(walk);
    else if (walk.expected <= 0) this.forming.delete(this.keyOf(kind, memberIds));
  }

  /** Starts the read for those joined; those still expected form the next read of the same list. */
  private start(walk: KindWalk): void {
    if (walk.started) return;
    walk.started = true;
    const key = this.keyOf(walk.kind, walk.memberIds);
    if (this.forming.get(key) === walk) {
      this.forming.delete(key);
      if (walk.expected > 0) this.forming.set(key, { kind: walk.kind, memberIds: walk.memberIds, expected: walk.expected, joined: [], started: false });
    }
    void this.readFor(walk);
  }

  /** One read, each page handed to every walker still in it; one walker's failure leaves the others. */
  private async readFor(walk: KindWalk): Promise<void> {
    const walking = new Set(walk.joined);
    try {
      const walked = await this.readKind(walk.kind, walk.memberIds, async (page) => {
        await Promise.all(
          [...walking].map(async (walker) => {
            try {
              await walker.onPage(page);
            } catch (error) {
              walking.delete(walker);
              walker.done(error);
            }
          }),
        );
        if (walking.size === 0) throw new CsipScanError("every policy walking this list has stopped");
      });
      for (const walker of walking) walker.done(undefined, walked);
    } catch (error) {
      for (const walker of walking) walker.done(error);
    }
  }

  /**
   * Every asset of one kind, read to the list's end through the one pager. Each page is reduced to
   * what expansion and tasks need of a row as it arrives (shared/assets/compact.ts), so the walk holds
   * no answer: at 100,000 CVMs of about 2 KB each, whole rows would be some 200 MB against SCF's 128.
   * An asset the read has handed over already is left out (the IDs seen are fingerprints: seen-ids.ts).
   */
  private async readKind(kind: AssetKind, memberIds: readonly string[] | undefined, onPage: AssetPage): Promise<Walked> {
    const spec = ASSET_KINDS[kind];
    const cap = this.pageCap?.() ?? { maxPages: this.paging.maxPages, why: "raise INVENTORY_PAGING.maxPages" };
    const seen = new SeenIds();
    let repeated = 0;
    const read = await readPages({
      csip: this.csip,
      action: spec.listAction,
      request: { ...memberParam(memberIds) },
      limits: { ...this.paging, maxPages: cap.maxPages },
      failWhenCapped: true,
      capReason: cap.why,
      onPage: (rows, _offset, total) => {
        seen.reserve(total);
        const assets: Asset[] = [];
        for (const row of rows) {
          const asset = this.compact.asset(spec.fromItem(row), row);
          if (!asset) continue;
          if (seen.add(asset.id)) assets.push(asset);
          else repeated++;
        }
        return onPage(assets);
      },
    });
    this.calls += read.calls;
    // A server answering smaller pages than asked is read on up to the cap; an inventory cut short
    // would scan part of the estate and call it whole.
    if (read.capped) throw new CsipScanError(`${spec.listAction} stopped at ${read.rows} of ${read.total} rows after ${read.calls} calls (the page cap): ${cap.why}`);
    return { repeated };
  }
}
