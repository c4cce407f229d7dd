import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ALL_KINDS, ASSET_KINDS } from "../../../shared/assets/kinds.ts";
import { ALL_ACTIONS, CSIP_ACTIONS, isRead, listActionOf } from "../../../shared/csip/actions.ts";
import { actionHandlers } from "../../../local/emulator/actions.ts";

// The action table is the one home of the CSIP actions: everything that lists them derives from it.

describe("the CSIP action table", () => {
  it("the emulator serves exactly its actions", () => {
    expect(Object.keys(actionHandlers).sort()).toEqual([...ALL_ACTIONS].sort());
  });

  it("the emulator checks each action against the official parameter list", () => {
    const params = JSON.parse(readFileSync("local/emulator/csip-params.json", "utf8")) as { actions: Record<string, string> };
    expect(Object.keys(params.actions).sort()).toEqual([...ALL_ACTIONS].sort());
  });

  it("each asset kind pages through the list action the table names for it", () => {
    for (const kind of ALL_KINDS) expect(ASSET_KINDS[kind].listAction).toBe(listActionOf(kind));
    const listing = ALL_ACTIONS.filter((a) => "lists" in CSIP_ACTIONS[a]);
    expect(listing.map((a) => (CSIP_ACTIONS[a] as { lists: string }).lists).sort()).toEqual([...ALL_KINDS].sort());
  });

  it("reads are the Describe actions, writes the others", () => {
    for (const action of ALL_ACTIONS) expect(isRead(action)).toBe(action.startsWith("Describe"));
  });

  it("the CAM policy allows only actions of the table", () => {
    const policy = JSON.parse(readFileSync("docs/cam-policy.json", "utf8")) as { statement: { action: string[] }[] };
    for (const action of policy.statement.flatMap((s) => s.action).filter((a) => a.startsWith("csip:"))) expect(ALL_ACTIONS).toContain(action.replace(/^csip:/, ""));
  });
});
