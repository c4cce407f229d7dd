/**
 * The project's errors: one base class and one subclass per kind of failure.
 * Every message is written to be shown to a person; none carries a secret.
 */

export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** Key path such as `policies[0].schedule`; empty for the whole file. */
  path: string;
  message: string;
}

export class CsipScanError extends Error {
  override name = "CsipScanError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The policy file is wrong. Lists every problem, each with file, line, column and key path. */
export class ConfigError extends CsipScanError {
  override name = "ConfigError";
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join("\n"));
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  // A problem with no place in the text (a missing file, one too large) names the file alone.
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return p.path ? `${where} ${p.path}: ${p.message}` : `${where} ${p.message}`;
}

/** An incoming event (timer, asset change) does not have the expected shape. */
export class EventError extends CsipScanError {
  override name = "EventError";
  /** Dotted path of the bad field, e.g. `Time`. */
  readonly path: string;
  constructor(path: string, message: string) {
    super(path ? `invalid event at ${path}: ${message}` : `invalid event: ${message}`);
    this.path = path;
  }
}

/** Something the user asked for does not exist (an unknown policy, notifier). */
export class NotFoundError extends CsipScanError {
  override name = "NotFoundError";
}

/** A CSIP API call failed: API error code, RequestId, HTTP status, and whether a retry may help. */
export class CloudApiError extends CsipScanError {
  override name = "CloudApiError";
  readonly action: string;
  readonly code: string;
  readonly requestId: string | undefined;
  readonly httpCode: number | undefined;
  readonly retryable: boolean;
  constructor(fields: {
    action: string;
    code: string;
    message: string;
    requestId?: string | undefined;
    httpCode?: number | undefined;
    retryable: boolean;
    cause?: unknown;
  }) {
    const id = fields.requestId ? ` (RequestId ${fields.requestId})` : "";
    super(`${fields.action} failed with ${fields.code}${id}: ${fields.message}`, { cause: fields.cause });
    this.action = fields.action;
    this.code = fields.code;
    this.requestId = fields.requestId;
    this.httpCode = fields.httpCode;
    this.retryable = fields.retryable;
  }
}

/** Credentials are missing or unusable. */
export class CredentialsError extends CsipScanError {
  override name = "CredentialsError";
}

/** A notification could not be delivered. Names the notifier, never its URL. */
export class DeliveryError extends CsipScanError {
  override name = "DeliveryError";
  readonly notifier: string;
  readonly retryable: boolean;
  constructor(notifier: string, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(`notifier "${notifier}": ${message}`, options);
    this.notifier = notifier;
    this.retryable = retryable;
  }
}

/** What a summary says of a failure: its API code (else its class), RequestId when it has one, and its text. */
export function errorFacts(error: unknown): { code: string; requestId?: string; message: string } {
  const e = (error ?? {}) as { code?: unknown; requestId?: unknown; name?: unknown };
  const code = typeof e.code === "string" ? e.code : typeof e.name === "string" ? e.name : "Error";
  return { code, ...(typeof e.requestId === "string" && e.requestId ? { requestId: e.requestId } : {}), message: describeError(error) };
}

/** Short text of any thrown value, for summaries. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The function's time ran out before the work was done; a retry does the rest. */
export class OutOfTimeError extends CsipScanError {
  override name = "OutOfTime";
}

/** Another invocation holds the lock on the same work (same policy and scheduled time). */
export class LockBusyError extends CsipScanError {
  override name = "LockBusyError";
}

/**
 * A holder's lease passed to another invocation while it worked (it stalled past its lease): what it
 * wrote last did not count, and it stops; the new holder carries on from the record as it stands.
 */
export class LeaseLostError extends CsipScanError {
  override name = "LeaseLostError";
}

/** A run finished with errors; thrown by a handler so that SCF's retry and dead-letter queue apply. */
export class RunFailedError extends CsipScanError {
  override name = "RunFailedError";
  readonly summary: unknown;
  constructor(message: string, summary: unknown) {
    super(message);
    this.summary = summary;
  }
}

/**
 * The state store cannot be trusted to remember: a versioned COS bucket (where write-once keys do not
 * hold), or a record that is not a record. Starting fresh there could repeat a task or a message, so
 * the run stops and says which key and request to look at.
 */
export class StateStoreError extends CsipScanError {
  override name = "StateStoreError";
  readonly requestId: string | undefined;
  constructor(message: string, options?: { requestId?: string | undefined; cause?: unknown }) {
    super(options?.requestId ? `${message} (COS request id ${options.requestId})` : message, options);
    this.requestId = options?.requestId;
  }
}
