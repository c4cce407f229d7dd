import type { RunEntry } from "../history.ts";
import { LEVELS, type Level } from "../model.ts";
import { esc } from "./html.ts";
import type { PageText } from "./text.ts";

/** Severities stacked from the bottom: the worst nearest the axis, where the eye starts. */
export const STACK: readonly Level[] = [...LEVELS, "unknown"];

const WIDTH = 760;
const HEIGHT = 220;
const PAD = { left: 44, right: 12, top: 14, bottom: 34 };
const PLOT_W = WIDTH - PAD.left - PAD.right;
const PLOT_H = HEIGHT - PAD.top - PAD.bottom;

/** A round step for about four grid lines up to `max`: 1, 2 or 5 times a power of ten. */
function gridStep(max: number): number {
  const rough = Math.max(1, max / 4);
  const power = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
}

const num = (n: number): string => String(Math.round(n * 10) / 10);

/**
 * The trend of one policy as inline SVG: one stacked bar per run, at its scheduled time, by severity of
 * its current findings; a green mark under each all-clear run, a grey one under each run whose tasks
 * did not all finish. One `<path>` per severity holds all its bars, which keeps 30 runs small.
 */
export function trendChart(runs: readonly RunEntry[], time: (iso: string) => string, text: PageText): string {
  const times = runs.map((r) => Date.parse(r.scheduledTime));
  const first = Math.min(...times);
  const span = Math.max(...times) - first;
  const slot = PLOT_W / Math.max(runs.length, 1);
  const bar = Math.max(2, Math.min(28, slot * 0.6));
  const xOf = (i: number): number => PAD.left + bar / 2 + (span > 0 ? ((times[i]! - first) / span) * (PLOT_W - bar) : (PLOT_W - bar) / 2);
  const max = Math.max(1, ...runs.map((r) => STACK.reduce((n, l) => n + (r.byLevel[l] ?? 0), 0)));
  const step = gridStep(max);
  const top = Math.ceil(max / step) * step;
  const yOf = (value: number): number => PAD.top + PLOT_H - (value / top) * PLOT_H;

  const parts: string[] = [];
  for (let v = 0; v <= top; v += step) {
    const y = num(yOf(v));
    parts.push(`<line class="grid" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y}" y2="${y}"/><text class="tick" x="${PAD.left - 6}" y="${y}" dy="4" text-anchor="end">${v}</text>`);
  }
  const paths = new Map<Level, string[]>(STACK.map((l) => [l, []]));
  const marks: string[] = [];
  runs.forEach((r, i) => {
    const x = xOf(i);
    let base = 0;
    for (const level of STACK) {
      const n = r.byLevel[level] ?? 0;
      if (n === 0) continue;
      const y0 = yOf(base);
      const y1 = yOf(base + n);
      paths.get(level)!.push(`M${num(x - bar / 2)} ${num(y0)}V${num(y1)}h${num(bar)}V${num(y0)}Z`);
      base += n;
    }
    const counts = STACK.filter((l) => (r.byLevel[l] ?? 0) > 0).map((l) => `${text.levels[l]} ${r.byLevel[l]}`).join(", ");
    const tip = `${time(r.scheduledTime)}: ${text.status[r.status]}${counts ? ` (${counts})` : ""}`;
    const baseline = num(PAD.top + PLOT_H + 8);
    if (r.status === "all clear") marks.push(`<circle class="clear" cx="${num(x)}" cy="${baseline}" r="5"><title>${esc(tip)}</title></circle>`);
    else if (r.status === "failed" || r.status === "incomplete") marks.push(`<rect class="failed" x="${num(x - 4)}" y="${num(PAD.top + PLOT_H + 4)}" width="8" height="8"><title>${esc(tip)}</title></rect>`);
    marks.push(`<rect class="hit" x="${num(x - bar / 2)}" y="${PAD.top}" width="${num(bar)}" height="${PLOT_H}"><title>${esc(tip)}</title></rect>`);
  });
  for (const level of STACK) {
    const d = paths.get(level)!;
    if (d.length > 0) parts.push(`<path class="s-${level}" d="${d.join("")}"/>`);
  }
  parts.push(`<line class="axis" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${num(yOf(0))}" y2="${num(yOf(0))}"/>`);
  // At most six time labels, spread over the runs, first and last included.
  const labels = runs.length <= 6 ? runs.map((_, i) => i) : [...new Set(Array.from({ length: 6 }, (_, k) => Math.round((k * (runs.length - 1)) / 5)))];
  for (const i of labels) {
    const anchor = runs.length === 1 ? "middle" : i === 0 ? "start" : i === runs.length - 1 ? "end" : "middle";
    const x = runs.length === 1 ? xOf(i) : i === 0 ? xOf(i) - bar / 2 : i === runs.length - 1 ? xOf(i) + bar / 2 : xOf(i);
    parts.push(`<text class="tick" x="${num(x)}" y="${HEIGHT - 4}" text-anchor="${anchor}">${esc(time(runs[i]!.scheduledTime))}</text>`);
  }
  return `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${esc(text.chartLabel)}">${parts.join("")}${marks.join("")}</svg>`;
}

/** The chart's key: a swatch per severity, and the two run marks. */
export function chartLegend(text: PageText): string {
  const swatch = (cls: string, label: string, shape = `<rect class="${cls}" width="12" height="12"/>`): string =>
    `<span class="key"><svg width="12" height="12" viewBox="0 0 12 12">${shape}</svg>${esc(label)}</span>`;
  return [
    ...STACK.filter((l) => l !== "unknown").map((l) => swatch(`s-${l}`, text.levels[l])),
    swatch("clear", text.allClearMark, `<circle class="clear" cx="6" cy="6" r="5"/>`),
    swatch("failed", text.failedMark, `<rect class="failed" x="2" y="2" width="8" height="8"/>`),
  ].join("");
}
