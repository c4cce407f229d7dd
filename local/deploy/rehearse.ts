import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freshAccount, loadAccount, saveAccount, type AccountState } from "../cloud/account.ts";
import { REHEARSAL_ACCOUNT } from "../cloud/credentials.ts";
import { redirectRefusals, toJsonLines } from "../cloud/record.ts";
import { redirectedEnv } from "../cloud/redirected.ts";
import { startCloudStandIn } from "../cloud/server.ts";

/**
 * A deploy rehearsal: the real `serverless deploy` (pinned Serverless v3 and serverless-tencent-scf, through
 * scripts/serverless.js), with every request for Tencent Cloud answered by the local stand-ins
 * (local/cloud/) and nothing reaching the network. The deploy's own code runs unchanged: redirect.cjs,
 * preloaded into it (local/cloud/redirected.ts), sends its requests to the stand-in with their original Host,
 * and the stand-in checks their signatures against the one rehearsal key pair, written to a temporary
 * `~/credentials`. The deploy runs in its own process group, so that a timeout stops all of it.
 */

export interface RehearseOptions {
  /** The policy file the deploy reads (CSIP_SCAN_CONFIG), relative to the current folder. */
  configPath: string;
  /** Where the emulated account is kept between rehearsals; a fresh temporary account when absent. */
  accountDir?: string;
  /**
   * Where to write one JSON line per request the deploy made, to any host: those the stand-in answered or
   * dropped, then those the redirect refused inside the deploy's processes (local/cloud/record.ts).
   */
  recordFile?: string;
  /** The project to build and deploy (default: the current folder). */
  projectRoot?: string;
  /** The stage to deploy (`serverless deploy --stage`): its own functions, state folder and task names. Default `dev`. */
  stage?: string;
  /**
   * The region to deploy to when the policy file names none: the deploy's TENCENTCLOUD_REGION, as for
   * `npm run deploy` (serverless v3 takes no `--region` for this provider).
   */
  region?: string;
  /** The environment the deploy starts from (default: this process's). */
  env?: Record<string, string | undefined>;
  /** Called with what the build and the deploy print as it comes, secrets masked, so a person sees progress. */
  onOutput?: (text: string) => void;
}

export interface RehearsalResult {
  exitCode: number;
  /** What the build and the deploy printed (stdout and stderr), with secrets masked. */
  output: string;
  account: AccountState;
}

/** The project's build, run in the project root before every rehearsal. */
export const BUILD_COMMAND = { command: process.execPath, args: ["scripts/build.js"] } as const;

/** A deploy that takes longer than this is stopped (the real one takes about 20 s). */
const DEPLOY_TIMEOUT_MS = 5 * 60_000;

/** Variables that would carry someone's real credentials or endpoints into the rehearsal (proxies go too: redirectedEnv). */
const DROPPED = ["TENCENTCLOUD_SESSIONTOKEN", "TENCENTCLOUD_SESSION_TOKEN", "CSIP_ENDPOINT"];

function withoutDropped(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && !DROPPED.includes(entry[0])));
}

/** Runs a command, collecting what it prints in arrival order; stops its process group on timeout. */
function run(command: string, args: readonly string[], cwd: string, env: Record<string, string>, output: Pick<string[], "push">, timeoutMs: number): Promise<number> {
  return new Promise((done) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const timer = setTimeout(() => {
      output.push(`\nrehearsal: stopped after ${timeoutMs / 1000} s\n`);
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
    child.on("error", (error) => output.push(`rehearsal: ${command} failed to start: ${error.message}\n`));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      done(code ?? (signal ? 128 : 1));
    });
  });
}

/** Variables the deploy itself sets, which name places, not secrets: the output may show them. */
const NOT_SECRET: ReadonlySet<string> = new Set(["CSIP_SCAN_CONFIG", "CSIP_SCAN_STATE_BUCKET", "CSIP_SCAN_STATE_REGION", "CSIP_SCAN_STATE_PREFIX", "CSIP_SCAN_DEPLOYMENT", "CSIP_SCAN_PAGE_URL"]);

/** Every secret that might show in the output: the key, and the functions' environment values. */
function masked(text: string, account: AccountState): string {
  const values = account.functions.flatMap((f) => f.Environment.filter((v) => !NOT_SECRET.has(v.Key)).map((v) => v.Value));
  const secrets = [REHEARSAL_ACCOUNT.secretKey, ...values].filter((s) => s.length >= 8 && !/^\*+$/.test(s));
  return secrets.reduce((out, secret) => out.split(secret).join("***"), text);
}

/**
 * Builds the project, then runs the real `serverless deploy` against the cloud stand-ins. Resolves with the
 * deploy's exit code (the build's, if the build failed), what was printed, and the account afterwards.
 */
