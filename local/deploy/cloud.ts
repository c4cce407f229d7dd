import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { Client as CamClient } from "tencentcloud-sdk-nodejs/tencentcloud/services/cam/v20190116/cam_client.js";
import { Client as EbClient } from "tencentcloud-sdk-nodejs/tencentcloud/services/eb/v20210416/eb_client.js";
import { Client as ScfClient } from "tencentcloud-sdk-nodejs/tencentcloud/services/scf/v20180416/scf_client.js";
import { CredentialsError } from "../../shared/errors.ts";
import { registerSecret } from "../../shared/secrets.ts";

/** The deploying user's key pair, as serverless-tencent-scf reads it. */
export interface DeployCredentials {
  secretId: string;
  secretKey: string;
}

/**
 * The key pair of the INI file serverless-tencent-scf reads (`provider.credentials`, else
 * `~/credentials`; section `[default]`, keys `tencent_secret_id` and `tencent_secret_key`), so both
 * plugins deploy as the same user.
 */
export async function deployCredentials(file: string | undefined): Promise<DeployCredentials> {
  const path = (file ?? "~/credentials").replace(/^~(?=$|\/)/, homedir());
  const text = await readFile(path, "utf8").catch(() => {
    throw new CredentialsError(`no deploy credentials: ${path} cannot be read (serverless-tencent-scf reads the same file)`);
  });
  const values: Record<string, string> = {};
  let section = "";
  for (const line of text.split(/\r?\n/)) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) section = header[1]!.trim();
    const pair = /^\s*([\w.-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (pair && section === "default") values[pair[1]!] = pair[2]!;
  }
  const secretId = values.tencent_secret_id;
  const secretKey = values.tencent_secret_key;
  if (!secretId || !secretKey) throw new CredentialsError(`no deploy credentials: ${path} has no tencent_secret_id and tencent_secret_key under [default]`);
  registerSecret(secretKey);
  return { secretId, secretKey };
}

/** The official SDK's clients the deploy plugin calls, deep-imported like the csip client. */
export interface DeployClients {
  scf: ScfClient;
  eb: EbClient;
  cam: CamClient;
}

export function deployClients(credentials: DeployCredentials, region: string): DeployClients {
  const credential = { secretId: credentials.secretId, secretKey: credentials.secretKey };
  const profile = { httpProfile: { reqTimeout: 30 } };
  return {
    scf: new ScfClient({ credential, region, profile }),
    eb: new EbClient({ credential, region, profile }),
    cam: new CamClient({ credential, region, profile }),
  };
}
