import type { ScfFunction, ScfTrigger } from "./account.ts";
import { fail, isAnswer, ok, ordered, page, records, text, type Action, type ActionContext, type Answer, type Params } from "./action.ts";
import { beijingTime } from "./clock.ts";
import { ENABLE_VALUES, SCF_LIMITS, timerDesc, TRIGGER_KINDS, type TriggerKind } from "./scf-rules.ts";
import { findFunction, statusOf, triggerInfoView, triggerView } from "./scf-state.ts";

/**
 * SCF triggers (2018-04-16): CreateTrigger, DeleteTrigger, ListTriggers, UpdateTrigger, UpdateTriggerStatus.
 * A trigger is known by its type, name and qualifier (the version or alias it points to, `$LATEST` when a
 * request names none, as each of these actions documents) within its function. The per-type rules (names,
 * how TriggerDesc is kept, which types CreateTrigger takes) are the TRIGGER_KINDS table.
 */

function kindOf(type: string, action: string): TriggerKind | Answer {
  const kind = Object.hasOwn(TRIGGER_KINDS, type) ? TRIGGER_KINDS[type] : undefined;
  return kind ?? fail("InvalidParameterValue.Type", `${action}: trigger type \`${type}\` is not one of ${Object.keys(TRIGGER_KINDS).join(", ")}.`);
}

function enableOf(params: Params, fallback: number): number | Answer {
  if (params.Enable === undefined) return fallback;
  const value = ENABLE_VALUES[text(params, "Enable")];
  return value ?? fail("InvalidParameterValue.Enable", `Enable must be OPEN or CLOSE (was \`${text(params, "Enable")}\`).`);
}

/** The qualifier a request names: "默认为 $LATEST" in CreateTrigger, DeleteTrigger and UpdateTrigger's documents. */
const qualifierOf = (params: Params): string => text(params, "Qualifier") || "$LATEST";

function triggerOf(f: ScfFunction, params: Params): ScfTrigger | Answer {
  const type = text(params, "Type");
  const name = text(params, "TriggerName");
  const qualifier = qualifierOf(params);
  const found = f.Triggers.find((t) => t.Type === type && t.TriggerName === name && t.Qualifier === qualifier);
  return found ?? fail("ResourceNotFound.Trigger", `Function \`${f.FunctionName}\` has no ${type} trigger named \`${name}\` on qualifier ${qualifier}.`);
}

const createTrigger: Action = (params, context: ActionContext) => {
  const f = findFunction(params, context);
  if (isAnswer(f)) return f;
  const type = text(params, "Type");
  const kind = kindOf(type, "CreateTrigger");
  if (isAnswer(kind)) return kind;
  if (!kind.creatable) {
    const types = Object.entries(TRIGGER_KINDS).flatMap(([t, k]) => (k.creatable ? [t] : []));
    return fail("InvalidParameterValue.Type", `CreateTrigger: trigger type \`${type}\` is not one of ${types.join(", ")}.`);
  }
  if (statusOf(f, context.now) !== "Active") {
    return fail("FailedOperation.CreateTrigger", `Function \`${f.FunctionName}\` is ${statusOf(f, context.now)}; triggers can be added when it is Active.`);
  }
  const name = text(params, "TriggerName");
  const qualifier = qualifierOf(params);
  if (!kind.name.pattern.test(name)) {
    return fail("InvalidParameterValue.TriggerName", `${type} trigger name \`${name}\` is invalid: ${kind.name.rule}.`);
  }
  if (f.Triggers.some((t) => t.Type === type && t.TriggerName === name && t.Qualifier === qualifier)) {
    return fail("ResourceInUse.Trigger", `Function \`${f.FunctionName}\` already has a ${type} trigger named \`${name}\` on qualifier ${qualifier}.`);
  }
  if (kind.perQualifier !== undefined && f.Triggers.filter((t) => t.Type === type && t.Qualifier === qualifier).length >= kind.perQualifier) {
    return fail("ResourceInUse.Trigger", `Function \`${f.FunctionName}\` already has a ${type} trigger on qualifier ${qualifier}; it holds ${kind.perQualifier} per version or alias.`);
  }
  const sameType = f.Triggers.filter((t) => t.Type === type).length;
  if (sameType >= SCF_LIMITS.triggersPerType) {
    return fail(
      "LimitExceeded.Trigger",
      `Function \`${f.FunctionName}\` already has ${sameType} ${type} triggers; a function holds at most ${SCF_LIMITS.triggersPerType} triggers of one type.`,
    );
  }
  if (params.CustomArgument !== undefined && !kind.customArgument) {
    return fail("InvalidParameterValue.CustomArgument", "CustomArgument is only for timer triggers.");
  }
  const desc = kind.storedDesc(text(params, "TriggerDesc"), name, { appId: context.account.appId, region: f.Region });
  if (typeof desc !== "string") return fail(desc.code, desc.message);
  const enable = enableOf(params, 1);
  if (isAnswer(enable)) return enable;
  const trigger: ScfTrigger = {
    Type: type,
    TriggerName: name,
    TriggerDesc: desc,
    Enable: enable,
    Qualifier: qualifier,
    CustomArgument: text(params, "CustomArgument"),
    Description: text(params, "Description"),
    AddTime: beijingTime(context.now),
    ModTime: beijingTime(context.now),
  };
  f.Triggers.push(trigger);
  return ok({ TriggerInfo: triggerView(f, trigger, context.account.uin) });
};

