import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import * as z from "zod";
import { ALL_KINDS } from "../../shared/assets/kinds.ts";

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
