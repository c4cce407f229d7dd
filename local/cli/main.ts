import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { FUNCTION_NAMES, FUNCTIONS } from "../../functions/index.ts";
import { expandGroups, kindsNeeded, policyGroups } from "../../shared/assets/expand.ts";
import { configWarnings } from "../../shared/config/checks.ts";
import { configPath, formatKeyPath, loadConfig } from "../../shared/config/load.ts";
import { DurationSchema, durationMs, type Config } from "../../shared/config/schema.ts";
import { resultsReport, type ResultsReport } from "../../shared/notify/results-report.ts";
import { webhookPayload } from "../../shared/notify/deliver.ts";
import { memberScopes, runsFromTaskList } from "../../shared/results/open-runs.ts";
import { reportLinks } from "../../shared/results/reports.ts";
import { resultsOf } from "../../shared/run/scan-results.ts";
import { readEnvironment, type Environment } from "../../shared/env.ts";
import { ConfigError, CsipScanError, EventError, NotFoundError } from "../../shared/errors.ts";
import { createLogger, silentLogger } from "../../shared/log.ts";
import { deliverTest } from "../../shared/notify/deliver.ts";
import { findPolicy, runScheduledScan } from "../../shared/run/scheduled-scan.ts";
import { runReadings } from "../../shared/run/filter-readings.ts";
import { createServices, startRun, storeWarnings, withAccountReadings } from "../../shared/run/services.ts";
import { formatSummary, type RunSummary } from "../../shared/run/summary.ts";
import { timersOf } from "../../shared/run/timer-run.ts";
import { SCF_LIMITS } from "../../shared/config/scf-limits.ts";
import { scrub, withoutRegistered } from "../../shared/secrets.ts";
import { localTime } from "../../shared/time-format.ts";
import { readInventory } from "../emulator/inventory-file.ts";
import { startEmulator } from "../emulator/server.ts";
import { describeSwitches, readingSwitches, SwitchError, SWITCH_FLAGS, SWITCH_USAGE } from "../emulator/switches.ts";
import { AccountFileError } from "../cloud/account.ts";
import { formatAccount, rehearseDeploy } from "../deploy/rehearse.ts";
import { commandStore, connectLocal, DEMO_INVENTORY, exportLine, localOverrides } from "../environment.ts";
import { runDoctor } from "../doctor/doctor.ts";
import { doctorSetup } from "../doctor/setup.ts";
import { formatReport } from "../doctor/table.ts";
import { closestName, unsetVariables } from "./hints.ts";
import { progressLine } from "./progress.ts";
import { startLocalCos } from "../cos-local.ts";
import { followResults } from "../results-follower.ts";
import { OutFileError, writeReport } from "../report.ts";
import { scheduleTable, startScheduler } from "../scheduler.ts";

/** How often local mode looks for results when the emulator answers (its scans take seconds, so a newcomer sees results at once). */
const LOCAL_RESULTS_EVERY_MS = 2_000;

/** Wrong usage of the CLI itself. */
class UsageError extends CsipScanError {
  override name = "UsageError";
}

// Everything the CLI prints passes through `scrub`: a secret that reached a summary or an answer stays hidden.
const out = (line: string): void => void process.stdout.write(`${scrub(line)}\n`);
const err = (line: string): void => void process.stderr.write(`${scrub(line)}\n`);
// A message a notifier would have been sent, and a report link: the user's own, so its query stays usable;
// only the secrets this process knows are masked.
const show = (text: string): void => void process.stdout.write(`${withoutRegistered(text)}\n`);

/** Warns of each `${NAME:-default}` of the policy file whose variable is unset here, where the deploy reads it. */
function warnUnset(text: string, env: Environment, where: string): void {
  for (const { name, fallback } of unsetVariables(text, env.variables)) {
    // The default is not printed: it may be a URL with a key in it.
    err(`warning: ${name} is not set ${where}, so ${fallback === "" ? "its value is empty" : "the default written in the file is used"}`);
  }
}

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[], env: Environment): Promise<number>;
}

const CONFIG_OPTION = { config: { type: "string" } } as const;

