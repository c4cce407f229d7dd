import * as z from "zod";
import { webhookUrlProblem } from "../net/address-policy.ts";
import { isTimeZone, parseScfCron } from "./scf-cron.ts";
import { SCF_LIMITS } from "./scf-limits.ts";
import { cosBucketNameProblem, OWN_TRIGGER_PREFIX, ROBOT_HOSTS, TRIGGER_NAME, type AssetGroup, type Config } from "./schema.ts";

export interface PathProblem {
  path: (string | number)[];
  message: string;
}

/**
 * The policy file as the checks across it read it: every value that has the wrong type is left out
 * instead of failing, so the checks run on whatever parsed and report their problems in the same
 * pass as the schema's (a wrong scan item must not hide an unknown group).
 */
const loose = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);
const present = z.unknown().optional();
const LooseSelectorSchema = z.object({ group: loose(z.string()) }).catch({});
const LooseGroupSchema = z
  .object({ include: z.array(LooseSelectorSchema).catch([]), exclude: z.array(LooseSelectorSchema).catch([]) })
  .catch({ include: [], exclude: [] });
const LoosePolicySchema = z
  .object({
    name: loose(z.string()),
    schedule: loose(z.string()),
    targets: present,
    urls: present,
    all: present,
    except: present,
    notify: present,
    advanced: present,
    mode: loose(z.string()),
  })
  .catch({});
const LooseConfigSchema = z.object({
  timezone: loose(z.string()),
  region: loose(z.string()),
  state: z.object({ cos: z.object({ bucket: loose(z.string()), region: loose(z.string()) }).catch({}) }).catch({ cos: {} }),
  assetChange: z.object({ cmq: present }).catch({}),
  notifiers: z.record(z.string(), z.object({ url: loose(z.string()), type: loose(z.string()) }).catch({})).catch({}),
  assetGroups: z.record(z.string(), LooseGroupSchema).catch({}),
  policies: z.array(LoosePolicySchema).catch([]),
});
type LooseGroup = z.infer<typeof LooseGroupSchema>;

/** The strings of a list, with their places; nothing when the value is not a list. */
function stringsIn(value: unknown): [string, number][] {
  return Array.isArray(value) ? value.flatMap((v, i): [string, number][] => (typeof v === "string" ? [[v, i]] : [])) : [];
}

/**
 * Checks beyond each value's type: names that must exist, cycles, duplicates, schedules, time zone,
 * notifier addresses. Reads `raw` (the file after `${NAME}` substitution) loosely, so it runs even
 * when the schema found problems.
 */