const deleteTrigger: Action = (params, context) => {
  const f = findFunction(params, context);
  if (isAnswer(f)) return f;
  const trigger = triggerOf(f, params);
  if (isAnswer(trigger)) return trigger;
  f.Triggers = f.Triggers.filter((t) => t !== trigger);
  return ok();
};

/** ListTriggers' Filters: exact matches on these fields (its parameter document). */
const TRIGGER_FILTERS: Readonly<Record<string, (t: ScfTrigger) => string>> = {
  Qualifier: (t) => t.Qualifier,
  TriggerName: (t) => t.TriggerName,
  Description: (t) => t.Description,
};

const TRIGGER_ORDER: Readonly<Record<string, (t: ScfTrigger) => string>> = {
  add_time: (t) => t.AddTime,
  mod_time: (t) => t.ModTime,
};

const listTriggers: Action = (params, context) => {
  const f = findFunction(params, context);
  if (isAnswer(f)) return f;
  const tests: ((t: ScfTrigger) => boolean)[] = [];
  for (const filter of records(params, "Filters")) {
    const field = TRIGGER_FILTERS[text(filter, "Name")];
    if (!field) return fail("InvalidParameterValue.Filters", `ListTriggers filters on ${Object.keys(TRIGGER_FILTERS).join(", ")}, not \`${text(filter, "Name")}\`.`);
    const values = (filter.Values as string[] | undefined) ?? [];
    tests.push((t) => values.includes(field(t)));
  }
  const key = TRIGGER_ORDER[text(params, "OrderBy") || "mod_time"];
  if (!key) return fail("InvalidParameterValue.OrderBy", "OrderBy must be add_time or mod_time.");
  const order = text(params, "Order") || "DESC";
  if (!["ASC", "DESC"].includes(order)) return fail("InvalidParameterValue.Order", "Order must be ASC or DESC.");
  const matching = f.Triggers.filter((t) => tests.every((test) => test(t)));
  const { items, error } = page(ordered(matching, key, order), params, 20, 100);
  if (error) return error;
  return ok({ TotalCount: matching.length, Triggers: items.map((t) => triggerInfoView(f, t, context.account.uin)) });
};

const updateTrigger: Action = (params, context) => {
  const f = findFunction(params, context);
  if (isAnswer(f)) return f;
  const kind = kindOf(text(params, "Type"), "UpdateTrigger");
  if (isAnswer(kind)) return kind;
  if (!kind.updatable) return fail("InvalidParameterValue.Type", "UpdateTrigger supports timer, ckafka and http triggers only.");
  const trigger = triggerOf(f, params);
  if (isAnswer(trigger)) return trigger;
  const enable = enableOf(params, trigger.Enable);
  if (isAnswer(enable)) return enable;
  if (params.CustomArgument !== undefined && !kind.customArgument) return fail("InvalidParameterValue.CustomArgument", "CustomArgument is only for timer triggers.");
  let desc = trigger.TriggerDesc;
  if (params.TriggerDesc !== undefined) {
    // A timer takes a new cron; a function URL is checked again and keeps its URL; CKafka merges the fields
    // sent (Retry, MaxMsgNum, TimeOut) into what it has.
    const sent = text(params, "TriggerDesc");
    const next =
      trigger.Type === "timer"
        ? timerDesc(sent)
        : trigger.Type === "http"
          ? kind.storedDesc(sent, trigger.TriggerName, { appId: context.account.appId, region: f.Region, current: trigger.TriggerDesc })
          : mergedDesc(trigger.TriggerDesc, sent);
    if (typeof next !== "string") return fail(next.code, next.message);
    desc = next;
  }
  Object.assign(trigger, {
    Enable: enable,
    TriggerDesc: desc,
    ...(params.Description === undefined ? {} : { Description: text(params, "Description") }),
    ...(params.CustomArgument === undefined ? {} : { CustomArgument: text(params, "CustomArgument") }),
    ModTime: beijingTime(context.now),
  });
  return ok();
};

function mergedDesc(current: string, sent: string): string | { code: string; message: string } {
  try {
    return JSON.stringify({ ...(JSON.parse(current) as object), ...(JSON.parse(sent) as object) });
  } catch {
    return { code: "InvalidParameterValue.TriggerDesc", message: "TriggerDesc must be JSON for this trigger type." };
  }
}

const updateTriggerStatus: Action = (params, context) => {
  const f = findFunction(params, context);
  if (isAnswer(f)) return f;
  const kind = kindOf(text(params, "Type"), "UpdateTriggerStatus");
  if (isAnswer(kind)) return kind;
  if (!kind.statusUpdatable) return fail("InvalidParameterValue.Type", "UpdateTriggerStatus supports timer, cos and ckafka triggers only.");
  const trigger = triggerOf(f, params);
  if (isAnswer(trigger)) return trigger;
  const enable = enableOf(params, trigger.Enable);
  if (isAnswer(enable)) return enable;
  Object.assign(trigger, { Enable: enable, ModTime: beijingTime(context.now) });
  return ok();
};

export const TRIGGER_ACTIONS: Readonly<Record<string, Action>> = {
  CreateTrigger: createTrigger,
  DeleteTrigger: deleteTrigger,
  ListTriggers: listTriggers,
  UpdateTrigger: updateTrigger,
  UpdateTriggerStatus: updateTriggerStatus,
};
