// Cuts the official CSIP parameter lists (../shared/reference/csip-2022-11-21-api.json, taken from
// TencentCloud/tencentcloud-cli) down to the request parameters of the project's actions (the action
// table, shared/csip/actions.ts), and writes them to local/emulator/csip-params.json.
// Run again (`npx tsx scripts/import-reference.ts`) when the reference or the table changes.
import { readFileSync, writeFileSync } from "node:fs";
import { ALL_ACTIONS } from "../shared/csip/actions.ts";

interface ReferenceMember {
  name: string;
  type: string;
  member: string;
  required?: boolean;
}
interface Reference {
  version: string;
  actions: Record<string, { input: string }>;
  objects: Record<string, { members: ReferenceMember[] }>;
}

const source = process.argv[2] ?? "../shared/reference/csip-2022-11-21-api.json";
const api = JSON.parse(readFileSync(source, "utf8")) as Reference;
const objects: Record<string, { name: string; type: string; member: string; required: boolean }[]> = {};
const keep = (name: string): void => {
  if (objects[name] || !api.objects[name]) return;
  objects[name] = api.objects[name].members.map((m) => ({
    name: m.name,
    type: m.type,
    member: m.member,
    required: m.required === true,
  }));
  for (const m of api.objects[name].members) if (m.type === "object" || m.type === "list") keep(m.member);
};
const actions: Record<string, string> = {};
for (const action of ALL_ACTIONS) {
  const input = api.actions[action]?.input;
  if (!input) throw new Error(`${action} is not in ${source}`);
  actions[action] = input;
  keep(input);
}
writeFileSync(
  "local/emulator/csip-params.json",
  `${JSON.stringify({ source: "TencentCloud/tencentcloud-cli tccli/services/csip/v20221121/api.json", version: api.version, actions, objects }, null, 1)}\n`,
);
