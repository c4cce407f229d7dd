// What serverless.yml reads from the policy file and the function table: `${file(./scripts/serverless-settings.cjs):functions}`
// and the like. The work is done in TypeScript (local/deploy/settings.ts), loaded through tsx, so that
// the deploy validates the policy file with the very loader the functions use.
const { register } = require("tsx/cjs/api");

let pending;
/** The settings, computed once per serverless command. */
function settings() {
  if (!pending) {
    const unregister = register();
    const { deploySettings } = require("../local/deploy/settings.ts");
    const { readEnvironment } = require("../shared/env.ts");
    unregister();
    pending = deploySettings(readEnvironment());
  }
  return pending;
}

module.exports.region = async () => (await settings()).region;
module.exports.runtime = async () => (await settings()).runtime;
module.exports.environment = async () => (await settings()).environment;
module.exports.functions = async () => (await settings()).functions;
