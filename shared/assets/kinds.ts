import { listActionOf, type CsipAction, type ListedKind } from "../csip/actions.ts";

/**
 * Asset kinds as data. Adding a kind is adding a row: the list action that pages it, how to read one
 * item of that list, how to recognise its IDs in a policy, the TaskAssetObject that asks CSIP to scan
 * it (TASK_SHAPES, each with its source), and which risk-list field names it (`findingsBy`).
 */

/**
 * The TaskAssetObject shape of each kind, with where it comes from. The emulator accepts these shapes
 * and no other (local/emulator/tasks.ts).
 *
 * Only CVM is shown whole in the official documents (the CreateRiskCenterScanTask and
 * DescribeScanTaskList examples: AssetType "Instance", InstanceType "CVM"). For a public IP the
 * official field examples of TaskAssetObject give AssetType "IP" with Asset "1.1.1.1"; the Terraform
 * provider's acceptance test sends AssetType "PublicIp" with InstanceType "1", but in a ScanAssetType 2
 * (all but these) task, which CSIP does not check against the inventory, so it shows only that the
 * call was taken. The official example is preferred; InstanceType is the address's own type from the
 * IP list (the risk lists' InstanceTypeLists: CLB, CVM, EIP, HAVIP, NAT, ...). Domain and database
 * shapes are not documented anywhere found: guesses, to be corrected here when seen.
 */
export const TASK_SHAPES = {
  cvm: { AssetType: "Instance", instanceTypes: ["CVM"], source: "official CreateRiskCenterScanTask and DescribeScanTaskList examples" },
  publicIp: {
    AssetType: "IP",
    instanceTypes: ["CLB", "CVM", "EIP", "VPN", "NAT", "OTHER", "LH", "HAVIP", "NATFW", "unknown", "PROBE", "TSE", "EC2"],
    source: "official TaskAssetObject field examples (AssetType IP); InstanceType values from the risk lists' InstanceTypeLists example",
  },
  domain: { AssetType: "Domain", instanceTypes: ["Domain"], source: "unknown: a guess" },
  db: { AssetType: "Db", instanceTypes: "any", source: "unknown: a guess; InstanceType is the DB list's AssetType" },
} as const satisfies Record<string, { AssetType: string; instanceTypes: readonly string[] | "any"; source: string }>;

/** Whether a TaskAssetObject's AssetType and InstanceType are a shape of the table. */
export function isTaskShape(assetType: string | undefined, instanceType: string | undefined): boolean {
  return Object.values(TASK_SHAPES).some(
    (shape) =>
      shape.AssetType === assetType &&
      (shape.instanceTypes === "any" ? Boolean(instanceType) : (shape.instanceTypes as readonly string[]).includes(instanceType ?? "")),
  );
}

/** The kinds, one per inventory list action of shared/csip/actions.ts. */
export type AssetKind = ListedKind;

export interface Tag {
  name: string;
  value: string;
}

/** One asset of the CSIP inventory, whatever its kind. */
export interface Asset {
  kind: AssetKind;
  /** The value CSIP scans: instance ID, IP address, domain name or database ID. */
  id: string;
  name: string;
  region: string;
  /** The SDK model's AssetType (CVM, CLB, EIP, MYSQL, ...). */
  instanceType: string;
  tags: Tag[];
  /** The member account, or undefined for the caller's own (always present, so every asset has one shape). */
  memberId?: string | undefined;
  /** Other names a policy may use for this asset (a CVM's public IP). */
  aliases: string[];
}

export interface TaskAssetFields {
  AssetType: string;
  InstanceType: string;
}

export interface AssetKindSpec {
  kind: AssetKind;
  label: string;
  /** The list action that pages this kind (from the action table). */
  listAction: CsipAction;
  /** Whether an explicit ID in a policy names an asset of this kind. */
  idPattern: RegExp;
  /** Reads one item of the list action's `Data`. Returns undefined for an item without an ID. */
  fromItem(item: Record<string, unknown>): Asset | undefined;
  task(asset: Asset): TaskAssetFields;
  /** True where the row is the documented one, false where it is an assumption. */
  taskDocumented: boolean;
  /**
   * The risk-list field that names this kind's assets: the official example rows name a CVM by
   * `InstanceId` ("ins-…") and an address by `AffectAsset` (with the CVM behind it as InstanceId).
   */
  findingsBy: "InstanceId" | "AffectAsset";
  /**
   * The list item fields to filter on to find one asset without walking the list: by its ID, and by an
   * address where the kind has one (Filter.Filters; the names are assumptions, see
   * local/emulator/ASSUMPTIONS.md). `lookupField` picks one for an ID.
   */
  lookupBy: { id: string; address?: string };
}

const IPV4 = /^(\d{1,3})(\.\d{1,3}){3}$/;
const IPV6 = /^[0-9a-f:]+:[0-9a-f:]*$/i;

