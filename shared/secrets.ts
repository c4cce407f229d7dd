/**
 * Secret values known to this process (keys, tokens, webhook URLs and secrets, message signatures).
 * Every log line and error text shown to people passes through `scrub`, so a secret
 * that slipped into a message is replaced before it leaves the process.
 */
const lasting = new Set<string>();

/**
 * Signatures made for one message (DingTalk's and Feishu's `sign`): they matter for an hour at most,
 * and a long-running process makes many, so only the most recent are kept.
 */
const passing = new Set<string>();
const PASSING_KEPT = 1000;

/** Every secret, longest first, so that one inside another cannot leave the rest of it showing. */
let ordered: string[] | undefined;

/** Values shorter than this are ignored: they would mask ordinary words. */
const MIN_LENGTH = 6;

/** Remembers a value that must never be printed. Short values are ignored: they would mask ordinary words. */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < MIN_LENGTH || lasting.has(value)) return;
  lasting.add(value);
  ordered = undefined;
}

/** Remembers a value made for one message (a signature), among the last 1000 such values. */
export function registerMessageSecret(value: string | undefined): void {
  if (!value || value.length < MIN_LENGTH || passing.has(value)) return;
  passing.add(value);
  if (passing.size > PASSING_KEPT) passing.delete(passing.values().next().value!);
  ordered = undefined;
}

/** Replaces every registered secret, and the query string of any URL, with `***`. */
export function scrub(text: string): string {
  ordered ??= [...lasting, ...passing].sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of ordered) out = out.split(secret).join("***");
  return out.replace(/(https?:\/\/[^\s"'?]+)\?[^\s"']*/g, "$1?***");
}
