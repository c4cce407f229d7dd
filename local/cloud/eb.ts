import { createHash } from "node:crypto";
import { EB_SERVICE_ROLE, resourceId, type AccountState, type EbRule, type EbTarget, type ScfFunction } from "./account.ts";
import { fail, int, isAnswer, ok, ordered, page, records, text, type Action, type ActionContext, type Answer, type Params } from "./action.ts";
import { beijingIso, beijingTime } from "./clock.ts";
import { SCF_LIMITS } from "./scf-rules.ts";
import { statusOf } from "./scf-state.ts";

/**
 * EventBridge (2021-04-16): rules and targets on the `default` event bus, the Tencent Cloud service bus
 * that receives CloudAudit events. Shapes follow ../shared/reference/eb-2021-04-16-{api,examples}.json and,
 * for GetEventBus/ListEventBuses, the SDK 4.1.313 models; codes follow tencentcloud-sdk-go eb/errors.go.
 */

/** The default bus's ID: stable for an account and region, in the `eb-xxxxxxxx` form (ASSUMPTIONS.md). */
export function defaultBusId(account: AccountState, region: string): string {
  const digest = createHash("sha256").update(`${account.appId}:${region}`).digest();
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return `eb-${[...digest.subarray(0, 8)].map((b) => alphabet[b % alphabet.length]).join("")}`;
}

function defaultBus(account: AccountState, region: string): Record<string, unknown> {
  return {
    EventBusId: defaultBusId(account, region),
    EventBusName: "default",
    Description: "Tencent Cloud service events (CloudAudit)",
    Type: "Cloud",
    AddTime: "2021-04-16T00:00:00+08:00",
    ModTime: "2021-04-16T00:00:00+08:00",
    PayMode: "",
    ConnectionBriefs: [],
    TargetBriefs: [],
  };
}

/** The bus the request names, which must be the region's default bus, or the error EventBridge answers. */
function busOf(params: Params, context: ActionContext): string | Answer {
  const id = text(params, "EventBusId");
  const expected = defaultBusId(context.account, context.region);
  return id === expected ? id : fail("ResourceNotFound.EventBus", `Event bus \`${id}\` does not exist in ${context.region}; the default bus is ${expected} (ListEventBuses).`);
}

function ruleOf(params: Params, context: ActionContext): EbRule | Answer {
  const bus = busOf(params, context);
  if (isAnswer(bus)) return bus;
  const id = text(params, "RuleId");
  const rule = context.account.rules.find((r) => r.Region === context.region && r.EventBusId === bus && r.RuleId === id);
  return rule ?? fail("ResourceNotFound.Rule", `Rule \`${id}\` does not exist on event bus ${bus}.`);
}

/** Letters (Chinese included), digits, _ and -; a letter first, a letter or digit last; 2-60 characters. */
const RULE_NAME = /^\p{L}[\p{L}0-9_-]{0,58}[\p{L}0-9]$/u;

function ruleFieldsProblem(params: Params): Answer | undefined {
  if (params.RuleName !== undefined && !RULE_NAME.test(text(params, "RuleName"))) {
    return fail("InvalidParameterValue.RuleName", `RuleName \`${text(params, "RuleName")}\` must be 2-60 letters, digits, _ and -, a letter first and a letter or digit last.`);
  }
  if (params.Description !== undefined && text(params, "Description").length > 200) {
    return fail("InvalidParameterValue.Description", "Description holds at most 200 characters.");
  }
  if (params.EventPattern !== undefined) {
    try {
      const pattern: unknown = JSON.parse(text(params, "EventPattern"));
      if (pattern === null || typeof pattern !== "object" || Array.isArray(pattern)) throw new Error("not an object");
    } catch {
      return fail("InvalidParameterValue.EventPattern", "EventPattern must be a JSON object (https://cloud.tencent.com/document/product/1359/56084).");
    }
  }
  return undefined;
}

const createRule: Action = (params, context) => {
  const bus = busOf(params, context);
  if (isAnswer(bus)) return bus;
  const problem = ruleFieldsProblem(params);
  if (problem) return problem;
  const name = text(params, "RuleName");
  if (context.account.rules.some((r) => r.Region === context.region && r.EventBusId === bus && r.RuleName === name)) {
    return fail("InvalidParameterValue.RuleName", `A rule named \`${name}\` already exists on event bus ${bus}.`);
  }
  const rule: EbRule = {
    Region: context.region,
    EventBusId: bus,
    RuleId: resourceId("rule"),
    RuleName: name,
    EventPattern: text(params, "EventPattern"),
    Enable: params.Enable === undefined ? true : params.Enable === true,
    Description: text(params, "Description"),
    AddTime: beijingIso(context.now),
    ModTime: beijingIso(context.now),
  };
  context.account.rules.push(rule);
  return ok({ RuleId: rule.RuleId });
};