const isAddress = (id: string): boolean => IPV4.test(id) || IPV6.test(id);

const str = (v: unknown): string => (Array.isArray(v) ? str(v[0]) : typeof v === "string" ? v : v == null ? "" : String(v));

function tagsOf(item: Record<string, unknown>): Tag[] {
  const raw = Array.isArray(item.Tag) ? (item.Tag as { Name?: unknown; Value?: unknown }[]) : [];
  return raw.map((t) => ({ name: str(t.Name), value: str(t.Value) })).filter((t) => t.name !== "");
}

function base(kind: AssetKind, item: Record<string, unknown>, id: string, aliases: string[] = []): Asset | undefined {
  if (!id) return undefined;
  const memberId = str(item.MemberId);
  return {
    kind,
    id,
    name: str(item.AssetName) || id,
    region: str(item.Region),
    instanceType: str(item.AssetType),
    tags: tagsOf(item),
    aliases: aliases.filter(Boolean),
    ...(memberId ? { memberId } : {}),
  };
}

export const ASSET_KINDS: Record<AssetKind, AssetKindSpec> = {
  cvm: {
    kind: "cvm",
    label: "CVM instance",
    listAction: listActionOf("cvm"),
    idPattern: /^ins-[0-9a-z]+$/,
    fromItem: (item) => base("cvm", item, str(item.AssetId), [str(item.PublicIp)]),
    task: () => ({ AssetType: TASK_SHAPES.cvm.AssetType, InstanceType: "CVM" }),
    taskDocumented: true,
    findingsBy: "InstanceId",
    lookupBy: { id: "AssetId", address: "PublicIp" },
  },
  publicIp: {
    kind: "publicIp",
    label: "public IP",
    listAction: listActionOf("publicIp"),
    // An address, or the load balancer, EIP or HAVIP that holds it.
    idPattern: new RegExp(`${IPV4.source}|${IPV6.source}|^(lb|eip|havip)-[0-9a-z]+$`, "i"),
    fromItem: (item) => base("publicIp", item, str(item.PublicIp), [str(item.AssetId)]),
    task: (asset) => ({ AssetType: TASK_SHAPES.publicIp.AssetType, InstanceType: asset.instanceType || "EIP" }),
    taskDocumented: false,
    findingsBy: "AffectAsset",
    lookupBy: { id: "AssetId", address: "PublicIp" },
  },
  domain: {
    kind: "domain",
    label: "domain",
    listAction: listActionOf("domain"),
    idPattern: /^(?=.*[a-z])[a-z0-9-]+(\.[a-z0-9-]+)+$/i,
    // DomainAssetVO holds AssetId, AssetName, AssetType and Region as lists; SubDomain is the name.
    fromItem: (item) => base("domain", item, str(item.SubDomain) || str(item.AssetId)),
    task: () => ({ AssetType: TASK_SHAPES.domain.AssetType, InstanceType: "Domain" }),
    taskDocumented: false,
    findingsBy: "AffectAsset",
    lookupBy: { id: "SubDomain" },
  },
  db: {
    kind: "db",
    label: "database",
    listAction: listActionOf("db"),
    idPattern: /^(cdb|cdbro|postgres|tdsql|tdsqlshard|mariadb|cmongo|crs|redis|sqlserver|mssql|cynosdbmysql|dcdb|keewidb)-[0-9a-z]+$/,
    fromItem: (item) => base("db", item, str(item.AssetId)),
    task: (asset) => ({ AssetType: TASK_SHAPES.db.AssetType, InstanceType: asset.instanceType || "MYSQL" }),
    taskDocumented: false,
    findingsBy: "InstanceId",
    lookupBy: { id: "AssetId" },
  },
};

export const ALL_KINDS = Object.keys(ASSET_KINDS) as AssetKind[];

/** The list field to look up an asset of `kind` by `id`: its address field for an address, else its ID field. */
export function lookupField(kind: AssetKind, id: string): string {
  const by = ASSET_KINDS[kind].lookupBy;
  return by.address !== undefined && isAddress(id) ? by.address : by.id;
}

/** The kinds an explicit ID could be, from its form. An unrecognised form could be any kind. */
export function kindsForId(id: string): AssetKind[] {
  const matches = ALL_KINDS.filter((kind) => ASSET_KINDS[kind].idPattern.test(id));
  // A CVM's public IP is also listed on the CVM, so an address may name either.
  if (isAddress(id)) matches.push("cvm");
  return matches.length > 0 ? matches : ALL_KINDS;
}

/** The kind a TaskAssetObject's AssetType stands for, if the table has it. */
export function kindOfTaskAsset(assetType: string | undefined): AssetKind | undefined {
  return ALL_KINDS.find((kind) => TASK_SHAPES[kind].AssetType === assetType);
}
