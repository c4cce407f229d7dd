/**
 * How the services write times. SCF and CAM write Beijing time as "2024-12-20 11:27:07" (the official
 * examples); EventBridge writes ISO 8601 with the +08:00 offset ("2021-04-27T14:34:19+08:00"); COS writes
 * UTC ISO 8601 in XML and RFC 1123 in headers.
 */

const BEIJING_MS = 8 * 3600_000;

/** SCF and CAM: "2024-12-20 11:27:07", Beijing time. */
export function beijingTime(ms: number): string {
  return new Date(ms + BEIJING_MS).toISOString().slice(0, 19).replace("T", " ");
}

/** EventBridge: "2021-04-27T14:34:19+08:00". */
export function beijingIso(ms: number): string {
  return `${new Date(ms + BEIJING_MS).toISOString().slice(0, 19)}+08:00`;
}

/** COS XML: "2024-01-01T00:00:00Z". */
export function utcIso(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** COS headers: RFC 1123. */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
