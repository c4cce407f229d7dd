import type { Client } from "tencentcloud-sdk-nodejs/tencentcloud/services/csip/v20221121/csip_client.js";
import * as z from "zod";

/**
 * What the project reads of each answer, checked where the answer enters (shared/csip/client.ts): a
 * malformed answer is a CloudApiError naming the action and RequestId, not a TypeError far away.
 * Loose: fields the project does not read pass as they are.
 */
/**
 * A list row is checked to be an object, not parsed: a loose object schema copies every field of every
 * row, which for the inventory's 70-field rows was four tenths of all a walk allocated (bench/memory.ts).
 */
const Row = z.custom<Record<string, unknown>>((value) => typeof value === "object" && value !== null && !Array.isArray(value), {
  error: (issue) => `Invalid input: expected object, received ${Array.isArray(issue.input) ? "array" : issue.input === null ? "null" : typeof issue.input}`,
});
const items = z.array(Row).optional();
const AssetListAnswer = z.looseObject({ Total: z.number().optional(), Data: items });
const RiskListAnswer = z.looseObject({ TotalCount: z.number().optional(), Data: items });
const AnswerSchemas = {
  assets: AssetListAnswer,
  risks: RiskListAnswer,
  reports: z.looseObject({ TotalCount: z.number().optional(), Data: items }),
  reportUrls: z.looseObject({ Data: z.array(z.looseObject({ URL: z.string().optional(), LogId: z.string().optional() })).optional() }),
  tasks: z.looseObject({ TotalCount: z.number().optional(), Data: items }),
  created: z.looseObject({ TaskId: z.string().optional(), Status: z.number().optional(), UnAuthAsset: z.array(z.string()).optional() }),
  stopped: z.looseObject({ Status: z.number().optional() }),
  any: z.looseObject({}),
} as const;

/**
 * The CSIP actions csip-scan calls (API 2022-11-21), one row each, and the API's enumerations.
 * From this table come the client's types (the SDK's own request and response models), which calls
 * may be retried directly, the actions the emulator must serve, the parameter lists it checks
 * (scripts/import-reference.ts) and the actions the CAM policy allows (test/deploy/cam-policy.test.ts).
 *
 * `access`: a read retries every retryable failure; a write retries only RequestLimitExceeded, which
 * CSIP answers before doing anything (after a timeout or an internal error a write may have happened,
 * so the caller looks before trying again: shared/scan/create-tasks.ts).
 * `lists`: the asset kind an inventory list action pages (shared/assets/kinds.ts).
 */
export const CSIP_ACTIONS = {
  DescribeCVMAssets: { access: "read", lists: "cvm", answer: AnswerSchemas.assets },
  DescribePublicIpAssets: { access: "read", lists: "publicIp", answer: AnswerSchemas.assets },
  DescribeDomainAssets: { access: "read", lists: "domain", answer: AnswerSchemas.assets },
  DescribeDbAssets: { access: "read", lists: "db", answer: AnswerSchemas.assets },
  DescribeScanTaskList: { access: "read", answer: AnswerSchemas.tasks },
  CreateRiskCenterScanTask: { access: "write", answer: AnswerSchemas.created },
  StopRiskCenterTask: { access: "write", answer: AnswerSchemas.stopped },
  DeleteRiskScanTask: { access: "write", answer: AnswerSchemas.any },
  CreateAssetSyncTask: { access: "write", answer: AnswerSchemas.any },
  // What a scan found (shared/results): its reports, their PDF links, and the current risks of assets.
  DescribeTaskLogList: { access: "read", answer: AnswerSchemas.reports },
  DescribeTaskLogURL: { access: "read", answer: AnswerSchemas.reportUrls },
  DescribeRiskCenterAssetViewVULRiskList: { access: "read", answer: AnswerSchemas.risks, risks: "vul" },
  DescribeRiskCenterAssetViewPortRiskList: { access: "read", answer: AnswerSchemas.risks, risks: "port" },
  DescribeRiskCenterAssetViewWeakPasswordRiskList: { access: "read", answer: AnswerSchemas.risks, risks: "weakPassword" },
  DescribeRiskCenterAssetViewCFGRiskList: { access: "read", answer: AnswerSchemas.risks, risks: "config" },
} as const satisfies Record<string, ActionRow>;

interface ActionRow {
  access: "read" | "write";
  lists?: string;
  /** The kind of risk a per-asset risk list holds. */
  risks?: string;
  answer: z.ZodType;
}

export type CsipAction = keyof typeof CSIP_ACTIONS;
export type RequestOf<A extends CsipAction> = Parameters<Client[A]>[0];
export type ResponseOf<A extends CsipAction> = Awaited<ReturnType<Client[A]>>;

/** The asset kinds the inventory list actions page: `cvm`, `publicIp`, `domain`, `db`. */
export type ListedKind = { [A in CsipAction]: (typeof CSIP_ACTIONS)[A] extends { lists: infer K } ? K : never }[CsipAction];

/** The kinds of risk the per-asset risk lists hold: `vul`, `port`, `weakPassword`, `config`. */
export type RiskKind = { [A in CsipAction]: (typeof CSIP_ACTIONS)[A] extends { risks: infer K } ? K : never }[CsipAction];

/** The per-asset risk list actions. */
export type RiskListAction = { [A in CsipAction]: (typeof CSIP_ACTIONS)[A] extends { risks: string } ? A : never }[CsipAction];

/** The risk list action of a kind of risk. */
export function riskListOf(kind: RiskKind): RiskListAction {
  return ALL_ACTIONS.find((a) => (CSIP_ACTIONS[a] as ActionRow).risks === kind) as RiskListAction;
}

/**
 * DescribeScanTaskList's ScanStatus: 0 initial, 1 scanning, 2 done, 3 error, 4 stopped (the reference's
 * ScanTaskInfoList). 5 paused and 6 restarted are seen beyond that list (issue 19): neither has ended.
 */
export const SCAN_STATUS = { initial: 0, scanning: 1, done: 2, error: 3, stopped: 4, paused: 5, restarted: 6 } as const;

/** The inventory list actions. */
export type ListAction = { [A in CsipAction]: (typeof CSIP_ACTIONS)[A] extends { lists: string } ? A : never }[CsipAction];

export const ALL_ACTIONS = Object.keys(CSIP_ACTIONS) as CsipAction[];

export function isRead(action: CsipAction): boolean {
  return CSIP_ACTIONS[action].access === "read";
}

/** The list action that pages an asset kind. */
export function listActionOf(kind: ListedKind): ListAction {
  return ALL_ACTIONS.find((a) => (CSIP_ACTIONS[a] as ActionRow).lists === kind) as ListAction;
}

/** CreateRiskCenterScanTask's ScanAssetType (../shared/reference/csip-2022-11-21-api.json). */
export const SCAN_ASSET_TYPE = {
  /** Every asset. */
  all: 0,
  /** The assets in `Assets`. */
  listed: 1,
  /** Every asset but those in `Assets`. */
  allExcept: 2,
  /** Typed-in IPs, domains and URLs in `SelfDefiningAssets`. */
  typedIn: 3,
} as const;
export type ScanAssetType = (typeof SCAN_ASSET_TYPE)[keyof typeof SCAN_ASSET_TYPE];

/** CreateRiskCenterScanTask's ScanPlanType 1: scan now (the schedule lives in SCF). */
export const SCAN_NOW = 1;
