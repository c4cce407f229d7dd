import { createHash, randomUUID } from "node:crypto";
import { COS_BUCKET_NAME, cosBucketNameProblem } from "../../shared/config/schema.ts";
import type { EmulatorAccount } from "../emulator/accounts.ts";
import type { HttpRequest } from "./action.ts";
import type { AccountState, CosObject } from "./account.ts";
import { httpDate, utcIso } from "./clock.ts";
import { expectedCosSignature, parseCosAuthorization } from "./cos-signature.ts";
import { sameSignature } from "../emulator/signature.ts";

/**
 * COS (XML API) as the plugin's cos-nodejs-sdk-v5 uses it: the service host lists buckets, a bucket host
 * (`BUCKET-APPID.cos.REGION.myqcloud.com`, or `tencentcos.cn`, the SDK's fallback) creates and lists the
 * bucket and puts, heads and deletes objects. Every answer carries `x-cos-request-id`: without it the SDK
 * retries and switches hosts. Errors are `<Error><Code/><Message/></Error>` with the HTTP status COS uses
 * (https://cloud.tencent.com/document/product/436/7730). It also serves what the state store needs:
 * object bodies and `x-cos-meta-*`, `x-cos-forbid-overwrite` (a 409 whose code is a switch, on a bucket
 * whose versioning was never enabled), bucket versioning, paged listings, and presigned GETs.
 */

export type CosRequest = HttpRequest;

export interface CosAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
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

/** COS request ids are base64 text; any unique string serves here. */
const requestId = (): string => Buffer.from(randomUUID()).toString("base64");

function answer(status: number, action: string, params: Record<string, unknown>, body: string | Buffer = "", headers: Record<string, string> = {}, id = requestId()): CosAnswer {
  return {
    status,
    action,
    params,
    body,
    headers: { "x-cos-request-id": id, server: "tencent-cos", date: httpDate(Date.now()), "content-type": "application/xml", ...headers },
  };
}

function cosError(status: number, code: string, message: string, action: string, params: Record<string, unknown>): CosAnswer {
  const id = requestId();
  const body = `<?xml version='1.0' encoding='utf-8' ?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message><RequestId>${id}</RequestId></Error>`;
  return { ...answer(status, action, params, body, {}, id), error: code };
}

/** A server error COS could answer at any time (tests inject it): nothing was done. */
export function cosInternalError(action: string): CosAnswer {
  return cosError(500, "InternalError", "We encountered an internal error. Please try again.", action, {});
}

/** Throttling (tests inject it): nothing was done. Which status a real bucket throttles with is open (ASSUMPTIONS.md, COS). */
export function cosSlowDown(action: string): CosAnswer {
  return cosError(429, "SlowDown", "Please reduce your request rate.", action, {});
}

/** The object's metadata when the bucket exists in that region and holds the key (SCF reads its code from there). */
export function objectOf(account: AccountState, bucket: string, region: string, key: string): CosObject | undefined {
  if (!account.buckets.some((b) => b.Name === bucket && b.Region === region)) return undefined;
  return account.objects.find((o) => o.Bucket === bucket && o.Key === key);
}

/** The query parameters of a presigned URL: the signature and the session token, not part of the operation. */
const PRESIGN_PARAMS = new Set(["q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list", "q-signature", "x-cos-security-token"]);

/** The parameters GET Bucket (list objects) takes, https://cloud.tencent.com/document/product/436/7734. */
const LIST_PARAMS = new Set(["prefix", "delimiter", "encoding-type", "marker", "max-keys"]);

/** The sub-resources served, by scope: `?versioning` on a bucket. */
const SUB_RESOURCES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  Bucket: { versioning: "BucketVersioning" },
  Object: {},
};

