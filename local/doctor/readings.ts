import { heapOutgrows, type ColdStart } from "../../shared/run/cold-start.ts";
import type { RoleKeys } from "../../shared/run/role-keys.ts";
import { localTime } from "../../shared/time-format.ts";
import type { PageLinkCheck } from "../../shared/results/page-opens.ts";
import type { PageLink } from "../../shared/results/publish.ts";
import type { ConflictReading } from "../../shared/state/cos-readings.ts";
import { PAGE_ASKED, type CsipFindings, type ListFinding } from "./csip-readings.ts";
import type { CallerIdentity } from "./identity.ts";

/** What doctor found of the state bucket. */
export interface BucketFinding {
  /** The bucket looked for; undefined when the account holds no `csip-scan-state-*` and none is named. */
  bucket?: string;
  /** Where it is; undefined when GET Service did not list it. */
  region?: string;
  /** Where the policy file or the deploy says it is. */
  expectedRegion?: string;
  /** GET Service failed. */
  failed?: string;
  /** GET Bucket versioning: "" never enabled, else its status; undefined when not asked. */
  versioning?: string;
  versioningFailed?: string;
  conflict?: ConflictReading | { failed: string };
  prefix: string;
  /** The policy file keeps state in a folder or in memory (local mode): there is no bucket to read. */
  local?: boolean;
}

/** What doctor found of a results page link: what the message says, and what the link did. */
export type PageFinding =
  | { kind: "file" }
  | { kind: "none"; why: string }
  | { kind: "function-url" | "cdn" | "presigned"; link: PageLink; check?: PageLinkCheck; failed?: string; notChecked?: string };

export interface Findings {
  identity: CallerIdentity | { failed: string; code: string };
  testKey: boolean;
  temporary: boolean;
  csip: CsipFindings;
  bucket: BucketFinding;
  page: PageFinding;
  coldStarts?: ColdStart[] | { failed: string };
  roleKeys?: RoleKeys[] | { failed: string };
  functions: readonly string[];
  timeZone: string;
}

/**
 * The readings `csip-scan doctor` prints, one row each, from what it found: what csip-scan assumed, what
 * this account showed, and what csip-scan does about it. A reading is handled when csip-scan works as it
 * is under what the account showed; the code is safe under every reading of the lists, so those are
 * handled whatever the account shows, and doctor's record only spares calls.
 */
export interface Reading {
  name: string;
  assumed: string;
  observed: string;
  /** Whether csip-scan works as it is under what this account showed. */
  handled: boolean;
  /** What csip-scan does about it. */
  does: string;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** A duration as a person reads it: `1 h 58 min`, `45 s`. */
function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ""}`;
}

function credentials(f: Findings): Reading {
  const keys = f.testKey ? "the local emulator's test key (no TENCENTCLOUD_SECRETID set)" : f.temporary ? "temporary keys (with a session token)" : "long-term keys";
  const assumed = "TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY, with TENCENTCLOUD_SESSIONTOKEN for temporary keys, as `run` reads them";
  if ("failed" in f.identity) {
    const refused = f.identity.code.startsWith("AuthFailure");
    return {
      name: "credentials",
      assumed,
      observed: `${keys}; STS GetCallerIdentity ${refused ? "refused them" : "did not say who they are"}: ${f.identity.failed}`,
      handled: !refused,
      does: refused ? "nothing works with keys the cloud refuses: set working keys" : "signs CSIP and COS requests with them",
    };
  }
  const who = f.identity;
  return {
    name: "credentials",
    assumed,
    observed: `${keys} of ${who.type || "an identity"} ${who.userId} in account ${who.accountId} (${who.arn})`,
    handled: true,
    does: "signs CSIP and COS requests with them, and reads a function's keys again when the cloud refuses them",
  };
}

function roleKeys(f: Findings): Reading {
  const assumed = "a role's keys are STS keys (7,200 s by default, 43,200 s at most); whether a warm instance gets new ones is not documented";
  const does = "each function reads its keys at each invocation, and again when CSIP or COS refuse them; a warm instance given new ones records when";
  const own = f.testKey ? "" : f.temporary ? "; these keys' own expiry cannot be seen: a session token does not name it" : "; these are long-term keys, which do not expire";
  if (f.roleKeys === undefined) return { name: "role keys", assumed, observed: `not read: no state bucket to read the functions' records from${own}`, handled: true, does };
  if ("failed" in f.roleKeys) return { name: "role keys", assumed, observed: `the functions' records could not be read: ${f.roleKeys.failed}${own}`, handled: true, does };
  const seen = f.roleKeys.map((r: RoleKeys) => `${r.function} was given new keys in a warm instance at ${localTime(r.replacedAt, f.timeZone)}, after the ones before had served it ${duration(r.servedSeconds)}`);
  return {
    name: "role keys",
    assumed,
    observed: `${seen.length > 0 ? seen.join("; ") : "no function has seen its keys replaced in a warm instance yet"}${own}`,
    handled: true,
    does,
  };
}

