import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../shared/config/schema.ts";
import type { CsipClient } from "../shared/csip/client.ts";
import { credentialsFromEnv } from "../shared/csip/credentials.ts";
import type { Deliver } from "../shared/notify/deliver.ts";
import { networkDelivery } from "../shared/notify/deliver.ts";
import { allowLocalWebhooks, isLoopbackUrl } from "../shared/notify/url-policy.ts";
import { csipClientFor } from "../shared/run/runtime.ts";
import { FileStateStore, type StateStore } from "../shared/state/store.ts";
import { readEstate } from "./emulator/estate.ts";
import { LOCAL_ACCOUNT, startEmulator, type Emulator } from "./emulator/server.ts";

export const DEMO_INVENTORY = "config/emulator-inventory.yaml";

/** Where local commands send their CSIP calls: the real API with credentials, else a local emulator. */
export interface LocalConnection {
  csip: CsipClient;
  deliver: Deliver;
  /** With the emulator, a state store as fresh as the emulator's tasks; otherwise the config's. */
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
  options: { env?: NodeJS.ProcessEnv; say: (line: string) => void; inventory?: string },
): Promise<LocalConnection> {
  const env = options.env ?? process.env;
  const credentials = credentialsFromEnv(env);
  if (credentials) {
    const csip = csipClientFor(config, { credentials, env });
    return { csip, deliver: networkDelivery({ allowLocal: allowLocalWebhooks(env) }), close: async () => {} };
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
  const csip = csipClientFor(config, { credentials: LOCAL_ACCOUNT, endpoint: emulator.url, env });
  const network = networkDelivery({ allowLocal: allowLocalWebhooks(env) });
  const deliver: Deliver = async (name, notifier, report) => {
    if (isLoopbackUrl(notifier.url)) return network(name, notifier, report);
    options.say(`--- notifier ${name} (${notifier.type}; local mode prints instead of sending) ---\n${JSON.stringify(report, null, 2)}`);
    return { notifier: name, delivered: true, via: "console" };
  };
  const stateDir = await mkdtemp(join(tmpdir(), "csip-scan-local-"));
  const store = new FileStateStore(stateDir);
  return {
    csip,
    deliver,
    emulator,
    store,
    close: async () => {
      await emulator.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
