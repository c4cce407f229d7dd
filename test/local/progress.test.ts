import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { progressLine } from "../../local/cli/progress.ts";

/** A stream that keeps what is written, as a terminal (TTY) or a pipe. */
function sink(isTTY: boolean) {
  const written: string[] = [];
  const stream = Object.assign(new Writable({ write: (chunk: Buffer, _, done) => (written.push(chunk.toString()), done()) }), { isTTY });
  return { stream: stream as unknown as NodeJS.WriteStream, written };
}

const at = (pages: number) => ({ step: "inventory" as const, pages, assets: pages * 100, tasks: 0 });

describe("the progress line", () => {
  it("says nothing of work shorter than its interval, then every few seconds: one line redrawn on a terminal", () => {
    let now = 0;
    const { stream, written } = sink(true);
    const line = progressLine(stream, () => now);
    line.report(at(1));
    now = 1_000;
    line.report(at(2));
    expect(written).toEqual([]);
    now = 2_000;
    line.report(at(3));
    now = 3_000;
    line.report(at(4));
    now = 4_000;
    line.report(at(5));
    line.done();
    expect(written).toEqual([
      "\r\x1b[2Kreading the inventory: 3 page(s), 300 asset(s), 0 task(s) so far",
      "\r\x1b[2Kreading the inventory: 5 page(s), 500 asset(s), 0 task(s) so far",
      "\r\x1b[2K",
    ]);
  });

  it("writes whole lines where stderr is not a terminal", () => {
    let now = 0;
    const { stream, written } = sink(false);
    const line = progressLine(stream, () => now);
    line.report(at(1));
    now = 2_500;
    line.report({ step: "tasks", pages: 9, assets: 900, tasks: 3 });
    line.done();
    expect(written).toEqual(["creating scan tasks: 9 page(s), 900 asset(s), 3 task(s) so far\n"]);
  });
});