function csipAnswering(f: Findings): Reading {
  const answering = f.csip.answering;
  return {
    name: "CSIP",
    assumed: "Cloud Security Center enabled, and these keys allowed to read it (docs/cam-policy.json)",
    observed: "failed" in answering ? answering.failed : `enabled and answering: DescribeScanTaskList lists ${plural(answering.tasks, "task")}`,
    handled: !("failed" in answering),
    does: "failed" in answering ? "nothing runs until CSIP answers: enable it, or give these keys docs/cam-policy.json" : "reads its lists and creates scan tasks through it",
  };
}

/** A reading of the lists that was not made because CSIP did not answer: the functions check it as they read. */
const notRead = (name: string, assumed: string, does: string): Reading => ({ name, assumed, observed: "not read: CSIP did not answer", handled: true, does });

/**
 * Lists grouped by what each showed, the usual outcome last: "DescribeCVMAssets, DescribeDbAssets: took 40;
 * the other 8 lists: took Limit 100", or "every list (10): …" when all showed the same.
 */
function grouped(entries: readonly { action: string; outcome: string }[], usual: string): string {
  const groups = new Map<string, string[]>();
  for (const { action, outcome } of entries) groups.set(outcome, [...(groups.get(outcome) ?? []), action]);
  const ordered = [...groups].sort(([a], [b]) => Number(a === usual) - Number(b === usual));
  return ordered
    .map(([outcome, actions]) => {
      if (actions.length === entries.length) return `every list (${actions.length}): ${outcome}`;
      if (outcome === usual && groups.size > 1) return `the other ${plural(actions.length, "list")}: ${outcome}`;
      return `${actions.join(", ")}: ${outcome}`;
    })
    .join("; ");
}

function largestLimit(f: Findings): Reading {
  const name = "largest Limit";
  const assumed = `every list takes Limit ${PAGE_ASKED} (CSIP documents no largest page)`;
  if (f.csip.lists.length === 0) return notRead(name, assumed, `reads ${PAGE_ASKED} rows a page`);
  const usual = `took Limit ${PAGE_ASKED}`;
  const entries = f.csip.lists.map(({ action, limit }) => ({
    action,
    outcome:
      "failed" in limit
        ? `failed: ${limit.failed}`
        : "refusedCode" in limit
          ? `refused Limit ${PAGE_ASKED} (${limit.refusedCode}) and took ${limit.took}`
          : "short" in limit
            ? `answered ${limit.took} rows of ${PAGE_ASKED} asked`
            : usual,
  }));
  const failed = f.csip.lists.some((l) => "failed" in l.limit);
  const smaller = f.csip.lists.some((l) => "took" in l.limit && l.limit.took < PAGE_ASKED);
  return {
    name,
    assumed,
    observed: grouped(entries, usual),
    handled: !failed,
    does: failed
      ? "a list that cannot be read fails the runs that need it: give these keys docs/cam-policy.json"
      : smaller
        ? "every run reads those lists that many rows a page (kept for the functions)"
        : `reads ${PAGE_ASKED} rows a page`,
  };
}

