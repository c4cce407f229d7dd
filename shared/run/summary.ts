import { SCAN_ASSET_TYPE, type ScanAssetType } from "../csip/actions.ts";
import type { Logger } from "../log.ts";
import type { DeliveryResult } from "../notify/deliver.ts";
import type { RunError, UnauthorizedAsset } from "../notify/report.ts";
import type { RunTrigger } from "../results/model.ts";
import type { CreatedTask } from "../scan/create-tasks.ts";
import type { ScanTaskRequest } from "../scan/requests.ts";
import { localTime } from "../time-format.ts";

/** What one policy run did. The handler returns it and logs it as one JSON line. */
export interface RunSummary {
  policy: string;
  scheduledTime: string;
  trigger: RunTrigger;
  dryRun: boolean;
  scanAssetType: ScanAssetType;
  /** Assets per target group (or per excepted group for `all`). */
  assetsPerGroup: Record<string, number>;
  assets: number;
  tasks: CreatedTask[];
  /** The requests a dry run would have sent. */
  requests?: ScanTaskRequest[];
  unauthorized: UnauthorizedAsset[];
  warnings: string[];
  errors: RunError[];
  notifications: DeliveryResult[];
  durationsMs: { inventory: number; tasks: number; notify: number; total: number };
  ok: boolean;
}

/** A summary from what the run did, `ok` when nothing failed; logged as one JSON line. */
export function summarize(logger: Logger, fields: Omit<RunSummary, "ok">): RunSummary {
  const summary: RunSummary = { ...fields, ok: fields.errors.length === 0 && fields.notifications.every((n) => n.delivered) };
  logger.info(
    { summary },
    `policy ${summary.policy}: ${summary.tasks.length} task(s), ${summary.unauthorized.length} unauthorized, ${summary.errors.length} error(s)`,
  );
  return summary;
}

/** Why a failed invocation is not retried without a durable store (the handlers then return, not throw). */
export const NOT_RETRIED_WARNING =
  "not retried: without a durable state store, SCF's retry would send again the messages this invocation delivered; what failed is in this summary";

/**
 * Whether SCF may retry a failed invocation. Always with a durable store: the retry reads the run's
 * record and redoes only what is missing. Without one (memory mode), not once a message went out: the
 * retry, maybe in another instance, would not know, and would send it again to chat robots, which keep
 * no message id. Task creation is safe either way (task names are the key).
 */
export function retrySafe(durable: boolean, runs: readonly Pick<RunSummary, "notifications">[]): boolean {
  return durable || !runs.some((r) => r.notifications.some((n) => n.delivered && n.via !== "sent before"));
}

/**
 * `retrySafe` for an invocation that failed (one that did not fail needs no retry). A store that cannot
 * even say whether it is durable (a refused bucket) recorded nothing: a retry is as safe as the first try.
 */
export async function retryAfterFailure(store: { durable(): Promise<boolean> }, runs: readonly Pick<RunSummary, "notifications" | "ok">[]): Promise<boolean> {
  if (runs.every((r) => r.ok)) return true;
  return retrySafe(await store.durable().catch(() => true), runs);
}

/** A person's reading of a summary, for the CLI: its time in the policy file's zone. */
export function formatSummary(s: RunSummary, timeZone = "UTC"): string {
  const lines = [
    `${s.ok ? "OK" : "FAILED"}  policy ${s.policy}  scheduled ${localTime(s.scheduledTime, timeZone)}${s.dryRun ? "  (dry run)" : ""}`,
  ];
  for (const [group, count] of Object.entries(s.assetsPerGroup)) lines.push(`  group ${group}: ${count} assets`);
  if (s.dryRun) {
    for (const r of s.requests ?? []) lines.push(`  would call CreateRiskCenterScanTask ${JSON.stringify(r)}`);
  }
  const scope = (t: RunSummary["tasks"][number]): string =>
    s.scanAssetType === SCAN_ASSET_TYPE.all
      ? "every asset"
      : s.scanAssetType === SCAN_ASSET_TYPE.allExcept
        ? `every asset but ${s.assets} excluded`
        : `${t.assets} assets`;
  for (const t of s.tasks) lines.push(`  task ${t.taskId} "${t.taskName}": ${scope(t)} (RequestId ${t.requestId})`);
  if (s.unauthorized.length > 0) {
    lines.push(`  unauthorized (${s.unauthorized.length}):`);
    for (const a of s.unauthorized) {
      lines.push(`    ${a.kind} ${a.id}${a.name !== a.id ? ` (${a.name})` : ""} ${a.region}${a.memberId ? ` member ${a.memberId}` : ""}`);
    }
  }
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  for (const e of s.errors) lines.push(`  error: ${e.message}`);
  for (const n of s.notifications) {
    lines.push(`  notify ${n.notifier}: ${n.delivered ? `delivered${n.via ? ` (${n.via})` : ""}` : `NOT delivered: ${n.error ?? ""}`}`);
  }
  lines.push(`  took ${s.durationsMs.total} ms`);
  return lines.join("\n");
}
