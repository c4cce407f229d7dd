import { EventError } from "../../shared/errors.ts";
import { parseFunctionUrlEvent, type FunctionUrlAnswer } from "../../shared/events/function-url.ts";
import { createLogger } from "../../shared/log.ts";
import { pageServicesOnDemand, refusal, servePage } from "../../shared/run/serve-page.ts";
import { deployedHandler } from "../heap-bound.ts";
import type { HandlerOptions } from "../options.ts";

/**
 * Builds the SCF entry point behind the results-page function's URL (an `http` trigger the project's
 * deploy plugin makes: local/deploy/function-url.ts). It imports no SDK: a person waits on its cold start.
 */
export function resultsPageHandler(options: HandlerOptions = {}) {
  const services = pageServicesOnDemand(options);

  /** Validates the request (a malformed one gets 400), answers it with the page or a small refusal. */
  return async function main_handler(event: unknown): Promise<FunctionUrlAnswer> {
    let request;
    try {
      request = parseFunctionUrlEvent(event);
    } catch (error) {
      if (!(error instanceof EventError)) throw error;
      (options.logger ?? createLogger()).warn({ path: error.path }, `results page: ${error.message}`);
      return refusal(400);
    }
    try {
      return await servePage(await services(), request);
    } catch (error) {
      // The policy file or the credentials: nothing a retry of this request would change.
      (options.logger ?? createLogger()).error({ error }, "results page: the function cannot start");
      return refusal(503, request.httpMethod.toUpperCase());
    }
  };
}

// Like every function: its heap held within its memory, its cold start logged and kept (functions/heap-bound.ts).
export const main_handler = deployedHandler("results-page", resultsPageHandler);