function severalValues(f: Findings): Reading {
  const name = "several filter values";
  const assumed = "ORed, but never trusted: a value not returned is asked on its own until the account shows it ORs";
  if (f.csip.lists.length === 0) return notRead(name, assumed, "asks each value not returned on its own");
  const usual = "ORed";
  const words = { ored: usual, "first-only": "only the first value answered", refused: "several values refused" } as const;
  const entries = f.csip.lists
    .filter((l) => !("failed" in l.limit))
    .map((l) => ({ action: l.action, outcome: l.values ? `${words[l.values]}${l.values === "refused" && l.refusalCode ? ` (${l.refusalCode})` : ""}` : "too few rows to tell" }));
  const oneByOne = f.csip.lists.some((l) => l.values === "first-only" || l.values === "refused");
  return {
    name,
    assumed,
    observed: grouped(entries, usual),
    handled: true,
    does: oneByOne
      ? "every run asks those lists one value a call from its first read (kept for the functions); the others up to 50 values a call, checked"
      : "asks up to 50 values a call, each answer checked",
  };
}

function filterNames(f: Findings): Reading {
  const name = "filter names";
  const assumed = "every filter name the code sends honoured (none is documented)";
  if (f.csip.lists.length === 0) return notRead(name, assumed, "checks every answer against the filter");
  const pairs = f.csip.lists.flatMap((l: ListFinding) => Object.entries(l.names).map(([field, reading]) => ({ pair: `${l.action}.${field}`, reading, code: l.refusalCode })));
  const of = (reading: string): string[] => pairs.filter((p) => p.reading === reading).map((p) => p.pair);
  const refused = pairs.filter((p) => p.reading === "refused").map((p) => `${p.pair}${p.code ? ` (${p.code})` : ""}`);
  const ignored = of("ignored");
  const honoured = of("honoured");
  const noRows = of("no rows");
  const failed = pairs.filter((p) => typeof p.reading === "object").map((p) => `${p.pair} (${(p.reading as { failed: string }).failed})`);
  const others = refused.length + ignored.length > 0;
  const parts = [
    ...(refused.length ? [`refused: ${refused.join(", ")}`] : []),
    ...(ignored.length ? [`ignored: ${ignored.join(", ")}`] : []),
    ...(honoured.length ? [`honoured: ${others ? `the other ${plural(honoured.length, "name")}` : `all ${plural(honoured.length, "name")} asked`}`] : []),
    ...(noRows.length ? [`no rows to ask with: ${noRows.join(", ")}`] : []),
    ...(failed.length ? [`failed: ${failed.join(", ")}`] : []),
  ];
  return {
    name,
    assumed,
    observed: parts.join("; "),
    handled: failed.length === 0,
    does: others
      ? "every run reads those lists without the filter and matches the rows here (kept for the functions)"
      : failed.length > 0
        ? "a list that cannot be read fails the runs that need it"
        : "filters the lists, and checks every row it gets against the filter",
  };
}

function taskOrder(f: Findings): Reading {
  const name = "task list order";
  const assumed = "newest first, as the console shows it; not trusted: a results look stops early only once the list has shown it";
  const order = f.csip.taskOrder;
  if (order === undefined) return notRead(name, assumed, "reads the task list to its end until it shows newest first");
  const words = { "newest-first": "newest first", "oldest-first": "oldest first", unordered: "in no order", "too few": "cannot tell: fewer than two tasks of different times" } as const;
  return {
    name,
    assumed,
    observed: `${words[order]} (${plural(f.csip.tasksSeen ?? 0, "task")} on its first page)`,
    handled: true,
    does: order === "newest-first" ? "a results look stops at the first page older than its window" : "a results look reads the task list to its end",
  };
}

