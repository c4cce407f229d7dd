import { resourceId, type ScfFunction } from "./account.ts";
import { fail, int, isAnswer, ok, ordered, page, records, text, type Action, type ActionContext, type Answer, type Params } from "./action.ts";
import { beijingTime } from "./clock.ts";
import { objectOf } from "./cos.ts";
import {
  descriptionViolation,
  environmentViolation,
  functionNameViolation,
  handlerViolation,
  memoryViolation,
  NAMESPACES,
  runtimeViolation,
  SCF_LIMITS,
  timeoutViolation,
  type Violation,
} from "./scf-rules.ts";
import { findFunction, functionTagKey, functionView, statusOf, tagList } from "./scf-state.ts";
import { setTags, tagsOf } from "./tag.ts";

/**
 * SCF functions (2018-04-16): create, read, list, update code and configuration, delete. Answers follow the
 * reference's GetFunctionResponse / Function shapes and the official examples; the rules are scf-rules.ts.
 */

const asAnswer = (v: Violation): Answer => fail(v.code, v.message);

function environmentOf(params: Params): { Key: string; Value: string }[] {
  const environment = params.Environment as Params | undefined;
  return environment ? records(environment, "Variables").map((v) => ({ Key: text(v, "Key"), Value: text(v, "Value") })) : [];
}

/**
 * Where the code comes from: a COS object that exists (`CosBucketName` is the bucket without the AppId, the
 * object name starts with `/`), or a base64 zip. The answer is the location and its size.
 */
