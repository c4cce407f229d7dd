import { basename } from "node:path";
import { parse } from "yaml";
import { FUNCTION_NAMES, FUNCTIONS, memoryOf, unknownMemoryNames, type FunctionRow } from "../../functions/index.ts";
import { ConfigError } from "../../shared/errors.ts";
import { configPath, loadConfig } from "../../shared/config/load.ts";
import { nodeOptionsFor } from "../../shared/config/heap-limits.ts";
import { DEFAULT_STATE_PREFIX, STORE_KEYS } from "../../shared/config/schema.ts";
import type { Environment } from "../../shared/env.ts";
import { regionOf } from "../../shared/run/services.ts";

/**
 * Where the package holds the policy file the deploy read (CSIP_SCAN_CONFIG, else the default), relative to
 * the project folder: the project's plugin copies it there before packaging (local/deploy/plugin.ts), so
 * the functions run the very file their triggers were made from, wherever it lies.
 */
export function packedPolicyFile(file: string): string {
  return `dist/config/${basename(file)}`;
}

/** Where the functions find it: SCF unpacks the code in /var/user (local/emulator/ASSUMPTIONS.md). */
export function deployedPolicyFile(file: string): string {
  return `/var/user/${packedPolicyFile(file)}`;
}

/**
 * What one function's environment adds to the shared one: the node flags of its memory, and the memory
 * itself, which the function compares with the heap Node gave it at cold start (functions/heap-bound.ts).
 * Whether SCF's Node.js runtime applies NODE_OPTIONS is not documented (local/cloud/ASSUMPTIONS.md, "V8's
 * heap"): where it does not, the function bounds its heap itself, and the variable is harmless.
 */
export function functionEnvironment(memoryMb: number): Record<string, string> {
  return { NODE_OPTIONS: nodeOptionsFor(memoryMb), CSIP_SCAN_MEMORY_MB: String(memoryMb) };
}

/** The parts of serverless.yml that come from the policy file and the function table. */
export interface DeploySettings {
  region: string;
  /** serverless.yml's `provider.runtime`: the policy file's `runtime`. */
  runtime: string;
  /** The functions' environment: where the policy file is, and every variable it names that is set here. */
  environment: Record<string, string>;
  /**
   * serverless.yml's `functions` section. Each function's own `environment` gives it the V8 limits of its
   * memory (NODE_OPTIONS) and names that memory (CSIP_SCAN_MEMORY_MB): see functionEnvironment.
   */
  functions: Record<
    string,
    {
      handler: string;
      description: string;
      timeout: number;
      memorySize: number;
      environment: { variables: Record<string, string> };
      events: Record<string, unknown>[];
      /** A role of its own, which the pinned plugin puts before the provider's (its row's `roleVariable`, when set). */
      role?: string;
    }
  >;
  /**
   * The variables of `environment` the policy file names in its state store's keys (STORE_KEYS): what a
   * function that is given only where its state is (a row's `sharedVariables`) needs of the file's.
   */
  storeVariables: string[];
  /** The EventBridge bus the deploy plugin puts the asset-change rule on, when the policy file asks for one. */
  eventBridge?: { bus: string };
  /**
   * The COS state store's bucket the deploy makes: absent when the policy file chooses a folder or memory;
   * `bucket` absent for the default, `csip-scan-state-APPID`, which the deploy names in the environment.
   */
  stateBucket?: { bucket?: string; region?: string; prefix: string };
}

/**
 * Reads and validates the policy file, and builds what serverless.yml needs from it: never copy a
 * schedule or a trigger into serverless.yml by hand.
 */
export async function deploySettings(env: Environment): Promise<DeploySettings> {
  const file = configPath(undefined, env);
  const { config, text } = await loadConfig(file, env);
  const environment: Record<string, string> = { CSIP_SCAN_CONFIG: deployedPolicyFile(file) };
  for (const name of variablesNamed(text)) {
    const value = env.variables[name];
    if (value !== undefined) environment[name] = value;
  }
  const raw = parse(text) as Record<string, unknown>;
  const storeVariables = variablesNamed(JSON.stringify(STORE_KEYS.map((key) => raw[key]))).filter((name) => name in environment);
  const typos = unknownMemoryNames(config);
  if (typos.length > 0) {
    throw new ConfigError([{ file, line: 1, column: 1, path: "memory", message: `names no function: ${typos.join(", ")} (the functions are ${FUNCTION_NAMES.join(", ")})` }]);
  }
  const functions: DeploySettings["functions"] = {};
  for (const name of FUNCTION_NAMES) {
    const row: FunctionRow = FUNCTIONS[name];
    const role = row.roleVariable ? env.variables[row.roleVariable] : undefined;
    functions[name] = {
      handler: `dist/${name}/index.main_handler`,
      description: row.description,
      timeout: row.timeoutSeconds,
      memorySize: memoryOf(config, name),
      environment: { variables: functionEnvironment(memoryOf(config, name)) },
      events: row.triggers(config),
      ...(role ? { role } : {}),
    };
  }
  const eventBridge = config.assetChange.eventBridge;
  const { state } = config;
  const stateBucket =
    state.path === undefined && !state.memory
      ? { ...(state.cos?.bucket ? { bucket: state.cos.bucket } : {}), ...(state.cos?.region ? { region: state.cos.region } : {}), prefix: state.cos?.prefix ?? DEFAULT_STATE_PREFIX }
      : undefined;
  return { region: regionOf(config, env), runtime: config.runtime, environment, storeVariables, functions, ...(eventBridge ? { eventBridge } : {}), ...(stateBucket ? { stateBucket } : {}) };
}

/** The names of the `${NAME}`s (and `${NAME:-default}`s) in a text, each once. */
function variablesNamed(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}/g)].map((match) => match[1]!))];
}
