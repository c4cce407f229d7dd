import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { FUNCTION_NAMES, FUNCTIONS, type FunctionName, type FunctionRow } from "../../functions/index.ts";
import { configPath } from "../../shared/config/load.ts";
import { readEnvironment } from "../../shared/env.ts";
import { describeError } from "../../shared/errors.ts";
import { coldStartKey, deploymentName, deploymentStatePrefix, PAGE_SIGNING_KEY } from "../../shared/state/keys.ts";
import { ckafkaChange, createCkafkaRequest, wantedCkafka, type WantedCkafka } from "./ckafka.ts";
import { deployClients, deployCredentials, type DeployClients } from "./cloud.ts";
import { ensureRule, ruleErrorMessage } from "./event-bridge.ts";
import { createFunctionUrlRequest, extranetUrl, functionUrlChange, functionUrlTrigger, PAGE_URL_VARIABLE, stagePageUrl, stagePageUrlVariable, updateFunctionUrlRequest } from "./function-url.ts";
import { defaultStateBucket, ensureStateBucket } from "./state-bucket.ts";
import { limitProblems, type FunctionPlan } from "./limits.ts";
import { deploySettings, packedPolicyFile } from "./settings.ts";
import { deleteTriggerRequest, staleTriggers, unchangedTimers, wantedTriggers, type ExistingTrigger, type WantedTrigger } from "./triggers.ts";

/** What the plugin reads of the serverless instance (Serverless Framework v3). */
interface ServerlessLike {
  service: {
    service: string;
    provider: { region?: string; stage?: string; credentials?: string; environment?: { variables?: Record<string, unknown> } };
    functions: Record<string, { name?: string; role?: string; events?: Record<string, unknown>[]; environment?: { variables?: Record<string, unknown> } }>;
  };
  classes: { Error: new (message: string) => Error };
  /** The service's folder, where serverless.yml is and the package is made from. */
  serviceDir?: string;
}

interface Log {
  notice(message: string): void;
  warning(message: string): void;
}

/** Every function's namespace: serverless-tencent-scf always deploys to `default`. */
const NAMESPACE = "default";

/**
 * The project's serverless plugin, run around serverless-tencent-scf's deploy:
 * - before packaging: refuses a deploy that would break SCF's limits, before any call;
 * - before the deploy: leaves out of the service the timers SCF already holds as they are, so the pinned
 *   plugin (which compares crons as if they had five fields) does not delete and recreate them, and the
 *   CKafka triggers, which it makes only for a batch of 2 to 999 (local/deploy/ckafka.ts);
 * - after the deploy: makes the results-page function's URL first (local/deploy/function-url.ts), which
 *   every function that links pages is told as CSIP_SCAN_PAGE_URL (before the deploy when it already
 *   exists, so a second deploy changes nothing); then makes those CKafka triggers, deletes the triggers
 *   csip-scan owns that the policy file no longer asks for, and makes the EventBridge rule of
 *   `assetChange.eventBridge`.
 *
 * The page function, which anyone may call through its URL, gets only the variables that place its state
 * (its row's `sharedVariables`) and, when CSIP_SCAN_PAGE_ROLE names one, a role of its own.
 */
export class CsipScanDeployPlugin {
  readonly hooks: Record<string, () => Promise<void>>;
  /** The triggers serverless.yml asks for, by function, taken before any is left out. */
  private wanted: Map<FunctionName, WantedTrigger[]> | undefined;
  /** The CKafka triggers taken out of the service before the deploy, by function. */
  private ckafka = new Map<FunctionName, WantedCkafka[]>();
  private clients: DeployClients | undefined;

  constructor(
    private readonly serverless: ServerlessLike,
    private readonly options: { stage?: string; region?: string } = {},
    io: { log?: Partial<Log> } = {},
  ) {
    const log = io.log;
    this.log = { notice: (m) => (log?.notice ?? console.error)(`csip-scan: ${m}`), warning: (m) => (log?.warning ?? console.error)(`csip-scan: ${m}`) };
    this.hooks = {
      "before:package:initialize": async () => {
        this.refuseBrokenLimits();
        this.packPolicyFile();
      },
      "before:deploy:deploy": async () => {
        this.refuseShellWidePageUrl();
        this.refuseBrokenLimits();
        await this.keepUnchangedTimers();
        await this.placeState();
        await this.namePageUrl();
        // Again with the bucket's name and the pages' URL in the environment, which count toward SCF's 4 KB.
        this.refuseBrokenLimits();
        this.takeCkafkaTriggers();
        // Last, once nothing adds to the shared environment any more.
        this.environmentPerFunction();
      },
      "after:deploy:deploy": async () => {
        // The URL first: the functions are live now, and a failure in a later step (an EventBridge rule, a
        // CKafka trigger) must not leave them without the pages' URL until the next deploy.
        await this.makeFunctionUrl();
        await this.completeDeploy();
      },
    };
  }

