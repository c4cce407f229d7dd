import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AccountState, ScfFunction } from "./account.ts";
import { redirectedEnv } from "./redirected.ts";
import { readZip } from "./zip.ts";

/**
 * Runs a deployed function's code as SCF would, for the stand-in's Function URLs and for tests that invoke
 * a deployed function: its zip (the object the deploy uploaded to COS, kept while the stand-in runs) is
 * unpacked into a folder that stands for `/var/user`, and a Node process (local/cloud/scf-runtime.cjs)
 * loads the handler's file and calls its method. That process keeps running between invocations (a warm
 * instance) until the code or the configuration changes. Its environment is what SCF gives a function:
 * the function's variables, the role's keys and the region, nothing of this process's own; and the
 * redirect, so its Tencent Cloud requests reach the stand-ins (local/cloud/ASSUMPTIONS.md, "Running code").
 */

/** Where SCF unpacks code: a variable naming a file under it (CSIP_SCAN_CONFIG) is pointed at the unpacked folder. */
export const CODE_ROOT = "/var/user";

const RUNTIME = fileURLToPath(new URL("./scf-runtime.cjs", import.meta.url));

export interface FunctionRunnerOptions {
  /** The cloud stand-in's URL: the function's requests to Tencent Cloud hosts go there. */
  standInUrl: string;
  /** Where code is unpacked, one folder per function and code. */
  workDir: string;
  /** The keys of the function's role, as SCF hands them (TENCENTCLOUD_SECRETID, ...SECRETKEY, ...SESSIONTOKEN). */
  roleKeys: { secretId: string; secretKey: string; token?: string };
  /** Variables to add (a test's CSIP_ENDPOINT of the emulator): SCF adds its own the same way. */
  extraEnv?: Readonly<Record<string, string>>;
  /** Told what the function printed (its log lines). */
  onOutput?: (text: string) => void;
}

export type Invocation = { ok: true; result: unknown } | { ok: false; error: string };

interface Instance {
  key: string;
  child: ChildProcess;
  /** Invocations one at a time, as one SCF instance takes them. */
  queue: Promise<unknown>;
  pending: Map<string, (outcome: Invocation) => void>;
}

/** `dist/results-page/index.main_handler` as the file to load and the method to call. */
function handlerOf(f: ScfFunction, root: string): { file: string; method: string } {
  const dot = f.Handler.lastIndexOf(".");
  return { file: join(root, `${f.Handler.slice(0, dot)}.js`), method: f.Handler.slice(dot + 1) };
}

export class FunctionRunner {
  private readonly instances = new Map<string, Instance>();

  constructor(
    private readonly account: AccountState,
    private readonly options: FunctionRunnerOptions,
  ) {}

  /** Invokes `f` with `event`, as a synchronous invocation: what the handler returned, or why it failed. */
  async invoke(f: ScfFunction, event: unknown): Promise<Invocation> {
    let instance: Instance;
    try {
      instance = await this.instanceOf(f);
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
    const run = instance.queue.then(
      () =>
        new Promise<Invocation>((resolve) => {
          const id = randomUUID();
          instance.pending.set(id, resolve);
          const context = { request_id: id, function_name: f.FunctionName, namespace: f.Namespace, memory_limit_in_mb: f.MemorySize, time_limit_in_ms: f.Timeout * 1000 };
          instance.child.send({ id, file: handlerOf(f, this.rootOf(f, instance.key)).file, method: handlerOf(f, "").method, event, context });
        }),
    );
    instance.queue = run.catch(() => undefined);
    return run;
  }

  /** Stops every instance. */
  close(): void {
    for (const instance of this.instances.values()) instance.child.kill();
    this.instances.clear();
  }

  private rootOf(f: ScfFunction, key: string): string {
    return join(this.options.workDir, `${f.FunctionName}-${key.slice(0, 12)}`);
  }

  /** The function's warm instance, started (its code unpacked) when there is none for this code and configuration. */
  private async instanceOf(f: ScfFunction): Promise<Instance> {
    const key = createHash("sha256").update(JSON.stringify([f.CodeLocation, f.Handler, f.Environment, f.Runtime, f.MemorySize, f.Timeout])).digest("hex");
    const running = this.instances.get(f.FunctionId);
    if (running?.key === key && running.child.exitCode === null) return running;
    running?.child.kill();
    const root = this.rootOf(f, key);
    await this.unpack(f, root);
    const variables = Object.fromEntries(f.Environment.map((v) => [v.Key, v.Value.startsWith(`${CODE_ROOT}/`) ? join(root, v.Value.slice(CODE_ROOT.length)) : v.Value]));
    const { roleKeys } = this.options;
    const env = redirectedEnv(
      {
        PATH: process.env.PATH,
        ...variables,
        TENCENTCLOUD_SECRETID: roleKeys.secretId,
        TENCENTCLOUD_SECRETKEY: roleKeys.secretKey,
        ...(roleKeys.token ? { TENCENTCLOUD_SESSIONTOKEN: roleKeys.token } : {}),
        TENCENTCLOUD_REGION: f.Region,
        SCF_FUNCTIONNAME: f.FunctionName,
        SCF_NAMESPACE: f.Namespace,
        ...this.options.extraEnv,
      },
      this.options.standInUrl,
    );
    const child = spawn(process.execPath, [RUNTIME], { cwd: root, env, stdio: ["ignore", "pipe", "pipe", "ipc"] });
    const instance: Instance = { key, child, queue: Promise.resolve(), pending: new Map() };
    const output = (chunk: Buffer): void => this.options.onOutput?.(chunk.toString("utf8"));
    child.stdout?.on("data", output);
    child.stderr?.on("data", output);
    child.on("message", (message: { id: string; result?: unknown; error?: string }) => {
      const resolve = instance.pending.get(message.id);
      instance.pending.delete(message.id);
      resolve?.(message.error !== undefined ? { ok: false, error: message.error } : { ok: true, result: message.result });
    });
    child.on("exit", (code, signal) => {
      for (const resolve of instance.pending.values()) resolve({ ok: false, error: `the function's process ended (${signal ?? code})` });
      instance.pending.clear();
    });
    this.instances.set(f.FunctionId, instance);
    return instance;
  }

  /** Writes the function's code (its COS object, or the zip it was given) into `root`. */
  private async unpack(f: ScfFunction, root: string): Promise<void> {
    const slash = f.CodeLocation.indexOf("/");
    const object = this.account.objects.find((o) => o.Bucket === f.CodeLocation.slice(0, slash) && o.Key === f.CodeLocation.slice(slash + 1));
    if (!object?.Body) throw new Error(`the code of ${f.FunctionName} (${f.CodeLocation}) was not kept: the stand-in keeps uploaded bodies for one process`);
    for (const [name, data] of readZip(Buffer.from(object.Body, "base64"))) {
      const file = join(root, name);
      if (!file.startsWith(`${root}/`)) throw new Error(`the code of ${f.FunctionName} holds a path outside its folder: ${name}`);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, data);
    }
  }
}
