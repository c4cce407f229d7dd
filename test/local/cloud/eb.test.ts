import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EB_SERVICE_ROLE, freshAccount, type AccountState } from "../../../local/cloud/account.ts";
import { REHEARSAL_ACCOUNT } from "../../../local/cloud/credentials.ts";
import { defaultBusId } from "../../../local/cloud/eb.ts";
import { runRedirected } from "../../../local/cloud/redirected.ts";
import { startCloudStandIn, type CloudStandIn } from "../../../local/cloud/server.ts";

// EventBridge through the official SDK 4.1.313 eb client: the default bus, rules and targets, in the shapes of
// ../shared/reference/eb-2021-04-16-{api,examples}.json.

const ROOT = resolve(".");
const REGION = "ap-guangzhou";
const FUNCTION = "csip-scan-dev-asset-change";
const TARGET = `qcs::scf:${REGION}:uin/${REHEARSAL_ACCOUNT.uin}:namespace/default/function/${FUNCTION}/$LATEST`;
const PATTERN = JSON.stringify({ source: ["cvm.cloud.tencent"], type: ["cvm:CloudEvent:ApiCall"] });

const PRELUDE = `
const credential = ${JSON.stringify({ secretId: REHEARSAL_ACCOUNT.secretId, secretKey: REHEARSAL_ACCOUNT.secretKey })};
const eb = new (require("tencentcloud-sdk-nodejs/tencentcloud/services/eb/v20210416/eb_client.js").Client)({ credential, region: "${REGION}" });
const settle = (promise) => promise.then((ok) => ({ ok }), (e) => ({ error: e.code, message: e.message }));
const PATTERN = ${JSON.stringify(PATTERN)};
const TARGET = { ResourceDescription: ${JSON.stringify(TARGET)} };
`;

let standIn: CloudStandIn;
let bus: string;

