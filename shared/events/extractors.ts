import type { CloudEvent } from "./change-event.ts";

/**
 * Which assets an event names, by event type. One row per API call that creates or changes assets.
 *
 * A CloudAudit event's `type` is `PRODUCT:CloudEvent:ApiCall` (or ConsoleCall, MiniProgramCall); its
 * `data` is the audit log. Assumed log fields (the public pages show no full example): `eventName` (the
 * API action), `requestParameters` and `responseElements` (objects or JSON text, as the action's own
 * request and response). Change a row here when a real event differs.
 */
export type Extractor = (request: Record<string, unknown>, response: Record<string, unknown>) => string[];

const strings = (value: unknown): string[] =>
  (Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]).filter((v): v is string => typeof v === "string" && v !== "");

/** `qcs::cvm:ap-guangzhou:uin/100000:instance/ins-0a1b2c3d` names ins-0a1b2c3d. */
const fromResourceNames = (value: unknown): string[] => strings(value).map((qcs) => qcs.split("/").pop() ?? "").filter(Boolean);

const fqdn = (sub: unknown, domain: unknown): string[] =>
  typeof domain === "string" && domain ? [typeof sub === "string" && sub && sub !== "@" ? `${sub}.${domain}` : domain] : [];

export const EXTRACTORS: Record<string, Extractor> = {
  // Instances created, changed or retagged
  "cvm:RunInstances": (_, res) => strings(res.InstanceIdSet),
  "cvm:ModifyInstancesAttribute": (req) => strings(req.InstanceIds),
  "cvm:ResetInstance": (req) => strings(req.InstanceId),
  // Public IPs bound: the EIP (eip-...) and the instance it now reaches.
  "vpc:AssociateAddress": (req) => [...strings(req.InstanceId), ...strings(req.AddressId)],
  // Load balancers added
  "clb:CreateLoadBalancer": (_, res) => strings(res.LoadBalancerIds),
  // Domains added
  "dnspod:CreateDomain": (req) => strings(req.Domain),
  "dnspod:CreateRecord": (req) => fqdn(req.SubDomain, req.Domain),
  "dnspod:ModifyRecord": (req) => fqdn(req.SubDomain, req.Domain),
  // Databases created
  "cdb:CreateDBInstance": (_, res) => strings(res.InstanceIds),
  "cdb:CreateDBInstanceHour": (_, res) => strings(res.InstanceIds),
  "postgres:CreateInstances": (_, res) => strings(res.DBInstanceIdSet),
  // Tags attached
  "tag:AddResourceTag": (req) => fromResourceNames(req.Resource),
  "tag:ModifyResourceTags": (req) => fromResourceNames(req.Resource),
  "tag:TagResources": (req) => fromResourceNames(req.ResourceList),
  "tag:AttachResourcesTag": (req) => [...fromResourceNames(req.ResourceIds), ...strings(req.ResourceIds).filter((id) => !id.startsWith("qcs"))],
};

/**
 * The EventBridge event pattern that lets through the events the table handles: CloudAudit events of
 * each product the table names (`cvm.cloud.tencent`, `cvm:CloudEvent:ApiCall` and `...:ConsoleCall`).
 * The table decides the rest by `eventName`.
 */
export function eventPattern(): { source: string[]; type: string[] } {
  const products = [...new Set(Object.keys(EXTRACTORS).map((key) => key.split(":")[0]!))];
  return {
    source: products.map((p) => `${p}.cloud.tencent`),
    type: products.flatMap((p) => [`${p}:CloudEvent:ApiCall`, `${p}:CloudEvent:ConsoleCall`]),
  };
}

function objectOf(value: unknown): Record<string, unknown> {
  if (typeof value === "string") {
    try {
      return objectOf(JSON.parse(value));
    } catch {
      return {};
    }
  }
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** The table key of an event: `cvm:RunInstances`, or undefined when it is not a CloudAudit API call. */
export function eventKey(event: CloudEvent): string | undefined {
  const [product, category] = event.type.split(":");
  const action = event.data.eventName ?? event.data.EventName;
  if (!product || category !== "CloudEvent" || typeof action !== "string") return undefined;
  return `${product.toLowerCase()}:${action}`;
}

/** The asset IDs an event names, or undefined for an event type no row handles. */
export function assetIdsOf(event: CloudEvent): string[] | undefined {
  const key = eventKey(event);
  const extract = key ? EXTRACTORS[key] : undefined;
  if (!extract) return undefined;
  const ids = extract(objectOf(event.data.requestParameters), objectOf(event.data.responseElements));
  return [...new Set(ids)];
}
