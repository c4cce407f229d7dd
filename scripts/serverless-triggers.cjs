// Timer triggers for serverless.yml, read from the policy file so that schedules have one source.
// Each policy gets one timer named after it (the plugin cannot set a timer's Message).
const { readFileSync } = require("node:fs");
const { parse } = require("yaml");

function policies() {
  const file = process.env.CSIP_SCAN_CONFIG || "config/scan-policies.yaml";
  return parse(readFileSync(file, "utf8")).policies || [];
}

module.exports.timers = () =>
  policies().map((policy) => ({
    timer: { name: policy.name, parameters: { cronExpression: policy.schedule, enable: true } },
  }));
