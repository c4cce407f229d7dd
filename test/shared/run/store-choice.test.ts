import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../../shared/config/load.ts";
import { readEnvironment } from "../../../shared/env.ts";
import { ConfigError, StateStoreError } from "../../../shared/errors.ts";
import { MEMORY_STORE_WARNING, stateStoreFor } from "../../../shared/run/services.ts";
import { CosStateStore } from "../../../shared/state/cos-store.ts";
import { MemoryStateStore } from "../../../shared/state/memory-store.ts";
import { FileStateStore } from "../../../shared/state/store.ts";

// Which store a function gets: what the policy file says, else COS when the deploy named a bucket in
// the environment, else the local folder. No request is made: building a store sends nothing.

const dir = mkdtempSync(join(tmpdir(), "csip-scan-choice-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CREDENTIALS = { TENCENTCLOUD_SECRETID: "AKIDchoice", TENCENTCLOUD_SECRETKEY: "choice-secret", TENCENTCLOUD_SESSIONTOKEN: "choice-token" };
const BUCKET = { CSIP_SCAN_STATE_BUCKET: "csip-scan-state-1250000000", TENCENTCLOUD_REGION: "ap-shanghai" };
const config = (state: string) => parseConfig(`version: 1\n${state}\npolicies:\n  - { name: p, schedule: "0 0 3 * * * *", urls: [https://example.com], scanItems: [port] }\n`, "choice.yaml", readEnvironment({}));

describe("the state store a function gets", () => {
  it.each([
    ["nothing said, no bucket in the environment: the folder .csip-scan", "", {}, FileStateStore, ".csip-scan"],
    ["nothing said, the deploy's bucket in the environment: COS", "", BUCKET, CosStateStore, "csip-scan-state-1250000000.cos.ap-shanghai.myqcloud.com"],
    ["state.cos with its own bucket and region", "state: { cos: { bucket: other-1250000000, region: ap-beijing } }", BUCKET, CosStateStore, "other-1250000000.cos.ap-beijing.myqcloud.com"],
    ["state.path, even with a bucket in the environment", `state: { path: ${join(dir, "s")} }`, BUCKET, FileStateStore, join(dir, "s")],
    ["state.path of a deployment: the deployment's own subfolder", `state: { path: ${join(dir, "s")} }`, { ...BUCKET, CSIP_SCAN_DEPLOYMENT: "prod-ap-shanghai" }, FileStateStore, join(dir, "s", "prod-ap-shanghai")],
    ["state.memory", "state: { memory: true }", BUCKET, MemoryStateStore, undefined],
  ])("%s", (_, state, env, kind, where) => {
    const { store, warnings } = stateStoreFor(config(state), readEnvironment({ ...CREDENTIALS, ...env }), { warn: () => {} });
    expect(store).toBeInstanceOf(kind);
    if (store instanceof FileStateStore) expect(store.dir).toBe(where);
    if (store instanceof CosStateStore) expect(store.client.host).toBe(where);
    expect(warnings).toEqual(kind === MemoryStateStore ? [MEMORY_STORE_WARNING] : []);
  });

  it("state.cos without a bucket anywhere is an error that says where to name one", () => {
    expect(() => stateStoreFor(config("state: { cos: {} }"), readEnvironment(CREDENTIALS), { warn: () => {} })).toThrow(StateStoreError);
    expect(() => stateStoreFor(config("state: { cos: {} }"), readEnvironment(CREDENTIALS), { warn: () => {} })).toThrow(/CSIP_SCAN_STATE_BUCKET/);
  });

  it.each([
    ["two kinds of store", "state: { path: x, memory: true }", /state: choose one store: cos, path or memory/],
    ["memory: false", "state: { memory: false }", /state\.memory: must be true/],
    ["a bucket without its AppId", "state: { cos: { bucket: csip-scan-state } }", /state\.cos\.bucket: must be NAME-APPID/],
    ["a prefix that is not a folder", "state: { cos: { prefix: state } }", /state\.cos\.prefix: must be empty or folder names/],
    ["an unknown key", "state: { cos: { bukket: x-1 } }", /state\.cos/],
  ])("refuses %s", (_, state, message) => {
    const error = (() => {
      try {
        config(state);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
  });
});