export async function rehearseDeploy(options: RehearseOptions): Promise<RehearsalResult> {
  const root = resolve(options.projectRoot ?? process.cwd());
  const base = withoutDropped(options.env ?? process.env);
  const collected: string[] = [];
  const account = options.accountDir ? await loadAccount(options.accountDir, REHEARSAL_ACCOUNT) : freshAccount(REHEARSAL_ACCOUNT);
  const output = {
    push(text: string): number {
      options.onOutput?.(masked(text, account));
      return collected.push(text);
    },
  };

  const built = await run(BUILD_COMMAND.command, BUILD_COMMAND.args, root, base, output, DEPLOY_TIMEOUT_MS);
  if (built !== 0) return { exitCode: built, output: masked(collected.join(""), account), account };

  const standIn = await startCloudStandIn({ account });
  const home = await mkdtemp(join(tmpdir(), "csip-scan-rehearsal-home-"));
  let exitCode = 1;
  try {
    // The pinned plugin reads only ~/credentials (INI, [default]: provider/tencentProvider.js).
    const credentials = `[default]\ntencent_secret_id = ${REHEARSAL_ACCOUNT.secretId}\ntencent_secret_key = ${REHEARSAL_ACCOUNT.secretKey}\n`;
    await writeFile(join(home, "credentials"), credentials, { mode: 0o600 });
    const env: Record<string, string> = {
      ...redirectedEnv(base, standIn.url),
      HOME: home,
      CSIP_SCAN_CONFIG: resolve(options.configPath),
      // The project's SDK clients (and the SDK's own reader) get the rehearsal key, never a real one.
      TENCENTCLOUD_SECRETID: REHEARSAL_ACCOUNT.secretId,
      TENCENTCLOUD_SECRETKEY: REHEARSAL_ACCOUNT.secretKey,
      TENCENTCLOUD_SECRET_ID: REHEARSAL_ACCOUNT.secretId,
      TENCENTCLOUD_SECRET_KEY: REHEARSAL_ACCOUNT.secretKey,
      NPM_CONFIG_UPDATE_NOTIFIER: "false",
      NPM_CONFIG_OFFLINE: "true",
      SLS_DISABLE_AUTO_UPDATE: "1",
    };
    if (options.region) env.TENCENTCLOUD_REGION = options.region;
    exitCode = await run(process.execPath, [join(root, "scripts", "serverless.js"), "deploy", ...(options.stage ? ["--stage", options.stage] : [])], root, env, output, DEPLOY_TIMEOUT_MS);
    if (standIn.refusedHosts.length > 0) output.push(`rehearsal: the stand-in refused ${[...new Set(standIn.refusedHosts)].join(", ")}\n`);
  } finally {
    await standIn.close();
    await rm(home, { recursive: true, force: true });
    if (options.accountDir) await saveAccount(options.accountDir, account);
    if (options.recordFile) await writeFile(options.recordFile, toJsonLines([...standIn.calls, ...redirectRefusals(collected.join(""))]));
  }
  return { exitCode, output: masked(collected.join(""), account), account };
}

function triggerLine(t: AccountState["functions"][number]["Triggers"][number]): string {
  let desc = t.TriggerDesc;
  try {
    const parsed = JSON.parse(t.TriggerDesc) as { cron?: unknown; AuthType?: unknown; NetConfig?: { ExtranetUrl?: unknown; IntranetUrl?: unknown } };
    if (t.Type === "timer" && typeof parsed.cron === "string") desc = parsed.cron;
    // A function URL: its address, and who may call it.
    if (t.Type === "http") desc = `function URL ${String(parsed.NetConfig?.ExtranetUrl || parsed.NetConfig?.IntranetUrl || "(none)")} (AuthType ${String(parsed.AuthType)})`;
  } catch {
    // Shown as kept.
  }
  return `      ${t.Type} ${t.TriggerName}: ${desc}${t.Enable === 1 ? "" : " (disabled)"}`;
}

function compactJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
}

/** What the account holds, for people: functions (never environment values), triggers, buckets, rules and targets. */
export function formatAccount(account: AccountState): string {
  const lines: string[] = [`Functions: ${account.functions.length === 0 ? "none" : account.functions.length}`];
  for (const f of account.functions) {
    lines.push(
      `  ${f.FunctionName} (${f.Region}, namespace ${f.Namespace})`,
      `    runtime ${f.Runtime}, handler ${f.Handler}, timeout ${f.Timeout} s, memory ${f.MemorySize} MB, role ${f.Role || "(none)"}`,
      `    environment: ${f.Environment.length === 0 ? "(none)" : f.Environment.map((v) => v.Key).join(", ")}`,
      `    triggers: ${f.Triggers.length === 0 ? "none" : f.Triggers.length}`,
      ...f.Triggers.map(triggerLine),
    );
  }
  lines.push(`COS buckets: ${account.buckets.length === 0 ? "none" : account.buckets.length}`);
  for (const b of account.buckets) {
    const objects = account.objects.filter((o) => o.Bucket === b.Name).length;
    lines.push(`  ${b.Name} (${b.Region}, ${b.Acl ?? "ACL not recorded"}, versioning ${b.Versioning ?? "never enabled"}, ${objects} object(s), created ${b.CreationDate})`);
  }
  lines.push(`EventBridge rules: ${account.rules.length === 0 ? "none" : account.rules.length}`);
  for (const rule of account.rules) {
    lines.push(`  ${rule.RuleName} (${rule.RuleId}) on bus ${rule.EventBusId}, ${rule.Region}${rule.Enable ? "" : " (disabled)"}`, `    pattern: ${compactJson(rule.EventPattern)}`);
    for (const t of account.targets.filter((target) => target.RuleId === rule.RuleId)) {
      lines.push(`    target ${t.Type} ${String(t.TargetDescription.ResourceDescription ?? "")} (${t.TargetId})`);
    }
  }
  return `${lines.join("\n")}\n`;
}
