// What serverless.yml reads from the policy file, so that schedules and triggers have one source:
// `${file(./scripts/serverless-settings.cjs):timers}` and the like. The policy file is validated by
// the functions themselves (and by `npm run package`, which runs `csip-scan validate` first); this
// reads only the keys the deploy needs.
const { readFileSync } = require("node:fs");
const { parse } = require("yaml");

const file = () => process.env.CSIP_SCAN_CONFIG || "config/scan-policies.yaml";
let read;

/** The policy file's text and content, read once per serverless command. */
function source() {
  if (!read) {
    const text = readFileSync(file(), "utf8");
    read = { text, config: parse(text) || {} };
  }
  return read;
}

const config = () => source().config;

/** One timer trigger per policy, named after it (the plugin cannot set a timer's message). */
module.exports.timers = () =>
  (config().policies || []).map((policy) => ({
    timer: { name: policy.name, parameters: { cronExpression: policy.schedule, enable: true } },
  }));

/** The CMQ topic and CKafka triggers of the asset-change function, from `assetChange`. */
module.exports.changeTriggers = () => {
  const { cmq, ckafka } = config().assetChange || {};
  const triggers = [];
  if (cmq) triggers.push({ cmq: { name: "csip-scan-asset-change", parameters: { name: cmq.topic, enable: true } } });
  if (ckafka) {
    triggers.push({
      ckafka: {
        name: "csip-scan-asset-change",
        parameters: { name: ckafka.instance, topic: ckafka.topic, maxMsgNum: ckafka.maxMsgNum || 100, offset: ckafka.offset || "latest", enable: true },
      },
    });
  }
  return triggers;
};

/** The region of the functions: the config's, else TENCENTCLOUD_REGION, else ap-guangzhou. */
module.exports.region = () => config().region || process.env.TENCENTCLOUD_REGION || "ap-guangzhou";

/**
 * The functions' environment: where the config is, and every variable the config names (`${NAME}`)
 * that is set where `serverless deploy` runs, such as the webhook URLs.
 */
module.exports.environment = () => {
  const { text } = source();
  const variables = { CSIP_SCAN_CONFIG: "/var/user/config/scan-policies.yaml" };
  for (const [, name] of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}/g)) {
    if (process.env[name] !== undefined) variables[name] = process.env[name];
  }
  return variables;
};
