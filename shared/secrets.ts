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
  return withoutRegistered(text).replace(/(https?:\/\/[^\s"'?]+)\?[^\s"']*/g, "$1?***");
}

/**
 * A link as a summary or a log keeps it: its origin and path, without the query and fragment, where a
 * signed link carries what opens it (a results page's link works for days).
 */
export function linkShown(url: string): string {
  return url.replace(/[?#].*$/s, "");
}

/**
 * Strings that look like credentials whoever they belong to: a Tencent Cloud SecretId, a bearer
 * token, the value of a `key=`, `token:`, `secret=`, `sign=` or `password=` pair, and long random runs
 * of letters and digits (upper and lower case mixed with digits, as keys are; a UUID or a word is not).
 */
const CREDENTIAL_LIKE: readonly [RegExp, string][] = [
  [/\bAKID[0-9A-Za-z]{8,}/g, "AKID***"],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+\/-]{8,}=*/gi, "$1 ***"],
  [/\b((?:[A-Za-z]+_)?(?:secret_?key|secret|token|password|passwd|pwd|signature|sign|key|credential)s?)(["']?\s*[:=]\s*["']?)[^\s"'&,;)}\]]{6,}/gi, "$1$2***"],
  [/(?<![A-Za-z0-9+/_-])(?=[A-Za-z0-9+/_-]*[0-9])(?=[A-Za-z0-9+/_-]*[a-z])(?=[A-Za-z0-9+/_-]*[A-Z])[A-Za-z0-9+/_-]{32,}={0,2}/g, "***"],
];

/**
 * Every registered secret and every credential-looking string replaced with `***`; URLs otherwise
 * kept whole. For text from outside (what CSIP returns) on its way into a message a person reads,
 * where a report's own link must stay usable.
 */
export function scrubSecrets(text: string): string {
  let out = withoutRegistered(text);
  for (const [pattern, replacement] of CREDENTIAL_LIKE) out = out.replace(pattern, replacement);
  return out;
}

/**
 * Every registered secret replaced with `***`, and nothing else: for a message a person reads on this
 * machine, whose report link (a presigned URL, the user's own) must stay usable.
 */
export function withoutRegistered(text: string): string {
  ordered ??= [...lasting, ...passing].sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join("***");
  return out;
}

/**
 * A URL path segment that looks like a key rather than a word: long, with digits among letters or
 * both letter cases (Slack's last segment, Feishu's hook UUID), so `/csip-scan` or `/hook` stays readable.
 */
export function looksLikeKey(segment: string): boolean {
  return segment.length >= 16 && /[A-Za-z]/.test(segment) && (/\d/.test(segment) || (/[a-z]/.test(segment) && /[A-Z]/.test(segment)));
}

/**
 * Keeps a webhook URL's credential parts out of every line: the whole URL, its query values (as
 * given and as written, percent-encoded), and the path segments that look like keys.
 */
export function registerUrlSecrets(url: string): void {
  registerSecret(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return; // Not a URL: the config check says so.
  }
  for (const value of parsed.searchParams.values()) registerSecret(value);
  for (const pair of parsed.search.slice(1).split("&")) registerSecret(pair.slice(pair.indexOf("=") + 1));
  for (const segment of parsed.pathname.split("/")) if (looksLikeKey(segment)) registerSecret(segment);
}
