// The rehearsal's seal, loaded by redirect.cjs: every way a node process can reach past this machine,
// other than the http(s).request the redirect routes to the stand-in, is refused before any socket,
// name query or process exists. One row each in PATHS below:
// - fetch (node's bundled undici): refused for any URL whose host is not this machine;
// - net and tls connects (net.connect, net.createConnection, tls.connect, and Socket#connect under them,
//   which undici and http2 use): refused for any host that is not a loopback address or `localhost`;
// - http2.connect: likewise, from its authority;
// - dns.resolve*, reverse and lookupService (the c-ares queries dns.lookup does not cover), on the module,
//   dns.promises and every Resolver: all refused;
// - child processes: only the serverless CLI itself, the two npm commands serverless runs (listing
//   dependencies, finding global plugins) and tsx's esbuild service may start; the node ones inherit
//   NODE_OPTIONS, so this seal too.
// A refusal throws synchronously (or fails the callback / promise where the API reports errors so), with
// code ECONNREFUSED / EREFUSED and a message naming what was refused, and prints one line to stderr,
// `[csip-scan redirect] refused KIND TARGET`, which the rehearsal turns into a record line.
"use strict";

const childProcess = require("node:child_process");
const dns = require("node:dns");
const http2 = require("node:http2");
const net = require("node:net");
const tls = require("node:tls");

/** `localhost`, 127.0.0.0/8, ::1 and ::ffff:127.x: the addresses that stay on this machine. */
function isLoopback(host) {
  const name = String(host ?? "localhost").replace(/^\[|\]$/g, "").toLowerCase();
  if (name === "localhost" || name === "::1" || name === "0:0:0:0:0:0:0:1") return true;
  const v4 = name.startsWith("::ffff:") ? name.slice(7) : name;
  return net.isIPv4(v4) && v4.startsWith("127.");
}

/** Prints the refusal line and builds the error the caller sees. */
function refusal(kind, target, code = "ECONNREFUSED") {
  process.stderr.write(`[csip-scan redirect] refused ${kind} ${target}\n`);
  return Object.assign(new Error(`csip-scan rehearsal: refused ${kind} ${target}: nothing may reach the network`), { code, target });
}

/** The host and port (or path) a net/tls connect names, from any of its argument forms. */
function connectTarget(args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (first !== null && typeof first === "object") return first.path ? { local: true } : { host: first.host, port: first.port, socket: first.socket };
  if (typeof first === "string" && !/^\d+$/.test(first)) return { local: true };
  return { host: typeof args[1] === "string" ? args[1] : undefined, port: first };
}

function guardConnect(holder, name, kind) {
  const original = holder[name];
  holder[name] = function guardedConnect(...args) {
    const target = connectTarget(args);
    if (!target.local && !target.socket && !isLoopback(target.host)) throw refusal(kind, `${target.host}:${target.port}`);
    return original.apply(this, args);
  };
}

/** Calls the callback (the last function argument) with the error, or rejects, as the API reports errors. */
function refusedQuery(kind, promises) {
  return function refusedResolve(name, ...rest) {
    const error = refusal(kind, String(name), "EREFUSED");
    if (promises) return Promise.reject(error);
    const callback = rest.reverse().find((a) => typeof a === "function");
    if (callback) process.nextTick(() => callback(error));
    else throw error;
    return undefined;
  };
}

const QUERIES = [...Object.getOwnPropertyNames(dns.Resolver.prototype).filter((k) => /^(resolve|reverse)/.test(k)), "lookupService"];

/** The commands a rehearsed deploy starts, as `FILE ARG...`: anything else is refused. */
const ALLOWED_CHILDREN = [
  // scripts/serverless.js starting the pinned CLI.
  (line) => line.startsWith(`${process.execPath} `) && /^\S*[\\/]serverless[\\/]bin[\\/]serverless\.js( |$)/.test(line.slice(process.execPath.length + 1)),
  // serverless's packaging lists each package.json's dependencies (lib/plugins/package/lib/zip-service.js): reads node_modules.
  (line) => /^npm ls( |$)/.test(line),
  // serverless looks for globally installed plugins (lib/configuration/read.js, utils/npm-package/is-global.js).
  (line) => /^npm root -g$/.test(line),
  // tsx's esbuild service, which compiles the TypeScript serverless-settings.cjs and plugin.cjs load: a
  // native binary of the project's node_modules that reads stdin and writes stdout.
  (line) => /^\S*[\\/]node_modules[\\/](@esbuild[\\/][a-z0-9-]+[\\/]bin|esbuild[\\/]bin)[\\/]esbuild --service=[\d.]+ --ping$/.test(line),
];

/** `FILE ARG...` of each child_process function's arguments. */
const COMMAND_LINES = {
  spawn: (file, args) => [file, ...(Array.isArray(args) ? args : [])].join(" "),
  spawnSync: (file, args) => [file, ...(Array.isArray(args) ? args : [])].join(" "),
  execFile: (file, args) => [file, ...(Array.isArray(args) ? args : [])].join(" "),
  execFileSync: (file, args) => [file, ...(Array.isArray(args) ? args : [])].join(" "),
  exec: (command) => String(command),
  execSync: (command) => String(command),
  fork: (modulePath, args) => [process.execPath, String(modulePath), ...(Array.isArray(args) ? args : [])].join(" "),
};

const PATHS = {
  fetch() {
    const original = globalThis.fetch;
    if (typeof original !== "function") return;
    globalThis.fetch = function guardedFetch(input, init) {
      const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
      if (!isLoopback(url.hostname)) return Promise.reject(new TypeError("fetch failed", { cause: refusal("fetch", url.host) }));
      return original.call(this, input, init);
    };
  },
  netAndTls() {
    guardConnect(net, "connect", "connect");
    guardConnect(net, "createConnection", "connect");
    guardConnect(net.Socket.prototype, "connect", "connect");
    guardConnect(tls, "connect", "tls");
  },
  http2() {
    const original = http2.connect;
    http2.connect = function guardedHttp2(authority, ...rest) {
      const url = typeof authority === "string" ? new URL(authority) : authority;
      if (!isLoopback(url.hostname)) throw refusal("http2", url.host);
      return original.call(this, authority, ...rest);
    };
  },
  dns() {
    for (const key of QUERIES) {
      if (typeof dns[key] === "function") dns[key] = refusedQuery(key, false);
      if (typeof dns.promises[key] === "function") dns.promises[key] = refusedQuery(key, true);
      if (typeof dns.Resolver.prototype[key] === "function") dns.Resolver.prototype[key] = refusedQuery(key, false);
      if (typeof dns.promises.Resolver.prototype[key] === "function") dns.promises.Resolver.prototype[key] = refusedQuery(key, true);
    }
  },
  childProcesses() {
    for (const [name, commandLine] of Object.entries(COMMAND_LINES)) {
      const original = childProcess[name];
      childProcess[name] = function guardedChild(...args) {
        const line = commandLine(...args);
        if (!ALLOWED_CHILDREN.some((allowed) => allowed(line))) throw refusal("process", line.split(" ")[0]);
        return original.apply(this, args);
      };
    }
  },
};

/** Installs every row of PATHS. */
function seal() {
  for (const install of Object.values(PATHS)) install();
}

module.exports = { seal, isLoopback };
