import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../shared/log.ts";
import { registerSecret } from "../../shared/secrets.ts";

describe("log lines", () => {
  it("carry ISO 8601 UTC time, which a person reads without converting epoch milliseconds", async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _, done) => (lines.push(chunk.toString()), done()) });
    createLogger({ destination: sink }).info("hello");
    const line = JSON.parse(lines[0]!) as { time: unknown; msg: string };
    expect(line.msg).toBe("hello");
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("are pino's shape, below the level nothing, and no registered secret in them", () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _, done) => (lines.push(chunk.toString()), done()) });
    registerSecret("log-test-secret-0a1b2c3d");
    const logger = createLogger({ level: "info", destination: sink });
    logger.debug("not written");
    logger.warn({ policy: "nightly", error: new Error("token log-test-secret-0a1b2c3d refused") }, "a run failed");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, policy: "nightly", error: { type: "Error", message: "token *** refused" }, msg: "a run failed" });
    createLogger({ level: "silent", destination: sink }).error("not written either");
    expect(lines).toHaveLength(1);
  });
});