/** A stage's name, as `--stage` takes it (SCF bounds it further through the function names it makes). */
const STAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** `--stage`, checked: undefined when not given. */
function stageOption(values: Record<string, unknown>): string | undefined {
  const stage = values.stage as string | undefined;
  if (stage !== undefined && !STAGE_NAME.test(stage)) throw new UsageError(`--stage "${stage}" must be letters, digits, _ or -, such as prod`);
  return stage;
}

async function readConfig(values: Record<string, unknown>, env: Environment): Promise<Config> {
  return (await loadConfig(configPath(values.config as string | undefined, env), env)).config;
}

const COMMANDS: Record<string, Command> = {
  validate: {
    summary: "check the policy file; list every problem with file, line, column and key path",
    usage: "csip-scan validate [--config FILE]",
    options: CONFIG_OPTION,
    async run(values, _, env) {
      const file = configPath(values.config as string | undefined, env);
      const { config, text } = await loadConfig(file, env);
      warnUnset(text, env, "here (where `npm run deploy` reads it)");
      out(`${file}: ${config.policies.length} policies, ${Object.keys(config.assetGroups).length} asset groups, ${Object.keys(config.notifiers).length} notifiers: valid`);
      for (const warning of configWarnings(config)) out(`  warning: ${formatKeyPath(warning.path)} ${warning.message}`);
      for (const warning of storeWarnings(config)) err(`warning: ${warning}`);
      return 0;
    },
  },

  plan: {
    summary: "show each timer and its policies, and each policy: schedule, next three fire times, targets and their assets, notifiers",
    usage: "csip-scan plan [--config FILE] [--json]",
    options: { ...CONFIG_OPTION, json: { type: "boolean" } },
    async run(values, _, env) {
      const config = await readConfig(values, env);
      const connection = await connectLocal(config, { env, say: err });
      const progress = progressLine();
      try {
        const run = startRun(await withAccountReadings(createServices(config, env, { logger: silentLogger(), ...localOverrides(connection), progress: progress.report })));
        const now = new Date();
        const times = new Map(scheduleTable(config, now).map((row) => [row.policy, row.next]));
        const timers = timersOf(config);
        const plans = [];
        for (const policy of config.policies) {
          const groups = policyGroups(policy);
          const inventory = await run.inventory.load(kindsNeeded(groups, config.assetGroups), policy.memberIds);
          const expansion = expandGroups(groups, config.assetGroups, inventory);
          plans.push({
            policy: policy.name,
            schedule: policy.schedule,
            next: (times.get(policy.name) ?? []).map((t) => t.toISOString()),
            nextLocal: (times.get(policy.name) ?? []).map((t) => localTime(t, config.timezone)),
            scope: policy.urls ? "urls" : policy.all ? (policy.except ? "all except" : "all") : "targets",
            groups: expansion.perGroup,
            assets: policy.urls ?? expansion.assets.map((a) => `${a.kind}:${a.id}`),
            unknownAssets: expansion.unknown,
            notify: policy.notify,
          });
        }
        progress.done();
        if (values.json) {
          out(JSON.stringify({ timezone: config.timezone, timers: timers.map((t) => ({ name: t.name, schedule: t.cron.normalized, policies: t.policies.map((p) => p.name) })), policies: plans }, null, 2));
          return 0;
        }
        out(`Timers (one per schedule, ${timers.length} of SCF's ${SCF_LIMITS.triggersPerType}):`);
        for (const t of timers) out(`  ${t.name}  "${t.cron.normalized}": ${t.policies.map((p) => p.name).join(", ")}`);
        out("");
        for (const plan of plans) {
          out(`${plan.policy}  "${plan.schedule}"`);
          for (const t of times.get(plan.policy) ?? []) out(`  next: ${localTime(t, config.timezone)}`);
          const groups = Object.entries(plan.groups).map(([g, n]) => `${g} (${n})`).join(", ");
          out(`  ${plan.scope}: ${groups || (plan.scope === "urls" ? `${plan.assets.length} urls` : "every asset")}`);
          if (plan.assets.length > 0) out(`  ${plan.scope === "all except" ? "excluded" : "assets"}: ${plan.assets.join(" ")}`);
          for (const id of plan.unknownAssets) out(`  warning: ${id} is not in CSIP's inventory`);
          out(`  notify: ${plan.notify.join(", ") || "nobody"}`);
        }
        return 0;
      } finally {
        await connection.close();
      }
    },
  },

  run: {
    summary: "run policies now, as their timer would (--dry-run prints the requests and writes nothing)",
    usage: "csip-scan run (--policy NAME ... | --all) [--dry-run] [--time ISO] [--json] [--config FILE]",
    options: {
      ...CONFIG_OPTION,
      policy: { type: "string", multiple: true },
      all: { type: "boolean" },
      "dry-run": { type: "boolean" },
      time: { type: "string" },
      json: { type: "boolean" },
    },
    async run(values, _, env) {
      const config = await readConfig(values, env);
      const wanted = values.all ? config.policies.map((p) => p.name) : ((values.policy as string[] | undefined) ?? []);
      if (wanted.length === 0) throw new UsageError("name a policy with --policy NAME, or use --all");
      for (const name of wanted) findPolicy(config, name);
      const time = values.time ? new Date(values.time as string) : new Date(Math.floor(Date.now() / 1000) * 1000);
      if (Number.isNaN(time.getTime())) throw new UsageError(`--time "${values.time as string}" is not an ISO 8601 time`);
      const connection = await connectLocal(config, { env, say: err });
      // A large estate takes a while to walk: pages and assets so far on stderr, every few seconds.
      const progress = progressLine();
      try {
        const run = startRun(await withAccountReadings(createServices(config, env, { logger: silentLogger(), ...localOverrides(connection), progress: progress.report })));
        const summaries: RunSummary[] = [];
        for (const policy of wanted) {
          summaries.push(await runScheduledScan(run, { policy, scheduledTime: time, trigger: "manual", dryRun: values["dry-run"] === true }));
        }
        progress.done();
        out(
          values.json
            ? JSON.stringify(summaries.map((s) => ({ ...s, scheduledTimeLocal: localTime(s.scheduledTime, config.timezone) })), null, 2)
            : summaries.map((s) => formatSummary(s, config.timezone)).join("\n"),
        );
        // Where the account took a filter otherwise than documented (shared/csip/filter-readings.ts).
        for (const warning of runReadings(run).warnings) err(`warning: ${warning}`);
        return summaries.every((s) => s.ok) ? 0 : 1;
      } finally {
        await connection.close();
      }
    },
  },

  invoke: {
    summary: "run an SCF handler on an event file, as `serverless invoke local` would",
    usage: `csip-scan invoke (${FUNCTION_NAMES.join(" | ")}) --event FILE [--config FILE]`,
    options: { ...CONFIG_OPTION, event: { type: "string" } },
    async run(values, positionals, env) {
      const fn = FUNCTION_NAMES.find((name) => name === positionals[0]);
      if (!fn) throw new UsageError(`unknown function "${positionals[0] ?? ""}" (known: ${FUNCTION_NAMES.join(", ")})`);
      if (typeof values.event !== "string") throw new UsageError("give the event with --event FILE");
      const event = await readEventFile(values.event);
      const file = configPath(values.config as string | undefined, env);
      const config = (await loadConfig(file, env)).config;
      const connection = await connectLocal(config, { env, say: err });
      try {
        const handler = FUNCTIONS[fn].handler({
          env,
          configPath: file,
          ...localOverrides(connection),
          logger: createLogger({ level: env.logLevel, destination: process.stderr }),
          throwOnFailure: false,
        });
        const summary = await handler(event, {});
        out(JSON.stringify(summary, null, 2));
        // A summary says ok; a Function URL's answer, its status.
        return ("ok" in summary ? summary.ok : summary.statusCode < 400) ? 0 : 1;
      } finally {
        await connection.close();
      }
    },
  },

  "notify-test": {
    summary: "send one test message through a notifier and print its answer",
    usage: "csip-scan notify-test --notifier NAME [--config FILE]",
    options: { ...CONFIG_OPTION, notifier: { type: "string" } },
    async run(values, _, env) {
      const config = await readConfig(values, env);
      const name = values.notifier as string | undefined;
      if (!name) throw new UsageError("name the notifier with --notifier NAME");
      const notifier = config.notifiers[name];
      if (!notifier) throw new NotFoundError(`unknown notifier "${name}" (known: ${Object.keys(config.notifiers).join(", ") || "none"})`);
      const result = await deliverTest(name, notifier, { allowLocal: env.allowLocalWebhooks });
      out(result.delivered ? `notifier ${name} (${notifier.type}): delivered` : `notifier ${name} (${notifier.type}): NOT delivered: ${result.error ?? ""}`);
      return result.delivered ? 0 : 1;
    },
  },

  results: {
    summary: "print the recent runs' tasks with their state, risks, worst findings and report links, sending nothing",
    usage: "csip-scan results [--policy NAME] [--since 7d] [--json] [--config FILE]",
    options: { ...CONFIG_OPTION, policy: { type: "string" }, since: { type: "string" }, json: { type: "boolean" } },
    async run(values, _, env) {
      const config = await readConfig(values, env);
      const since = (values.since as string | undefined) ?? "7d";
      if (!DurationSchema.safeParse(since).success) throw new UsageError(`--since "${since}" is not a duration such as 12h or 7d`);
      if (typeof values.policy === "string") findPolicy(config, values.policy);
      const connection = await connectLocal(config, { env, say: err });
      try {
        const run = startRun(await withAccountReadings(createServices(config, env, { logger: silentLogger(), ...localOverrides(connection) })));
        const found = await runsFromTaskList(run.csip, run.clock.now() - durationMs(since), memberScopes(config), run.deployment);
        const reports: ResultsReport[] = [];
        for (const open of found.runs.filter((r) => values.policy === undefined || r.policy === values.policy)) {
          const policy = config.policies.find((p) => p.name === open.policy);
          if (!policy) continue;
          const tasks = open.taskIds.map((id) => found.tasks.get(id)!);
          const { links } = await reportLinks(run.csip, tasks.filter((t) => t.state === "done").map((t) => t.taskId), policy.memberIds);
          const withLinks = tasks.map((t) => (links.has(t.taskId) ? { ...t, reportUrl: links.get(t.taskId)! } : t));
          reports.push(resultsReport((await resultsOf(run, policy, open, withLinks, false)).results));
        }
        const listed = comparedInTurn(reports);
        for (const warning of [...found.warnings, ...runReadings(run, found.warnings).warnings]) err(`warning: ${warning}`);
        if (values.json) {
          // Report links are the user's own: printed whole (show), never logged.
          show(JSON.stringify(listed.map((r) => webhookPayload(r, config.timezone)), null, 2));
          return 0;
        }
        if (listed.length === 0) {
          out(`No runs of csip-scan in CSIP's task list since ${since} ago.`);
          // An emulator of this command's own has no past: the session's runs are in the one `npm start` serves.
          if (connection.emulator) out("This command started an emulator of its own; to see the runs of `npm start`, paste the `export CSIP_ENDPOINT=…` line it printed.");
        }
        for (const report of listed) show(formatResults(report, config.timezone));
        return 0;
      } finally {
        await connection.close();
      }
    },
  },

  report: {
    summary: "write one self-contained HTML page of each policy's recent runs: risk trend, last findings, what changed, tasks",
    usage: "csip-scan report [--policy NAME] [--since 30d] [--language zh|en] [--out FILE] [--config FILE]",
    options: { ...CONFIG_OPTION, policy: { type: "string" }, since: { type: "string" }, language: { type: "string" }, out: { type: "string" } },
    async run(values, _, env) {
      const config = await readConfig(values, env);
      const since = (values.since as string | undefined) ?? "30d";
      if (!DurationSchema.safeParse(since).success) throw new UsageError(`--since "${since}" is not a duration such as 12h or 30d`);
      const language = (values.language as string | undefined) ?? "en";
      if (language !== "en" && language !== "zh") throw new UsageError(`--language "${language}" is not zh or en`);
      if (typeof values.policy === "string") findPolicy(config, values.policy);
      const { store, where } = commandStore(config, env, err);
      const written = await writeReport(config, {
        store,
        ...(typeof values.policy === "string" ? { policy: values.policy } : {}),
        since,
        language,
        out: (values.out as string | undefined) ?? "csip-scan-report.html",
        now: new Date(),
        warn: err,
      });
      out(`${written.file}: ${written.policies} ${written.policies === 1 ? "policy" : "policies"}, ${written.runs} run(s) since ${since} ago (history in ${where})`);
      return 0;
    },
  },

  doctor: {
    summary: "settle on this account, with harmless calls, each reading the documents leave open; keep them for the functions and print a table",
    usage: "csip-scan doctor [--stage NAME] [--json] [--config FILE]",
    options: { ...CONFIG_OPTION, stage: { type: "string" }, json: { type: "boolean" } },
    async run(values, _, env) {
      const stage = stageOption(values);
      const config = await readConfig(values, env);
      const connection = await connectLocal(config, { env, say: err });
      try {
        const report = await runDoctor(doctorSetup(config, env, connection, FUNCTION_NAMES, stage));
        out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
        return report.readings.every((r) => r.handled) ? 0 : 1;
      } finally {
        await connection.close();
      }
    },
  },

  "rehearse-deploy": {
    summary: "run the real serverless deploy fully offline, against local stand-ins of SCF, COS, CAM, Tag and EventBridge",
    usage: "csip-scan rehearse-deploy [--config FILE] [--stage NAME] [--region REGION] [--account DIR] [--record FILE]",
    options: { ...CONFIG_OPTION, stage: { type: "string" }, region: { type: "string" }, account: { type: "string" }, record: { type: "string" } },
    async run(values, _, env) {
      const file = configPath(values.config as string | undefined, env);
      const stage = stageOption(values);
      if (typeof values.region === "string" && !/^[a-z]+(-[a-z]+)+$/.test(values.region)) throw new UsageError(`--region "${values.region}" must look like ap-guangzhou`);
      // Validated first, as `npm run deploy` does: a broken policy file is exit 2, not a failed deploy.
      const { text, config } = await loadConfig(file, env);
      if (typeof values.region === "string" && config.region !== undefined && config.region !== values.region) {
        throw new UsageError(`--region ${values.region}: the policy file names region ${config.region}, where every deploy of it goes; leave region out of the file to choose at deploy time`);
      }
      warnUnset(text, env, "here (the deploy reads this shell's variables)");
      // The build and the deploy's lines as they come: the deploy takes half a minute.
      const result = await rehearseDeploy({
        configPath: file,
        ...(typeof values.account === "string" ? { accountDir: values.account } : {}),
        ...(typeof values.record === "string" ? { recordFile: values.record } : {}),
        ...(stage !== undefined ? { stage } : {}),
        ...(typeof values.region === "string" ? { region: values.region } : {}),
        onOutput: (chunk) => void process.stdout.write(scrub(chunk)),
      });
      out(`\nThe emulated account${typeof values.account === "string" ? ` (${values.account})` : ""} now holds:`);
      out(formatAccount(result.account).trimEnd());
      return result.exitCode === 0 ? 0 : 1;
    },
  },

  emulator: {
    summary: "serve the local CSIP emulator until Ctrl-C",
    usage: `csip-scan emulator [--port N] [--inventory FILE] ${SWITCH_USAGE}`,
    options: { port: { type: "string" }, inventory: { type: "string" }, ...SWITCH_FLAGS },
    async run(values, _, env) {
      const port = values.port === undefined ? 0 : Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port "${values.port as string}" is not a port number`);
      const file = (values.inventory as string | undefined) ?? DEMO_INVENTORY;
      // How the emulator answers what CSIP's documents leave open (flags, else CSIP_SCAN_EMULATOR_* variables).
      const switches = readingSwitches(values, env.variables);
      const emulator = await startEmulator({ port, estate: await readInventory(file), ...switches }).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") throw new UsageError(`--port ${port} is in use: choose another, or --port 0 for any free port`);
        throw error;
      });
      const cos = await startLocalCos();
      const interrupted = untilInterrupted();
      out(`CSIP emulator on ${emulator.url} with ${emulator.state.estate.length} assets from ${file}, and a COS stand-in on ${cos.standIn.url} holding the state bucket ${cos.env.CSIP_SCAN_STATE_BUCKET}. Ctrl-C stops them.`);
      if (describeSwitches(switches)) out(`The emulator answers as a server might where CSIP's documents are silent: ${describeSwitches(switches)}.`);
      out(`In another terminal, paste this line; every csip-scan command there then uses this emulator and this state bucket (the emulator's test key needs no credentials):`);
      out(exportLine({ CSIP_ENDPOINT: emulator.url, ...cos.env }));
      await interrupted;
      await emulator.close();
      await cos.close();
      return 0;
    },
  },

  start: {
    summary: "local mode: fire every policy on its schedule (the emulator when no credentials are set)",
    usage: "csip-scan start [--config FILE] [--run-now | --no-run-now] [--json]",
    options: { ...CONFIG_OPTION, "run-now": { type: "boolean" }, "no-run-now": { type: "boolean" }, json: { type: "boolean" } },
    async run(values, _, env) {
      const config = await readConfig(values, env);
      const connection = await connectLocal(config, { env, say: out, show, json: values.json === true });
      if (connection.emulator && connection.session) out(`To use this emulator and its state bucket from another terminal (results, run, plan), paste:\n  ${exportLine(connection.session)}`);
      const progress = progressLine();
      const services = createServices(config, env, { logger: silentLogger(), ...localOverrides(connection), progress: progress.report });
      // Each firing is a run of its own: its own deadline, and an inventory read afresh.
      const fire = async (policy: string, time: Date): Promise<void> => {
        out(`\n>>> ${localTime(new Date(), config.timezone)}  running ${policy}`);
        const summary = await runScheduledScan(startRun(await withAccountReadings(services)), { policy, scheduledTime: time, trigger: "timer" });
        progress.done();
        out(formatSummary(summary, config.timezone));
      };
      out(`${config.policies.length} policies, times in ${config.timezone}:`);
      for (const row of scheduleTable(config, new Date())) {
        out(`  ${row.policy.padEnd(24)} ${`"${row.schedule}"`.padEnd(24)} next ${row.next.map((t) => localTime(t, config.timezone)).join(", ") || "never"}`);
      }
      // With the emulator, run each policy once at start so a newcomer sees the whole flow at once.
      // Ctrl-C from here on lets the run in progress finish, also during the first runs.
      let interrupted = false;
      const interruption = untilInterrupted().then(() => {
        interrupted = true;
      });
      const runNow = values["no-run-now"] ? false : values["run-now"] === true || connection.emulatorUrl !== undefined;
      if (runNow) {
        out("\nRunning every policy once now (--no-run-now to skip):");
        const now = new Date(Math.floor(Date.now() / 1000) * 1000);
        for (const policy of config.policies) {
          if (interrupted) break;
          await fire(policy.name, now);
        }
      }
      const scheduler = interrupted ? undefined : startScheduler(config, fire);
      // The scan-results timer of local mode: the emulator's scans end in seconds, so it looks often.
      const every = connection.emulatorUrl ? LOCAL_RESULTS_EVERY_MS : durationMs(config.results.checkEvery);
      const pagesShown = new Set<string>();
      const follower = interrupted
        ? undefined
        : followResults(services, every, (summary) => {
            for (const t of summary.told) {
              out(`\n<<< ${localTime(new Date(), config.timezone)}  results of ${t.policy}, scheduled ${localTime(t.scheduledTime, config.timezone)}: ${t.status}, ${t.riskCount} risk(s)`);
              if (t.page && !pagesShown.has(t.policy)) {
                pagesShown.add(t.policy);
                out(`    results page, rewritten after each run: ${t.page.startsWith("file:") ? fileURLToPath(t.page) : t.page}`);
              }
            }
          });
      if (!interrupted) out(`\nWaiting for the schedules; results are looked for every ${Math.round(every / 1000)} s. Ctrl-C stops.`);
      await interruption;
      out("Stopping.");
      await scheduler?.stop();
      await follower?.stop();
      await connection.close();
      out("Stopped.");
      return 0;
    },
  },
};

