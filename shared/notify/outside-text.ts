import { scrubSecrets } from "../secrets.ts";

/**
 * Text from outside (what CSIP returns: ErrorInfo, risk names, fix text, asset names) on its way into
 * a message: a CSIP answer may echo anything, so it is made safe before any channel sees it.
 */

/** How long outside text may be in a message: an error or a fix on one line, a name shorter. */
export const OUTSIDE_LIMITS = { line: 300, name: 120 } as const;

/** Line breaks and tabs of every kind: folded into one space, so a value stays on its line. */
const LINE_BREAKS = /[\r\n\t\v\f\u0085\u2028\u2029]+/g;

/**
 * Characters a reader cannot see, line breaks aside: C0 and C1 controls and Unicode format characters
 * (zero-width U+200B–U+200F, bidi embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069,
 * the BOM, tag characters). From outside they could hide or reorder text; they are dropped.
 */
const INVISIBLE = /(?![\r\n\t\v\f\u0085])[\p{Cc}\p{Cf}]/gu;

/** A value on one line, with nothing invisible in it. */
export function visibleLine(value: string): string {
  return value.replace(INVISIBLE, "").replace(LINE_BREAKS, " ");
}

/** At most `max` characters (code points, so no character is cut in half), `…` marking a cut. */
export function shorten(value: string, max: number): string {
  if (value.length <= max) return value;
  const chars = Array.from(value);
  return chars.length <= max ? value : `${chars.slice(0, max - 1).join("")}…`;
}

/**
 * Outside text as a message may carry it: every secret the process knows and every credential-looking
 * string masked, invisible and direction-changing characters dropped, on one line, at most `max`
 * characters. The whole text is scrubbed before it is cut, so no part of a secret is left at the cut;
 * invisible characters go first, so none hidden inside a secret keeps it from being found.
 */
export function outsideText(value: string, max: number = OUTSIDE_LIMITS.line): string {
  return shorten(scrubSecrets(visibleLine(value)).replace(/ {2,}/g, " ").trim(), max);
}
