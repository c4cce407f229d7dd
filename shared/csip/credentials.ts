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

/**
 * The keys calls are signed with, as they are now. SCF gives a function its role's temporary keys (STS
 * keys: 2 h by default, 12 h at most) in its environment; whether a warm instance gets fresh ones is not
 * documented, so they are read at each invocation, and again when the cloud refuses them as unknown or
 * expired (`reread`), and a client that holds a source signs every request with `current()`.
 */
export interface CredentialSource {
  /** The keys last read. */
  current(): Credentials;
  /**
   * Reads the keys again; true when they differ from `used`, the keys a refused request was signed with
   * (by default those read before). Requests in flight when the keys change each compare with their own.
   */
  reread(used?: Credentials): boolean;
}

/** Keys that never change (the emulator's, a test's, the deploying user's). */
export function fixedCredentials(credentials: Credentials): CredentialSource {
  const fixed = credentials.token
    ? { secretId: credentials.secretId, secretKey: credentials.secretKey, token: credentials.token }
    : { secretId: credentials.secretId, secretKey: credentials.secretKey };
  return { current: () => fixed, reread: () => false };
}

/**
 * Keys read from an environment each time `reread` is called (at each invocation, and after a refusal),
 * the first time when they are first needed: missing keys are a CredentialsError then. An environment
 * that no longer names keys leaves the last ones in use.
 */
export function credentialsReadFrom(read: () => CredentialVariables): CredentialSource {
  let last: Credentials | undefined;
  return {
    current: () => (last ??= requireCredentials(read())),
    reread(used) {
      const before = used ?? last;
      last = credentialsFrom(read()) ?? last;
      return before !== undefined && last !== undefined && !sameCredentials(before, last);
    },
  };
}

/** A source as is, or fixed keys as a source. */
export function credentialSource(credentials: Credentials | CredentialSource): CredentialSource {
  return "current" in credentials ? credentials : fixedCredentials(credentials);
}

function sameCredentials(a: Credentials, b: Credentials): boolean {
  return a.secretId === b.secretId && a.secretKey === b.secretKey && a.token === b.token;
}