function codeOf(code: Params, context: ActionContext): { location: string; size: number } | Answer {
  const bucketName = text(code, "CosBucketName");
  const objectName = text(code, "CosObjectName");
  const zip = text(code, "ZipFile");
  if (bucketName && objectName) {
    const bucket = bucketName.endsWith(`-${context.account.appId}`) ? bucketName : `${bucketName}-${context.account.appId}`;
    const region = text(code, "CosBucketRegion") || context.region;
    const key = objectName.replace(/^\//, "");
    const object = objectOf(context.account, bucket, region, key);
    if (!object) return fail("ResourceNotFound.Cos", `The code object \`${objectName}\` is not in bucket ${bucket} (${region}).`);
    return { location: `${bucket}/${key}`, size: object.Size };
  }
  if (zip) {
    const bytes = Buffer.from(zip, "base64");
    if (bytes.length > SCF_LIMITS.zipFileBytes) return fail("InvalidParameterValue.ZipFile", "ZipFile is larger than 50 MB; upload the code to COS instead.");
    if (bytes.subarray(0, 2).toString("latin1") !== "PK") return fail("InvalidParameterValue.ZipFile", "ZipFile is not a base64 zip file.");
    return { location: "ZipFile", size: bytes.length };
  }
  return fail("InvalidParameterValue.Code", "Code needs CosBucketName and CosObjectName, or ZipFile.");
}

/** The first broken rule among the configuration values the request sets. */
function configurationViolation(params: Params): Violation | undefined {
  const checks: (Violation | undefined)[] = [
    params.Handler === undefined ? undefined : handlerViolation(text(params, "Handler")),
    params.MemorySize === undefined ? undefined : memoryViolation(int(params, "MemorySize", 0)),
    params.Timeout === undefined ? undefined : timeoutViolation(int(params, "Timeout", 0)),
    params.Description === undefined ? undefined : descriptionViolation(text(params, "Description")),
    params.Environment === undefined ? undefined : environmentViolation(environmentOf(params)),
  ];
  return checks.find(Boolean);
}

const createFunction: Action = (params, context) => {
  const { account, now, region } = context;
  const namespace = text(params, "Namespace") || "default";
  const name = text(params, "FunctionName");
  const runtime = text(params, "Runtime") || "Python2.7";
  const violation = functionNameViolation(name) ?? runtimeViolation(runtime) ?? configurationViolation(params);
  if (violation) return asAnswer(violation);
  if (!NAMESPACES.has(namespace)) return fail("ResourceNotFound.Namespace", `Namespace \`${namespace}\` does not exist.`);
  if (account.functions.some((f) => f.Region === region && f.Namespace === namespace && f.FunctionName === name)) {
    return fail("ResourceInUse.Function", `Function \`${name}\` already exists in namespace ${namespace}.`);
  }
  const code = codeOf((params.Code ?? {}) as Params, context);
  if (isAnswer(code)) return code;
  const vpc = (params.VpcConfig ?? {}) as Params;
  const f: ScfFunction = {
    Region: region,
    Namespace: namespace,
    FunctionName: name,
    FunctionId: resourceId("lam"),
    Runtime: runtime,
    Handler: text(params, "Handler") || "index.main_handler",
    Description: text(params, "Description"),
    MemorySize: int(params, "MemorySize", 128),
    Timeout: int(params, "Timeout", 3),
    Role: text(params, "Role"),
    Type: text(params, "Type") || "Event",
    InstallDependency: text(params, "InstallDependency") || "FALSE",
    Environment: environmentOf(params),
    VpcConfig: { VpcId: text(vpc, "VpcId"), SubnetId: text(vpc, "SubnetId") },
    CodeLocation: code.location,
    CodeSize: code.size,
    AddTime: beijingTime(now),
    ModTime: beijingTime(now),
    BusyStatus: "Creating",
    BusyUntil: now + context.settleMs,
    Triggers: [],
  };
  account.functions.push(f);
  const tags = records(params, "Tags");
  if (tags.length > 0) setTags(account, functionTagKey(f), Object.fromEntries(tags.map((t) => [text(t, "Key"), text(t, "Value")])));
  return ok();
};

/** SCF refuses to change a function that is still Creating or Updating. */
function busy(f: ScfFunction, now: number, code: string): Answer | undefined {
  const status = statusOf(f, now);
  return status === "Active" ? undefined : fail(code, `Function \`${f.FunctionName}\` is ${status}; try again when it is Active.`);
}

const updateFunctionCode: Action = (params, context) => {
  const f = findFunction(params, context);
  if (isAnswer(f)) return f;
  const refused = busy(f, context.now, "FailedOperation.UpdateFunctionCode");
  if (refused) return refused;
  const violation = params.Handler === undefined ? undefined : handlerViolation(text(params, "Handler"));
  if (violation) return asAnswer(violation);
  const code = codeOf(params.Code ? (params.Code as Params) : params, context);
  if (isAnswer(code)) return code;
  Object.assign(f, {
    Handler: text(params, "Handler") || f.Handler,
    CodeLocation: code.location,
    CodeSize: code.size,
    ModTime: beijingTime(context.now),
    BusyStatus: "Updating",
    BusyUntil: context.now + context.settleMs,
  });
  return ok();
};

const updateFunctionConfiguration: Action = (params, context) => {
  const f = findFunction(params, context);
  if (isAnswer(f)) return f;
  const refused = busy(f, context.now, "FailedOperation.UpdateFunctionConfiguration");
  if (refused) return refused;
  const runtime = text(params, "Runtime");
  if (runtime && runtime !== f.Runtime) {
    return fail("InvalidParameterValue.Runtime", `Runtime cannot be changed after the function is created (it is ${f.Runtime}, the request says ${runtime}).`);
  }
  const violation = configurationViolation(params);
  if (violation) return asAnswer(violation);
  const vpc = params.VpcConfig as Params | undefined;
  Object.assign(f, {
    ...(params.Description === undefined ? {} : { Description: text(params, "Description") }),
    ...(params.MemorySize === undefined ? {} : { MemorySize: int(params, "MemorySize", f.MemorySize) }),
    ...(params.Timeout === undefined ? {} : { Timeout: int(params, "Timeout", f.Timeout) }),
    ...(params.Role === undefined ? {} : { Role: text(params, "Role") }),
    ...(params.Environment === undefined ? {} : { Environment: environmentOf(params) }),
    ...(vpc ? { VpcConfig: { VpcId: text(vpc, "VpcId"), SubnetId: text(vpc, "SubnetId") } } : {}),
    ModTime: beijingTime(context.now),
    BusyStatus: "Updating",
    BusyUntil: context.now + context.settleMs,
  });
  return ok();
};

const deleteFunction: Action = (params, context) => {
  const f = findFunction(params, context);
  if (isAnswer(f)) return f;
  const { account } = context;
  account.functions = account.functions.filter((other) => other !== f);
  setTags(account, functionTagKey(f), {});
  return ok();
};

const getFunction: Action = (params, context) => {
  const f = findFunction(params, context);
  return isAnswer(f) ? f : ok(functionView(f, context.account, context.now));
};

/** What ListFunctions' Filters can name (reference Filter and ListFunctionsRequest.Filters); `tag-KEY` besides. */
const FUNCTION_FILTERS: Readonly<Record<string, (f: ScfFunction, now: number) => string>> = {
  Status: (f, now) => statusOf(f, now),
  Runtime: (f) => f.Runtime,
  Type: (f) => f.Type,
  FunctionType: (f) => f.Type,
  Role: (f) => f.Role,
  VpcId: (f) => f.VpcConfig.VpcId,
  SubnetId: (f) => f.VpcConfig.SubnetId,
  AsyncRunEnable: () => "FALSE",
  TraceEnable: () => "FALSE",
  PublicNetStatus: () => "ENABLE",
};

const LIST_ORDER: Readonly<Record<string, (f: ScfFunction) => string>> = {
  AddTime: (f) => f.AddTime,
  ModTime: (f) => f.ModTime,
  FunctionName: (f) => f.FunctionName,
};

const listFunctions: Action = (params, context) => {
  const { account, now, region } = context;
  const namespace = text(params, "Namespace") || "default";
  const filters = records(params, "Filters");
  if (filters.length > 10) return fail("InvalidParameterValue.Filters", "At most 10 Filters.");
  const tests: ((f: ScfFunction) => boolean)[] = [];
  for (const filter of filters) {
    const name = text(filter, "Name");
    const values = (filter.Values as string[] | undefined) ?? [];
    const tag = /^tag-(.+)$/.exec(name)?.[1];
    const field = FUNCTION_FILTERS[name];
    if (tag !== undefined) tests.push((f) => values.includes(tagsOf(account, functionTagKey(f))[tag] ?? "\u0000"));
    else if (field) tests.push((f) => values.includes(field(f, now)));
    else return fail("InvalidParameterValue.Filters", `Filter \`${name}\` is not one SCF knows: tag-KEY, ${Object.keys(FUNCTION_FILTERS).join(", ")}.`);
  }
  const orderBy = text(params, "Orderby") || "ModTime";
  const key = LIST_ORDER[orderBy];
  if (!key) return fail("InvalidParameterValue.Orderby", `Orderby must be one of ${Object.keys(LIST_ORDER).join(", ")}.`);
  const search = text(params, "SearchKey").toLowerCase();
  const description = text(params, "Description").toLowerCase();
  const matching = account.functions.filter(
    (f) =>
      f.Region === region &&
      f.Namespace === namespace &&
      f.FunctionName.toLowerCase().includes(search) &&
      f.Description.toLowerCase().includes(description) &&
      tests.every((test) => test(f)),
  );
  const sorted = ordered(matching, key, text(params, "Order") || "DESC");
  const { items, error } = page(sorted, params, 20, 100);
  if (error) return error;
  return ok({
    Functions: items.map((f) => ({
      ModTime: f.ModTime,
      AddTime: f.AddTime,
      Runtime: f.Runtime,
      FunctionName: f.FunctionName,
      FunctionId: f.FunctionId,
      Namespace: f.Namespace,
      Status: statusOf(f, now),
      StatusDesc: "",
      Description: f.Description,
      Tags: tagList(account, f),
      Type: f.Type,
      StatusReasons: [],
      TotalProvisionedConcurrencyMem: 0,
      ReservedConcurrencyMem: 0,
      AsyncRunEnable: "FALSE",
      TraceEnable: "FALSE",
    })),
    TotalCount: matching.length,
  });
};

export const FUNCTION_ACTIONS: Readonly<Record<string, Action>> = {
  CreateFunction: createFunction,
  GetFunction: getFunction,
  ListFunctions: listFunctions,
  UpdateFunctionCode: updateFunctionCode,
  UpdateFunctionConfiguration: updateFunctionConfiguration,
  DeleteFunction: deleteFunction,
};
