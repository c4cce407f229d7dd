import { createRequire } from "node:module";

/**
 * Request parameters against the official lists of each action (cloud-params.json, cut by import-params.ts
 * from ../shared/reference and the SDK models), for both dialects: JSON (SDK 4, TC3), checked as sent, and
 * form-encoded (SDK 3, signature v1), where every value arrives as a string under a dotted key
 * (`Environment.Variables.0.Key`) and is turned back into the documented types first.
 */

interface Member {
  name: string;
  type: string;
  member: string;
  required: boolean;
}

export interface ServiceParams {
  version: string;
  endpoint: string;
  actions: Record<string, string>;
  objects: Record<string, Member[]>;
}

const reference = createRequire(import.meta.url)("./cloud-params.json") as {
  scfRuntimes: string[];
  services: Record<string, ServiceParams>;
};

/** The services the stand-ins serve, with their API version. */
export const SERVICES: Readonly<Record<string, ServiceParams>> = reference.services;

/** The runtimes the reference's CreateFunction lists. */
export const SCF_RUNTIMES: readonly string[] = reference.scfRuntimes;

/** Parameters every v1 request carries besides the action's own (https://cloud.tencent.com/document/api/213/15692). */
export const V1_COMMON_PARAMS = ["Action", "Version", "Region", "Timestamp", "Nonce", "SecretId", "Signature", "SignatureMethod", "Token", "Language", "RequestClient"];

export interface ParamProblem {
  code: "UnknownParameter" | "MissingParameter" | "InvalidParameter";
  message: string;
}

export type Dialect = "json" | "form";

/**
 * Dotted keys back into nested objects; objects whose keys are exactly 0..n-1 become arrays.
 * `{"Filters.0.Name": "x"}` → `{Filters: [{Name: "x"}]}`.
 */
export function unflatten(flat: Record<string, string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const path = key.split(".");
    let node = root;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      node = (next !== null && typeof next === "object" ? next : (node[part] = {})) as Record<string, unknown>;
    }
    node[path.at(-1)!] = value;
  }
  return arraysOf(root) as Record<string, unknown>;
}

function arraysOf(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, arraysOf(v)] as const);
  const isList = entries.length > 0 && entries.every(([k], i) => k === String(i));
  return isList ? entries.map(([, v]) => v) : Object.fromEntries(entries);
}

/** Whether the service's list names the action at all. */
export function knownAction(service: string, action: string): boolean {
  return Object.hasOwn(SERVICES[service]?.actions ?? {}, action);
}

/**
 * The action's parameters in their documented types, or the first problem with them. In the form dialect
 * strings are converted ("128" → 128, "true" → true); in JSON they must already have the right type.
 */
export function checkParams(service: string, action: string, params: unknown, dialect: Dialect): { params: Record<string, unknown> } | { problem: ParamProblem } {
  const spec = SERVICES[service];
  const input = spec?.actions[action];
  if (!spec || !input) return { problem: { code: "InvalidParameter", message: `No parameter list for ${service}.${action}.` } };
  const checker = new Checker(spec, dialect);
  const value = checker.object(input, params, "");
  return checker.problem ? { problem: checker.problem } : { params: value as Record<string, unknown> };
}

class Checker {
  problem: ParamProblem | undefined;
  constructor(
    private readonly spec: ServiceParams,
    private readonly dialect: Dialect,
  ) {}

  private fail(code: ParamProblem["code"], message: string): undefined {
    this.problem ??= { code, message };
    return undefined;
  }

  object(objectName: string, value: unknown, path: string): unknown {
    const members = this.spec.objects[objectName] ?? [];
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return this.fail("InvalidParameter", `The parameter \`${path || "body"}\` must be an object.`);
    }
    const record = value as Record<string, unknown>;
    const unknown = Object.keys(record).find((key) => !members.some((m) => m.name === key));
    if (unknown !== undefined) return this.fail("UnknownParameter", `The parameter \`${path}${unknown}\` is not recognized.`);
    const out: Record<string, unknown> = {};
    for (const m of members) {
      const v = record[m.name];
      const at = `${path}${m.name}`;
      if (v === undefined || v === null) {
        if (m.required) return this.fail("MissingParameter", `The request is missing a required parameter \`${at}\`.`);
        continue;
      }
      if (m.type === "list") {
        if (!Array.isArray(v)) return this.fail("InvalidParameter", `The parameter \`${at}\` must be a list.`);
        out[m.name] = v.map((item, i) => this.value(m.member, item, `${at}.${i}`));
      } else {
        out[m.name] = this.value(m.type === "object" ? m.member : m.type, v, at);
      }
      if (this.problem) return undefined;
    }
    return out;
  }

  private value(type: string, value: unknown, path: string): unknown {
    const wrong = (what: string): undefined => this.fail("InvalidParameter", `The parameter \`${path}\` must be ${what}.`);
    const form = this.dialect === "form" && typeof value === "string";
    switch (type) {
      case "string":
        return typeof value === "string" ? value : wrong("a string");
      case "int":
      case "int64":
      case "uint64":
        if (form) return /^-?\d+$/.test(value) ? Number(value) : wrong("an integer");
        return Number.isInteger(value) ? value : wrong("an integer");
      case "float":
        if (form) return value.trim() !== "" && Number.isFinite(Number(value)) ? Number(value) : wrong("a number");
        return typeof value === "number" ? value : wrong("a number");
      case "bool":
        if (form) return value === "true" ? true : value === "false" ? false : wrong("a boolean");
        return typeof value === "boolean" ? value : wrong("a boolean");
      default:
        return this.object(type, value, `${path}.`);
    }
  }
}
