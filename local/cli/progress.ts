import type { Progress } from "../../shared/run/services.ts";

/** How often the progress line is redrawn at most: often enough to see it move, rarely enough to read. */
const EVERY_MS = 2_000;

/**
 * A run's progress for a person, on stderr (stdout stays the result, for pipes): on a terminal one
 * line redrawn in place, elsewhere a line every few seconds. `done()` ends the line.
 */
export function progressLine(stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): { report: (p: Progress) => void; done: () => void } {
  // The first line waits EVERY_MS too: short work (the demo's) shows no progress at all.
  let last: number | undefined;
  let drawn = false;
  const text = (p: Progress): string => `${p.step === "inventory" ? "reading the inventory" : "creating scan tasks"}: ${p.pages} page(s), ${p.assets} asset(s), ${p.tasks} task(s) so far`;
  return {
    report(p) {
      last ??= now();
      if (now() - last < EVERY_MS) return;
      last = now();
      if (stream.isTTY) {
        stream.write(`\r\x1b[2K${text(p)}`);
        drawn = true;
      } else stream.write(`${text(p)}\n`);
    },
    done() {
      if (drawn) stream.write("\r\x1b[2K");
      drawn = false;
      last = undefined;
    },
  };
}