  private readonly log: Log;

  private get region(): string {
    return this.options.region ?? this.serverless.service.provider.region ?? "ap-guangzhou";
  }

  /** The stage deployed (`--stage`, else serverless.yml's, else `dev`), as the pinned plugin reads it. */
  private get stage(): string {
    return this.options.stage ?? this.serverless.service.provider.stage ?? "dev";
  }

  /** This deployment's name: its stage and region (shared/state/keys.ts deploymentName). */
  private get deployment(): string {
    return deploymentName(this.stage, this.region);
  }

  /** The deployed name of a function of the table. */
  private functionName(key: FunctionName): string {
    return this.serverless.service.functions[key]?.name ?? `${this.serverless.service.service}-${this.stage}-${key}`;
  }

  private plan(): FunctionPlan[] {
    const providerEnv = this.serverless.service.provider.environment?.variables ?? {};
    return FUNCTION_NAMES.filter((key) => this.serverless.service.functions[key]).map((key) => {
      const f = this.serverless.service.functions[key]!;
      const environment = Object.fromEntries(Object.entries({ ...providerEnv, ...f.environment?.variables }).map(([k, v]) => [k, String(v)]));
      return { name: this.functionName(key), environment, triggers: this.wanted?.get(key) ?? wantedTriggers(f.events ?? []) };
    });
  }

  /**
   * Copies the policy file the deploy read into the package (`packedPolicyFile`), where CSIP_SCAN_CONFIG
   * points the functions: a deploy of another file than config/scan-policies.yaml runs that file.
   */
  private packPolicyFile(): void {
    const file = configPath(undefined, readEnvironment());
    const packed = join(this.serverless.serviceDir ?? process.cwd(), packedPolicyFile(file));
    mkdirSync(dirname(packed), { recursive: true });
    copyFileSync(file, packed);
  }

