// node-fetch 2 (the SDK's HTTP client) uses Node's own URL and falls back to whatwg-url only on
// runtimes without one; SCF's Node.js has it, so the bundle carries this stand-in instead (saves ~280 KiB).
module.exports = { URL: globalThis.URL };
