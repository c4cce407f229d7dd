import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readEstate } from "../../../local/emulator/estate.ts";

describe("config/", () => {
  it("holds only files this project reads", () => {
    expect(readdirSync("config").sort()).toEqual(["emulator-inventory.yaml", "scan-policies.yaml"]);
  });

  it("the demo estate validates and has every kind, with unauthorized assets of each", async () => {
    const estate = await readEstate("config/emulator-inventory.yaml");
    for (const kind of ["cvm", "publicIp", "domain", "db"]) {
      expect(estate.some((a) => a.kind === kind && a.authorized)).toBe(true);
      expect(estate.some((a) => a.kind === kind && !a.authorized)).toBe(true);
    }
    expect(new Set(estate.map((a) => a.id)).size).toBe(estate.length);
  });
});
