import type { CsipAction } from "../../shared/csip/actions.ts";

/**
 * The `Filter.Filters` names each list action answers, one row each. CSIP documents no filter names
 * (only OperatorType), so each name is here with where it comes from, and the emulator refuses any
 * other: a misspelt name fails a test instead of silently matching nothing. ASSUMPTIONS.md repeats the
 * rows with their evidence. A name is matched against the row field of the same name.
 */
export const FILTER_NAMES: Partial<Record<CsipAction, readonly string[]>> = {
  // The project's lookups by ID and address; ProtectStatus, CFWStatus, WAFStatus and Status from the examples.
  DescribeCVMAssets: ["AssetId", "PublicIp", "ProtectStatus", "Region"],
  DescribePublicIpAssets: ["AssetId", "PublicIp", "CFWStatus", "Region"],
  DescribeDomainAssets: ["AssetId", "SubDomain", "WAFStatus"],
  DescribeDbAssets: ["AssetId", "Status"],
  // TaskId: the Terraform provider's read of a task; TaskName: the project's lookup of its own tasks.
  DescribeScanTaskList: ["TaskId", "TaskName", "ScanStatus"],
  DescribeTaskLogList: ["TaskCenterTaskId", "TaskLogId"],
  // InstanceType, Status and Uin from the examples; InstanceId and AffectAsset: the project's reads.
  DescribeRiskCenterAssetViewVULRiskList: ["InstanceId", "AffectAsset", "InstanceType", "Level", "Status", "Uin"],
  DescribeRiskCenterAssetViewPortRiskList: ["InstanceId", "AffectAsset", "InstanceType", "Level", "Status", "Uin"],
  DescribeRiskCenterAssetViewWeakPasswordRiskList: ["InstanceId", "AffectAsset", "InstanceType", "Level", "Status", "Uin"],
  DescribeRiskCenterAssetViewCFGRiskList: ["InstanceId", "AffectAsset", "InstanceType", "Level", "Status", "Uin"],
};
