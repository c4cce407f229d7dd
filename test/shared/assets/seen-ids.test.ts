import { describe, expect, it } from "vitest";
import { SeenIds } from "../../../shared/assets/seen-ids.ts";

describe("SeenIds", () => {
  it("takes an ID once: the second add of the same ID is a repeat", () => {
    const seen = new SeenIds();
    expect(["ins-a", "ins-b", "ins-a", "203.0.113.10", "ins-b", "203.0.113.10"].map((id) => seen.add(id))).toEqual([true, true, false, true, false, false]);
    expect(seen.size).toBe(3);
  });

  it("grows past what it was made for, and keeps every ID it held", () => {
    const seen = new SeenIds(4);
    const ids = Array.from({ length: 5_000 }, (_, i) => `ins-${i.toString(36).padStart(8, "0")}`);
    expect(ids.every((id) => seen.add(id))).toBe(true);
    expect(ids.some((id) => seen.add(id))).toBe(false);
    expect(seen.size).toBe(5_000);
  });

  it("a reserved size keeps what was added before it", () => {
    const seen = new SeenIds();
    seen.add("ins-before");
    seen.reserve(100_000);
    expect(seen.add("ins-before")).toBe(false);
    expect(seen.add("ins-after")).toBe(true);
  });

  it("holds a million different IDs as a million: no two of them taken for one", () => {
    const seen = new SeenIds();
    seen.reserve(1_000_000);
    let added = 0;
    for (let i = 0; i < 1_000_000; i++) if (seen.add(`ins-m${i.toString(36).padStart(7, "0")}`)) added++;
    expect(added).toBe(1_000_000);
  }, 60_000);
});
