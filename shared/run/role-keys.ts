import * as z from "zod";
import type { Clock } from "../clock.ts";
import type { CredentialSource } from "../csip/credentials.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { roleKeysKey } from "../state/keys.ts";
import type { StateStore } from "../state/store.ts";

/**
 * What a function can see of its role keys' life. SCF gives a function its role's temporary keys in the
 * environment of each invocation (STS keys: 7,200 s by default, 43,200 s at most) and says neither when
 * they expire nor whether a warm instance gets new ones; a session token names no expiry. The functions
 * read them at each invocation (shared/run/services.ts), and when an invocation of a warm instance finds
 * new ones, keep when, and how long the ones before had served the instance at least, one small record per
 * function, which `csip-scan doctor` reads. Loose, so that a record another version wrote still reads.
 */
export const RoleKeysSchema = z.looseObject({
  /** The function's name in the function table (functions/index.ts). */
  function: z.string(),
  /** The invocation that found new keys in a warm instance's environment, ISO 8601 UTC. */
  replacedAt: z.string(),
  /** How long the keys before had served the instance at least: from its first read of them to that invocation, in seconds. */
  servedSeconds: z.number(),
  /** Whether the new keys are temporary (they come with a session token), as a role's are. */
  temporary: z.boolean(),
});
export type RoleKeys = z.infer<typeof RoleKeysSchema>;

interface Watched {
  store: StateStore;
  logger: Logger;
  clock: Clock;
  credentials: CredentialSource;
}

/**
 * Watches one process's keys for function `name` (none: watched, not kept). Called at each invocation with
 * whether the keys read then differ from those before; on a change it keeps the record. A record that cannot
 * be written is a warning: it never fails the run.
 */
export function roleKeysWatch(name: string | undefined): (services: Watched, changed: boolean) => Promise<void> {
  let since: number | undefined;
  return async (services, changed) => {
    const now = services.clock.now();
    if (since === undefined || !changed) {
      since ??= now;
      return;
    }
    const record: RoleKeys = {
      function: name ?? "",
      replacedAt: new Date(now).toISOString(),
      servedSeconds: Math.round((now - since) / 1000),
      temporary: services.credentials.current().token !== undefined,
    };
    since = now;
    services.logger.info({ roleKeys: record }, "role keys: a warm instance was given new keys");
    if (name === undefined) return;
    try {
      await services.store.set(roleKeysKey(name), record);
    } catch (error) {
      services.logger.warn(`the role keys' change was not kept in the state store: ${describeError(error)}`);
    }
  };
}

/** The last change of role keys each named function saw, where one did (for `csip-scan doctor`). */
export async function readRoleKeys(store: Pick<StateStore, "get">, functionNames: readonly string[]): Promise<RoleKeys[]> {
  const found = await Promise.all(functionNames.map((name) => store.get(roleKeysKey(name), RoleKeysSchema)));
  return found.filter((record): record is RoleKeys => record !== undefined);
}
