/** Hints the CLI gives a person who typed something it does not know. */

/** Edits (insertions, deletions, substitutions) between two words: Levenshtein's distance. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length]!;
}

/**
 * The known name closest to what was typed, when it is close enough to be a typo: at most a third of
 * its letters differ (two for short names), or one starts with the other (`--dry` for `--dry-run`).
 */
export function closestName(typed: string, known: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of known) {
    const d = typed.length >= 3 && name.startsWith(typed) ? 0 : distance(typed, name);
    if (!best || d < best.d) best = { name, d };
  }
  return best && best.d <= Math.max(2, Math.floor(typed.length / 3)) ? best.name : undefined;
}

/**
 * The `${NAME:-default}` of a policy file whose variable is unset (or empty) in `variables`, each
 * once: where the file is deployed from, the default is what the functions get, which is rarely what
 * was meant (the demo's notifier URL defaults to an address that never resolves).
 */
export function unsetVariables(text: string, variables: Readonly<Record<string, string | undefined>>): { name: string; fallback: string }[] {
  const found = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trimStart().startsWith("#")) continue;
    for (const match of line.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}/g)) {
      const [, name, fallback] = match as unknown as [string, string, string];
      if (!variables[name] && !found.has(name)) found.set(name, fallback);
    }
  }
  return [...found].map(([name, fallback]) => ({ name, fallback }));
}
