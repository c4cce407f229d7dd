import { describe, expect, it } from "vitest";
import { PAGE_NAME, pageName } from "../../../shared/results/publish.ts";

describe("pageName", () => {
  it("keeps a lower-case policy name as it is", () => {
    expect(pageName("nightly-prod_2")).toBe("nightly-prod_2.html");
  });

  it("gives names that differ only by case files that differ on a disk that ignores case", () => {
    const names = ["nightly", "Nightly", "NIGHTLY", "nIghtly", "nightly-x", "Nightly-x"];
    const files = names.map(pageName);
    expect(new Set(files.map((f) => f.toLowerCase())).size).toBe(names.length);
    for (const file of files) expect(file).toMatch(/^[a-z0-9_-]+(\.[0-9a-f]{8})?\.html$/);
    // Stable: the same policy keeps its page.
    expect(pageName("Nightly")).toBe(files[1]);
  });

  it("gives only names PAGE_NAME takes, the names the results-page function serves", () => {
    const names = ["a", "nightly", "Nightly", "prodWeb", "A_-9", `p${"x".repeat(59)}`, `P${"X".repeat(59)}`];
    for (const name of names) expect(pageName(name), name).toMatch(new RegExp(`^${PAGE_NAME.source}$`));
  });
});