async function run<T>(body: string): Promise<T> {
  const script = `${PRELUDE}\nconst BUS = ${JSON.stringify(bus)};\n(async () => { ${body} })().then((r) => process.stdout.write(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`;
  const child = await runRedirected(standIn.url, script, { cwd: ROOT });
  if (child.code !== 0) throw new Error(`child failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as T;
}

beforeAll(async () => {
  const account = freshAccount(REHEARSAL_ACCOUNT);
  // The function the rules deliver to, as a deploy leaves it.
  account.functions.push({
    Region: REGION, Namespace: "default", FunctionName: FUNCTION, FunctionId: "lam-00000001", Runtime: "Nodejs18.15",
    Handler: "dist/asset-change/index.main_handler", Description: "", MemorySize: 128, Timeout: 300, Role: "", Type: "Event",
    InstallDependency: "FALSE", Environment: [], VpcConfig: { VpcId: "", SubnetId: "" }, CodeLocation: "ZipFile", CodeSize: 1,
    AddTime: "2026-01-01 00:00:00", ModTime: "2026-01-01 00:00:00", BusyStatus: "Creating", BusyUntil: 0, Triggers: [],
  });
  standIn = await startCloudStandIn({ account });
  bus = defaultBusId(account, REGION);
});
afterAll(() => standIn.close());

describe("the default event bus", () => {
  it("is listed and described, named default, of type Cloud", async () => {
    const [list, byName, got] = await run<[{ TotalCount: number; EventBuses: unknown[] }, { TotalCount: number }, Record<string, unknown>]>(`
      return [await eb.ListEventBuses({}), await eb.ListEventBuses({ Filters: [{ Name: "EventBusName", Values: ["default"] }] }), await eb.GetEventBus({ EventBusId: BUS })];`);
    expect(list).toMatchObject({ TotalCount: 1, EventBuses: [{ EventBusId: bus, EventBusName: "default", Type: "Cloud" }] });
    expect(bus).toMatch(/^eb-[a-z0-9]{8}$/);
    expect(byName.TotalCount).toBe(1);
    expect(got).toMatchObject({ EventBusId: bus, EventBusName: "default", Type: "Cloud" });
  });

  it("is the only bus: a made-up ID is ResourceNotFound.EventBus, naming the default's ID", async () => {
    const got = await run<{ error: string; message: string }>(`return settle(eb.ListRules({ EventBusId: "default" }));`);
    expect(got).toMatchObject({ error: "ResourceNotFound.EventBus", message: expect.stringContaining(bus) });
  });
});

describe("rules and targets", () => {
  it("go through their life: create, read, list with targets, refuse deletion while targeted, delete", async () => {
    const steps = await run<Record<string, unknown>>(`
      const { RuleId } = await eb.CreateRule({ EventBusId: BUS, RuleName: "csip-scan-asset-change", EventPattern: PATTERN, Description: "asset changes" });
      const rule = await eb.GetRule({ EventBusId: BUS, RuleId });
      const bare = await eb.ListRules({ EventBusId: BUS });
      const { TargetId } = await eb.CreateTarget({ EventBusId: BUS, RuleId, Type: "scf", TargetDescription: TARGET });
      const targets = await eb.ListTargets({ EventBusId: BUS, RuleId });
      const targeted = await eb.ListRules({ EventBusId: BUS });
      const early = await settle(eb.DeleteRule({ EventBusId: BUS, RuleId }));
      await eb.UpdateRule({ EventBusId: BUS, RuleId, EventPattern: JSON.stringify({ source: ["tag.cloud.tencent"] }), Enable: false });
      const updated = await eb.GetRule({ EventBusId: BUS, RuleId });
      await eb.DeleteTarget({ EventBusId: BUS, RuleId, TargetId });
      const deleted = await settle(eb.DeleteRule({ EventBusId: BUS, RuleId }));
      return { RuleId, TargetId, rule, bare, targets, targeted, early, updated, deleted, after: await eb.ListRules({ EventBusId: BUS }) };`);
    const { RuleId, TargetId } = steps as { RuleId: string; TargetId: string };
    expect(RuleId).toMatch(/^rule-[a-z0-9]{8}$/);
    expect(TargetId).toMatch(/^target-[a-z0-9]{8}$/);
    expect(steps.rule).toMatchObject({
      EventBusId: bus, RuleId, RuleName: "csip-scan-asset-change", Status: "Active", Enable: true, Description: "asset changes", EventPattern: PATTERN,
      AddTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/),
    });
    expect(steps.bare).toMatchObject({ TotalCount: 1, Rules: [{ RuleId, Targets: null }] });
    expect(steps.targets).toMatchObject({ TotalCount: 1, Targets: [{ TargetId, Type: "scf", RuleId, EventBusId: bus, TargetDescription: { ResourceDescription: TARGET } }] });
    expect(steps.targeted).toMatchObject({ Rules: [{ RuleId, Targets: [{ TargetId, Type: "scf" }] }] });
    expect(steps.early).toMatchObject({ error: "ResourceInUse.Rule" });
    expect(steps.updated).toMatchObject({ Enable: false, EventPattern: JSON.stringify({ source: ["tag.cloud.tencent"] }) });
    expect(steps.deleted).toHaveProperty("ok");
    expect(steps.after).toMatchObject({ TotalCount: 0, Rules: [] });
  });

  it.each([
    ["an event pattern that is not JSON", `eb.CreateRule({ EventBusId: BUS, RuleName: "bad-pattern", EventPattern: "source = cvm" })`, "InvalidParameterValue.EventPattern"],
    ["a rule name ending with a dash", `eb.CreateRule({ EventBusId: BUS, RuleName: "ends-with-", EventPattern: PATTERN })`, "InvalidParameterValue.RuleName"],
    ["a rule without a name", `eb.CreateRule({ EventBusId: BUS, EventPattern: PATTERN })`, "MissingParameter"],
    ["a rule that does not exist", `eb.GetRule({ EventBusId: BUS, RuleId: "rule-00000000" })`, "ResourceNotFound.Rule"],
  ])("refuses %s", async (_what, call, code) => {
    expect(await run<{ error?: string }>(`return settle(${call});`)).toMatchObject({ error: code });
  });

  it("refuses a second rule of the same name on the bus, and a target on a function that does not exist", async () => {
    const [twice, missing] = await run<[{ error?: string }, { error?: string }]>(`
      const { RuleId } = await eb.CreateRule({ EventBusId: BUS, RuleName: "only-once", EventPattern: PATTERN });
      return [await settle(eb.CreateRule({ EventBusId: BUS, RuleName: "only-once", EventPattern: PATTERN })),
              await settle(eb.CreateTarget({ EventBusId: BUS, RuleId, Type: "scf", TargetDescription: { ResourceDescription: TARGET.ResourceDescription.replace("${FUNCTION}", "nobody") } }))];`);
    expect(twice).toMatchObject({ error: "InvalidParameterValue.RuleName" });
    expect(missing).toMatchObject({ error: "ResourceNotFound.Function" });
  });
});

describe("an SCF target", () => {
  const asset = () => standIn.account.functions.find((f) => f.FunctionName === FUNCTION)!;
  /** Creates a rule named `name` and a target on it for `resource`; resolves with the target's ID or the error. */
  const target = (name: string, resource = TARGET) =>
    run<{ ok?: { TargetId: string }; error?: string; message?: string }>(`
      const { RuleId } = await eb.CreateRule({ EventBusId: BUS, RuleName: ${JSON.stringify(name)}, EventPattern: PATTERN });
      return settle(eb.CreateTarget({ EventBusId: BUS, RuleId, Type: "scf", TargetDescription: { ResourceDescription: ${JSON.stringify(resource)} } }));`);

  it("makes the SCF trigger EventBridge invokes the function through, on the target's qualifier; DeleteTarget removes it", async () => {
    const made = await target("makes-a-trigger");
    const id = made.ok!.TargetId;
    expect(asset().Triggers.filter((t) => t.TriggerName === id).map((t) => [t.Type, t.Qualifier])).toEqual([["eb", "$LATEST"]]);
    const rule = standIn.account.targets.find((t) => t.TargetId === id)!.RuleId;
    await run(`return eb.DeleteTarget({ EventBusId: BUS, RuleId: ${JSON.stringify(rule)}, TargetId: ${JSON.stringify(id)} });`);
    expect(asset().Triggers.filter((t) => t.TriggerName === id)).toEqual([]);
  });

  type Change = (account: AccountState) => () => void;
  const withoutRole: Change = (account) => {
    const roles = account.roles;
    account.roles = roles.filter((r) => r.RoleName !== EB_SERVICE_ROLE);
    return () => void (account.roles = roles);
  };
  const busy: Change = (account) => {
    const f = account.functions.find((fn) => fn.FunctionName === FUNCTION)!;
    f.BusyUntil = Date.now() + 60_000;
    return () => void (f.BusyUntil = 0);
  };
  const tenTriggers: Change = (account) => {
    const f = account.functions.find((fn) => fn.FunctionName === FUNCTION)!;
    const before = f.Triggers;
    const made = Array.from({ length: 10 }, (_, i) => ({ ...before[0]!, Type: "eb", TriggerName: `target-full000${i}`, Qualifier: "$LATEST" }));
    f.Triggers = [...before.filter((t) => t.Type !== "eb"), ...made];
    return () => void (f.Triggers = before);
  };
  const none: Change = () => () => undefined;
  let rules = 0;

  it.each([
    ["without EventBridge's service role", withoutRole, TARGET, "ResourceNotFound.Role"],
    ["on a qualifier the function does not have ($DEFAULT: it has no aliases here)", none, TARGET.replace("$LATEST", "$DEFAULT"), "ResourceNotFound.Version"],
    ["on a function still Creating", busy, TARGET, "FailedOperation.CreateTrigger"],
    ["on a function that has 10 EventBridge triggers", tenTriggers, TARGET, "LimitExceeded.Trigger"],
  ])("is refused %s, with the documented code, and makes nothing", async (what, change, resource, code) => {
    // One trigger to copy for the full function, made by a first target.
    if (change === tenTriggers) await target(`seed-${++rules}`);
    const undo = change(standIn.account);
    const triggersBefore = asset().Triggers.length;
    const targetsBefore = standIn.account.targets.length;
    try {
      expect(await target(`refused-${++rules}`, resource), what).toMatchObject({ error: code });
      expect(asset().Triggers).toHaveLength(triggersBefore);
      expect(standIn.account.targets).toHaveLength(targetsBefore);
    } finally {
      undo();
    }
  });
});
