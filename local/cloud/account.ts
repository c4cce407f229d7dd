import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as z from "zod";
import type { EmulatorAccount } from "../emulator/accounts.ts";

/**
 * What one emulated Tencent Cloud account holds, shared by every stand-in (SCF, COS, CAM, Tag, EventBridge)
 * and by both API dialects, so that a function the plugin creates over signature v1 is the one the
 * project's SDK 4 clients read. Field names follow the API's own spelling. Saved as JSON to an account
 * folder, so a second rehearsal sees what the first created.
 */

const VariableSchema = z.strictObject({ Key: z.string(), Value: z.string() });

const TriggerSchema = z.strictObject({
  Type: z.string(),
  TriggerName: z.string(),
  /** As SCF keeps it: for a timer `{"cron":"<7 fields>"}`, whatever was sent otherwise. */
  TriggerDesc: z.string(),
  Enable: z.number().int(),
  Qualifier: z.string(),
  CustomArgument: z.string(),
  Description: z.string(),
  AddTime: z.string(),
  ModTime: z.string(),
});

const FunctionSchema = z.strictObject({
  Region: z.string(),
  Namespace: z.string(),
  FunctionName: z.string(),
  FunctionId: z.string(),
  Runtime: z.string(),
  Handler: z.string(),
  Description: z.string(),
  MemorySize: z.number().int(),
  Timeout: z.number().int(),
  Role: z.string(),
  Type: z.string(),
  InstallDependency: z.string(),
  Environment: z.array(VariableSchema),
  VpcConfig: z.strictObject({ VpcId: z.string(), SubnetId: z.string() }),
  /** Where the code came from: `BUCKET-APPID/KEY` in COS, or `ZipFile`. */
  CodeLocation: z.string(),
  CodeSize: z.number().int(),
  AddTime: z.string(),
  ModTime: z.string(),
  /** Creating or Updating until `BusyUntil` (ms since the epoch), Active after. */
  BusyStatus: z.string(),
  BusyUntil: z.number(),
  Triggers: z.array(TriggerSchema),
});

const BucketSchema = z.strictObject({
  Name: z.string(),
  Region: z.string(),
  CreationDate: z.string(),
  /** The canned ACL given at creation (`x-cos-acl`); absent on buckets made before it was kept. */
  Acl: z.string().optional(),
  /** Absent while versioning was never enabled; once enabled it can only be suspended, never absent again. */
  Versioning: z.enum(["Enabled", "Suspended"]).optional(),
});

/**
 * An object: its metadata, and its body (base64) while the stand-in runs. Bodies are not saved to the
 * account file (the plugin's deploy description holds environment values), so they last one process.
 */
const ObjectSchema = z.strictObject({
  Bucket: z.string(),
  Key: z.string(),
  Size: z.number().int(),
  ETag: z.string(),
  ContentType: z.string(),
  LastModified: z.string(),
  Body: z.string().optional(),
  /** `x-cos-meta-*` headers given at upload, returned by GET and HEAD. */
  Meta: z.record(z.string(), z.string()).optional(),
});

const RoleSchema = z.strictObject({
  RoleId: z.string(),
  RoleName: z.string(),
  PolicyDocument: z.string(),
  Description: z.string(),
  AddTime: z.string(),
  PolicyIds: z.array(z.number().int()),
});

const RuleSchema = z.strictObject({
  Region: z.string(),
  EventBusId: z.string(),
  RuleId: z.string(),
  RuleName: z.string(),
  EventPattern: z.string(),
  Enable: z.boolean(),
  Description: z.string(),
  AddTime: z.string(),
  ModTime: z.string(),
});

const TargetSchema = z.strictObject({
  Region: z.string(),
  EventBusId: z.string(),
  RuleId: z.string(),
  TargetId: z.string(),
  Type: z.string(),
  TargetDescription: z.record(z.string(), z.unknown()),
  EnableBatchDelivery: z.boolean(),
  BatchTimeout: z.number().int(),
  BatchEventCount: z.number().int(),
  AddTime: z.string(),
});

