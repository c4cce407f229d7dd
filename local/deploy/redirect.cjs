// Preloaded (NODE_OPTIONS=--require /ABSOLUTE/PATH/redirect.cjs) into `serverless deploy` for a rehearsal.
//
// Every HTTP(S) request for a Tencent Cloud host the stand-ins serve (*.tencentcloudapi.com, COS on
// *.myqcloud.com and *.tencentcos.cn, and the plugin's *.apigw.tencentcs.com, which the stand-in makes
// unreachable) is sent over plain HTTP to the stand-in named by CSIP_SCAN_CLOUD_STANDIN
// (http://127.0.0.1:PORT), with its original Host header: the signatures (v1, TC3, COS q-sign) cover that
// host, so they still verify. The plugin's and the SDKs' own code runs unchanged; they look up
// http(s).request at call time (node-fetch, request), so patching those two functions is enough.
//
// Nothing else may reach the network: a request for any other host that is not this machine fails with an
// error naming it, name resolution is refused for every name but localhost, proxy variables are unset, and
// seal.cjs refuses every other path off the machine (fetch, net/tls, http2, dns queries, child processes).
// Each refusal prints `[csip-scan redirect] refused KIND TARGET` to stderr.
"use strict";

const http = require("node:http");
const https = require("node:https");
const dns = require("node:dns");
const net = require("node:net");
const { urlToHttpOptions } = require("node:url");
const { isLoopback, seal } = require("./seal.cjs");

const LOADED = Symbol.for("csip-scan.redirect");
if (!globalThis[LOADED]) {
  globalThis[LOADED] = true;
  install();
}

function install() {
  const standIn = standInUrl(process.env.CSIP_SCAN_CLOUD_STANDIN);
  for (const name of ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"]) {
    delete process.env[name];
  }
  const REDIRECTED = /(^|\.)(tencentcloudapi\.com|myqcloud\.com|tencentcos\.cn)$|\.apigw\.tencentcs\.com$/i;

  const httpRequest = http.request;
  const httpsRequest = https.request;

  /** (url | URL, [options], [callback]) or (options, [callback]) → one options object and the callback. */
  function normalize(args) {
    const [first, second, third] = args;
    if (typeof first === "string" || first instanceof URL) {
      const base = urlToHttpOptions(typeof first === "string" ? new URL(first) : first);
      return typeof second === "function" ? { options: base, callback: second } : { options: { ...base, ...second }, callback: third };
    }
    return { options: { ...first }, callback: second };
  }

  function hostOf(options) {
    return String(options.hostname || options.host || "localhost").replace(/:\d+$/, "").toLowerCase();
  }

  function headersOf(options) {
    const raw = options.headers || {};
    if (!Array.isArray(raw)) return { ...raw };
    const headers = {};
    for (let i = 0; i + 1 < raw.length; i += 2) headers[raw[i]] = raw[i + 1];
    return headers;
  }

  /** A socket that fails at once: the request emits an error the caller handles like any network error. */
  function refusingSocket(host) {
    return () => {
      const socket = new net.Socket();
      const error = Object.assign(new Error(`csip-scan rehearsal: refused ${host}: not a Tencent Cloud host the stand-in serves, and nothing may reach the network`), {
        code: "ECONNREFUSED",
        hostname: host,
      });
      process.nextTick(() => socket.destroy(error));
      return socket;
    };
  }

  function wrap(module, original, defaultProtocol) {
    return function redirected(...args) {
      const { options, callback } = normalize(args);
      const host = hostOf(options);
      if (options.socketPath || isLoopback(host)) return original.apply(module, args);
      if (!REDIRECTED.test(host)) {
        process.stderr.write(`[csip-scan redirect] refused ${defaultProtocol.slice(0, -1)} ${host}\n`);
        const { agent: _agent, ...rest } = options;
        return httpRequest({ ...rest, protocol: "http:", agent: undefined, createConnection: refusingSocket(host) }, callback);
      }
      const protocol = options.protocol || defaultProtocol;
      const port = options.port ? Number(options.port) : undefined;
      const defaultPort = protocol === "https:" ? 443 : 80;
      const headers = headersOf(options);
      if (!Object.keys(headers).some((name) => name.toLowerCase() === "host")) {
        headers.Host = port && port !== defaultPort ? `${host}:${port}` : host;
      }
      const next = { ...options, protocol: "http:", hostname: standIn.hostname, host: standIn.hostname, port: standIn.port, headers, agent: false };
      delete next.servername;
      delete next.createConnection;
      return httpRequest(next, callback);
    };
  }

  http.request = wrap(http, httpRequest, "http:");
  https.request = wrap(https, httpsRequest, "https:");
  // The modules' own get() calls their private request(), not the exported one.
  http.get = function get(...args) {
    const request = http.request(...args);
    request.end();
    return request;
  };
  https.get = function get(...args) {
    const request = https.request(...args);
    request.end();
    return request;
  };

  const refuse = (host) =>
    Object.assign(new Error(`csip-scan rehearsal: refused to resolve ${host}: nothing may reach the network`), { code: "ENOTFOUND", hostname: host });
  const lookup = dns.lookup;
  dns.lookup = function guardedLookup(host, options, callback) {
    const done = typeof options === "function" ? options : callback;
    if (!isLoopback(host)) {
      process.stderr.write(`[csip-scan redirect] refused resolve ${host}\n`);
      return process.nextTick(() => done(refuse(host)));
    }
    return lookup.call(this, host, options, callback);
  };
  const promisesLookup = dns.promises.lookup;
  dns.promises.lookup = (host, options) => (isLoopback(host) ? promisesLookup(host, options) : Promise.reject(refuse(host)));
  seal();
}

/** The stand-in's address: it must be plain HTTP on this machine, or the preload refuses to start. */
function standInUrl(value) {
  if (!value) throw new Error("csip-scan redirect: CSIP_SCAN_CLOUD_STANDIN is not set (http://127.0.0.1:PORT of the cloud stand-in)");
  const url = new URL(value);
  if (url.protocol !== "http:" || !["127.0.0.1", "localhost", "[::1]"].includes(url.hostname) || !url.port) {
    throw new Error(`csip-scan redirect: CSIP_SCAN_CLOUD_STANDIN must be http://127.0.0.1:PORT, not ${value}`);
  }
  return { hostname: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port) };
}