const updateRule: Action = (params, context) => {
  const rule = ruleOf(params, context);
  if (isAnswer(rule)) return rule;
  const problem = ruleFieldsProblem(params);
  if (problem) return problem;
  const name = params.RuleName === undefined ? rule.RuleName : text(params, "RuleName");
  if (context.account.rules.some((r) => r !== rule && r.Region === rule.Region && r.EventBusId === rule.EventBusId && r.RuleName === name)) {
    return fail("InvalidParameterValue.RuleName", `A rule named \`${name}\` already exists on event bus ${rule.EventBusId}.`);
  }
  Object.assign(rule, {
    RuleName: name,
    ...(params.EventPattern === undefined ? {} : { EventPattern: text(params, "EventPattern") }),
    ...(params.Description === undefined ? {} : { Description: text(params, "Description") }),
    ...(params.Enable === undefined ? {} : { Enable: params.Enable === true }),
    ModTime: beijingIso(context.now),
  });
  return ok();
};

const targetsOf = (account: AccountState, rule: EbRule): EbTarget[] => account.targets.filter((t) => t.Region === rule.Region && t.RuleId === rule.RuleId);

const getRule: Action = (params, context) => {
  const rule = ruleOf(params, context);
  if (isAnswer(rule)) return rule;
  const { EventBusId, RuleId, RuleName, Enable, Description, EventPattern, AddTime, ModTime } = rule;
  return ok({ EventBusId, RuleId, RuleName, Status: "Active", Enable, Description, EventPattern, AddTime, ModTime });
};

const RULE_ORDER: Readonly<Record<string, (r: EbRule) => string>> = {
  created_at: (r) => r.AddTime,
  updated_at: (r) => r.ModTime,
  name: (r) => r.RuleName,
};

const listRules: Action = (params, context) => {
  const bus = busOf(params, context);
  if (isAnswer(bus)) return bus;
  const key = RULE_ORDER[text(params, "OrderBy") || "updated_at"];
  if (!key) return fail("InvalidParameterValue.OrderBy", `OrderBy must be one of ${Object.keys(RULE_ORDER).join(", ")}.`);
  const rules = context.account.rules.filter((r) => r.Region === context.region && r.EventBusId === bus);
  const { items, error } = page(ordered(rules, key, text(params, "Order") || "DESC"), params, 20, 100);
  if (error) return error;
  return ok({
    Rules: items.map((r) => {
      const targets = targetsOf(context.account, r);
      return {
        Status: "Active",
        ModTime: r.ModTime,
        Enable: r.Enable,
        Description: r.Description,
        RuleId: r.RuleId,
        AddTime: r.AddTime,
        EventBusId: r.EventBusId,
        RuleName: r.RuleName,
        Targets: targets.length > 0 ? targets.map((t) => ({ TargetId: t.TargetId, Type: t.Type })) : null,
        DeadLetterConfig: null,
      };
    }),
    TotalCount: rules.length,
  });
};

const deleteRule: Action = (params, context) => {
  const rule = ruleOf(params, context);
  if (isAnswer(rule)) return rule;
  if (targetsOf(context.account, rule).length > 0) return fail("ResourceInUse.Rule", `Rule \`${rule.RuleId}\` still has targets; delete them first.`);
  context.account.rules = context.account.rules.filter((r) => r !== rule);
  return ok();
};

const TARGET_TYPES = ["scf", "cls", "amp", "ckafka", "es"];
/** `qcs::scf:REGION:uin/UIN:namespace/NAMESPACE/function/NAME/QUALIFIER` (CreateTarget's TargetDescription document). */
const SCF_RESOURCE = /^qcs::scf:([a-z0-9-]+):uin\/(\d+):namespace\/([^/]+)\/function\/([^/]+)\/([^/]+)$/;
/** The qualifiers a stand-in function has: it publishes no versions and has no aliases (ASSUMPTIONS.md). */
const QUALIFIERS: readonly string[] = ["$LATEST"];
/** The SCF trigger a target makes on its function (ASSUMPTIONS.md: the type and name SCF shows are not documented). */
const TARGET_TRIGGER_TYPE = "eb";

