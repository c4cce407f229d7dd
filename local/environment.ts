import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_STATE_PATH, type Config } from "../shared/config/schema.ts";
import { createCsipClient, type CsipClient } from "../shared/csip/client.ts";
import { credentialsFrom } from "../shared/csip/credentials.ts";
import { readEnvironment, type Environment } from "../shared/env.ts";
import { CredentialsError } from "../shared/errors.ts";
import { isLoopbackUrl } from "../shared/net/address-policy.ts";
import { networkDelivery, shownBy, webhookPayload, type Deliver } from "../shared/notify/deliver.ts";
import { folderPagePublisher, type PagePublisher } from "../shared/results/publish.ts";
import { regionOf, sdkClientFor, stateStoreFor, type ServiceOverrides } from "../shared/run/services.ts";
import { CosStateStore } from "../shared/state/cos-store.ts";
import { FileStateStore, type StateStore } from "../shared/state/store.ts";
import { LOCAL_COS_REGION, startLocalCos } from "./cos-local.ts";
import { LOCAL_ACCOUNT } from "./emulator/accounts.ts";
import { readInventory } from "./emulator/inventory-file.ts";
import { startEmulator, type Emulator } from "./emulator/server.ts";
import { readingSwitches } from "./emulator/switches.ts";

export const DEMO_INVENTORY = "config/emulator-inventory.yaml";

/** Where local commands send their CSIP calls: the real API with credentials, else a local emulator. */
export interface LocalConnection {
  csip: CsipClient;
  deliver: Deliver;
  /** With the emulator, a state store as fresh as the emulator's tasks (COS on the local stand-in); otherwise the config's. */
  store?: StateStore;
  /** The emulator this command started (none when it uses one CSIP_ENDPOINT names, or the real API). */
  emulator?: Emulator;
  /** Each policy's results page, a file under the config's state folder (`pages/`): it outlives the emulator's state. */
  pages: PagePublisher;
  /** Where CSIP calls go when it is an emulator on this machine: notifiers then print instead of sending. */
  emulatorUrl?: string;
  /** The variables another terminal sets to join this session: its emulator and its state bucket. */
  session?: Record<string, string>;
  close(): Promise<void>;
}

export interface LocalOptions {
  env: Environment;
  /** Where the banner and notices go. */
  say: (line: string) => void;
  /** Where local mode prints what a notifier would have been sent (default: `say`). */
  show?: (text: string) => void;
  /** Print each notifier's JSON report rather than its chat message (`--json`). */
  json?: boolean;
  inventory?: string;
}

/**
 * The line a person pastes into another terminal so that every command there uses this session's
 * emulator, and its COS stand-in's state bucket when it has one.
 */
export function exportLine(session: Readonly<Record<string, string>>): string {
  return `export ${Object.entries(session).map(([name, value]) => `${name}=${value}`).join(" ")}`;
}

/**
 * Where this command's CSIP calls go:
 * - TENCENTCLOUD_SECRETID/SECRETKEY set: the real API, or the endpoint CSIP_ENDPOINT names;
 * - CSIP_ENDPOINT alone, on this machine: that emulator, with its public test key, so one emulator
 *   (the one `npm start` or `csip-scan emulator` started) serves a whole session;
 * - neither: an emulator of its own, with the demo estate, said loudly.
 * While the endpoint is an emulator on this machine, notifiers whose URL is not on this machine print
 * what they would have been sent, as their channel renders it, and nothing leaves the machine.
 */
export async function connectLocal(config: Config, options: LocalOptions): Promise<LocalConnection> {
  const { env } = options;
  const pages = folderPagePublisher(join(config.state.path ?? DEFAULT_STATE_PATH, "pages"));
  const endpoint = env.csipEndpoint;
  const local = endpoint !== undefined && isLoopbackUrl(endpoint);
  const credentials = credentialsFrom(env);
  if (!credentials && endpoint && !local) {
    throw new CredentialsError(`CSIP_ENDPOINT ${endpoint} is not on this machine: set TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY for it, or unset CSIP_ENDPOINT to use a local emulator`);
  }
  const network = networkDelivery({ allowLocal: env.allowLocalWebhooks, timeZone: config.timezone });
  if (credentials && !local) return { csip: sdkClientFor(config, env), deliver: network, pages, close: async () => {} };

  let emulator: Emulator | undefined;
  let url = endpoint;
  if (!url) {
    emulator = await startEmulator({ estate: await readInventory(options.inventory ?? DEMO_INVENTORY), ...readingSwitches({}, env.variables) });
    url = emulator.url;
    options.say(
      [
        "!".repeat(78),
        `!! No TENCENTCLOUD_SECRETID / TENCENTCLOUD_SECRETKEY: using the LOCAL CSIP EMULATOR at ${url}`,
        `!! with the demo estate ${options.inventory ?? DEMO_INVENTORY}. Nothing is sent to Tencent Cloud.`,
        "!".repeat(78),
      ].join("\n"),
    );
  }
  const csip = credentials
    ? sdkClientFor(config, env)
    : createCsipClient({ credentials: LOCAL_ACCOUNT, region: regionOf(config, env), endpoint: url, intl: config.intl, timeoutSeconds: config.timeouts.requestSeconds });
  const show = options.show ?? options.say;
  const deliver: Deliver = async (name, notifier, report, messageId, progress) => {
    if (isLoopbackUrl(notifier.url)) return network(name, notifier, report, messageId, progress);
    const parts = options.json ? [JSON.stringify(webhookPayload(report, config.timezone), null, 2)] : shownBy(notifier, report, config.timezone);
    const what = notifier.type === "webhook" || options.json ? `${notifier.type}, JSON` : `${notifier.type}, ${notifier.language}`;
    const sentBefore = progress && (progress.of ?? parts.length) === parts.length ? progress.sent : [];
    for (const [i, part] of parts.entries()) {
      if (sentBefore.includes(i + 1)) continue;
      progress?.beforeSend?.();
      show(`--- notifier ${name} (${what}${parts.length > 1 ? `, part ${i + 1}/${parts.length}` : ""}; local mode prints instead of sending) ---\n${part}`);
      await progress?.onSent(i + 1, parts.length);
    }
    return { notifier: name, delivered: true, via: "console", parts: parts.length };
  };
  const { store, close, session } = await localStore(config, env, options.say);
  return {
    csip,
    deliver,
    ...(emulator ? { emulator } : {}),
    emulatorUrl: url,
    store,
    pages,
    session: { CSIP_ENDPOINT: url, ...session },
    close: async () => {
      await emulator?.close();
      await close();
    },
  };
}