/**
 * The listed runs, newest first, each compared with the run of its policy before it in the list: the
 * risk count's change, when both runs' tasks all ended done (a failed task counts no risks). The store's
 * baseline is not used: it is the last run told, which is not the run before each listed one.
 */
function comparedInTurn(reports: readonly ResultsReport[]): ResultsReport[] {
  const oldestFirst = [...reports].sort((a, b) => a.scheduledTime.localeCompare(b.scheduledTime));
  const lastDone = new Map<string, ResultsReport>();
  const compared = oldestFirst.map((r) => {
    const allDone = r.tasks.every((t) => t.status === "done");
    const before = lastDone.get(r.policy);
    if (allDone) lastDone.set(r.policy, r);
    const previous = allDone && before ? { scheduledTime: before.scheduledTime, riskCount: before.riskCount } : null;
    return { ...r, previous, riskCountChange: previous ? r.riskCount - previous.riskCount : null, newFindings: [], newFindingsCount: 0, goneFindings: [], goneFindingsCount: 0 };
  });
  return compared.reverse();
}

/** A person's reading of a run's results, its times in the policy file's zone. */
function formatResults(r: ResultsReport, timeZone: string): string {
  const change = r.riskCountChange !== null && r.previous ? ` (${r.riskCountChange >= 0 ? "+" : ""}${r.riskCountChange} since the run of ${localTime(r.previous.scheduledTime, timeZone)})` : "";
  const lines = [`${r.policy}  scheduled ${localTime(r.scheduledTime, timeZone)}  ${r.status}, ${r.riskCount} risk(s)${change}`];
  for (const t of r.tasks) {
    const time = t.durationSeconds !== undefined ? `, ${t.durationSeconds} s` : "";
    lines.push(`  task ${t.taskId} ${t.status}: ${t.assetsScanned}/${t.assets} assets, ${t.riskCount} risk(s)${time}${t.error ? `, error: ${t.error}` : ""}${t.reportUrl ? `\n    report ${t.reportUrl}` : ""}`);
  }
  for (const f of r.findings) lines.push(`  ${f.level.padEnd(7)} ${f.asset}${f.assetName ? ` (${f.assetName})` : ""}: ${f.name}${f.cve && !f.name.includes(f.cve) ? ` ${f.cve}` : ""}`);
  if (r.findingsTotal > r.findings.length) lines.push(`  … ${r.findingsTotal - r.findings.length} more current finding(s): every one is in the Cloud Security Center console's risk lists and in the task reports`);
  return lines.join("\n");
}