  private refuseBrokenLimits(): void {
    const problems = limitProblems(this.plan());
    if (problems.length > 0) {
      throw new this.serverless.classes.Error(`csip-scan: this deploy would break SCF's limits, so nothing was deployed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
  }

  private async cloud(): Promise<DeployClients> {
    this.clients ??= deployClients(await deployCredentials(this.serverless.service.provider.credentials), this.region);
    return this.clients;
  }

  /** The triggers SCF holds on a function; none when the function does not exist yet. */
  private async existingTriggers(functionName: string): Promise<ExistingTrigger[]> {
    const { scf } = await this.cloud();
    const found: ExistingTrigger[] = [];
    for (let Offset = 0; ; Offset += 100) {
      let page;
      try {
        page = await scf.ListTriggers({ FunctionName: functionName, Namespace: NAMESPACE, Offset, Limit: 100 });
      } catch (error) {
        if (/^ResourceNotFound/.test((error as { code?: string }).code ?? "")) return [];
        throw error;
      }
      found.push(...(page.Triggers ?? []));
      if ((page.Triggers ?? []).length < 100) return found;
    }
  }

  private async keepUnchangedTimers(): Promise<void> {
    this.wanted = new Map(FUNCTION_NAMES.filter((key) => this.serverless.service.functions[key]).map((key) => [key, wantedTriggers(this.serverless.service.functions[key]!.events ?? [])]));
    for (const [key, wanted] of this.wanted) {
      if (!wanted.some((w) => w.type === "timer")) continue;
      const keep = new Set(unchangedTimers(wanted, await this.existingTriggers(this.functionName(key))));
      if (keep.size === 0) continue;
      const f = this.serverless.service.functions[key]!;
      f.events = (f.events ?? []).filter((event) => !("timer" in event && keep.has(String((event.timer as { name?: unknown }).name))));
      this.log.notice(`${this.functionName(key)}: ${keep.size} timer(s) unchanged, left in place: ${[...keep].join(", ")}`);
    }
  }

  private takeCkafkaTriggers(): void {
    for (const key of FUNCTION_NAMES) {
      const f = this.serverless.service.functions[key];
      if (!f?.events?.some((event) => "ckafka" in event)) continue;
      this.ckafka.set(key, wantedCkafka(f.events));
      f.events = f.events.filter((event) => !("ckafka" in event));
    }
  }

  /** Creates each CKafka trigger taken out of the service that SCF does not hold as wanted. */
  private async makeCkafkaTriggers(key: FunctionName, functionName: string): Promise<void> {
    const { scf } = await this.cloud();
    for (const wanted of this.ckafka.get(key) ?? []) {
      const change = ckafkaChange(wanted, await this.existingTriggers(functionName));
      if (change.action === "keep") continue;
      if (change.replace) await scf.DeleteTrigger(deleteTriggerRequest(functionName, NAMESPACE, change.replace));
      await scf.CreateTrigger(createCkafkaRequest(functionName, NAMESPACE, wanted));
      this.log.notice(`${functionName}: ${change.replace ? "replaced" : "created"} the CKafka trigger ${wanted.name} (maxMsgNum ${wanted.desc.maxMsgNum})`);
    }
  }

  /**
   * Names the deployment in every function's environment (CSIP_SCAN_DEPLOYMENT: its task names), and,
   * for the COS store, where its state lives (CSIP_SCAN_STATE_BUCKET, _REGION, _PREFIX): the account's
   * state bucket, found in whatever region it is or made here when missing, before any function
   * changes, and a folder of the deployment's own in it. Two stages, or one stage in two regions, never
   * share a record, a lock or an open run.
   */
  private async placeState(): Promise<void> {
    const variables: Record<string, string> = { CSIP_SCAN_DEPLOYMENT: this.deployment };
    const { stateBucket, storeVariables } = await deploySettings(readEnvironment());
    this.storeVariables = storeVariables;
    if (stateBucket) {
      const { cam } = await this.cloud();
      const { AppId } = await cam.GetUserAppId();
      if (AppId === undefined) throw new this.serverless.classes.Error("csip-scan: CAM GetUserAppId answered no AppId");
      const bucket = stateBucket.bucket ?? defaultStateBucket(String(AppId));
      const prefix = deploymentStatePrefix(stateBucket.prefix, this.deployment);
      try {
        const credentials = await deployCredentials(this.serverless.service.provider.credentials);
        const outcome = await ensureStateBucket(credentials, { bucket, region: stateBucket.region ?? this.region, fixedRegion: stateBucket.region !== undefined });
        const where = outcome.created ? "created, private, versioning off" : "found, versioning never enabled";
        this.log.notice(`state of ${this.deployment}: bucket ${outcome.bucket} (${outcome.region}, ${where}), folder ${prefix}`);
        this.log.notice(
          `the functions' role needs docs/cam-policy.json's COS statements on qcs::cos:${outcome.region}:uid/${AppId}:${outcome.bucket}/${prefix}* and qcs::cos:${outcome.region}:uid/${AppId}:${outcome.bucket}/*`,
        );
        this.notePageRole(`qcs::cos:${outcome.region}:uid/${AppId}:${outcome.bucket}/`, prefix);
        Object.assign(variables, { CSIP_SCAN_STATE_BUCKET: outcome.bucket, CSIP_SCAN_STATE_REGION: outcome.region, CSIP_SCAN_STATE_PREFIX: prefix });
      } catch (error) {
        throw new this.serverless.classes.Error(`csip-scan: the state bucket could not be made: ${describeError(error)}`);
      }
    }
    const provider = this.serverless.service.provider;
    provider.environment = { ...provider.environment, variables: { ...provider.environment?.variables, ...variables } };
  }

  /**
   * Gives each function its whole environment, the shared variables and its own, and the provider none.
   * The pinned plugin merges a function's variables into the provider's object itself and hands that one
   * object to every function (serverless-tencent-scf 0.1.36, `getEnvironment`), so with a shared
   * environment every function would get the last function's NODE_OPTIONS and memory.
   */
  private environmentPerFunction(): void {
    const provider = this.serverless.service.provider;
    const shared = (provider.environment?.variables ?? {}) as Record<string, string>;
    for (const [key, f] of Object.entries(this.serverless.service.functions)) {
      const given = Object.fromEntries(Object.entries(shared).filter(([name]) => this.takes(key, name)));
      f.environment = { variables: byName({ ...given, ...(f.environment?.variables as Record<string, string> | undefined) }) };
    }
    delete provider.environment;
  }

  /** The variables the policy file names in its state store's keys (local/deploy/settings.ts). */
  private storeVariables: readonly string[] = [];

  /**
   * Whether function `key` is given the shared variable `name`: every function is, but one whose row names
   * the only ones it gets (`sharedVariables`: the public page function), which gets those and what the
   * policy file's state store keys name.
   */
  private takes(key: string, name: string): boolean {
    const row: FunctionRow | undefined = (FUNCTION_NAMES as string[]).includes(key) ? FUNCTIONS[key as FunctionName] : undefined;
    return !row?.sharedVariables || row.sharedVariables.includes(name) || this.storeVariables.includes(name);
  }

  /**
   * Says which role the page function runs with: anyone may call it through its URL, so a role of its own
   * that can only read its deployment's pages and signing key (docs/cam-page-policy.json, its exact
   * resources here) keeps a fault in it from reaching the functions' rights.
   */
  private notePageRole(bucketResource: string, prefix: string): void {
    const page = this.pageFunction();
    const variable = page ? (FUNCTIONS[page] as FunctionRow).roleVariable : undefined;
    if (!page || !variable) return;
    const role = this.serverless.service.functions[page]?.role;
    if (!role) {
      this.log.notice(`${this.functionName(page)}, which anyone may call through its URL, runs with the functions' role: set ${variable} to a role of its own (docs/cam-page-policy.json)`);
      return;
    }
    const objects = [`${prefix}pages/*`, `${prefix}${PAGE_SIGNING_KEY}.json`].map((key) => `${bucketResource}${key}`);
    this.log.notice(
      `${this.functionName(page)} runs with the role ${role}, which needs docs/cam-page-policy.json's statements: GetObject on ${objects.join(" and ")}, PutObject on ${bucketResource}${prefix}${coldStartKey(page)}.json, GetBucketVersioning on ${bucketResource}*`,
    );
  }

  /** The pages' URL named in the functions' environment before the deploy; undefined until one is known. */
  private pageUrl: string | undefined;

  /** The function of the table that serves the pages through its Function URL, when this deploy has it. */
  private pageFunction(): FunctionName | undefined {
    return FUNCTION_NAMES.find((key) => "functionUrl" in FUNCTIONS[key] && this.serverless.service.functions[key]);
  }

  private setProviderVariable(name: string, value: string): void {
    const provider = this.serverless.service.provider;
    provider.environment = { ...provider.environment, variables: { ...provider.environment?.variables, [name]: value } };
  }

  /** The pages' URL a person gave this stage where the deploy runs (local/deploy/function-url.ts `stagePageUrl`). */
  private ownPageUrl(): string | undefined {
    const given = stagePageUrl(this.stage, readEnvironment().variables);
    if ("problem" in given) throw new this.serverless.classes.Error(`csip-scan: ${given.problem}; nothing was deployed`);
    return given.url;
  }

  /** Before anything changes: a pages' URL set for every stage at once stops the deploy (stagePageUrl). */
  private refuseShellWidePageUrl(): void {
    if (this.pageFunction()) this.ownPageUrl();
  }

  /**
   * Names the pages' URL in every function's environment before the deploy: the one a person set for this
   * stage (CSIP_SCAN_PAGE_URL_<STAGE> where the deploy runs: a gateway of theirs in front of the function),
   * else the Function URL an earlier deploy made. The first deploy learns it after (makeFunctionUrl).
   */
  private async namePageUrl(): Promise<void> {
    const page = this.pageFunction();
    if (!page) return;
    const own = this.ownPageUrl();
    const trigger = own ? undefined : functionUrlTrigger(await this.existingTriggers(this.functionName(page)));
    this.pageUrl = own ?? (trigger ? extranetUrl(trigger) : undefined);
    if (this.pageUrl) this.setProviderVariable(PAGE_URL_VARIABLE, this.pageUrl);
  }

  /**
   * Makes the page function's URL when missing (or opens one someone closed), reads it back, and, when the
   * functions were deployed without it, adds CSIP_SCAN_PAGE_URL to the environment of every function that
   * links pages.
   */
  private async makeFunctionUrl(): Promise<void> {
    const page = this.pageFunction();
    if (!page) return;
    const { scf } = await this.cloud();
    const name = this.functionName(page);
    const change = functionUrlChange(await this.existingTriggers(name));
    // The pinned plugin has just made or changed it: SCF takes a trigger once the function is Active.
    if (change.action !== "keep") await this.untilActive(name);
    if (change.action === "create") await scf.CreateTrigger(createFunctionUrlRequest(name, NAMESPACE));
    if (change.action === "update") await scf.UpdateTrigger(updateFunctionUrlRequest(name, NAMESPACE, change.trigger));
    const trigger = functionUrlTrigger(await this.existingTriggers(name));
    const url = trigger ? extranetUrl(trigger) : undefined;
    if (!url) throw new this.serverless.classes.Error(`csip-scan: ${name}'s function URL shows no public address (NetConfig.ExtranetUrl); results messages cannot link their pages`);
    const verb = { create: "created", update: "opened to anyone holding a signed link (AuthType NONE, public)", keep: "unchanged" }[change.action];
    this.log.notice(`${name}: function URL ${url} ${verb}`);
    if (this.pageUrl !== undefined) {
      if (this.pageUrl !== url) this.log.notice(`results messages link their pages through ${this.pageUrl} (${stagePageUrlVariable(this.stage)}), in front of ${url}`);
      return;
    }
    const updated: string[] = [];
    for (const key of FUNCTION_NAMES) {
      if (!this.serverless.service.functions[key] || !this.takes(key, PAGE_URL_VARIABLE)) continue;
      const functionName = this.functionName(key);
      const held = await this.untilActive(functionName);
      const variables = (held.Environment?.Variables ?? []).filter((v) => v.Key !== PAGE_URL_VARIABLE);
      const environment = byName(Object.fromEntries([...variables.map((v) => [v.Key ?? "", v.Value ?? ""]), [PAGE_URL_VARIABLE, url]]));
      const problems = limitProblems([{ name: functionName, environment, triggers: [] }]);
      if (problems.length > 0) throw new this.serverless.classes.Error(`csip-scan: ${PAGE_URL_VARIABLE} does not fit: ${problems.join("; ")}`);
      await scf.UpdateFunctionConfiguration({ FunctionName: functionName, Namespace: NAMESPACE, Environment: { Variables: Object.entries(environment).map(([Key, Value]) => ({ Key, Value })) } });
      updated.push(functionName);
    }
    // Active again before the next steps add triggers to them (CKafka, an EventBridge target).
    for (const functionName of updated) await this.untilActive(functionName);
    this.log.notice(`every function that links the results pages now finds their URL in ${PAGE_URL_VARIABLE}`);
  }

  /**
   * The function once SCF says it is Active: a function being made or changed (`Creating`, `Updating`) takes
   * no other change (https://cloud.tencent.com/document/product/583/115197). Asked every half second for 90
   * s at most, as the pinned plugin waits after its own updates.
   */
  private async untilActive(functionName: string) {
    const { scf } = await this.cloud();
    for (let asked = 1; ; asked++) {
      const held = await scf.GetFunction({ FunctionName: functionName, Namespace: NAMESPACE });
      if (held.Status === "Active") return held;
      if (!["Creating", "Updating", "Publishing"].includes(held.Status ?? "") || asked >= 180) {
        throw new this.serverless.classes.Error(`csip-scan: ${functionName} is ${held.Status ?? "in no state"} (${held.StatusDesc || "SCF gives no reason"}); deploy again once it is Active`);
      }
      await sleep(500);
    }
  }

  private async completeDeploy(): Promise<void> {
    const { scf, cam } = await this.cloud();
    for (const key of FUNCTION_NAMES) {
      if (!this.serverless.service.functions[key]) continue;
      const functionName = this.functionName(key);
      await this.makeCkafkaTriggers(key, functionName);
      const wanted = this.wanted?.get(key) ?? wantedTriggers(this.serverless.service.functions[key]!.events ?? []);
      for (const stale of staleTriggers(wanted, await this.existingTriggers(functionName), FUNCTIONS[key].owns)) {
        await scf.DeleteTrigger(deleteTriggerRequest(functionName, NAMESPACE, stale));
        this.log.notice(`${functionName}: deleted the ${stale.Type} trigger ${stale.TriggerName}, which the policy file no longer asks for`);
      }
    }
    const { eventBridge } = await deploySettings(readEnvironment());
    if (!eventBridge) return;
    try {
      const { OwnerUin } = await cam.GetUserAppId();
      if (!OwnerUin) throw new Error("CAM GetUserAppId answered no OwnerUin");
      const outcome = await ensureRule(await this.cloud(), { bus: eventBridge.bus, region: this.region, uin: OwnerUin, namespace: NAMESPACE, functionName: this.functionName("asset-change") });
      this.log.notice(`EventBridge rule ${outcome.ruleName} (${outcome.ruleId}) on bus ${eventBridge.bus} ${outcome.created ? "created" : "updated"}, targeting ${this.functionName("asset-change")}`);
    } catch (error) {
      throw new this.serverless.classes.Error(`csip-scan: the EventBridge rule could not be made: ${ruleErrorMessage(error)}`);
    }
  }
}

/**
 * Variables in the order of their names: the first deploy adds the pages' URL after the functions exist and
 * a later one names it before, and one order for both keeps a redeploy from reading as a change.
 */
function byName(variables: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(variables).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
