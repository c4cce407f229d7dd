import { createHash, randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { EmulatorAccount } from "../emulator/accounts.ts";
import type { AccountState, CosObject } from "./account.ts";
import { httpDate, utcIso } from "./clock.ts";
import { expectedCosSignature, parseCosAuthorization } from "./cos-signature.ts";
import { sameSignature } from "../emulator/signature.ts";

/**
 * COS (XML API) as the plugin's cos-nodejs-sdk-v5 uses it: the service host lists buckets, a bucket host
 * (`BUCKET-APPID.cos.REGION.myqcloud.com`, or `tencentcos.cn`, the SDK's fallback) creates and lists the
 * bucket and puts, heads and deletes objects. Every answer carries `x-cos-request-id`: without it the SDK
 * retries and switches hosts. Errors are `<Error><Code/><Message/></Error>` with the HTTP status COS uses
 * (https://cloud.tencent.com/document/product/436/7730). Object bodies are not kept.
 */

export interface CosRequest {
  method: string;
  /** The Host header without a port: what the client signed. */
  host: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface CosAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The S3-style operation (GetService, PutBucket, PutObject...), "" when the request named none. */
  action: string;
  params: Record<string, unknown>;
  error?: string;
}

interface CosTarget {
  region: string;
  bucket?: string;
  key: string;
}

/** `cos.REGION.myqcloud.com`, `service.cos.myqcloud.com`, `BUCKET-APPID.cos.REGION.{myqcloud.com,tencentcos.cn}`. */
const HOSTS: readonly { pattern: RegExp; target: (m: RegExpExecArray) => Omit<CosTarget, "key"> }[] = [
  { pattern: /^service\.cos\.(?:myqcloud\.com|tencentcos\.cn)$/, target: () => ({ region: "" }) },
  { pattern: /^cos\.([a-z0-9-]+)\.(?:myqcloud\.com|tencentcos\.cn)$/, target: (m) => ({ region: m[1]! }) },
  { pattern: /^([a-z0-9-]+-\d+)\.cos\.([a-z0-9-]+)\.(?:myqcloud\.com|tencentcos\.cn)$/, target: (m) => ({ bucket: m[1]!, region: m[2]! }) },
];

/** Whether the stand-in serves this host as COS. */
export function isCosHost(host: string): boolean {
  return HOSTS.some((h) => h.pattern.test(host));
}

function targetOf(request: CosRequest): CosTarget | undefined {
  for (const { pattern, target } of HOSTS) {
    const match = pattern.exec(request.host);
    if (match) return { ...target(match), key: decodeURIComponent(request.path).replace(/^\//, "") };
  }
  return undefined;
}

const escapeXml = (s: string): string => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

function answer(status: number, action: string, params: Record<string, unknown>, body = "", headers: Record<string, string> = {}): CosAnswer {
  return {
    status,
    action,
    params,
    body,
    headers: { "x-cos-request-id": randomUUID(), server: "tencent-cos", date: httpDate(Date.now()), "content-type": "application/xml", ...headers },
  };
}

function cosError(status: number, code: string, message: string, action: string, params: Record<string, unknown>): CosAnswer {
  const body = `<?xml version='1.0' encoding='utf-8' ?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message><RequestId></RequestId></Error>`;
  return { ...answer(status, action, params, body), error: code };
}

/** The object's metadata when the bucket exists in that region and holds the key (SCF reads its code from there). */
export function objectOf(account: AccountState, bucket: string, region: string, key: string): CosObject | undefined {
  if (!account.buckets.some((b) => b.Name === bucket && b.Region === region)) return undefined;
  return account.objects.find((o) => o.Bucket === bucket && o.Key === key);
}

/** The operation a request is, from its host kind, method and whether it names an object. */
function operationOf(target: CosTarget, method: string, query: URLSearchParams): string {
  if ([...query.keys()].some((k) => !k.startsWith("response-"))) return "";
  if (!target.bucket) return method === "GET" && target.key === "" ? "GetService" : "";
  const scope = target.key === "" ? "Bucket" : "Object";
  const verb: Record<string, string> = { GET: "Get", PUT: "Put", HEAD: "Head", DELETE: "Delete" };
  return verb[method] ? `${verb[method]}${scope}` : "";
}

/** Checks the q-sign signature, then answers the operation against the account. */
export function handleCos(request: CosRequest, account: AccountState, keys: readonly EmulatorAccount[], now: number): CosAnswer {
  const target = targetOf(request);
  if (!target) return cosError(400, "InvalidURI", `Host ${request.host} is not a COS endpoint.`, "", {});
  const action = operationOf(target, request.method, request.query);
  const params: Record<string, unknown> = {
    ...(target.bucket ? { Bucket: target.bucket } : {}),
    ...(target.region ? { Region: target.region } : {}),
    ...(target.key ? { Key: target.key } : {}),
    ...(action === "PutObject" ? { ContentLength: request.body.length, ContentType: String(request.headers["content-type"] ?? "") } : {}),
  };
  const auth = parseCosAuthorization(typeof request.headers.authorization === "string" ? request.headers.authorization : undefined);
  if (!auth) return cosError(403, "AccessDenied", "The Authorization header is missing or is not a q-sign-algorithm=sha1 signature.", action, params);
  const key = keys.find((k) => k.secretId === auth.secretId);
  if (!key) return cosError(403, "InvalidAccessKeyId", "The access key Id format you provided is invalid.", action, params);
  const seconds = now / 1000;
  if (seconds < auth.signTime[0] - 60 || seconds > auth.signTime[1]) return cosError(403, "AccessDenied", "Request has expired (q-sign-time).", action, params);
  if (!sameSignature(expectedCosSignature(request, auth, key.secretKey), auth.signature)) {
    return cosError(403, "SignatureDoesNotMatch", "The Signature you specified does not match what we calculated.", action, params);
  }
  if (target.bucket && !target.bucket.endsWith(`-${account.appId}`)) {
    return cosError(403, "AccessDenied", `Bucket ${target.bucket} does not belong to AppId ${account.appId}.`, action, params);
  }
  const operation = OPERATIONS[action];
  if (!operation) return cosError(501, "NotImplemented", `${request.method} ${request.path}${request.query.size ? `?${request.query}` : ""} is not emulated.`, action, params);
  return operation({ request, target, account, now, action, params });
}

interface OperationInput {
  request: CosRequest;
  target: CosTarget;
  account: AccountState;
  now: number;
  action: string;
  params: Record<string, unknown>;
}

function bucketOf(input: OperationInput): CosAnswer | undefined {
  const { account, target } = input;
  return account.buckets.some((b) => b.Name === target.bucket && b.Region === target.region)
    ? undefined
    : cosError(404, "NoSuchBucket", `The specified bucket ${target.bucket} does not exist in ${target.region}.`, input.action, input.params);
}

/** Bucket names: lower-case letters, digits and -, not at either end, at most 60 characters with the AppId. */
const BUCKET_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?-\d+$/;

const OPERATIONS: Readonly<Record<string, (input: OperationInput) => CosAnswer>> = {
  GetService: ({ account, target, action, params }) => {
    const owner = `<Owner><ID>qcs::cam::uin/${account.uin}:uin/${account.uin}</ID><DisplayName>${account.uin}</DisplayName></Owner>`;
    const buckets = account.buckets
      .filter((b) => target.region === "" || b.Region === target.region)
      .map((b) => `<Bucket><Name>${b.Name}</Name><Location>${b.Region}</Location><CreationDate>${b.CreationDate}</CreationDate><BucketType>cos</BucketType></Bucket>`)
      .join("");
    return answer(200, action, params, `<?xml version='1.0' encoding='utf-8' ?>\n<ListAllMyBucketsResult>${owner}<Buckets>${buckets}</Buckets></ListAllMyBucketsResult>`);
  },
  PutBucket: (input) => {
    const { account, target, now, action, params } = input;
    const name = target.bucket ?? "";
    if (!BUCKET_NAME.test(name) || name.length > 60) return cosError(400, "InvalidBucketName", `The bucket name ${name} is invalid.`, action, params);
    if (account.buckets.some((b) => b.Name === name)) return cosError(409, "BucketAlreadyExists", `The bucket ${name} already exists.`, action, params);
    account.buckets.push({ Name: name, Region: target.region, CreationDate: utcIso(now) });
    return answer(200, action, params);
  },
  HeadBucket: (input) => bucketOf(input) ?? answer(200, input.action, input.params),
  GetBucket: (input) => {
    const missing = bucketOf(input);
    if (missing) return missing;
    const prefix = input.request.query.get("prefix") ?? "";
    const contents = input.account.objects
      .filter((o) => o.Bucket === input.target.bucket && o.Key.startsWith(prefix))
      .map((o) => `<Contents><Key>${escapeXml(o.Key)}</Key><LastModified>${o.LastModified}</LastModified><ETag>${o.ETag}</ETag><Size>${o.Size}</Size><StorageClass>STANDARD</StorageClass></Contents>`)
      .join("");
    const body = `<?xml version='1.0' encoding='utf-8' ?>\n<ListBucketResult><Name>${input.target.bucket}</Name><Prefix>${escapeXml(prefix)}</Prefix><Marker></Marker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${contents}</ListBucketResult>`;
    return answer(200, input.action, input.params, body);
  },
  PutObject: (input) => {
    const missing = bucketOf(input);
    if (missing) return missing;
    const { account, target, request, now } = input;
    const etag = `"${createHash("md5").update(request.body).digest("hex")}"`;
    const object: CosObject = {
      Bucket: target.bucket ?? "",
      Key: target.key,
      Size: request.body.length,
      ETag: etag,
      ContentType: String(request.headers["content-type"] ?? "application/octet-stream"),
      LastModified: utcIso(now),
    };
    account.objects = [...account.objects.filter((o) => !(o.Bucket === object.Bucket && o.Key === object.Key)), object];
    return answer(200, input.action, input.params, "", { etag });
  },
  HeadObject: (input) => {
    const found = objectOf(input.account, input.target.bucket ?? "", input.target.region, input.target.key);
    if (!found) return cosError(404, "NoSuchKey", `The specified key ${input.target.key} does not exist.`, input.action, input.params);
    return answer(200, input.action, input.params, "", { etag: found.ETag, "content-length": String(found.Size), "last-modified": httpDate(Date.parse(found.LastModified)) });
  },
  DeleteObject: (input) => {
    const missing = bucketOf(input);
    if (missing) return missing;
    input.account.objects = input.account.objects.filter((o) => !(o.Bucket === input.target.bucket && o.Key === input.target.key));
    return answer(204, input.action, input.params);
  },
};
