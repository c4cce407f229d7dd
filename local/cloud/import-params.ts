// Cuts the official parameter lists down to the request parameters of the actions the cloud stand-ins serve,
// and writes local/cloud/cloud-params.json. Run again when the reference or the SDK changes:
//   npx tsx local/cloud/import-params.ts
//
// Sources, in this order:
// - ../shared/reference/{scf,tag,eb}-*-api.json (TencentCloud/tencentcloud-cli), for the actions they hold;
// - the models of the official SDK 4.1.313 (node_modules/tencentcloud-sdk-nodejs), for the few actions the
//   reference does not hold (CAM, two Tag actions, GetEventBus...). Their types are read from the .d.ts files:
//   `number` becomes an integer, a member without `?` is required.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

interface Member {
  name: string;
  type: string;
  member: string;
  required: boolean;
}

interface ServiceParams {
  version: string;
  endpoint: string;
  source: string;
  actions: Record<string, string>;
  objects: Record<string, Member[]>;
}

interface ReferenceFile {
  actions: Record<string, { input: string }>;
  objects: Record<string, { members: { name: string; type: string; member: string; required?: boolean }[] }>;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const REFERENCE = process.argv[2] ?? join(ROOT, "..", "shared", "reference");
const SDK = join(ROOT, "node_modules", "tencentcloud-sdk-nodejs", "tencentcloud", "services");

/** What each stand-in serves: actions from the reference file, and actions only the SDK models describe. */
const SERVICES = {
  scf: {
    version: "2018-04-16",
    reference: "scf-2018-04-16-api.json",
    fromReference: [
      "CreateFunction", "GetFunction", "ListFunctions", "UpdateFunctionCode", "UpdateFunctionConfiguration",
      "DeleteFunction", "CreateTrigger", "DeleteTrigger", "ListTriggers", "UpdateTrigger",
      "GetFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig", "Invoke",
    ],
    models: "scf/v20180416/scf_models.d.ts",
    fromModels: ["UpdateTriggerStatus"],
  },
  tag: {
    version: "2018-08-13",
    reference: "tag-2018-08-13-api.json",
    fromReference: ["GetResources", "DescribeResourcesByTags"],
    models: "tag/v20180813/tag_models.d.ts",
    fromModels: ["DescribeResourceTagsByResourceIds", "ModifyResourceTags"],
  },
  eb: {
    version: "2021-04-16",
    reference: "eb-2021-04-16-api.json",
    fromReference: ["CreateRule", "GetRule", "ListRules", "UpdateRule", "DeleteRule", "CheckRule", "CreateTarget", "ListTargets", "DeleteTarget"],
    models: "eb/v20210416/eb_models.d.ts",
    fromModels: ["GetEventBus", "ListEventBuses", "UpdateTarget"],
  },
  cam: {
    version: "2019-01-16",
    reference: undefined,
    fromReference: [],
    models: "cam/v20190116/cam_models.d.ts",
    fromModels: ["GetUserAppId", "ListPolicies", "CreateRole", "AttachRolePolicy", "GetRole"],
  },
} as const;

function fromReference(file: string, actions: readonly string[], out: ServiceParams): void {
  const api = JSON.parse(readFileSync(join(REFERENCE, file), "utf8")) as ReferenceFile;
  const keep = (name: string): void => {
    const object = api.objects[name];
    if (out.objects[name] || !object) return;
    out.objects[name] = object.members.map((m) => ({ name: m.name, type: m.type, member: m.member, required: m.required === true }));
    for (const m of object.members) if (m.type === "object" || m.type === "list") keep(m.member);
  };
  for (const action of actions) {
    const input = api.actions[action]?.input;
    if (!input) throw new Error(`${file} has no action ${action}`);
    out.actions[action] = input;
    keep(input);
  }
}

const PRIMITIVES: Record<string, string> = { string: "string", number: "int64", boolean: "bool" };

/** The members of `export interface NAME { ... }` in a .d.ts file; undefined for `type NAME = null`. */
function interfaceMembers(source: string, name: string): { name: string; type: string; optional: boolean }[] | undefined {
  if (new RegExp(`export (declare )?type ${name} = null;`).test(source)) return [];
  const body = new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`).exec(source)?.[1];
  if (body === undefined) return undefined;
  const withoutComments = body.replace(/\/\*\*[\s\S]*?\*\//g, "");
  return [...withoutComments.matchAll(/^\s*(\w+)(\??): ([^;]+);/gm)].map((m) => ({ name: m[1]!, optional: m[2] === "?", type: m[3]!.trim() }));
}

function fromModels(file: string, actions: readonly string[], out: ServiceParams): void {
  const source = readFileSync(join(SDK, file), "utf8");
  const keep = (name: string): void => {
    if (out.objects[name]) return;
    const members = interfaceMembers(source, name);
    if (!members) throw new Error(`${file} has no interface ${name}`);
    out.objects[name] = [];
    for (const m of members) {
      const list = /^Array<(\w+)>$/.exec(m.type);
      const element = list ? list[1]! : m.type;
      const primitive = PRIMITIVES[element];
      const member = primitive ?? element;
      out.objects[name].push({
        name: m.name,
        type: list ? "list" : primitive === "int64" ? "int" : primitive ?? "object",
        member,
        required: !m.optional,
      });
      if (!primitive) keep(element);
    }
  };
  for (const action of actions) {
    out.actions[action] = `${action}Request`;
    keep(`${action}Request`);
  }
}

/** The runtimes SCF accepts, as listed in the reference's CreateFunction.Runtime document ("- Php7(7.2版本)" is Php7). */
function runtimes(file: string): string[] {
  const api = JSON.parse(readFileSync(join(REFERENCE, file), "utf8")) as { objects: Record<string, { members: { name: string; document: string }[] }> };
  const document = api.objects.CreateFunctionRequest?.members.find((m) => m.name === "Runtime")?.document ?? "";
  return [...document.matchAll(/^- ([A-Za-z][\w.]*)/gm)].map((m) => m[1]!);
}

const services: Record<string, ServiceParams> = {};
for (const [service, spec] of Object.entries(SERVICES)) {
  const out: ServiceParams = {
    version: spec.version,
    endpoint: `${service}.tencentcloudapi.com`,
    source: [spec.reference ? `tencentcloud-cli api.json (${spec.reference})` : "", `tencentcloud-sdk-nodejs 4.1.313 ${spec.models}`].filter(Boolean).join("; "),
    actions: {},
    objects: {},
  };
  if (spec.reference) fromReference(spec.reference, spec.fromReference, out);
  fromModels(spec.models, spec.fromModels, out);
  services[service] = out;
}

writeFileSync(
  join(ROOT, "local", "cloud", "cloud-params.json"),
  `${JSON.stringify({ generatedBy: "local/cloud/import-params.ts", scfRuntimes: runtimes(SERVICES.scf.reference), services }, null, 1)}\n`,
);
