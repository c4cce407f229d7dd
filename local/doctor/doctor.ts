import { randomBytes } from "node:crypto";
import { systemClock, type Clock } from "../../shared/clock.ts";
import type { Config } from "../../shared/config/schema.ts";
import type { CsipClient } from "../../shared/csip/client.ts";
import type { CredentialSource } from "../../shared/csip/credentials.ts";
import type { Environment } from "../../shared/env.ts";
import { describeError } from "../../shared/errors.ts";
import { silentLogger } from "../../shared/log.ts";
import { pageLinkOpens } from "../../shared/results/page-opens.ts";
import { pageKey, type PageLink, type PagePublisher } from "../../shared/results/publish.ts";
import type { AccountReadings, ListReading } from "../../shared/run/account-readings.ts";
import { readColdStarts } from "../../shared/run/cold-start.ts";
import { readRoleKeys } from "../../shared/run/role-keys.ts";
import { createServices, regionOf, startRun } from "../../shared/run/services.ts";
import type { CosAnswer, CosRequest } from "../../shared/state/cos-client.ts";
import { forbidOverwriteConflict } from "../../shared/state/cos-readings.ts";
import { CosStateStore } from "../../shared/state/cos-store.ts";
import { ACCOUNT_READINGS } from "../../shared/state/keys.ts";
import { MemoryStateStore } from "../../shared/state/memory-store.ts";
import { bucketRegions } from "../deploy/state-bucket.ts";
import { csipFindings, PAGE_ASKED } from "./csip-readings.ts";
import { callerIdentity } from "./identity.ts";
import { readingsOf, type BucketFinding, type Findings, type PageFinding, type Reading } from "./readings.ts";

/**
 * `csip-scan doctor`: settles on an account, with harmless calls, each reading the documents leave open
 * (docs/readings.md), and keeps what it found in the deployment's state folder, where the functions read it
 * at each invocation (shared/run/account-readings.ts). It reads CSIP's lists and never creates a task; on
 * COS it writes only under the deployment's prefix (a scratch key for the 409, a scratch results page, the
 * record), deletes its scratch objects, and lists every object it wrote and deleted.
 */

export interface DoctorSetup {
  config: Config;
  env: Environment;
  /** The official SDK's CSIP client: the real API, or the emulator. */
  sdk: CsipClient;
  /** The keys STS is asked about: CSIP's (the client signs with the same). */
  credentials: CredentialSource;
  /** Whether they are the local emulator's test key (no credentials set). */
  testKey?: boolean;
  /** Where STS is asked instead of its official endpoint: the local emulator, which answers it. */
  stsEndpoint?: string | undefined;
  /** The state bucket's COS, as the functions reach it; none when the policy file keeps state in a folder or memory. */
  cos?: {
    credentials: CredentialSource;
    /** Where COS requests go instead of COS's hosts: the local stand-in. */
    endpoint?: string | undefined;
    /** The state bucket, when the policy file or the environment names it; else the account's `csip-scan-state-*`. */
    bucket?: string | undefined;
    /** Where the policy file or the deploy says the bucket is. */
    region?: string | undefined;
  };
  /** The deployment's state folder: everything doctor writes is under it. */
  prefix: string;
  /** Local mode's results pages, files on this machine: then no page is published. */
  localPages?: PagePublisher;
  /** The functions whose records are read (functions/index.ts). */
  functions: readonly string[];
  clock?: Clock;
}

/** An object of the state bucket doctor wrote or deleted. */
export interface Touched {
  key: string;
  change: "written" | "deleted";
}

export interface DoctorReport {
  readings: Reading[];
  /** Every object doctor wrote or deleted, in order. */
  touched: Touched[];
  /** Where the readings were kept for the functions, or why they were not. */
  kept: { bucket: string; key: string } | { not: string };
}

/** The account's buckets named so: what the deploy makes, `csip-scan-state-<APPID>` (local/deploy/state-bucket.ts). */
const DEPLOYED_BUCKET = /^csip-scan-state-\d+$/;

const failedText = (error: unknown): { failed: string } => ({ failed: describeError(error) });

