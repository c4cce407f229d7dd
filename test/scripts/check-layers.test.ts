import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkLayers } from "../../scripts/check-layers.ts";

/** A tree of the given files under a fresh folder. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "csip-scan-layers-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe("the layer check", () => {
  it("passes on this project", () => {
    expect(checkLayers(".")).toEqual([]);
  });

  it("accepts imports that run down or sideways, from tools anywhere", () => {
    const root = tree({
      "shared/errors.ts": "export class E {}\n",
      "shared/config/schema.ts": 'import { E } from "../errors.ts";\n',
      "shared/notify/report.ts": 'import type { S } from "../config/schema.ts";\nimport { x } from "../scan/requests.ts";\n',
      "shared/scan/requests.ts": "export const x = 1;\n",
      "test/a.test.ts": 'import "../shared/notify/report.ts";\n',
    });
    expect(checkLayers(root)).toEqual([]);
  });

  it("names an import that runs up, with file and line", () => {
    const root = tree({
      "shared/config/schema.ts": "export const s = 1;\n",
      "shared/config/checks.ts": '\n\nimport { post } from "../notify/deliver.ts";\n',
      "shared/notify/deliver.ts": 'import { s } from "../config/schema.ts";\nexport const post = s;\n',
    });
    expect(checkLayers(root)).toEqual([
      { file: "shared/config/checks.ts", line: 3, message: "imports shared/notify/deliver.ts from the work floor, above its own (config)" },
    ]);
  });

  it("refuses two rooms of one floor importing each other both ways, with no file cycle between them", () => {
    const root = tree({
      "shared/results/model.ts": 'import type { R } from "../notify/report.ts";\nexport type M = 1;\n',
      "shared/notify/report.ts": "export type R = 1;\n",
      "shared/notify/message.ts": '\nimport type { M } from "../results/model.ts";\n',
      "shared/scan/requests.ts": 'import type { M } from "../results/model.ts";\n',
    });
    expect(checkLayers(root)).toEqual([
      {
        file: "shared/notify/message.ts",
        line: 2,
        message:
          "shared/notify/ and shared/results/ import each other (also shared/results/model.ts:1): within a floor, one room leans on the other, never both ways",
      },
    ]);
  });

  it("names a cycle, even within one floor", () => {
    const root = tree({
      "local/emulator/actions.ts": 'import type { A } from "./server.ts";\n',
      "local/emulator/server.ts": 'import { h } from "./actions.ts";\n',
    });
    expect(checkLayers(root)).toEqual([
      { file: "local/emulator/actions.ts", line: 0, message: "import cycle: local/emulator/actions.ts -> local/emulator/server.ts -> local/emulator/actions.ts" },
    ]);
  });

  it("refuses a floor importing a test, and a third reader of process.env under shared/", () => {
    const root = tree({
      "shared/env.ts": "export const e = process.env;\n",
      "shared/log.ts": "const level = process.env.LEVEL;\n",
      "shared/run/services.ts": 'const x = process.env.X;\nimport { h } from "../../test/helpers.ts";\n',
      "test/helpers.ts": "export const h = 1;\n",
    });
    const messages = checkLayers(root).map((p) => `${p.file}:${p.line} ${p.message}`);
    expect(messages).toContain("shared/run/services.ts:2 imports test/helpers.ts: nothing outside scripts/, bench/ and test/ may import them");
    expect(messages.filter((m) => m.includes("reads process.env"))).toHaveLength(3);
  });
});