function stateBucket(f: Findings): Reading {
  const b = f.bucket;
  const assumed = `one bucket per account, csip-scan-state-<APPID>, found wherever it is${b.expectedRegion ? `; ${b.expectedRegion}, as the functions are told` : ""}`;
  const name = "state bucket";
  if (b.local) return { name, assumed, observed: "none here: the policy file keeps state in a folder or in memory", handled: true, does: "deployed functions keep state in the bucket the deploy names" };
  if (b.failed) return { name, assumed, observed: `GET Service failed: ${b.failed}`, handled: false, does: "the functions cannot keep state where COS refuses these keys: give them docs/cam-policy.json's COS statements" };
  if (!b.bucket) return { name, assumed, observed: "this account has no bucket csip-scan-state-*", handled: false, does: "`npm run deploy` makes it; until then the functions have nowhere to keep state" };
  if (!b.region) return { name, assumed, observed: `${b.bucket} is not in this account`, handled: false, does: "deploy to make it, or name the account's bucket in state.cos.bucket" };
  const elsewhere = b.expectedRegion !== undefined && b.expectedRegion !== b.region;
  return {
    name,
    assumed,
    observed: `${b.bucket} in ${b.region}`,
    handled: !elsewhere,
    does: elsewhere
      ? `the functions are told ${b.expectedRegion}: set state.cos.region to ${b.region} (or leave it out) and deploy again`
      : `this deployment keeps its state under ${b.prefix} there`,
  };
}

function versioning(f: Findings): Reading {
  const b = f.bucket;
  const name = "bucket versioning";
  const assumed = "never enabled: x-cos-forbid-overwrite holds only on such a bucket";
  if (b.versioningFailed) return { name, assumed, observed: `GET Bucket versioning failed: ${b.versioningFailed}`, handled: false, does: "the store checks it before its first request, and stops there too" };
  if (b.versioning === undefined) return { name, assumed, observed: "not read: no state bucket", handled: b.local === true, does: b.local ? "deployed functions check it before their first request" : "the functions have nowhere to keep state" };
  return {
    name,
    assumed,
    observed: b.versioning === "" ? "never enabled" : `versioning ${b.versioning}`,
    handled: b.versioning === "",
    does: b.versioning === "" ? "locks and once-only markers are write-once PUTs" : "the store refuses this bucket, so nothing runs: name another in state.cos.bucket",
  };
}

function conflict(f: Findings): Reading {
  const name = "forbid-overwrite 409";
  const assumed = "a 409 whose code no Tencent page names (FileAlreadyExists is Aliyun OSS's)";
  const c = f.bucket.conflict;
  if (c === undefined) return { name, assumed, observed: "not asked: no bucket whose versioning was never enabled", handled: f.bucket.local === true, does: "locks and once-only markers need such a bucket, and take any 409 as the key existing" };
  if ("failed" in c) return { name, assumed, observed: `the scratch key's write failed: ${c.failed}`, handled: false, does: "the functions write their locks the same way, and would fail as well" };
  if (!c.conflict) return { name, assumed, observed: "no 409: the second write-once PUT overwrote the first", handled: false, does: "locks and once-only markers would not hold: use a bucket whose versioning was never enabled" };
  return { name, assumed, observed: `409 ${c.code || "(no code in the answer)"}`, handled: true, does: "any 409 means the key exists, whatever its code" };
}

