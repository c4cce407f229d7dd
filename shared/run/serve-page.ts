import { systemClock, type Clock } from "../clock.ts";
import { credentialsReadFrom, type CredentialSource } from "../csip/credentials.ts";
import { readEnvironment, type Environment } from "../env.ts";
import { describeError, errorFacts } from "../errors.ts";
import type { FunctionUrlAnswer, FunctionUrlEvent } from "../events/function-url.ts";
import { createLogger, type Logger } from "../log.ts";
import { checkPageRequest, readPageSigningKey } from "../results/page-link.ts";
import { PAGES_FOLDER } from "../results/publish.ts";
import type { StateStore } from "../state/store.ts";
import type { BootOptions } from "./services.ts";

/**
 * The results-page function's one use-case: a signed link's request gets the policy's page from the state
 * bucket, read with the function role's keys; anything else gets a small page with its status and no
 * detail. The link's own signature (shared/results/page-link.ts) decides, so a link lasts
 * `results.pageLinkValidFor` whatever the role's keys do.
 */

/** What serving a page needs: the signing key's store, where pages are read, a logger and a clock. */
export interface PageServices {
  /** The state store; pages are read from it when it can (`getObject`: the COS store). */
  store: Pick<StateStore, "get"> & { getObject?(key: string): Promise<string | undefined> };
  logger: Logger;
  clock: Clock;
}

/** Every answer: no caching, no sniffing, no referrer (a link carries its signature). */
const COMMON_HEADERS = {
  "Cache-Control": "private, no-store",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
} as const;

/** A page of our own that loads nothing and runs nothing. */
const REFUSAL_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'";

/** The small pages of refusals: a status and one sentence, the same for every reason behind the status. */
const REFUSALS: Readonly<Record<number, { title: string; text: string }>> = {
  400: { title: "400 Bad Request", text: "This request is not one csip-scan serves." },
  403: { title: "403 Forbidden", text: "This link does not open a csip-scan results page." },
  404: { title: "404 Not Found", text: "There is no csip-scan results page here." },
  405: { title: "405 Method Not Allowed", text: "Results pages are read with GET." },
  410: { title: "410 Gone", text: "This link has expired: the next results message brings a new one." },
  503: { title: "503 Service Unavailable", text: "The results page cannot be read right now; try again in a minute." },
};

/** The answer of a refusal: its status, a small page, the common headers. */
export function refusal(status: keyof typeof REFUSALS & number, method = "GET"): FunctionUrlAnswer {
  const { title, text } = REFUSALS[status]!;
  const body = `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>\n`;
  return {
    statusCode: status,
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": REFUSAL_POLICY,
      ...COMMON_HEADERS,
      ...(status === 405 ? { Allow: "GET, HEAD" } : {}),
    },
    body: method === "HEAD" ? "" : body,
    isBase64Encoded: false,
  };
}

/** The page's own Content-Security-Policy (its meta element, shared/results/page/html.ts), sent as a header too. */
function pagePolicy(html: string): string {
  return /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1] ?? REFUSAL_POLICY;
}

/** Single values of the query: a repeated parameter is no signature. */
function singleValues(query: FunctionUrlEvent["queryString"]): Record<string, string> {
  return Object.fromEntries(Object.entries(query ?? {}).flatMap(([k, v]) => (typeof v === "string" ? [[k, v]] : [])));
}

/**
 * Answers one request: `GET` or `HEAD` of `/pages/NAME.html` (after any prefix a gateway adds; NAME as
 * shared/results/publish.ts `pageName` gives it) with a signature made for that page and expiry, while it
 * has not expired. The page comes as stored,
 * `200`, `text/html; charset=utf-8`, its Content-Security-Policy, and no Content-Disposition.
 */
export async function servePage(services: PageServices, request: FunctionUrlEvent): Promise<FunctionUrlAnswer> {
  const method = request.httpMethod.toUpperCase();
  const told = (status: number, fields: Record<string, unknown> = {}): void => services.logger.info({ method, status, ...fields }, `results page: ${status}`);
  if (method !== "GET" && method !== "HEAD") {
    told(405);
    return refusal(405);
  }
  let key: Buffer | undefined;
  try {
    key = await readPageSigningKey(services.store);
  } catch (error) {
    services.logger.error({ error: errorFacts(error) }, `results page: the signing key cannot be read (${describeError(error)})`);
    return refusal(503, method);
  }
  // Without a key no link was ever signed: every request is refused as one with a bad signature would be.
  const checked = checkPageRequest(key ?? Buffer.alloc(32), request.path, singleValues(request.queryString), services.clock.now());
  if (!("page" in checked) || !key) {
    const status = "status" in checked ? checked.status : 403;
    told(status, { reason: "reason" in checked ? checked.reason : "no signing key yet" });
    return refusal(status as 403 | 404 | 410, method);
  }
  let html: string | undefined;
  try {
    html = services.store.getObject ? await services.store.getObject(`${PAGES_FOLDER}${checked.page}`) : undefined;
  } catch (error) {
    services.logger.error({ page: checked.page, error: errorFacts(error) }, `results page ${checked.page} cannot be read (${describeError(error)})`);
    return refusal(503, method);
  }
  if (html === undefined) {
    told(404, { page: checked.page, reason: services.store.getObject ? "no page stored" : "the state store keeps no pages (COS only)" });
    return refusal(404, method);
  }
  told(200, { page: checked.page, bytes: Buffer.byteLength(html) });
  return {
    statusCode: 200,
    headers: { "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": pagePolicy(html), ...COMMON_HEADERS },
    body: method === "HEAD" ? "" : html,
    isBase64Encoded: false,
  };
}

/**
 * The page function's services, built on its first invocation from the policy file (the same state store
 * the other functions use) and kept across warm ones, one set per policy file and endpoint; a failed boot
 * is not kept. The role's keys are those of every function (shared/csip/credentials.ts): read from the
 * environment at each invocation, since SCF does not document whether a warm instance gets fresh ones, and
 * again when COS refuses them, so a request in flight when they change is sent again with the new ones.
 */
export function pageServicesOnDemand(options: BootOptions = {}): () => Promise<PageServices> {
  const booted = new Map<string, Promise<PageServices & { credentials: CredentialSource }>>();
  const environment = (): Environment => (typeof options.env === "function" ? options.env() : options.env) ?? readEnvironment();
  return async () => {
    const env = environment();
    // The file as given (config/read.ts would load the policy file's schemas with the bundle).
    const key = `${options.configPath ?? env.configPath ?? ""}|${env.cosEndpoint ?? ""}`;
    let pending = booted.get(key);
    if (!pending) {
      pending = bootPageServices(env, options, options.credentials ?? credentialsReadFrom(environment));
      pending.catch(() => booted.delete(key));
      booted.set(key, pending);
    }
    const services = await pending;
    services.credentials.reread();
    return services;
  };
}

async function bootPageServices(env: Environment, options: BootOptions, credentials: CredentialSource): Promise<PageServices & { credentials: CredentialSource }> {
  const logger = options.logger ?? createLogger({ level: env.logLevel });
  const clock = options.clock ?? systemClock;
  // Loaded at the first invocation, not with the bundle: building the policy file's schemas was most of the
  // bundle's import time (bench/cold-start.ts), and a person waits on this function's cold start.
  const { pageStore } = await import("./page-store.ts");
  return { store: await pageStore(env, options, { logger, clock, credentials }), logger, clock, credentials };
}
