// Preloaded (NODE_OPTIONS=--require) into every serverless command scripts/serverless.js runs, so that a
// deploy talks only to Tencent Cloud API and COS hosts. serverless-tencent-scf 0.1.36 also calls an API
// gateway of its own (serverless-tencent-tools):
// - `DataReport.report`, a telemetry request with no error handler: unreachable, it kills the CLI with an
//   uncaught error. Turned off.
// - `GetUserAuthInfo.isAuth`, a "real-name authentication" check before deploy, info, invoke, logs,
//   metrics and rollback: on any network error or non-200 answer the plugin calls process.exit(-1) before
//   anything is deployed. Answered here as "authenticated", with no request; an account that really lacks
//   real-name authentication is refused by SCF's own API instead, with its error code.
// NODE_OPTIONS reaches every node the CLI starts (its `npm ls` runs, one per package.json); the plugin's
// requests are turned off in the CLI itself only, because loading serverless-tencent-tools costs each of
// them a second. With CSIP_SCAN_OFFLINE=1 (package, print), every name but this machine's is refused, so
// packaging provably reaches nothing.
"use strict";

const dns = require("node:dns");

if (/[\\/]serverless[\\/]bin[\\/]serverless\.js$/.test(process.argv[1] || "")) {
  const tools = require("serverless-tencent-tools");
  tools.Others.DataReport.DataReport.prototype.report = async () => true;
  tools.Account.GetUserAuthInfo.prototype.isAuth = async () => ({ Error: false, Message: { Authentication: 1 } });
}

if (process.env.CSIP_SCAN_OFFLINE === "1") {
  const local = (host) => host === "localhost" || host === "127.0.0.1" || host === "::1";
  const refuse = (host) => Object.assign(new Error(`offline: refused to resolve ${host}`), { code: "ENOTFOUND", hostname: host });
  const lookup = dns.lookup;
  dns.lookup = function guardedLookup(host, options, callback) {
    const done = typeof options === "function" ? options : callback;
    if (!local(host)) return process.nextTick(() => done(refuse(host)));
    return lookup.call(this, host, options, callback);
  };
  const promisesLookup = dns.promises.lookup;
  dns.promises.lookup = (host, options) => (local(host) ? promisesLookup(host, options) : Promise.reject(refuse(host)));
}