export function crossCheck(raw: unknown, allowLocalWebhooks: boolean): PathProblem[] {
  const config = LooseConfigSchema.parse(raw ?? {});
  const problems: PathProblem[] = [];
  const groups = config.assetGroups;
  const notifierNames = Object.keys(config.notifiers);

  if (config.timezone !== undefined && !isTimeZone(config.timezone)) {
    problems.push({ path: ["timezone"], message: `"${config.timezone}" is not an IANA time zone such as Asia/Shanghai` });
  }

  for (const [name, notifier] of Object.entries(config.notifiers)) {
    if (notifier.url === undefined) continue;
    const message = webhookUrlProblem(notifier.url, allowLocalWebhooks) ?? (allowLocalWebhooks ? undefined : robotUrlProblem(notifier.type, notifier.url));
    if (message) problems.push({ path: ["notifiers", name, "url"], message });
  }

  const checkGroupName = (group: string, path: (string | number)[]): void => {
    if (!Object.hasOwn(groups, group)) problems.push({ path, message: `unknown asset group "${group}"${known(Object.keys(groups))}` });
  };

  for (const [name, group] of Object.entries(groups)) {
    for (const part of ["include", "exclude"] as const) {
      group[part].forEach((selector, i) => {
        if (selector.group !== undefined) checkGroupName(selector.group, ["assetGroups", name, part, i, "group"]);
      });
    }
  }
  const structure = groupStructure(groups);
  for (const cycle of structure.cycles) {
    problems.push({ path: ["assetGroups", cycle[0]!], message: `groups include each other: ${cycle.join(" -> ")}` });
  }
  // Only the deepest: the groups above it are too deep because of it.
  const deepest = structure.tooDeep.sort((a, b) => b.depth - a.depth)[0];
  if (deepest) {
    problems.push({ path: ["assetGroups", deepest.name], message: `groups nest ${deepest.depth} deep from here; at most ${MAX_GROUP_DEPTH} levels` });
  }

  /** Policies by their name in lower case: a policy's pages and state keys are files, on disks that may ignore case. */
  const seen = new Map<string, number>();
  /** Policies by the seven-field form of their schedule: one timer each (functions/index.ts). */
  const schedules = new Map<string, string[]>();
  config.policies.forEach((policy, i) => {
    const at = (...rest: (string | number)[]): (string | number)[] => ["policies", i, ...rest];
    if (policy.name !== undefined) {
      const first = seen.get(policy.name.toLowerCase());
      if (first === undefined) {
        seen.set(policy.name.toLowerCase(), i);
      } else if (config.policies[first]!.name === policy.name) {
        problems.push({ path: at("name"), message: `duplicate policy name "${policy.name}" (also policies[${first}])` });
      } else {
        problems.push({
          path: at("name"),
          message: `policy name "${policy.name}" differs from "${config.policies[first]!.name}" (policies[${first}]) only by case; give it another name, since its results page and records would be the same file on a disk that ignores case`,
        });
      }
      if (!TRIGGER_NAME.test(policy.name)) {
        problems.push({
          path: at("name"),
          message: "must be usable as an SCF trigger name: a letter first, then letters, digits, - or _, at most 60 characters",
        });
      }
    }
    const scopes = [policy.targets, policy.urls, policy.all].filter((v) => v !== undefined).length;
    if (scopes === 0) problems.push({ path: at(), message: "has no targets: give one of targets, urls or all: true" });
    if (scopes > 1) problems.push({ path: at(), message: "give only one of targets, urls or all: true" });
    if (policy.except !== undefined && policy.all === undefined) problems.push({ path: at("except"), message: "only applies with all: true" });
    if (policy.schedule !== undefined && policy.schedule.trim() !== "") {
      const cron = parseScfCron(policy.schedule);
      if (!cron.ok) for (const message of cron.problems) problems.push({ path: at("schedule"), message });
      else schedules.set(cron.cron.normalized, [...(schedules.get(cron.cron.normalized) ?? []), policy.name ?? `policies[${i}]`]);
    }
    if (policy.name?.startsWith(OWN_TRIGGER_PREFIX)) {
      problems.push({ path: at("name"), message: `must not start with "${OWN_TRIGGER_PREFIX}": timers named so are csip-scan's own` });
    }
    for (const [group, j] of stringsIn(policy.targets)) checkGroupName(group, at("targets", j));
    for (const [group, j] of stringsIn(policy.except)) checkGroupName(group, at("except", j));
    for (const [notifier, j] of stringsIn(policy.notify)) {
      if (!Object.hasOwn(config.notifiers, notifier)) {
        problems.push({ path: at("notify", j), message: `unknown notifier "${notifier}"${known(notifierNames)}` });
      }
    }
    if (policy.advanced !== undefined && (policy.mode ?? "standard") !== "advanced") {
      problems.push({ path: at("advanced"), message: "only applies with mode: advanced" });
    }
  });
  // The bucket's length as COS counts it, in the region the file names (the deploy checks the default
  // bucket, and this one where the file names no region, before any call).
  const bucketRegion = config.state.cos.region ?? config.region;
  if (config.state.cos.bucket !== undefined && bucketRegion !== undefined) {
    const message = cosBucketNameProblem(config.state.cos.bucket, bucketRegion);
    if (message) problems.push({ path: ["state", "cos", "bucket"], message });
  }
  // SCF refuses to make cmq triggers: a deploy would stop half-way, with some functions made.
  if (config.assetChange.cmq !== undefined) problems.push({ path: ["assetChange", "cmq"], message: CMQ_REFUSED });
  if (schedules.size > SCF_LIMITS.triggersPerType) {
    const list = [...schedules].map(([schedule, names]) => `"${schedule}" (${names.join(", ")})`).join("; ");
    problems.push({
      path: ["policies"],
      message: `${schedules.size} different schedules, but SCF allows ${SCF_LIMITS.triggersPerType} timers on one function (one timer per schedule): ${list}`,
    });
  }
  return problems;
}

