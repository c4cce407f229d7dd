import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Environment } from "../env.ts";
import { ConfigError } from "../errors.ts";
import { MAX_CONFIG_BYTES } from "./schema.ts";

/**
 * Finding and reading the policy file, without its parser: a deployed function imports the parser
 * (./load.ts, and the YAML library under it) when it first reads the file (shared/run/services.ts), not
 * when its bundle is loaded. Commands and the deploy read files through `loadConfig` (./load.ts).
 */

export const DEFAULT_CONFIG_PATH = "config/scan-policies.yaml";

/** The config file to read: `--config`, else `CSIP_SCAN_CONFIG`, else the default. */
export function configPath(explicit: string | undefined, env: Pick<Environment, "configPath">): string {
  return explicit ?? env.configPath ?? DEFAULT_CONFIG_PATH;
}

/** The text of a policy file; a ConfigError when it is missing, unreadable or larger than any policy file. */
export async function readConfigText(file: string): Promise<string> {
  try {
    const { size } = await stat(resolve(file));
    if (size > MAX_CONFIG_BYTES) {
      throw new ConfigError([{ file, line: 0, column: 0, path: "", message: `is ${size} bytes; a policy file may hold at most ${MAX_CONFIG_BYTES} (256 KB)` }]);
    }
    return await readFile(resolve(file), "utf8");
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : "file cannot be read";
    throw new ConfigError([{ file, line: 0, column: 0, path: "", message: `${reason} (set --config or CSIP_SCAN_CONFIG)` }]);
  }
}
