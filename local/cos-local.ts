import { freshAccount } from "./cloud/account.ts";
import { startCloudStandIn, type CloudStandIn } from "./cloud/server.ts";
import { LOCAL_ACCOUNT } from "./emulator/accounts.ts";

/**
 * The COS stand-in of local mode: a bucket like the one the deploy makes, on 127.0.0.1, that the local
 * emulator's key pair may use. With it local mode runs the COS state store, the code path SCF runs.
 */
export interface LocalCos {
  standIn: CloudStandIn;
  /** The variables that point the functions' store at it, as the deploy's environment would at the real bucket. */
  env: { CSIP_SCAN_STATE_BUCKET: string; CSIP_SCAN_COS_ENDPOINT: string };
  close(): Promise<void>;
}

/**
 * The region of the local bucket, whatever the policy file says: the stand-in is on this machine, and a
 * terminal that joins the session must sign for the region the bucket was made in.
 */
export const LOCAL_COS_REGION = "ap-guangzhou";

/** Starts the stand-in with an empty, private bucket whose versioning was never enabled. */
export async function startLocalCos(options: { port?: number } = {}): Promise<LocalCos> {
  const bucket = `csip-scan-state-${LOCAL_ACCOUNT.appId}`;
  const account = { ...freshAccount(LOCAL_ACCOUNT), buckets: [{ Name: bucket, Region: LOCAL_COS_REGION, CreationDate: new Date().toISOString().slice(0, 19) + "Z", Acl: "private" }] };
  const standIn = await startCloudStandIn({ account, keys: [LOCAL_ACCOUNT], ...(options.port !== undefined ? { port: options.port } : {}) });
  return { standIn, env: { CSIP_SCAN_STATE_BUCKET: bucket, CSIP_SCAN_COS_ENDPOINT: standIn.url }, close: () => standIn.close() };
}

/** What `csip-scan emulator` prints about it: the variables a handler run against the emulator needs. */
export function localCosLines(cos: LocalCos): string[] {
  return [
    `COS stand-in on ${cos.standIn.url} with the state bucket ${cos.env.CSIP_SCAN_STATE_BUCKET} (the store functions use on SCF)`,
    `  CSIP_SCAN_STATE_BUCKET=${cos.env.CSIP_SCAN_STATE_BUCKET}  CSIP_SCAN_COS_ENDPOINT=${cos.env.CSIP_SCAN_COS_ENDPOINT}`,
  ];
}