/** Where the state bucket is, from GET Service: the bucket named, else the one the deploy made. */
async function locateBucket(cos: NonNullable<DoctorSetup["cos"]>, prefix: string): Promise<BucketFinding> {
  const expected = cos.region !== undefined ? { expectedRegion: cos.region } : {};
  let regions: Map<string, string>;
  try {
    regions = await bucketRegions(cos.credentials.current(), cos.endpoint ? { endpoint: cos.endpoint } : {});
  } catch (error) {
    return { ...(cos.bucket ? { bucket: cos.bucket } : {}), ...expected, failed: describeError(error), prefix };
  }
  const bucket = cos.bucket ?? [...regions.keys()].find((name) => DEPLOYED_BUCKET.test(name));
  const region = bucket !== undefined ? regions.get(bucket) : undefined;
  return { ...(bucket ? { bucket } : {}), ...(region ? { region } : {}), ...expected, prefix };
}

/** A page with nothing in it, served as any policy's page is: doctor publishes it, opens its link, and deletes it. */
const SCRATCH_PAGE = `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'"><title>csip-scan doctor</title></head><body><p>csip-scan doctor checks how a results page link opens. This page is deleted at once.</p></body></html>\n`;

/**
 * Publishes a scratch page as the functions publish a policy's (the same publisher and linker), opens its
 * link as a browser would (GET, shared/results/page-opens.ts), and deletes the page.
 */
async function pageFinding(setup: DoctorSetup, pages: PagePublisher | undefined, store: CosStateStore | undefined): Promise<PageFinding> {
  if (setup.localPages) return { kind: "file" };
  if (!pages || !store) return { kind: "none", why: "no state bucket to publish a page in" };
  const { cdnDomain } = setup.config.results.page;
  const kind = cdnDomain ? "cdn" : setup.env.pageUrl ? "function-url" : "presigned";
  const taken = new Set(setup.config.policies.map((p) => p.name));
  let name: string;
  do name = `csip-scan-doctor-${randomBytes(4).toString("hex")}`;
  while (taken.has(name));
  let link: PageLink | undefined;
  try {
    link = await pages.publish(name, SCRATCH_PAGE);
    if (!link) return { kind: "none", why: "the publisher gave no link" };
    // A presigned link is on COS's own domain, which this machine does not reach when COS requests go to a stand-in.
    if (kind === "presigned" && setup.cos?.endpoint) return { kind, link, notChecked: "COS requests go to CSIP_SCAN_COS_ENDPOINT here, not to COS's domain" };
    return { kind, link, check: await pageLinkOpens(link.url) };
  } catch (error) {
    return link ? { kind, link, failed: describeError(error) } : { kind: "none", why: `the page could not be published: ${describeError(error)}` };
  } finally {
    await store.client.send({ action: "DeleteObject", method: "DELETE", key: `${store.prefix}${pageKey(name)}`, expect: [404] }).catch(() => undefined);
  }
}

/** The record the functions read: what each list showed, the bucket, the page link. */
function recordOf(findings: Findings, at: number): AccountReadings {
  const lists: Record<string, ListReading> = {};
  for (const list of findings.csip.lists) {
    const names = Object.fromEntries(Object.entries(list.names).filter((entry): entry is [string, "honoured" | "ignored" | "refused"] => typeof entry[1] === "string" && entry[1] !== "no rows"));
    lists[list.action] = {
      ...("took" in list.limit && list.limit.took < PAGE_ASKED ? { largestLimit: list.limit.took } : {}),
      ...(list.values ? { values: list.values } : {}),
      ...(Object.keys(names).length > 0 ? { names } : {}),
      ...(list.action === "DescribeScanTaskList" && findings.csip.taskOrder && findings.csip.taskOrder !== "too few" ? { order: findings.csip.taskOrder } : {}),
      ...(list.refusalCode ? { refusalCode: list.refusalCode } : {}),
    };
  }
  const { bucket, page } = findings;
  return {
    at: new Date(at).toISOString(),
    lists,
    ...(bucket.bucket
      ? {
          stateBucket: {
            bucket: bucket.bucket,
            ...(bucket.region ? { region: bucket.region } : {}),
            ...(bucket.versioning !== undefined ? { versioning: bucket.versioning || "never enabled" } : {}),
            ...(bucket.conflict && "conflict" in bucket.conflict && bucket.conflict.conflict ? { conflictCode: bucket.conflict.code } : {}),
          },
        }
      : {}),
    ...(page.kind === "file" ? { pageLink: { opens: "file" as const } } : "check" in page && page.check ? { pageLink: { opens: page.check.opens } } : {}),
  };
}

