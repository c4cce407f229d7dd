/**
 * Secret values known to this process (keys, tokens, webhook URLs and secrets).
 * Every log line and error text shown to people passes through `scrub`, so a secret
 * that slipped into a message is replaced before it leaves the process.
 */
const known = new Set<string>();

/** Remembers a value that must never be printed. Short values are ignored: they would mask ordinary words. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) known.add(value);
}

/** Replaces every registered secret, and the query string of any URL, with `***`. */
export function scrub(text: string): string {
  let out = text;
  for (const secret of known) out = out.split(secret).join("***");
  return out.replace(/(https?:\/\/[^\s"'?]+)\?[^\s"']*/g, "$1?***");
}
