import { createRequire } from "node:module";

/**
 * Checks a request against the official parameter list of its action (csip-params.json, cut from
 * ../shared/reference/csip-2022-11-21-api.json by scripts/import-reference.js).
 */

interface Member {
  name: string;
  type: string;
  member: string;
  required: boolean;
}

const reference = createRequire(import.meta.url)("./csip-params.json") as {
  actions: Record<string, string>;
  objects: Record<string, Member[]>;
};

export interface ParamProblem {
  code: "UnknownParameter" | "MissingParameter" | "InvalidParameter";
  message: string;
}

/** The first problem of `params` against the action's parameter list, or undefined. */
export function checkParams(action: string, params: unknown): ParamProblem | undefined {
  const input = reference.actions[action];
  return input ? checkObject(input, params, "") : undefined;
}

function checkObject(objectName: string, value: unknown, path: string): ParamProblem | undefined {
  const members = reference.objects[objectName] ?? [];
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { code: "InvalidParameter", message: `The parameter \`${path || "body"}\` must be an object.` };
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!members.some((m) => m.name === key)) {
      return { code: "UnknownParameter", message: `The parameter \`${path}${key}\` is not recognized.` };
    }
  }
  for (const m of members) {
    const v = record[m.name];
    const at = `${path}${m.name}`;
    if (v === undefined || v === null) {
      if (m.required) return { code: "MissingParameter", message: `The request is missing a required parameter \`${at}\`.` };
      continue;
    }
    const problem =
      m.type === "list"
        ? Array.isArray(v)
          ? v.map((item, i) => checkValue(m.member, item, `${at}.${i}`)).find(Boolean)
          : { code: "InvalidParameter" as const, message: `The parameter \`${at}\` must be a list.` }
        : checkValue(m.type === "object" ? m.member : m.type, v, at);
    if (problem) return problem;
  }
  return undefined;
}

function checkValue(type: string, value: unknown, path: string): ParamProblem | undefined {
  const wrong = (what: string): ParamProblem => ({
    code: "InvalidParameter",
    message: `The parameter \`${path}\` must be ${what}.`,
  });
  switch (type) {
    case "string":
      return typeof value === "string" ? undefined : wrong("a string");
    case "int":
    case "int64":
    case "uint64":
      return Number.isInteger(value) ? undefined : wrong("an integer");
    case "float":
      return typeof value === "number" ? undefined : wrong("a number");
    case "bool":
      return typeof value === "boolean" ? undefined : wrong("a boolean");
    default:
      return checkObject(type, value, `${path}.`);
  }
}