/** The operation a request is, from its host kind, method, whether it names an object, and its sub-resource. */
function operationOf(target: CosTarget, method: string, query: URLSearchParams): string {
  const keys = [...query.keys()].filter((k) => !PRESIGN_PARAMS.has(k));
  if (!target.bucket) return method === "GET" && target.key === "" && keys.length === 0 ? "GetService" : "";
  const scope = target.key === "" ? "Bucket" : "Object";
  const verb: Record<string, string> = { GET: "Get", PUT: "Put", HEAD: "Head", DELETE: "Delete" };
  if (!verb[method]) return "";
  const sub = keys.filter((k) => !k.startsWith("response-") && !(scope === "Bucket" && method === "GET" && LIST_PARAMS.has(k)));
  if (sub.length === 0) return `${verb[method]}${scope}`;
  const resource = sub.length === 1 ? SUB_RESOURCES[scope]?.[sub[0]!] : undefined;
  return resource && (method === "GET" || method === "PUT") ? `${verb[method]}${resource}` : "";
}

/** The signature's fields: the Authorization header, else the query of a presigned URL. */
function authorizationOf(request: CosRequest): string | undefined {
  if (typeof request.headers.authorization === "string") return request.headers.authorization;
  if (!request.query.has("q-signature")) return undefined;
  return [...request.query].filter(([k]) => k.startsWith("q-")).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
}

/** The request without the presigned URL's own parameters, as the signer saw it. */
function withoutPresign(request: CosRequest): CosRequest {
  return { ...request, query: new URLSearchParams([...request.query].filter(([k]) => !PRESIGN_PARAMS.has(k))) };
}

/**
 * How this COS answers where the documents leave it open, one switch per reading: the code of the 409 a
 * write-once PUT gets (no Tencent page names it), and how far its clock is from the caller's.
 */
export interface CosReadings {
  /** The `<Code>` of the 409 to a PUT with `x-cos-forbid-overwrite: true` on an existing key. */
  conflictCode: string;
  /**
   * How PUT Bucket counts a name's length: `domain`, as COS's document does (the default domain at most
   * 60 characters, 436/13312), or `name`, the name with `-APPID` at most 60. The pinned plugin's own code
   * bucket, `sls-cloudfunction-REGION-APPID`, is over the document's count in every region (70 characters
   * in ap-guangzhou), yet the plugin has made it on real accounts: whether COS enforces the count is
   * unknown, so the stand-in counts the name unless switched, and csip-scan's own checks count the domain.
   */
  bucketNameCount: "name" | "domain";
}

/** The readings the stand-in answers with unless a test switches one: `FileAlreadyExists`, the code the store was first written against. */
export const DEFAULT_COS_READINGS: CosReadings = { conflictCode: "FileAlreadyExists", bucketNameCount: "name" };

/** Checks the q-sign signature, then answers the operation against the account. */
export function handleCos(request: CosRequest, account: AccountState, keys: readonly EmulatorAccount[], now: number, readings: CosReadings = DEFAULT_COS_READINGS): CosAnswer {
  const target = targetOf(request);
  if (!target) return cosError(400, "InvalidURI", `Host ${request.host} is not a COS endpoint.`, "", {});
  const action = operationOf(target, request.method, request.query);
  const params: Record<string, unknown> = {
    ...(target.bucket ? { Bucket: target.bucket } : {}),
    ...(target.region ? { Region: target.region } : {}),
    ...(target.key ? { Key: target.key } : {}),
    ...(action === "PutObject" ? { ContentLength: request.body.length, ContentType: String(request.headers["content-type"] ?? "") } : {}),
  };
  const auth = parseCosAuthorization(authorizationOf(request));
  if (!auth) return cosError(403, "AccessDenied", "The Authorization header is missing or is not a q-sign-algorithm=sha1 signature.", action, params);
  const key = keys.find((k) => k.secretId === auth.secretId);
  // An unknown SecretId, and a temporary key that expired: COS's diagnosis of the code names both (436/40105).
  if (!key) return cosError(403, "InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records.", action, params);
  const seconds = now / 1000;
  // A window that starts too far after COS's clock, or ended before it (436/40105); the message is the
  // one cos-nodejs-sdk-v5 matches to correct its clock.
  if (seconds < auth.signTime[0] - 60) return cosError(403, "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large.", action, params);
  if (seconds > auth.signTime[1]) return cosError(403, "AccessDenied", "Request has expired", action, params);
  if (!sameSignature(expectedCosSignature(withoutPresign(request), auth, key.secretKey), auth.signature)) {
    return cosError(403, "SignatureDoesNotMatch", "The Signature you specified does not match what we calculated.", action, params);
  }
  const token = request.headers["x-cos-security-token"] ?? request.query.get("x-cos-security-token") ?? undefined;
  if (key.token !== undefined && token !== key.token) {
    return cosError(403, "InvalidAccessKeyId", "The temporary key's x-cos-security-token is missing or does not match.", action, params);
  }
  if (target.bucket && !target.bucket.endsWith(`-${account.appId}`)) {
    return cosError(403, "AccessDenied", `Bucket ${target.bucket} does not belong to AppId ${account.appId}.`, action, params);
  }
  const operation = OPERATIONS[action];
  if (!operation) return cosError(501, "NotImplemented", `${request.method} ${request.path}${request.query.size ? `?${request.query}` : ""} is not emulated.`, action, params);
  return operation({ request, target, account, now, action, params, readings });
}

