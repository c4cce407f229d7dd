import type { DoctorReport } from "./doctor.ts";
import type { Reading } from "./readings.ts";

/**
 * The doctor's table as a person reads it: one row per reading, its four columns wrapped to fixed widths
 * (so the table reads the same in any terminal and in a test's snapshot), a mark for a reading csip-scan
 * does not handle as it is, then what was kept and every object written and deleted.
 */

const COLUMNS = [
  { title: "reading", width: 22 },
  { title: "csip-scan assumed", width: 34 },
  { title: "this account showed", width: 40 },
  { title: "what csip-scan does", width: 40 },
] as const;

/** Words of `text` in lines of at most `width` characters; a longer word is cut. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    for (let rest = word; rest.length > 0; ) {
      const room = line === "" ? width : width - line.length - 1;
      if (rest.length <= room) {
        line = line === "" ? rest : `${line} ${rest}`;
        rest = "";
      } else if (line !== "") {
        lines.push(line);
        line = "";
      } else {
        lines.push(rest.slice(0, width));
        rest = rest.slice(width);
      }
    }
  }
  if (line !== "" || lines.length === 0) lines.push(line);
  return lines;
}

function row(cells: readonly string[], mark: string): string[] {
  const wrapped = cells.map((cell, i) => wrap(cell, COLUMNS[i]!.width));
  const height = Math.max(...wrapped.map((w) => w.length));
  return Array.from({ length: height }, (_, n) =>
    `${n === 0 ? mark : " "} ${wrapped.map((w, i) => (w[n] ?? "").padEnd(COLUMNS[i]!.width)).join(" | ")}`.trimEnd(),
  );
}

/** The table of readings alone. */
export function formatReadings(readings: readonly Reading[]): string {
  const rule = `  ${COLUMNS.map((c) => "-".repeat(c.width)).join("-+-")}`;
  return [
    ...row(
      COLUMNS.map((c) => c.title),
      " ",
    ),
    rule,
    ...readings.flatMap((r) => [...row([r.name, r.assumed, r.observed, r.handled ? r.does : `NOT HANDLED: ${r.does}`], r.handled ? " " : "x"), ""]),
  ]
    .join("\n")
    .trimEnd();
}

/** The whole report: the table, what it concludes, where the readings were kept, and what was touched. */
export function formatReport(report: DoctorReport): string {
  const unhandled = report.readings.filter((r) => !r.handled);
  const touched = report.touched.length === 0 ? ["  nothing"] : report.touched.map((t) => `  ${t.change.padEnd(7)} ${t.key}`);
  return [
    formatReadings(report.readings),
    "",
    unhandled.length === 0
      ? `Every reading is handled (${report.readings.length}).`
      : `${unhandled.length} of ${report.readings.length} readings are not handled (marked x): ${unhandled.map((r) => r.name).join(", ")}.`,
    "bucket" in report.kept
      ? `Kept for the functions, which read it at each invocation: ${report.kept.bucket}/${report.kept.key}`
      : `Not kept for the functions: ${report.kept.not}.`,
    "Objects of the state bucket this run wrote and deleted (nothing else; no scan task was created):",
    ...touched,
  ].join("\n");
}
