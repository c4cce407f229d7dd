import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../shared/config/schema.ts";
import { createCsipClient, type CsipClient } from "../shared/csip/client.ts";
import { credentialsFrom } from "../shared/csip/credentials.ts";
import type { Environment } from "../shared/env.ts";
import { isLoopbackUrl } from "../shared/net/address-policy.ts";
import { networkDelivery, type Deliver } from "../shared/notify/deliver.ts";
import { folderPagePublisher, type PagePublisher } from "../shared/results/publish.ts";
import { regionOf, sdkClientFor, type ServiceOverrides } from "../shared/run/services.ts";
import { FileStateStore, type StateStore } from "../shared/state/store.ts";
import { LOCAL_ACCOUNT } from "./emulator/accounts.ts";
import { readEstate } from "./emulator/estate.ts";
import { startEmulator, type Emulator } from "./emulator/server.ts";

export const DEMO_INVENTORY = "config/emulator-inventory.yaml";

/** Where local commands send their CSIP calls: the real API with credentials, else a local emulator. */
export interface LocalConnection {
  csip: CsipClient;
  deliver: Deliver;
  /** With the emulator, a state store as fresh as the emulator's tasks; otherwise the config's. */
  store?: StateStore;
  emulator?: Emulator;
  /** Each policy's results page, a file under the config's state folder (`pages/`): it outlives the emulator's state. */
  pages: PagePublisher;
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
  const pages = folderPagePublisher(join(config.state.path, "pages"));
  if (credentialsFrom(env)) {
    return { csip: sdkClientFor(config, env), deliver: networkDelivery({ allowLocal: env.allowLocalWebhooks }), pages, close: async () => {} };
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
  const stateDir = await mkdtemp(join(tmpdir(), "csip-scan-local-"));
  const store = new FileStateStore(stateDir);
  return {
    csip,
    deliver,
    emulator,
    store,
    pages,
    close: async () => {
      await emulator.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** What runs use instead of the defaults on this connection. */
export function localOverrides(connection: LocalConnection): ServiceOverrides {
  return { sdk: connection.csip, deliver: connection.deliver, pages: connection.pages, ...(connection.store ? { store: connection.store } : {}) };
}