function pageLink(f: Findings): Reading {
  const name = "results page link";
  const p = f.page;
  if (p.kind === "file") return { name, assumed: "local mode writes each policy's page as a file", observed: "files on this machine: no link to open", handled: true, does: "messages link the file and say it is one" };
  if (p.kind === "none") return { name, assumed: "a link to each policy's page in the results messages", observed: `not checked: ${p.why}`, handled: true, does: "messages give no page link without a state bucket" };
  const assumed = {
    "function-url": "the results-page function's URL shows the page (SCF documents nothing either way)",
    cdn: "the CDN domain shows the page (its header rule drops COS's force-download headers)",
    presigned: "a presigned link on COS's default domain, which downloads the page for a bucket made from 2024",
  }[p.kind];
  const promised = p.link.opens;
  if (p.failed || !p.check) {
    return { name, assumed, observed: `not checked: ${p.failed ?? p.notChecked ?? ""}`, handled: promised === "download", does: promised === "download" ? "messages say the link downloads the page" : "messages promise a page the link was not seen to open" };
  }
  const { opens, status, reason } = p.check;
  const observed = `${opens === "page" ? "opens as a page" : opens === "download" ? "downloads" : opens === "other" ? "opens, but not as a page" : "does not open"}${status !== undefined ? ` (${status})` : ""}: ${reason}`;
  if (promised === "page") {
    return {
      name,
      assumed,
      observed,
      handled: opens === "page",
      does: opens === "page" ? "messages link the page and say how long the link works" : "messages promise a page this link does not show: put a CDN domain in front (results.page.cdnDomain, docs/results.md)",
    };
  }
  return {
    name,
    assumed,
    observed,
    handled: opens === "page" || opens === "download",
    does: opens === "page" || opens === "download" ? "messages say the link downloads the page, and stops with the role's keys" : "messages give a link that does not open: deploy the results-page function (CSIP_SCAN_PAGE_URL)",
  };
}

function coldStarts(f: Findings): Reading[] {
  const assumed = "V8's heap held within the function's memory: the deploy's NODE_OPTIONS (if SCF applies them), else a worker thread";
  const does = "each function compares its heap limit with its memory at cold start, and runs its work in a worker held to it when they do not fit";
  if (f.coldStarts === undefined) return [{ name: "cold start", assumed, observed: "not read: no state bucket to read the functions' records from", handled: true, does }];
  if ("failed" in f.coldStarts) return [{ name: "cold start", assumed, observed: `the functions' records could not be read: ${f.coldStarts.failed}`, handled: true, does }];
  const records = f.coldStarts;
  return f.functions.map((fn) => {
    const c = records.find((r: ColdStart) => r.function === fn);
    const name = `cold start: ${fn}`;
    if (!c) return { name, assumed, observed: "none recorded yet: a function records its facts at its first start after a deploy", handled: true, does };
    const memory = c.memoryMb !== undefined ? `${c.memoryMb} MB (from the ${c.memoryFrom === "context" ? "SCF context" : "deploy's CSIP_SCAN_MEMORY_MB"})` : "memory unknown";
    const held = { node: "NODE_OPTIONS applied", worker: `NODE_OPTIONS not applied; its work runs in a worker held to ${c.boundHeapSizeLimitMb ?? "?"} MB`, none: "nothing holds it" }[c.heapBound];
    const unheld = c.heapBound === "none" && heapOutgrows(c);
    return {
      name,
      assumed,
      observed: `${c.runtime ?? "runtime unknown"}, Node ${c.node}, ${memory}, heap limit ${c.heapSizeLimitMb} MB: ${held}; started ${localTime(c.at, f.timeZone)}`,
      handled: !unheld,
      does: unheld ? "a large walk may be killed for memory: give the function more (the policy file's `memory`)" : does,
    };
  });
}

/** Every reading, in the order the table shows them. */
export function readingsOf(f: Findings): Reading[] {
  return [
    credentials(f),
    roleKeys(f),
    csipAnswering(f),
    largestLimit(f),
    severalValues(f),
    filterNames(f),
    taskOrder(f),
    stateBucket(f),
    versioning(f),
    conflict(f),
    pageLink(f),
    ...coldStarts(f),
  ];
}
