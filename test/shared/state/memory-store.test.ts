import { describe, expect, it } from "vitest";
import * as z from "zod";
import { LockBusyError } from "../../../shared/errors.ts";
import { MemoryStateStore } from "../../../shared/state/memory-store.ts";

// `state: { memory: true }`: the same promises as the other stores, within one process, and it says it forgets.

describe("MemoryStateStore", () => {
  it("reads back values, writes a key once, lists a collection, and says it is not durable", async () => {
    const store = new MemoryStateStore();
    await store.set("run/x", { tasks: ["t-1"] });
    expect(await store.get("run/x", z.object({ tasks: z.array(z.string()) }))).toEqual({ tasks: ["t-1"] });
    expect([await store.create("sent/x", 1), await store.create("sent/x", 2)]).toEqual([true, false]);
    await store.put("open", "a", { id: "a" });
    await store.put("open", "b", { id: "b" });
    await store.remove("open", "a");
    expect(await store.list("open", z.object({ id: z.string() }))).toEqual([{ id: "b" }]);
    expect(await store.durable()).toBe(false);
  });

  it("lets one holder of a lock in at a time", async () => {
    const store = new MemoryStateStore();
    let release!: () => void;
    const held = store.withLock("run/x", { waitMs: 0 }, () => new Promise<void>((r) => (release = r)));
    await expect(store.withLock("run/x", { waitMs: 0 }, async () => "second")).rejects.toBeInstanceOf(LockBusyError);
    release();
    await held;
    expect(await store.withLock("run/x", { waitMs: 0 }, async () => "third")).toBe("third");
  });
});
