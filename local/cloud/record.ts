/**
 * One line per request a rehearsed deploy made, to any host, for a rehearsal's `--record FILE`:
 * `{"service":"scf","action":"CreateTrigger","params":{...}}`, with `"error":"CODE"` when the call failed.
 * `params` are as sent (in the form dialect every value is a string), without the common parameters, and
 * with nothing secret: environment values (but NODE_OPTIONS and CSIP_SCAN_MEMORY_MB) and inline code are
 * replaced by their size. Requests that were
 * not Tencent Cloud API or COS calls have lines too: `tools` (the plugin's own host, made unreachable),
 * `refused` (a host the stand-in does not serve) and `redirect` (refused inside the deploy, before any
 * connection: local/deploy/seal.cjs).
 */

export interface RecordedCall {
  service: string;
  action: string;
  params: Record<string, unknown>;
  error?: string;
}

const note = (value: string): string => `(${Buffer.byteLength(value)} bytes, not recorded)`;

/** Variables the deploy sets that hold no secret, recorded as they are: each function's node flags and memory. */
const PUBLIC_VARIABLES: ReadonlySet<string> = new Set(["NODE_OPTIONS", "CSIP_SCAN_MEMORY_MB"]);

/** A copy of `params` with environment values (credentials such as webhook URLs) and inline zips replaced by their size. */
function redacted(params: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(params);
  const environment = out.Environment as { Variables?: unknown } | undefined;
  if (Array.isArray(environment?.Variables)) {
    for (const variable of environment.Variables as Record<string, unknown>[]) {
      if (typeof variable?.Value === "string" && !PUBLIC_VARIABLES.has(String(variable.Key))) variable.Value = note(variable.Value);
    }
  }
  for (const holder of [out, out.Code as Record<string, unknown> | undefined]) {
    if (typeof holder?.ZipFile === "string") holder.ZipFile = note(holder.ZipFile);
  }
  return out;
}

/** One record line's content, secrets replaced. */
export function recordedCall(service: string, action: string, params: Record<string, unknown>, error?: string): RecordedCall {
  return { service, action, params: redacted(params), ...(error === undefined ? {} : { error }) };
}

/** The record file: one JSON object per line. */
export function toJsonLines(calls: readonly RecordedCall[]): string {
  return calls.map((call) => `${JSON.stringify(call)}\n`).join("");
}

/** The line local/deploy/redirect.cjs and seal.cjs print for each refusal: `[csip-scan redirect] refused KIND TARGET`. */
const REFUSAL_LINE = /^\[csip-scan redirect\] refused (\S+) (.+)$/gm;

/** A record line per refusal the redirect printed in a deploy's output. */
export function redirectRefusals(output: string): RecordedCall[] {
  return [...output.matchAll(REFUSAL_LINE)].map(([, kind, target]) => ({ service: "redirect", action: `refused ${kind}`, params: { target: target! }, error: "Refused" }));
}
