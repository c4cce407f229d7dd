import { webhookUrlProblem } from "../net/address-policy.ts";
import { isTimeZone, parseScfCron } from "./scf-cron.ts";
import { TRIGGER_NAME, type AssetGroup, type Config, type Selector } from "./schema.ts";

export interface PathProblem {
  path: (string | number)[];
  message: string;
}

/** Checks beyond each value's type: names that must exist, cycles, duplicates, schedules, time zone. */
export function crossCheck(config: Config, allowLocalWebhooks: boolean): PathProblem[] {
  const problems: PathProblem[] = [];
  const groups = config.assetGroups;
  const notifierNames = Object.keys(config.notifiers);

  if (!isTimeZone(config.timezone)) {
    problems.push({ path: ["timezone"], message: `"${config.timezone}" is not an IANA time zone such as Asia/Shanghai` });
  }

  for (const [name, notifier] of Object.entries(config.notifiers)) {
    const message = webhookUrlProblem(notifier.url, allowLocalWebhooks);
    if (message) problems.push({ path: ["notifiers", name, "url"], message });
  }

  const checkGroupName = (group: string, path: (string | number)[]): void => {
    if (!(group in groups)) problems.push({ path, message: `unknown asset group "${group}"${known(Object.keys(groups))}` });
  };

  for (const [name, group] of Object.entries(groups)) {
    const selectors = (part: "include" | "exclude"): [Selector, number][] => group[part].map((s, i) => [s, i]);
    for (const part of ["include", "exclude"] as const) {
      for (const [selector, i] of selectors(part)) {
        if (selector.group !== undefined) checkGroupName(selector.group, ["assetGroups", name, part, i, "group"]);
      }
    }
  }
  for (const cycle of findCycles(groups)) {
    problems.push({ path: ["assetGroups", cycle[0]!], message: `groups include each other: ${cycle.join(" -> ")}` });
  }

  const seen = new Map<string, number>();
  config.policies.forEach((policy, i) => {
    const at = (...rest: (string | number)[]): (string | number)[] => ["policies", i, ...rest];
    const first = seen.get(policy.name);
    if (first !== undefined) {
      problems.push({ path: at("name"), message: `duplicate policy name "${policy.name}" (also policies[${first}])` });
    } else {
      seen.set(policy.name, i);
    }
    const scopes = [policy.targets, policy.urls, policy.all].filter((v) => v !== undefined).length;
    if (scopes === 0) problems.push({ path: at(), message: "has no targets: give one of targets, urls or all: true" });
    if (scopes > 1) problems.push({ path: at(), message: "give only one of targets, urls or all: true" });
    if (policy.except && !policy.all) problems.push({ path: at("except"), message: "only applies with all: true" });
    if (!TRIGGER_NAME.test(policy.name)) {
      problems.push({
        path: at("name"),
        message: "must be usable as an SCF trigger name: a letter first, then letters, digits, - or _, at most 60 characters",
      });
    }
    const cron = parseScfCron(policy.schedule);
    if (!cron.ok) for (const message of cron.problems) problems.push({ path: at("schedule"), message });
    policy.targets?.forEach((group, j) => checkGroupName(group, at("targets", j)));
    policy.except?.forEach((group, j) => checkGroupName(group, at("except", j)));
    policy.notify.forEach((notifier, j) => {
      if (!notifierNames.includes(notifier)) {
        problems.push({ path: at("notify", j), message: `unknown notifier "${notifier}"${known(notifierNames)}` });
      }
    });
    if (policy.advanced && policy.mode !== "advanced") {
      problems.push({ path: at("advanced"), message: 'only applies with mode: advanced' });
    }
  });
  return problems;
}

function known(names: string[]): string {
  return names.length > 0 ? ` (known: ${names.join(", ")})` : " (none are defined)";
}

/** Each cycle once, as the list of group names that closes it (`a -> b -> a`). */
export function findCycles(groups: Record<string, AssetGroup>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const visit = (name: string, stack: string[]): void => {
    const at = stack.indexOf(name);
    if (at >= 0) {
      cycles.push([...stack.slice(at), name]);
      return;
    }
    if (done.has(name) || !(name in groups)) return;
    const group = groups[name]!;
    for (const selector of [...group.include, ...group.exclude]) {
      if (selector.group !== undefined) visit(selector.group, [...stack, name]);
    }
    done.add(name);
  };
  for (const name of Object.keys(groups)) visit(name, []);
  return cycles;
}
