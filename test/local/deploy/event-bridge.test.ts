import { describe, expect, it } from "vitest";
import { ruleErrorMessage } from "../../../local/deploy/event-bridge.ts";

// The deploy's message when the EventBridge rule cannot be made: the cloud error's code and RequestId, and
// what to do about CreateTarget's documented errors.

const sdkError = (code: string) => Object.assign(new Error("something failed"), { code, requestId: "req-1" });

describe("ruleErrorMessage", () => {
  it.each([
    ["ResourceNotFound.Role", "activate EventBridge in its console once"],
    ["ResourceNotFound.Version", "the function lacks the version the target names"],
    ["LimitExceeded.Trigger", "already holds 10 EventBridge triggers"],
    ["FailedOperation.CreateTrigger", "deploy again in a minute"],
  ])("%s: names the code and RequestId, and says what to do", (code, hint) => {
    const message = ruleErrorMessage(sdkError(code));
    expect(message.startsWith(`something failed (${code}, RequestId req-1): `), message).toBe(true);
    expect(message).toContain(hint);
  });

  it("is the message alone for an error without a code", () => {
    expect(ruleErrorMessage(new Error("EventBridge has no event bus named \"x\""))).toBe('EventBridge has no event bus named "x"');
  });
});
