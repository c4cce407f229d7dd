import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../shared/config/schema.ts";
import { createCsipClient, type CsipClient } from "../shared/csip/client.ts";
import { credentialsFrom } from "../shared/csip/credentials.ts";
import { readEnvironment, type Environment } from "../shared/env.ts";
import { isLoopbackUrl } from "../shared/net/address-policy.ts";
import { networkDelivery, type Deliver } from "../shared/notify/deliver.ts";
import { regionOf, sdkClientFor, stateStoreFor, type ServiceOverrides } from "../shared/run/services.ts";
import { FileStateStore, type StateStore } from "../shared/state/store.ts";
import { startLocalCos } from "./cos-local.ts";
import { LOCAL_ACCOUNT } from "./emulator/accounts.ts";
import { readEstate } from "./emulator/estate.ts";
import { startEmulator, type Emulator } from "./emulator/server.ts";

export const DEMO_INVENTORY = "config/emulator-inventory.yaml";

/** Where local commands send their CSIP calls: the real API with credentials, else a local emulator. */
export interface LocalConnection {
  csip: CsipClient;
  deliver: Deliver;
  /** With the emulator, a state store as fresh as the emulator's tasks (COS on the local stand-in); otherwise the config's. */
  store?: StateStore;
  emulator?: Emulator;
  close(): Promise<void>;
}

/**
 * With TENCENTCLOUD_SECRETID/SECRETKEY set, the real API (or CSIP_ENDPOINT). Without them, starts the
 * emulator with the demo estate and says so loudly; notifiers whose URL is not on this machine then
 * print their message instead of sending it, so nothing leaves the machine.
 */
export async function connectLocal(
  config: Config,
  options: { env: Environment; say: (line: string) => void; inventory?: string },
): Promise<LocalConnection> {
  const { env } = options;
  if (credentialsFrom(env)) {
    return { csip: sdkClientFor(config, env), deliver: networkDelivery({ allowLocal: env.allowLocalWebhooks }), close: async () => {} };
  }
  const emulator = await startEmulator({ estate: await readEstate(options.inventory ?? DEMO_INVENTORY) });
  options.say(
    [
      "!".repeat(78),
      `!! No TENCENTCLOUD_SECRETID / TENCENTCLOUD_SECRETKEY: using the LOCAL CSIP EMULATOR at ${emulator.url}`,
      `!! with the demo estate ${options.inventory ?? DEMO_INVENTORY}. Nothing is sent to Tencent Cloud.`,
      "!".repeat(78),
    ].join("\n"),
  );
  const csip = createCsipClient({
    credentials: LOCAL_ACCOUNT,
    region: regionOf(config, env),
    endpoint: emulator.url,
    intl: config.intl,
    timeoutSeconds: config.timeouts.requestSeconds,
  });
  const network = networkDelivery({ allowLocal: env.allowLocalWebhooks });
  const deliver: Deliver = async (name, notifier, report) => {
    if (isLoopbackUrl(notifier.url)) return network(name, notifier, report);
    options.say(`--- notifier ${name} (${notifier.type}; local mode prints instead of sending) ---\n${JSON.stringify(report, null, 2)}`);
    return { notifier: name, delivered: true, via: "console" };
  };
  const { store, close } = await localStore(config, env, options.say);
  return {
    csip,
    deliver,
    emulator,
    store,
    close: async () => {
      await emulator.close();
      await close();
    },
  };
}

/**
 * The store of a run on the emulator, as fresh as its tasks: the COS store on the local COS stand-in (the
 * code path SCF runs), unless the policy file asks for a folder (then a fresh one) or memory.
 */
async function localStore(config: Config, env: Environment, say: (line: string) => void): Promise<{ store: StateStore; close: () => Promise<void> }> {
  if (config.state.memory) return { store: stateStoreFor(config, env, { warn: () => {} }).store, close: async () => {} };
  if (config.state.path !== undefined) {
    const stateDir = await mkdtemp(join(tmpdir(), "csip-scan-local-"));
    return { store: new FileStateStore(stateDir), close: () => rm(stateDir, { recursive: true, force: true }) };
  }
  const cos = await startLocalCos({ region: regionOf(config, env) });
  const local = readEnvironment({ ...env.variables, ...cos.env, TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId, TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey });
  const { store } = stateStoreFor({ ...config, state: {} }, { ...local, region: regionOf(config, env) }, { warn: () => {} });
  say(`State store: COS bucket ${cos.env.CSIP_SCAN_STATE_BUCKET} on the local COS stand-in at ${cos.standIn.url}, as on SCF (state.path in the policy file for a folder).`);
  return { store, close: cos.close };
}

/** What runs use instead of the defaults on this connection. */
export function localOverrides(connection: LocalConnection): ServiceOverrides {
  return { sdk: connection.csip, deliver: connection.deliver, ...(connection.store ? { store: connection.store } : {}) };
}
