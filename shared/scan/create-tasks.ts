import type { Policy } from "../config/schema.ts";
import type { CsipClient } from "../csip/client.ts";
import { CloudApiError, describeError } from "../errors.ts";
import type { PlannedTask, ScanTaskRequest } from "./requests.ts";

export interface CreatedTask {
  chunk: number;
  taskId: string;
  taskName: string;
  requestId: string;
  assets: number;
}

export interface TaskFailure {
  chunk: number;
  code: string;
  requestId?: string;
  message: string;
}

export interface TaskOutcome {
  created: CreatedTask[];
  /** Values CSIP listed in UnAuthAsset (asset IDs, addresses, domains or URLs), without duplicates. */
  unauthorized: string[];
  failures: TaskFailure[];
  warnings: string[];
}

/** The request without the assets CSIP refused, or undefined when nothing is left to scan. */
export function withoutAssets(request: ScanTaskRequest, refused: readonly string[]): ScanTaskRequest | undefined {
  const keep = (value: string | undefined): boolean => !refused.includes(value ?? "");
  if (request.Assets) {
    const assets = request.Assets.filter((a) => keep(a.Asset));
    return assets.length > 0 ? { ...request, Assets: assets } : undefined;
  }
  if (request.SelfDefiningAssets) {
    const own = request.SelfDefiningAssets.filter(keep);
    return own.length > 0 ? { ...request, SelfDefiningAssets: own } : undefined;
  }
  return undefined;
}

function size(request: ScanTaskRequest): number {
  return request.ScanAssetType === 3 ? (request.SelfDefiningAssets?.length ?? 0) : request.ScanAssetType === 1 ? (request.Assets?.length ?? 0) : 0;
}

/**
 * Calls CreateRiskCenterScanTask for each planned task. One failing chunk does not stop the others.
 * When CSIP answers Status -1 it lists the unauthorized assets; with `unauthorized: scan-authorized`
 * and no task created, the chunk is submitted once more without them.
 */
export async function createScanTasks(csip: CsipClient, planned: readonly PlannedTask[], policy: Policy): Promise<TaskOutcome> {
  const outcome: TaskOutcome = { created: [], unauthorized: [], failures: [], warnings: [] };
  const refuse = (values: readonly string[] | undefined): void => {
    for (const value of values ?? []) if (!outcome.unauthorized.includes(value)) outcome.unauthorized.push(value);
  };
  for (const { chunk, request } of planned) {
    try {
      const first = await csip.call("CreateRiskCenterScanTask", request);
      refuse(first.UnAuthAsset);
      let answer = first;
      let submitted = request;
      const refused = first.UnAuthAsset ?? [];
      if (!first.TaskId && first.Status === -1 && refused.length > 0 && policy.unauthorized === "scan-authorized") {
        const rest = withoutAssets(request, refused);
        if (!rest) {
          outcome.warnings.push(`chunk ${chunk}: every asset is unauthorized, so no task was created`);
          continue;
        }
        submitted = rest;
        answer = await csip.call("CreateRiskCenterScanTask", rest);
        refuse(answer.UnAuthAsset);
      }
      if (answer.TaskId) {
        const refusedHere = answer.UnAuthAsset ?? [];
        outcome.created.push({
          chunk,
          taskId: answer.TaskId,
          taskName: request.TaskName,
          requestId: answer.RequestId ?? "",
          assets: size(submitted) - (answer.Status === -1 ? refusedHere.length : 0),
        });
      } else if (answer.Status === -1 && policy.unauthorized === "notify-only") {
        outcome.warnings.push(`chunk ${chunk}: unauthorized assets, so no task was created (unauthorized: notify-only)`);
      } else {
        outcome.failures.push({
          chunk,
          code: `Status${answer.Status ?? "Unknown"}`,
          requestId: answer.RequestId ?? "",
          message: `CSIP created no task (Status ${answer.Status ?? "missing"})`,
        });
      }
    } catch (error) {
      outcome.failures.push(
        error instanceof CloudApiError
          ? { chunk, code: error.code, ...(error.requestId ? { requestId: error.requestId } : {}), message: error.message }
          : { chunk, code: "Error", message: describeError(error) },
      );
    }
  }
  return outcome;
}