/**
 * The store of a run on the emulator, as fresh as its tasks: the COS store on the local COS stand-in (the
 * code path SCF runs), unless the policy file asks for a folder (then a fresh one) or memory.
 */
async function localStore(
  config: Config,
  env: Environment,
  say: (line: string) => void,
): Promise<{ store: StateStore; close: () => Promise<void>; session: Record<string, string> }> {
  const none = async (): Promise<void> => {};
  if (config.state.memory) return { store: stateStoreFor(config, env, { warn: () => {} }).store, close: none, session: {} };
  if (config.state.path !== undefined) {
    const stateDir = await mkdtemp(join(tmpdir(), "csip-scan-local-"));
    return { store: new FileStateStore(stateDir), close: () => rm(stateDir, { recursive: true, force: true }), session: {} };
  }
  // The session's own stand-in, when `npm start` or `csip-scan emulator` in another terminal named it.
  const shared = sessionOf(env);
  const cos = shared ? undefined : await startLocalCos();
  const session = cos?.env ?? shared!;
  const store = sessionStore(config, env, session);
  say(`State store: COS bucket ${session.CSIP_SCAN_STATE_BUCKET} on the local COS stand-in at ${session.CSIP_SCAN_COS_ENDPOINT}, as on SCF (state.path in the policy file for a folder).`);
  return { store, close: cos?.close ?? none, session };
}

/** What runs use instead of the defaults on this connection. */
export function localOverrides(connection: LocalConnection): ServiceOverrides {
  return { sdk: connection.csip, deliver: connection.deliver, pages: connection.pages, ...(connection.store ? { store: connection.store } : {}) };
}

/** The session's state bucket on this machine, as the line `npm start` and `csip-scan emulator` print names it. */
function sessionOf(env: Environment): { CSIP_SCAN_STATE_BUCKET: string; CSIP_SCAN_COS_ENDPOINT: string } | undefined {
  if (env.cosEndpoint === undefined || !isLoopbackUrl(env.cosEndpoint) || env.stateBucket === undefined) return undefined;
  return { CSIP_SCAN_STATE_BUCKET: env.stateBucket, CSIP_SCAN_COS_ENDPOINT: env.cosEndpoint };
}

/** The COS store on a session's local stand-in, with the emulator's public test key. */
function sessionStore(config: Config, env: Environment, session: Record<string, string>): StateStore {
  const local = readEnvironment({ ...env.variables, ...session, TENCENTCLOUD_SECRETID: LOCAL_ACCOUNT.secretId, TENCENTCLOUD_SECRETKEY: LOCAL_ACCOUNT.secretKey });
  return stateStoreFor({ ...config, state: {} }, { ...local, region: LOCAL_COS_REGION }, { warn: () => {} }).store;
}

/**
 * The store a command reads what runs remembered from (`report`): the session's state bucket when
 * `npm start` or `csip-scan emulator` named one on this machine, else the one the policy file chooses.
 */
export function commandStore(config: Config, env: Environment, warn: (message: string) => void): { store: StateStore; where: string } {
  const session = sessionOf(env);
  if (session) return { store: sessionStore(config, env, session), where: `the session's bucket ${session.CSIP_SCAN_STATE_BUCKET}` };
  const { store } = stateStoreFor(config, env, { warn });
  // Said from the store chosen, not by choosing again.
  return { store, where: store instanceof CosStateStore ? `COS bucket ${store.bucket}` : store instanceof FileStateStore ? store.dir : "memory" };
}
