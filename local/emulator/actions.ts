import { ALL_KINDS } from "../../shared/assets/kinds.ts";
import { listActionOf, riskListOf, type CsipAction, type ListAction, type RiskListAction } from "../../shared/csip/actions.ts";
import type { Answer, Context, Handler, Params } from "./answers.ts";
import { RISK_KINDS } from "./estate.ts";
import { createAssetSyncTask, describeAssets } from "./inventory.ts";
import { describeTaskLogList, describeTaskLogURL } from "./reports.ts";
import { describeRisks } from "./risks.ts";
import { createRiskCenterScanTask, deleteRiskScanTask, describeScanTaskList, settleTasks, stopRiskCenterTask } from "./tasks.ts";

/**
 * The emulated actions. Shapes follow the SDK models and the official examples in
 * ../shared/reference/csip-2022-11-21-{api,examples}.json; what the documents leave open is in ASSUMPTIONS.md.
 */

export type { Answer, Context } from "./answers.ts";
export { UNAUTHORIZED_ANSWERS, type EmulatedTask, type EmulatorState, type UnauthorizedAnswer } from "./state.ts";

/** Every action of the project's action table (shared/csip/actions.ts): the type makes a missing one an error. */
export const actionHandlers: Record<CsipAction, Handler> = {
  ...(Object.fromEntries(ALL_KINDS.map((kind) => [listActionOf(kind), describeAssets(kind)])) as Record<ListAction, Handler>),
  ...(Object.fromEntries(RISK_KINDS.map((kind) => [riskListOf(kind), describeRisks(kind)])) as Record<RiskListAction, Handler>),
  CreateRiskCenterScanTask: createRiskCenterScanTask,
  DescribeScanTaskList: describeScanTaskList,
  StopRiskCenterTask: stopRiskCenterTask,
  DeleteRiskScanTask: deleteRiskScanTask,
  CreateAssetSyncTask: createAssetSyncTask,
  DescribeTaskLogList: describeTaskLogList,
  DescribeTaskLogURL: describeTaskLogURL,
};

/** Runs an action's handler; tasks whose end has come are ended before it (so it sees them) and after it (a 0 s scan ends at once). */
export function runAction(handler: Handler, params: Params, context: Context): Answer {
  settleTasks(context.state, context.now);
  const answer = handler(params, context);
  settleTasks(context.state, context.now);
  return answer;
}
