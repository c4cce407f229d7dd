import { DEFAULT_STATE_PREFIX, type Config } from "../../shared/config/schema.ts";
import { credentialsFrom, credentialsReadFrom, fixedCredentials } from "../../shared/csip/credentials.ts";
import type { Environment } from "../../shared/env.ts";
import { regionOf } from "../../shared/run/services.ts";
import { deploymentName, deploymentStatePrefix } from "../../shared/state/keys.ts";
import { LOCAL_ACCOUNT } from "../emulator/accounts.ts";
import type { LocalConnection } from "../environment.ts";
import type { DoctorSetup } from "./doctor.ts";

/**
 * Where `csip-scan doctor` looks, from the command line's connection (local/environment.ts), as every other
 * command: with credentials, the real account, its state bucket where the file or the deploy's variables name
 * it (else the account's `csip-scan-state-*`); without, the local emulator and the session's COS stand-in.
 * The state folder is the deployment's: `--stage NAME` (with the region the deploy uses), else
 * CSIP_SCAN_STATE_PREFIX as the deploy sets it, else the policy file's prefix (local mode's).
 */
export function doctorSetup(config: Config, env: Environment, connection: LocalConnection, functions: readonly string[], stage?: string): DoctorSetup {
  const filePrefix = config.state.cos?.prefix ?? DEFAULT_STATE_PREFIX;
  const prefix = stage !== undefined ? deploymentStatePrefix(filePrefix, deploymentName(stage, regionOf(config, env))) : (env.statePrefix ?? filePrefix);
  const keptInBucket = !config.state.memory && config.state.path === undefined;
  const base = { config, env, sdk: connection.csip, prefix, functions };
  if (connection.emulatorUrl === undefined) {
    const credentials = credentialsReadFrom(() => env);
    return {
      ...base,
      credentials,
      ...(keptInBucket ? { cos: { credentials, endpoint: env.cosEndpoint, bucket: config.state.cos?.bucket ?? env.stateBucket, region: config.state.cos?.region ?? env.stateRegion } } : {}),
    };
  }
  // The emulator: STS is asked there too; COS is the session's stand-in, with the emulator's test key.
  const own = credentialsFrom(env);
  const session = connection.session;
  const cosEndpoint = session?.CSIP_SCAN_COS_ENDPOINT;
  return {
    ...base,
    credentials: fixedCredentials(own ?? LOCAL_ACCOUNT),
    testKey: own === undefined,
    stsEndpoint: connection.emulatorUrl,
    ...(cosEndpoint ? { cos: { credentials: fixedCredentials(LOCAL_ACCOUNT), endpoint: cosEndpoint, bucket: session?.CSIP_SCAN_STATE_BUCKET } } : {}),
    localPages: connection.pages,
  };
}