/**
 * Why `assetChange.cmq` is refused. SCF's CreateTrigger lists the trigger types cos, cls, timer, ckafka
 * and http, and CMQ has moved to TDMQ: SCF refuses a cmq trigger, after the deploy has made functions
 * (https://cloud.tencent.com/document/api/583/18589).
 */
export const CMQ_REFUSED =
  "SCF no longer makes cmq triggers (CMQ moved to TDMQ; CreateTrigger lists cos, cls, timer, ckafka and http), so a deploy would stop half-way: deliver the change events through assetChange.eventBridge (an EventBridge rule on a bus) or assetChange.ckafka (a CKafka topic) instead";

/**
 * Settings that are valid but may fail on a real account, one row each: `validate` prints them as
 * warnings. None at present.
 */
const WARNINGS: readonly { path: (string | number)[]; applies(config: Config): boolean; message: string }[] = [];

/** The warnings of a valid policy file. */
export function configWarnings(config: Config): PathProblem[] {
  return WARNINGS.filter((w) => w.applies(config)).map(({ path, message }) => ({ path, message }));
}

/** Why a chat robot's URL cannot be its robot's: another host, a port, or a user name before the host. */
function robotUrlProblem(type: string | undefined, url: string): string | undefined {
  if (type === undefined || !Object.hasOwn(ROBOT_HOSTS, type)) return undefined;
  const hosts: readonly string[] = ROBOT_HOSTS[type as keyof typeof ROBOT_HOSTS];
  const parsed = new URL(url);
  if (parsed.protocol === "https:" && hosts.includes(parsed.hostname) && parsed.port === "" && parsed.username === "" && parsed.password === "") return undefined;
  return `a ${type} robot URL must be https:// on ${hosts.join(" or ")}, with no port and no user name`;
}

function known(names: string[]): string {
  return names.length > 0 ? ` (known: ${names.join(", ")})` : " (none are defined)";
}

/** How deep groups may nest (a group including a group including ...): deeper is a config error. */
export const MAX_GROUP_DEPTH = 32;

type Groups = Readonly<Record<string, AssetGroup | LooseGroup>>;

function childrenOf(groups: Groups, name: string): string[] {
  if (!Object.hasOwn(groups, name)) return [];
  const group = groups[name]!;
  return [...group.include, ...group.exclude].flatMap((s) => (s.group !== undefined && Object.hasOwn(groups, s.group) ? [s.group] : []));
}

/**
 * Each cycle once, as the list of group names that closes it (`a -> b -> a`), and the groups that nest
 * deeper than MAX_GROUP_DEPTH. Walks with a stack of its own, not recursion, so a chain of thousands of
 * groups is an error message and not a stack overflow.
 */
export function groupStructure(groups: Groups): { cycles: string[][]; tooDeep: { name: string; depth: number }[] } {
  const cycles: string[][] = [];
  const depth = new Map<string, number>();
  const onPath = new Set<string>();
  for (const root of Object.keys(groups)) {
    if (depth.has(root)) continue;
    const path: { name: string; next: string[] }[] = [{ name: root, next: childrenOf(groups, root) }];
    onPath.add(root);
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      const child = top.next.shift();
      if (child === undefined) {
        const below = childrenOf(groups, top.name).map((c) => depth.get(c) ?? 0);
        depth.set(top.name, 1 + Math.max(0, ...below));
        onPath.delete(top.name);
        path.pop();
      } else if (onPath.has(child)) {
        const names = path.map((p) => p.name);
        cycles.push([...names.slice(names.indexOf(child)), child]);
      } else if (!depth.has(child)) {
        onPath.add(child);
        path.push({ name: child, next: childrenOf(groups, child) });
      }
    }
  }
  const tooDeep = [...depth].filter(([, d]) => d > MAX_GROUP_DEPTH).map(([name, d]) => ({ name, depth: d }));
  return { cycles, tooDeep };
}