/**
 * The JSON of an event file. What goes wrong is said without the file's content: a parser's message
 * quotes the text it stopped at, and `--event /etc/passwd` would print the file's first bytes.
 */
async function readEventFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new EventError("", `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? "unknown error"})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new EventError("", `${file} is not a JSON file`);
  }
}

/** parseArgs, with an unknown or ill-used option said in the CLI's words, and the closest known option named. */
function parseOptions(name: string, command: Command, options: NonNullable<ParseArgsConfig["options"]>, args: string[]): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | string[] | undefined>, positionals };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const typed = /'(-[^']*)'/.exec((error as Error).message)?.[1] ?? "";
      const close = closestName(typed.replace(/^-+/, "").split("=")[0]!, Object.keys(options));
      throw new UsageError(`${name} has no option ${typed}${close ? `; did you mean --${close}?` : ""}\nusage: ${command.usage}`);
    }
    if (code?.startsWith("ERR_PARSE_ARGS") === true) throw new UsageError(`${name}: ${(error as Error).message.split("\n")[0]}\nusage: ${command.usage}`);
    throw error;
  }
}

function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "csip-scan: scan policies as code for Tencent Cloud Security Center (CSIP)",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "csip-scan COMMAND --help shows a command's options. Exit codes: 0 ok, 2 invalid input, 1 failure at run time.",
  ].join("\n");
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    out(help());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  try {
    if (!command) {
      const close = closestName(name, Object.keys(COMMANDS));
      throw new UsageError(`unknown command "${name}"${close ? `; did you mean "${close}"?` : ""}\n\n${help()}`);
    }
    const options = { ...command.options, help: { type: "boolean", short: "h" } } as const;
    const { values, positionals } = parseOptions(name, command, options, rest);
    if (values.help) {
      out(`${command.usage}\n\n${command.summary}`);
      return 0;
    }
    return await command.run(values, positionals, readEnvironment());
  } catch (error) {
    const invalid =
      error instanceof ConfigError ||
      error instanceof EventError ||
      error instanceof NotFoundError ||
      error instanceof UsageError ||
      error instanceof SwitchError ||
      error instanceof AccountFileError ||
      error instanceof OutFileError ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true;
    const message = error instanceof Error ? error.message : String(error);
    err(error instanceof ConfigError ? message : `csip-scan: ${message}`);
    if (!invalid && !(error instanceof CsipScanError) && error instanceof Error && error.stack) err(error.stack);
    return invalid ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
