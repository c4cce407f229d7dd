// Cuts the official CSIP parameter lists (../shared/reference/csip-2022-11-21-api.json, taken from
// TencentCloud/tencentcloud-cli) down to the request parameters of the actions the emulator serves,
// and writes them to local/emulator/csip-params.json. Run again when the reference changes.
import { readFileSync, writeFileSync } from "node:fs";

const ACTIONS = [
  "CreateRiskCenterScanTask",
  "DescribeScanTaskList",
  "StopRiskCenterTask",
  "DeleteRiskScanTask",
  "DescribeCVMAssets",
  "DescribePublicIpAssets",
  "DescribeDomainAssets",
  "DescribeDbAssets",
  "CreateAssetSyncTask",
];
const source = process.argv[2] ?? "../shared/reference/csip-2022-11-21-api.json";
const api = JSON.parse(readFileSync(source, "utf8"));
const objects = {};
const keep = (name) => {
  if (objects[name] || !api.objects[name]) return;
  objects[name] = api.objects[name].members.map((m) => ({
    name: m.name,
    type: m.type,
    member: m.member,
    required: m.required === true,
  }));
  for (const m of api.objects[name].members) if (m.type === "object" || m.type === "list") keep(m.member);
};
const actions = {};
for (const action of ACTIONS) {
  actions[action] = api.actions[action].input;
  keep(api.actions[action].input);
}
writeFileSync(
  "local/emulator/csip-params.json",
  `${JSON.stringify({ source: "TencentCloud/tencentcloud-cli tccli/services/csip/v20221121/api.json", version: api.version, actions, objects }, null, 1)}\n`,
);