interface OperationInput {
  readings: CosReadings;
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

/** The canned ACLs PUT Bucket takes in `x-cos-acl`, https://cloud.tencent.com/document/product/436/7738. */
const BUCKET_ACLS: ReadonlySet<string> = new Set(["private", "public-read", "public-read-write"]);

function bucketNamed(input: OperationInput) {
  return input.account.buckets.find((b) => b.Name === input.target.bucket && b.Region === input.target.region);
}

/** The headers GET and HEAD Object answer with: size, ETag, type, date, and the user metadata. */
function objectHeaders(object: CosObject): Record<string, string> {
  return {
    etag: object.ETag,
    "content-length": String(object.Size),
    "content-type": object.ContentType,
    "last-modified": httpDate(Date.parse(object.LastModified)),
    ...object.Meta,
  };
}

/**
 * A bucket made on or after 2024-01-01 serves every object on its default domains as a download: the
 * answer carries `x-cos-force-download: true` and `Content-Disposition: attachment`, whatever the request
 * asks (https://cloud.tencent.com/document/product/436/57456). The stand-in serves default domains only.
 */
function forcedDownload(bucket: { CreationDate: string } | undefined): Record<string, string> {
  return bucket && bucket.CreationDate >= "2024-01-01" ? { "x-cos-force-download": "true", "content-disposition": "attachment" } : {};
}

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
    const { account, target, now, action, params, request } = input;
    const name = target.bucket ?? "";
    // Lower-case letters, digits and -, then -APPID; at most 60 characters, counted as the reading says.
    const tooLong = input.readings.bucketNameCount === "domain" ? cosBucketNameProblem(name, target.region) !== undefined : name.length > 60;
    if (!COS_BUCKET_NAME.test(name) || tooLong) return cosError(400, "InvalidBucketName", `The bucket name ${name} is invalid.`, action, params);
    const acl = String(request.headers["x-cos-acl"] ?? "private");
    if (!BUCKET_ACLS.has(acl)) return cosError(400, "InvalidArgument", `x-cos-acl ${acl} is not one of ${[...BUCKET_ACLS].join(", ")}.`, action, params);
    if (account.buckets.some((b) => b.Name === name)) return cosError(409, "BucketAlreadyExists", `The bucket ${name} already exists.`, action, params);
    account.buckets.push({ Name: name, Region: target.region, CreationDate: utcIso(now), Acl: acl });
    return answer(200, action, { ...params, Acl: acl });
  },
  HeadBucket: (input) => bucketOf(input) ?? answer(200, input.action, input.params),
  GetBucket: (input) => {
    const missing = bucketOf(input);
    if (missing) return missing;
    const { query } = input.request;
    const prefix = query.get("prefix") ?? "";
    const marker = query.get("marker") ?? "";
    const maxKeys = Number(query.get("max-keys") ?? 1000);
    if (!Number.isInteger(maxKeys) || maxKeys < 1 || maxKeys > 1000) return cosError(400, "InvalidArgument", "max-keys must be an integer from 1 to 1000.", input.action, input.params);
    const matching = input.account.objects
      .filter((o) => o.Bucket === input.target.bucket && o.Key.startsWith(prefix) && o.Key > marker)
      .sort((a, b) => (a.Key < b.Key ? -1 : 1));
    const page = matching.slice(0, maxKeys);
    const truncated = matching.length > page.length;
    const contents = page
      .map((o) => `<Contents><Key>${escapeXml(o.Key)}</Key><LastModified>${o.LastModified}</LastModified><ETag>${o.ETag}</ETag><Size>${o.Size}</Size><StorageClass>STANDARD</StorageClass></Contents>`)
      .join("");
    const next = truncated ? `<NextMarker>${escapeXml(page.at(-1)!.Key)}</NextMarker>` : "";
    const body = `<?xml version='1.0' encoding='utf-8' ?>\n<ListBucketResult><Name>${input.target.bucket}</Name><Prefix>${escapeXml(prefix)}</Prefix><Marker>${escapeXml(marker)}</Marker><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${next}${contents}</ListBucketResult>`;
    return answer(200, input.action, input.params, body);
  },
  GetBucketVersioning: (input) => {
    const missing = bucketOf(input);
    if (missing) return missing;
    const status = bucketNamed(input)?.Versioning;
    const body = `<?xml version='1.0' encoding='utf-8' ?>\n<VersioningConfiguration>${status ? `<Status>${status}</Status>` : ""}</VersioningConfiguration>`;
    return answer(200, input.action, input.params, body);
  },
  PutBucketVersioning: (input) => {
    const missing = bucketOf(input);
    if (missing) return missing;
    const status = /<Status>([^<]*)<\/Status>/.exec(input.request.body.toString("utf8"))?.[1];
    if (status !== "Enabled" && status !== "Suspended") return cosError(400, "MalformedXML", "Status must be Enabled or Suspended.", input.action, input.params);
    bucketNamed(input)!.Versioning = status;
    return answer(200, input.action, { ...input.params, Status: status });
  },
  PutObject: (input) => {
    const missing = bucketOf(input);
    if (missing) return missing;
    const { account, target, request, now } = input;
    const existing = account.objects.find((o) => o.Bucket === target.bucket && o.Key === target.key);
    // The header protects only buckets whose versioning was never enabled; on the others it is ignored.
    if (existing && request.headers["x-cos-forbid-overwrite"] === "true" && !bucketNamed(input)?.Versioning) {
      return cosError(409, input.readings.conflictCode, "The object already exists and x-cos-forbid-overwrite is true.", input.action, input.params);
    }
    const etag = `"${createHash("md5").update(request.body).digest("hex")}"`;
    const meta = Object.fromEntries(Object.entries(request.headers).filter(([k]) => k.startsWith("x-cos-meta-")).map(([k, v]) => [k, String(v)]));
    const object: CosObject = {
      Bucket: target.bucket ?? "",
      Key: target.key,
      Size: request.body.length,
      ETag: etag,
      ContentType: String(request.headers["content-type"] ?? "application/octet-stream"),
      LastModified: utcIso(now),
      Body: request.body.toString("base64"),
      ...(Object.keys(meta).length > 0 ? { Meta: meta } : {}),
    };
    account.objects = [...account.objects.filter((o) => !(o.Bucket === object.Bucket && o.Key === object.Key)), object];
    return answer(200, input.action, input.params, "", { etag });
  },
  HeadObject: (input) => {
    const found = objectOf(input.account, input.target.bucket ?? "", input.target.region, input.target.key);
    if (!found) return cosError(404, "NoSuchKey", `The specified key ${input.target.key} does not exist.`, input.action, input.params);
    return answer(200, input.action, input.params, "", objectHeaders(found));
  },
  GetObject: (input) => {
    const missing = bucketOf(input);
    if (missing) return missing;
    const found = objectOf(input.account, input.target.bucket ?? "", input.target.region, input.target.key);
    if (!found) return cosError(404, "NoSuchKey", `The specified key ${input.target.key} does not exist.`, input.action, input.params);
    if (found.Body === undefined) return cosError(501, "NotImplemented", `The body of ${found.Key} was not kept (the stand-in keeps bodies for one process).`, input.action, input.params);
    return answer(200, input.action, input.params, Buffer.from(found.Body, "base64"), { ...objectHeaders(found), ...forcedDownload(bucketNamed(input)) });
  },
  DeleteObject: (input) => {
    const missing = bucketOf(input);
    if (missing) return missing;
    input.account.objects = input.account.objects.filter((o) => !(o.Bucket === input.target.bucket && o.Key === input.target.key));
    return answer(204, input.action, input.params);
  },
};
