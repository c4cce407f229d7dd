// The project's own serverless plugin (serverless.yml lists it after serverless-tencent-scf). It does what
// the pinned plugin cannot: it keeps unchanged timers in place, deletes the triggers csip-scan owns that
// the policy file no longer asks for, makes the EventBridge rule, and refuses a deploy that would break
// SCF's limits before any call. The work is in TypeScript (local/deploy/plugin.ts), loaded through tsx.
const { register } = require("tsx/cjs/api");

const unregister = register();
const { CsipScanDeployPlugin } = require("./plugin.ts");
unregister();

module.exports = CsipScanDeployPlugin;
