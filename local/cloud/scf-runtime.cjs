// The process the SCF stand-in runs a deployed function in, as SCF's Node.js runtime would: it loads the
// handler's file from the unpacked code and calls the exported method with each event it is sent (over
// IPC, one at a time), and sends back what the method returned or why it threw. It lives on between
// invocations, a warm instance. The redirect (local/deploy/redirect.cjs) is preloaded into it, so the
// function's Tencent Cloud requests reach the stand-ins and nothing reaches the network.
"use strict";

process.on("message", async (message) => {
  try {
    const handler = require(message.file)[message.method];
    if (typeof handler !== "function") throw new Error(`${message.method} is not a function exported by the handler's file`);
    const result = await handler(message.event, message.context);
    process.send({ id: message.id, result: result === undefined ? null : result });
  } catch (error) {
    process.send({ id: message.id, error: `${error && error.name ? error.name : "Error"}: ${error && error.message ? error.message : String(error)}` });
  }
});
