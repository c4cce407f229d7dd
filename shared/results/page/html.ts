import { createHash } from "node:crypto";

/**
 * HTML escaping for the results page. Everything CSIP returned (names, assets, fix texts, errors,
 * links) reaches the page through these, and the page's Content-Security-Policy forbids scripts and
 * every load, so a value that slipped through could still run nothing and fetch nothing.
 */

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text safe in element content and in a double-quoted attribute. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** An http(s) URL as an href, or undefined: `javascript:`, `data:` and anything unparsable stay text. */
export function safeHref(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The page's policy: nothing may load (no script, font, image, frame, connection), only the one
 * inline style sheet, by its hash. The page uses no script at all.
 */
export function contentSecurityPolicy(style: string): string {
  const hash = createHash("sha256").update(style).digest("base64");
  return `default-src 'none'; style-src 'sha256-${hash}'; img-src 'none'; base-uri 'none'; form-action 'none'`;
}