/** The function an SCF target delivers to, with the qualifier it names, or the error CreateTarget answers. */
function scfTargetOf(description: Params, context: ActionContext): { f: ScfFunction; qualifier: string } | Answer {
  const resource = text(description, "ResourceDescription");
  const match = SCF_RESOURCE.exec(resource);
  if (!match) return fail("InvalidParameterValue.TargetDescription", `ResourceDescription \`${resource}\` is not qcs::scf:REGION:uin/UIN:namespace/NS/function/NAME/QUALIFIER.`);
  const [, region, uin, namespace, name, qualifier] = match;
  if (uin !== context.account.uin) return fail("InvalidParameterValue.TargetDescription", `ResourceDescription names uin ${uin}, not this account's ${context.account.uin}.`);
  if (!context.account.roles.some((r) => r.RoleName === EB_SERVICE_ROLE)) {
    return fail("ResourceNotFound.Role", `EventBridge's service role ${EB_SERVICE_ROLE} does not exist: activate EventBridge in its console, which creates it.`);
  }
  const f = context.account.functions.find((fn) => fn.Region === region && fn.Namespace === namespace && fn.FunctionName === name);
  if (!f) return fail("ResourceNotFound.Function", `Function \`${name}\` does not exist in namespace ${namespace} of ${region}.`);
  if (!QUALIFIERS.includes(qualifier!)) return fail("ResourceNotFound.Version", `Function \`${name}\` has no version or alias \`${qualifier}\`; it has ${QUALIFIERS.join(", ")}.`);
  if (statusOf(f, context.now) !== "Active") return fail("FailedOperation.CreateTrigger", `Function \`${name}\` is ${statusOf(f, context.now)}; its trigger can be made when it is Active.`);
  const made = f.Triggers.filter((t) => t.Type === TARGET_TRIGGER_TYPE).length;
  if (made >= SCF_LIMITS.triggersPerType) {
    return fail("LimitExceeded.Trigger", `Function \`${name}\` already has ${made} EventBridge triggers; a function holds at most ${SCF_LIMITS.triggersPerType} triggers of one type.`);
  }
  return { f, qualifier: qualifier! };
}

/**
 * CreateTarget: an `scf` target also makes the SCF trigger through which EventBridge invokes the function,
 * and needs EventBridge's service role, the function and its qualifier; its documented errors are
 * FailedOperation.CreateTrigger, ResourceNotFound.Role, ResourceNotFound.Version and LimitExceeded.Trigger.
 */
const createTarget: Action = (params, context) => {
  const rule = ruleOf(params, context);
  if (isAnswer(rule)) return rule;
  const type = text(params, "Type");
  if (!TARGET_TYPES.includes(type)) return fail("InvalidParameterValue.Type", `Target type \`${type}\` is not one of ${TARGET_TYPES.join(", ")}.`);
  const description = (params.TargetDescription ?? {}) as Params;
  const scf = type === "scf" ? scfTargetOf(description, context) : undefined;
  if (isAnswer(scf)) return scf;
  const target: EbTarget = {
    Region: rule.Region,
    EventBusId: rule.EventBusId,
    RuleId: rule.RuleId,
    TargetId: resourceId("target"),
    Type: type,
    TargetDescription: description,
    EnableBatchDelivery: params.EnableBatchDelivery === true,
    BatchTimeout: int(params, "BatchTimeout", 0),
    BatchEventCount: int(params, "BatchEventCount", 0),
    AddTime: beijingIso(context.now),
  };
  context.account.targets.push(target);
  scf?.f.Triggers.push({
    Type: TARGET_TRIGGER_TYPE,
    TriggerName: target.TargetId,
    TriggerDesc: JSON.stringify({ eventBusId: rule.EventBusId, ruleId: rule.RuleId }),
    Enable: 1,
    Qualifier: scf.qualifier,
    CustomArgument: "",
    Description: "",
    AddTime: beijingTime(context.now),
    ModTime: beijingTime(context.now),
  });
  return ok({ TargetId: target.TargetId });
};

function targetOf(params: Params, context: ActionContext): EbTarget | Answer {
  const rule = ruleOf(params, context);
  if (isAnswer(rule)) return rule;
  const id = text(params, "TargetId");
  const target = targetsOf(context.account, rule).find((t) => t.TargetId === id);
  return target ?? fail("ResourceNotFound.Target", `Target \`${id}\` does not exist on rule ${rule.RuleId}.`);
}