const AccountStateSchema = z.strictObject({
  version: z.literal(1),
  appId: z.string(),
  uin: z.string(),
  functions: z.array(FunctionSchema),
  buckets: z.array(BucketSchema),
  objects: z.array(ObjectSchema),
  /** Tags per resource, keyed `SERVICE:REGION:PREFIX/ID` (the six-segment name without the account). */
  tags: z.record(z.string(), z.record(z.string(), z.string())),
  roles: z.array(RoleSchema),
  rules: z.array(RuleSchema),
  targets: z.array(TargetSchema),
});

export type ScfTrigger = z.infer<typeof TriggerSchema>;
export type ScfFunction = z.infer<typeof FunctionSchema>;
export type CosObject = z.infer<typeof ObjectSchema>;
export type CamRole = z.infer<typeof RoleSchema>;
export type EbRule = z.infer<typeof RuleSchema>;
export type EbTarget = z.infer<typeof TargetSchema>;
export type AccountState = z.infer<typeof AccountStateSchema>;

export const ACCOUNT_FILE = "account.json";

/**
 * The service role EventBridge's console creates when the service is activated, which CreateTarget needs
 * to make the SCF trigger of a target (ASSUMPTIONS.md: the name is not documented in the API reference).
 */
export const EB_SERVICE_ROLE = "EB_QCSRole";

/**
 * An account of the key pair's owner with no resources, where EventBridge has been activated (the stand-in
 * serves the default bus), so it holds EventBridge's service role.
 */
export function freshAccount(owner: Pick<EmulatorAccount, "appId" | "uin">): AccountState {
  const role: CamRole = {
    RoleId: "4611686018427387904",
    RoleName: EB_SERVICE_ROLE,
    PolicyDocument: JSON.stringify({ version: "2.0", statement: [{ action: "name/sts:AssumeRole", effect: "allow", principal: { service: "eb.cloud.tencent.com" } }] }),
    Description: "EventBridge service role",
    AddTime: "2021-04-16 00:00:00",
    PolicyIds: [],
  };
  return { version: 1, appId: owner.appId, uin: owner.uin, functions: [], buckets: [], objects: [], tags: {}, roles: [role], rules: [], targets: [] };
}

/** A resource ID in the services' style: `lam-` and eight lower-case letters and digits. */
export function resourceId(prefix: string): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return `${prefix}-${[...randomBytes(8)].map((b) => alphabet[b % alphabet.length]).join("")}`;
}

/** Thrown when an account folder holds a file that is not an account. */
export class AccountFileError extends Error {
  override name = "AccountFileError";
}

/** The account saved in `dir`, or a fresh one when the folder has none yet. */
export async function loadAccount(dir: string, owner: Pick<EmulatorAccount, "appId" | "uin">): Promise<AccountState> {
  const file = join(dir, ACCOUNT_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return freshAccount(owner);
    throw error;
  }
  const parsed = AccountStateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new AccountFileError(`${file} is not a csip-scan cloud account: ${z.prettifyError(parsed.error)}`);
  if (parsed.data.appId !== owner.appId) throw new AccountFileError(`${file} belongs to AppId ${parsed.data.appId}, not ${owner.appId}`);
  return parsed.data;
}

/**
 * Writes the account to `dir/account.json` (atomically). Environment values are credentials (webhook URLs),
 * so the file holds `*` of the same byte length instead: sizes, and so the 4 KB limit, still hold.
 */
export async function saveAccount(dir: string, account: AccountState): Promise<void> {
  await mkdir(dir, { recursive: true });
  const masked: AccountState = {
    ...account,
    objects: account.objects.map(({ Body: _body, ...metadata }) => metadata),
    functions: account.functions.map((f) => ({
      ...f,
      Environment: f.Environment.map((v) => ({ Key: v.Key, Value: "*".repeat(Buffer.byteLength(v.Value)) })),
    })),
  };
  const file = join(dir, ACCOUNT_FILE);
  await writeFile(`${file}.tmp`, `${JSON.stringify(masked, null, 1)}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}
