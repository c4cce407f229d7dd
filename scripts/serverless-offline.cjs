// Preloaded into the serverless CLI (NODE_OPTIONS=--require) for `npm run package` and the package test.
// serverless-tencent-scf sends a telemetry request (serverless-tencent-tools DataReport) with no error
// handler, so offline every command dies with an uncaught ENOTFOUND. This turns that report off, and,
// with CSIP_SCAN_OFFLINE=1, refuses to resolve any name but this machine's, so packaging provably
// reaches nothing.
// NODE_OPTIONS reaches every node the CLI starts (its `npm ls` runs, one per package.json); the report is
// turned off in the CLI itself only, because loading serverless-tencent-tools costs each of them a second.
const dns = require("node:dns");

if (/[\\/]serverless[\\/]bin[\\/]serverless\.js$/.test(process.argv[1] || "")) {
  const { DataReport } = require("serverless-tencent-tools").Others.DataReport;
  DataReport.prototype.report = async () => true;
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