/** Settles every reading on the account `setup` names, keeps what it found, and says what it touched. */
export async function runDoctor(setup: DoctorSetup): Promise<DoctorReport> {
  const { config, env } = setup;
  const clock = setup.clock ?? systemClock;
  const touched: Touched[] = [];
  const onAnswer = (request: CosRequest, answer: CosAnswer): void => {
    if (request.key === "" || answer.status >= 300) return;
    if (request.method === "PUT") touched.push({ key: request.key, change: "written" });
    if (request.method === "DELETE") touched.push({ key: request.key, change: "deleted" });
  };

  const identity = await callerIdentity({ credentials: setup.credentials, region: regionOf(config, env), endpoint: setup.stsEndpoint, intl: config.intl, timeoutSeconds: config.timeouts.requestSeconds }).catch(
    (error: unknown) => ({ ...failedText(error), code: (error as { code?: string }).code ?? "" }),
  );

  const bucket: BucketFinding = setup.cos ? await locateBucket(setup.cos, setup.prefix) : { prefix: setup.prefix, local: true };
  const store =
    setup.cos && bucket.bucket && bucket.region
      ? new CosStateStore({
          bucket: bucket.bucket,
          region: bucket.region,
          prefix: setup.prefix,
          credentials: setup.cos.credentials,
          endpoint: setup.cos.endpoint,
          timeoutMs: config.timeouts.requestSeconds * 1000,
          retry: config.retry,
          onAnswer,
        })
      : undefined;
  if (store) {
    try {
      const answer = await store.client.send({ action: "GetBucketVersioning", method: "GET", key: "", query: { versioning: "" }, expect: [] });
      bucket.versioning = /<Status>([^<]*)<\/Status>/.exec(answer.body)?.[1] ?? "";
    } catch (error) {
      bucket.versioningFailed = describeError(error);
    }
    // On a bucket whose versioning was ever enabled, a delete leaves a version behind: no scratch key there.
    if (bucket.versioning === "") bucket.conflict = await forbidOverwriteConflict(store.client, setup.prefix).catch(failedText);
  }
  // The store the functions would use, where it can be used: a bucket whose versioning was never enabled.
  const usable = store && bucket.versioning === "" ? store : undefined;

  // A run's client, as the functions make it (rate-limited, retrying), told nothing: doctor asks afresh.
  const services = createServices(config, env, { sdk: setup.sdk, store: usable ?? new MemoryStateStore(), logger: silentLogger(), clock });
  const csip = await csipFindings(startRun(services).csip);
  const page = await pageFinding(setup, usable ? services.pages : undefined, usable);
  const coldStarts = usable ? await readColdStarts(usable, setup.functions).catch(failedText) : undefined;
  const roleKeys = usable ? await readRoleKeys(usable, setup.functions).catch(failedText) : undefined;

  const findings: Findings = {
    identity,
    testKey: setup.testKey === true,
    temporary: setup.credentials.current().token !== undefined,
    csip,
    bucket,
    page,
    ...(coldStarts ? { coldStarts } : {}),
    ...(roleKeys ? { roleKeys } : {}),
    functions: setup.functions,
    timeZone: config.timezone,
  };

  let kept: DoctorReport["kept"];
  if (!usable) kept = { not: bucket.local ? "the policy file keeps state in a folder or in memory, not in a state bucket" : bucket.bucket ? `the state bucket ${bucket.bucket} cannot hold the store` : "no state bucket was found" };
  else if ("failed" in csip.answering) kept = { not: "CSIP did not answer, so there is nothing to keep of it (a record kept before stays)" };
  else {
    try {
      await usable.set(ACCOUNT_READINGS, recordOf(findings, clock.now()));
      kept = { bucket: usable.bucket, key: `${setup.prefix}${ACCOUNT_READINGS}.json` };
    } catch (error) {
      kept = { not: `the record could not be written: ${describeError(error)}` };
    }
  }
  return { readings: readingsOf(findings), touched, kept };
}
