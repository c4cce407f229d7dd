import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../shared/log.ts";

describe("log lines", () => {
  it("carry ISO 8601 UTC time, which a person reads without converting epoch milliseconds", async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _, done) => (lines.push(chunk.toString()), done()) });
    createLogger({ destination: sink }).info("hello");
    const line = JSON.parse(lines[0]!) as { time: unknown; msg: string };
    expect(line.msg).toBe("hello");
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
});
