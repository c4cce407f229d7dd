#!/usr/bin/env node
// Runs the TypeScript CLI in place: tsx compiles on load, so the checkout needs no build step.
import { register } from "tsx/esm/api";

register();
await import("../local/cli/main.ts");
