import { describeError } from "../errors.ts";
import { recordRun } from "../results/history.ts";
import type { Finding, RunResults } from "../results/model.ts";
import { resultsPage } from "../results/page/render.ts";
import type { PageLink } from "../results/publish.ts";
import type { RunContext } from "./services.ts";

/**
 * After a run's results are known: the policy's history (state store) gains the run (an asset-change run
 * beside the trend, not in it), and its results page is published where `run.pages` puts it. Returns the
 * page's link for the results message, or undefined: no durable store to keep a history in, no
 * publisher, or a page that could not be published (a warning: the message goes without it).
 */
export async function publishResultsPage(run: RunContext, results: RunResults, findings: readonly Finding[]): Promise<PageLink | undefined> {
  if (!(await run.store.durable())) return undefined;
  const history = await recordRun(run.store, results, findings, run.config.results.history);
  if (!run.pages) return undefined;
  const policy = run.config.policies.find((p) => p.name === results.policy);
  // One page per policy: in the language of its first notifier.
  const first = policy?.notify[0];
  const language = (first ? run.config.notifiers[first]?.language : undefined) ?? "en";
  const html = resultsPage({ histories: [history], timezone: run.config.timezone, language, generatedAt: new Date(run.clock.now()) });
  try {
    return await run.pages.publish(results.policy, html);
  } catch (error) {
    run.logger.warn({ policy: results.policy }, `results page of ${results.policy} not published (${describeError(error)}); the message goes without its link`);
    return undefined;
  }
}