const listTargets: Action = (params, context) => {
  const rule = ruleOf(params, context);
  if (isAnswer(rule)) return rule;
  // Targets are never changed in place in a way that matters here, so both orders are by creation.
  if (!["", "created_at", "updated_at"].includes(text(params, "OrderBy"))) return fail("InvalidParameterValue.OrderBy", "OrderBy must be created_at or updated_at.");
  const targets = targetsOf(context.account, rule);
  const { items, error } = page(ordered(targets, (t) => t.AddTime, text(params, "Order") || "DESC"), params, 20, 100);
  if (error) return error;
  return ok({
    TotalCount: targets.length,
    Targets: items.map((t) => ({
      Type: t.Type,
      EventBusId: t.EventBusId,
      TargetId: t.TargetId,
      TargetDescription: t.TargetDescription,
      RuleId: t.RuleId,
      EnableBatchDelivery: t.EnableBatchDelivery,
      BatchTimeout: t.BatchTimeout,
      BatchEventCount: t.BatchEventCount,
    })),
  });
};

/** DeleteTarget, and the SCF trigger the target made goes with it. */
const deleteTarget: Action = (params, context) => {
  const target = targetOf(params, context);
  if (isAnswer(target)) return target;
  context.account.targets = context.account.targets.filter((t) => t !== target);
  for (const f of context.account.functions) f.Triggers = f.Triggers.filter((t) => !(t.Type === TARGET_TRIGGER_TYPE && t.TriggerName === target.TargetId));
  return ok();
};

const updateTarget: Action = (params, context) => {
  const target = targetOf(params, context);
  if (isAnswer(target)) return target;
  Object.assign(target, {
    ...(params.EnableBatchDelivery === undefined ? {} : { EnableBatchDelivery: params.EnableBatchDelivery === true }),
    ...(params.BatchTimeout === undefined ? {} : { BatchTimeout: int(params, "BatchTimeout", 0) }),
    ...(params.BatchEventCount === undefined ? {} : { BatchEventCount: int(params, "BatchEventCount", 0) }),
  });
  return ok();
};

const getEventBus: Action = (params, context) => {
  const bus = busOf(params, context);
  if (isAnswer(bus)) return bus;
  const { EventBusId, EventBusName, Description, Type, AddTime, ModTime, PayMode } = defaultBus(context.account, context.region);
  return ok({ EventBusId, EventBusName, Description, Type, AddTime, ModTime, PayMode, ClsTopicId: "", ClsLogsetId: "", EnableStore: false, SaveDays: 0, LogTopicId: "", LinkMode: "" });
};

/** ListEventBuses' Filters (its parameter document); TagKey matches nothing: the default bus has no tags. */
const BUS_FILTERS: Readonly<Record<string, (bus: Record<string, unknown>) => string>> = {
  EventBusName: (bus) => String(bus.EventBusName),
  EventBusId: (bus) => String(bus.EventBusId),
  Type: (bus) => String(bus.Type),
  TagKey: () => "\u0000",
};

const listEventBuses: Action = (params, context) => {
  const buses = [defaultBus(context.account, context.region)];
  const filters = records(params, "Filters");
  if (filters.length > 10) return fail("InvalidParameterValue.Filters", "At most 10 Filters.");
  let matching = buses;
  for (const filter of filters) {
    const field = BUS_FILTERS[text(filter, "Name")];
    const values = (filter.Values as string[] | undefined) ?? [];
    if (!field || values.length > 5) return fail("InvalidParameterValue.Filters", `Filters name EventBusName, EventBusId, Type or TagKey, with at most 5 values.`);
    matching = matching.filter((bus) => values.includes(field(bus)));
  }
  const { items, error } = page(matching, params, 20, 100);
  return error ?? ok({ EventBuses: items, TotalCount: matching.length });
};

export const EB_ACTIONS: Readonly<Record<string, Action>> = {
  CreateRule: createRule,
  UpdateRule: updateRule,
  GetRule: getRule,
  ListRules: listRules,
  DeleteRule: deleteRule,
  CreateTarget: createTarget,
  ListTargets: listTargets,
  DeleteTarget: deleteTarget,
  UpdateTarget: updateTarget,
  GetEventBus: getEventBus,
  ListEventBuses: listEventBuses,
};
