import { describe, expect, it } from "vitest";
import { errorShape, rebuiltError } from "../../functions/heap-bound.ts";
import { CloudApiError, errorFacts, EventError, RunFailedError, StateStoreError } from "../../shared/errors.ts";

// An error thrown in the heap-bound worker reaches SCF through the parent: the fields a summary and the
// logs read of it (an API code and RequestId, a bad event's path) survive the crossing, which copies plain
// values only (structured clone, as postMessage does).
const crossed = (error: unknown): Error => rebuiltError(structuredClone(errorShape(error)));

describe("an error from the heap-bound worker", () => {
  it.each<[string, Error, Record<string, unknown>]>([
    [
      "a failed CSIP call keeps its API code and RequestId",
      new CloudApiError({ action: "DescribeCVMAssets", code: "AuthFailure.SignatureExpire", message: "signature expired", requestId: "req-9f2c", retryable: false }),
      { name: "CloudApiError", code: "AuthFailure.SignatureExpire", requestId: "req-9f2c" },
    ],
    ["a malformed event keeps the path of its bad field", new EventError("Records.1.CMQ.msgBody", "is not JSON"), { name: "EventError", path: "Records.1.CMQ.msgBody" }],
    ["a record COS would not give keeps COS's request id", new StateStoreError("state run/x is not JSON", { requestId: "NjQ2ZGE4" }), { name: "StateStoreError", requestId: "NjQ2ZGE4" }],
  ])("%s", (_, thrown, fields) => {
    const rebuilt = crossed(thrown);
    expect(rebuilt).toMatchObject({ ...fields, message: thrown.message });
    expect(errorFacts(rebuilt)).toEqual(errorFacts(thrown));
  });

  it("a failed run keeps its summary, so that SCF retries it as it would have inline", () => {
    const rebuilt = crossed(new RunFailedError("1 run failed", { ok: false, runs: [] }));
    expect(rebuilt).toBeInstanceOf(RunFailedError);
    expect((rebuilt as RunFailedError).summary).toEqual({ ok: false, runs: [] });
  });

  it("a thrown value that is no Error crosses as its text", () => {
    expect(crossed("out of luck")).toMatchObject({ name: "Error", message: "out of luck" });
  });
});
