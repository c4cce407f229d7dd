import type { AssetKind } from "../assets/kinds.ts";

/** What the run reports about an unauthorized asset. */
export interface UnauthorizedAsset {
  id: string;
  name: string;
  /** An asset kind, or "url" for a typed-in address CSIP refused. */
  kind: AssetKind | "url";
  region: string;
  memberId?: string;
}

export interface RunError {
  code: string;
  requestId?: string;
  message: string;
}

/** Where unauthorized assets are authorized, shown in every message that lists them. */
export const HOW_TO_AUTHORIZE =
  "CSIP scans only authorized assets. Authorize them in the Cloud Security Center console " +
  "(https://console.cloud.tencent.com/csip, Asset Center), or for a domain or public IP " +
  "complete its ownership verification there; the next run scans them.";

/**
 * The body of a generic webhook notification (`schema: csip-scan.run/v1`). The README documents it;
 * change it only by adding fields.
 */
export interface RunReport {
  schema: "csip-scan.run/v1";
  /** Why this message: the `notifyOn` reasons that held. */
  reasons: ("unauthorized" | "failure" | "summary")[];
  policy: string;
  trigger: "timer" | "manual" | "asset-change";
  scheduledTime: string;
  status: "ok" | "failed";
  unauthorizedAssets: UnauthorizedAsset[];
  tasks: { taskId: string; taskName: string; assets: number }[];
  warnings: string[];
  errors: RunError[];
  howToAuthorize: string;
}
