import type { Environment } from "../env.ts";
import { CredentialsError } from "../errors.ts";
import { registerSecret } from "../secrets.ts";

export interface Credentials {
  secretId: string;
  secretKey: string;
  token?: string;
}

type CredentialVariables = Pick<Environment, "secretId" | "secretKey" | "sessionToken">;

/**
 * Credentials from the variables SCF sets for the function's role (`TENCENTCLOUD_SECRETID`,
 * `TENCENTCLOUD_SECRETKEY`, `TENCENTCLOUD_SESSIONTOKEN`); the SDK's own reader looks for other names.
 * Returns undefined when none is set, so local mode can fall back to the emulator.
 */
export function credentialsFrom(env: CredentialVariables): Credentials | undefined {
  const { secretId, secretKey, sessionToken: token } = env;
  if (!secretId && !secretKey) return undefined;
  if (!secretId || !secretKey) {
    throw new CredentialsError(
      "incomplete credentials: set both TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY (and TENCENTCLOUD_SESSIONTOKEN for a role)",
    );
  }
  registerSecret(secretKey);
  registerSecret(token);
  return token ? { secretId, secretKey, token } : { secretId, secretKey };
}

/** Like credentialsFrom, but missing credentials are an error that names the variables. */
export function requireCredentials(env: CredentialVariables): Credentials {
  const credentials = credentialsFrom(env);
  if (!credentials) {
    throw new CredentialsError(
      "no credentials: set TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY (SCF sets them, with TENCENTCLOUD_SESSIONTOKEN, from the function's role)",
    );
  }
  return credentials;
}
