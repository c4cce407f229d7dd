import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import * as z from "zod";
import { ALL_KINDS } from "../../shared/assets/kinds.ts";
import { ALL_ACTIONS, CSIP_ACTIONS, type RiskKind } from "../../shared/csip/actions.ts";

/** The kinds of risk, one per risk list action of the action table: vul, port, weakPassword, config. */
export const RISK_KINDS = ALL_ACTIONS.flatMap((a) => {
  const kind = (CSIP_ACTIONS[a] as { risks?: RiskKind }).risks;
  return kind ? [kind] : [];
});

/** The risk lists' Level values, gravest first (AssetViewVULRisk.Level in the reference). */
export const RISK_LEVELS = ["extreme", "high", "middle", "low", "info"] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

/** One current risk of an asset, as the risk list actions show it. */
export const EstateRiskSchema = z
  .strictObject({
    kind: z.enum(RISK_KINDS),
    level: z.enum(RISK_LEVELS),
    /** VULName, the port's Service, PasswordType or CFGName. */
    name: z.string().min(1),
    cve: z.string().regex(/^CVE-\d{4}-\d{4,}$/).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    /** Fix, or CFGFix; a generic text by kind when absent. */
    fix: z.string().optional(),
    /** The risk's Id; derived from the asset, kind and name when absent, so it stays the same. */
    id: z.string().min(1).optional(),
  })
  .refine((r) => r.kind !== "port" || r.port !== undefined, { message: "a port risk needs `port`", path: ["port"] });
export type EstateRisk = z.infer<typeof EstateRiskSchema>;

/** One asset of the emulated estate, as written in `config/emulator-inventory.yaml`. */
export const EstateAssetSchema = z.strictObject({
  kind: z.enum(ALL_KINDS),
  /** Instance ID (cvm, db), the address (publicIp) or the host name (domain). */
  id: z.string().min(1),
  name: z.string().optional(),
  region: z.string().default("ap-guangzhou"),
  /** The CVM's public address, or for a publicIp the instance it is bound to. */
  publicIp: z.string().optional(),
  instanceId: z.string().optional(),
  /** The SDK model's AssetType: CVM, CLB, EIP, HAVIP for addresses; MYSQL, POSTGRES, MARIADB... for databases. */
  type: z.string().optional(),
  tags: z.record(z.string(), z.string()).default({}),
  /** Whether CSIP lets this asset be scanned. */
  authorized: z.boolean().default(true),
  /** A member account of a multi-account organisation; absent for the caller's own account. */
  memberId: z.string().optional(),
  /**
   * What the risk lists show for this asset now, and what a task that scans it counts (RiskCount).
   * Optional even after parsing, so estates written as objects in code need not name it.
   */
  risks: z.array(EstateRiskSchema).optional(),
  /** Set: every task that scans this asset ends in error (ScanStatus 3) with this ErrorInfo. */
  scanError: z.string().min(1).optional(),
});
export type EstateAsset = z.infer<typeof EstateAssetSchema>;
export type EstateAssetInput = z.input<typeof EstateAssetSchema>;

export const EstateSchema = z.strictObject({ assets: z.array(EstateAssetSchema) });

/** Reads an estate file (YAML or JSON). */
export async function readEstate(file: string): Promise<EstateAsset[]> {
  return EstateSchema.parse(parse(await readFile(file, "utf8"))).assets;
}

export function toEstateAssets(inputs: readonly EstateAssetInput[]): EstateAsset[] {
  return inputs.map((a) => EstateAssetSchema.parse(a));
}
