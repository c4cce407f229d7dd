import type { AccountState, ScfFunction, ScfTrigger } from "./account.ts";
import { fail, text, type ActionContext, type Answer, type Params } from "./action.ts";
import { NAMESPACES } from "./scf-rules.ts";
import { tagKey, tagsOf } from "./tag.ts";

/**
 * How SCF finds and shows its functions and triggers, shared by the function and trigger actions: the
 * function a request names, its status, and the answer shapes of the reference (GetFunctionResponse,
 * Trigger, TriggerInfo).
 */

/** Creating or Updating until the change settles, Active after (https://cloud.tencent.com/document/product/583/115197). */
export function statusOf(f: ScfFunction, now: number): string {
  return now < f.BusyUntil ? f.BusyStatus : "Active";
}

export const functionTagKey = (f: ScfFunction): string => tagKey("scf", f.Region, `lam/${f.FunctionId}`);

/** The function the request names, in its region and namespace, or the error SCF answers. */
export function findFunction(params: Params, context: ActionContext): ScfFunction | Answer {
  const namespace = text(params, "Namespace") || "default";
  if (!NAMESPACES.has(namespace)) return fail("ResourceNotFound.Namespace", `Namespace \`${namespace}\` does not exist.`);
  const name = text(params, "FunctionName");
  const found = context.account.functions.find((f) => f.Region === context.region && f.Namespace === namespace && f.FunctionName === name);
  return found ?? fail("ResourceNotFound.Function", `Function \`${name}\` does not exist in namespace ${namespace} of ${context.region}.`);
}

export const tagList = (account: AccountState, f: ScfFunction): { Key: string; Value: string }[] =>
  Object.entries(tagsOf(account, functionTagKey(f))).map(([Key, Value]) => ({ Key, Value }));

/** GetFunction's answer: every field of the reference's GetFunctionResponse SCF fills for an event function. */
export function functionView(f: ScfFunction, account: AccountState, now: number): Record<string, unknown> {
  return {
    ModTime: f.ModTime,
    CodeInfo: "",
    Description: f.Description,
    Triggers: f.Triggers.map((t) => triggerView(f, t, account.uin)),
    Handler: f.Handler,
    CodeSize: f.CodeSize,
    Timeout: f.Timeout,
    FunctionVersion: "$LATEST",
    MemorySize: f.MemorySize,
    Runtime: f.Runtime,
    FunctionName: f.FunctionName,
    VpcConfig: f.VpcConfig,
    UseGpu: "FALSE",
    Environment: { Variables: f.Environment },
    CodeResult: "success",
    CodeError: "",
    ErrNo: 0,
    Namespace: f.Namespace,
    Role: f.Role,
    InstallDependency: f.InstallDependency,
    Status: statusOf(f, now),
    StatusDesc: "",
    ClsLogsetId: "",
    ClsTopicId: "",
    FunctionId: f.FunctionId,
    Tags: tagList(account, f),
    EipConfig: { EipFixed: "FALSE", Eips: [] },
    AccessInfo: { Host: "", Vip: "" },
    Type: f.Type,
    L5Enable: "FALSE",
    Layers: [],
    DeadLetterConfig: { Type: "", Name: "", FilterType: "" },
    AddTime: f.AddTime,
    PublicNetConfig: { PublicNetStatus: "ENABLE", EipConfig: { EipStatus: "DISABLE", EipAddress: [] } },
    OnsEnable: "FALSE",
    AvailableStatus: "Available",
    Qualifier: "$LATEST",
    InitTimeout: 65,
    StatusReasons: [],
    AsyncRunEnable: "FALSE",
    TraceEnable: "FALSE",
    DnsCache: "FALSE",
    IntranetConfig: { IpFixed: "DISABLE", IpAddress: [] },
  };
}


/** A trigger as GetFunction lists it and CreateTrigger answers it (the reference's Trigger). */
export function triggerView(f: ScfFunction, t: ScfTrigger, uin: string): Record<string, unknown> {
  return {
    ModTime: t.ModTime,
    Type: t.Type,
    TriggerDesc: t.TriggerDesc,
    TriggerName: t.TriggerName,
    AddTime: t.AddTime,
    Enable: t.Enable,
    CustomArgument: t.CustomArgument,
    AvailableStatus: "Available",
    ResourceId: `qcs::scf:${f.Region}:uin/${uin}:namespace/${f.Namespace}/function/${f.FunctionName}/${t.Type}/${t.TriggerName}`,
    BindStatus: "on",
    TriggerAttribute: "single",
    Qualifier: t.Qualifier,
    Description: t.Description,
  };
}

/** A trigger as ListTriggers lists it (the reference's TriggerInfo). */
export function triggerInfoView(f: ScfFunction, t: ScfTrigger, uin: string): Record<string, unknown> {
  const { Enable, Qualifier, TriggerName, Type, TriggerDesc, AvailableStatus, CustomArgument, AddTime, ModTime, ResourceId, BindStatus, TriggerAttribute, Description } =
    triggerView(f, t, uin);
  return { Enable, Qualifier, TriggerName, Type, TriggerDesc, AvailableStatus, CustomArgument, AddTime, ModTime, ResourceId, BindStatus, TriggerAttribute, Description, BoundResources: "" };
}
