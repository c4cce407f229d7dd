import { CSIP_ACTIONS, type CsipAction } from "../../shared/csip/actions.ts";
import { CsipScanError } from "../../shared/errors.ts";
import { FILTER_NAMES } from "./filters.ts";
import type { EmulatorOptions } from "./server.ts";
import { DEFAULT_MAX_PAGE_SIZE, MULTI_VALUE_ANSWERS, TASK_ORDERS } from "./state.ts";

/**
 * The emulator's switches for the readings CSIP's documents leave open about its lists, one row each:
 * how a filter with several values is answered, which filter names are refused or ignored, the task
 * list's order, and the largest Filter.Limit a list takes (a number; a larger one is refused). Each is an `EmulatorOptions` key (tests), a flag of `csip-scan emulator`, and a
 * variable (for `npm start` too); a flag wins over its variable. ASSUMPTIONS.md says what each reading
 * stands for.
 */
export const READING_SWITCHES = [
  { option: "multiValueFilters", flag: "filter-values", variable: "CSIP_SCAN_EMULATOR_FILTER_VALUES", choices: MULTI_VALUE_ANSWERS, list: false },
  { option: "refusedFilters", flag: "refuse-filter", variable: "CSIP_SCAN_EMULATOR_REFUSE_FILTERS", choices: undefined, list: true },
  { option: "ignoredFilters", flag: "ignore-filter", variable: "CSIP_SCAN_EMULATOR_IGNORE_FILTERS", choices: undefined, list: true },
  { option: "taskOrder", flag: "task-order", variable: "CSIP_SCAN_EMULATOR_TASK_ORDER", choices: TASK_ORDERS, list: false },
  { option: "maxPageSize", flag: "max-limit", variable: "CSIP_SCAN_EMULATOR_MAX_LIMIT", choices: undefined, list: false },
] as const;

export type ReadingOptions = Pick<EmulatorOptions, (typeof READING_SWITCHES)[number]["option"]>;

/** A switch given a value it does not take. */
export class SwitchError extends CsipScanError {
  override name = "SwitchError";
}

/** The `parseArgs` options of the switches: `--filter-values first-only`, `--refuse-filter A.N` (repeatable). */
export const SWITCH_FLAGS = Object.fromEntries(READING_SWITCHES.map((s) => [s.flag, s.list ? { type: "string", multiple: true } : { type: "string" }])) as Record<
  (typeof READING_SWITCHES)[number]["flag"],
  { type: "string"; multiple?: true }
>;

/** Usage text of the switches. */
export const SWITCH_USAGE = READING_SWITCHES.map((s) => `[--${s.flag} ${s.choices ? s.choices.join("|") : s.list ? "ACTION.NAME" : "N"}]`).join(" ");

/** An `Action.FilterName` the emulator serves (filters.ts), else why not. */
function filterPair(text: string, where: string): string {
  const [action, name, ...more] = text.split(".");
  const names = Object.hasOwn(CSIP_ACTIONS, action ?? "") ? FILTER_NAMES[action as CsipAction] : undefined;
  if (!names || !name || more.length > 0) {
    throw new SwitchError(`${where}: "${text}" is not ACTION.NAME of a list the emulator serves (${Object.keys(FILTER_NAMES).join(", ")})`);
  }
  if (!names.includes(name)) throw new SwitchError(`${where}: ${action} takes no filter ${name} (it takes ${names.join(", ")})`);
  return `${action}.${name}`;
}

/**
 * The reading options from the flags given (`values` of parseArgs) and the variables: each flag, else
 * its variable (a list is comma-separated), checked against its choices.
 */
export function readingSwitches(flags: Readonly<Record<string, unknown>>, variables: Readonly<Record<string, string | undefined>>): ReadingOptions {
  const options: Record<string, unknown> = {};
  for (const s of READING_SWITCHES) {
    const flag = flags[s.flag];
    const given = flag !== undefined ? (Array.isArray(flag) ? flag.map(String) : [String(flag)]) : variables[s.variable]?.split(",");
    const where = flag !== undefined ? `--${s.flag}` : s.variable;
    const values = (given ?? []).map((v) => v.trim()).filter((v) => v !== "");
    if (values.length === 0) continue;
    if (s.list) {
      options[s.option] = values.map((v) => filterPair(v, where));
      continue;
    }
    const [value, ...more] = values;
    if (!s.choices) {
      // A number: the largest Filter.Limit, at least 1.
      if (more.length > 0 || !/^[1-9]\d{0,5}$/.test(value!)) throw new SwitchError(`${where}: "${values.join(",")}" is not a whole number of rows such as 50`);
      options[s.option] = Number(value);
      continue;
    }
    if (more.length > 0 || !(s.choices as readonly string[]).includes(value!)) throw new SwitchError(`${where}: "${values.join(",")}" is not one of ${s.choices.join(", ")}`);
    options[s.option] = value;
  }
  return options as ReadingOptions;
}

/** The switches set, as a line says them; empty when the emulator answers the documented way. */
export function describeSwitches(options: ReadingOptions): string {
  const parts: string[] = [];
  if (options.multiValueFilters && options.multiValueFilters !== "ored") parts.push(`filters with several values: ${options.multiValueFilters}`);
  if (options.refusedFilters?.length) parts.push(`refused filters: ${options.refusedFilters.join(", ")}`);
  if (options.ignoredFilters?.length) parts.push(`ignored filters: ${options.ignoredFilters.join(", ")}`);
  if (options.taskOrder && options.taskOrder !== "newest-first") parts.push(`task list: ${options.taskOrder}`);
  if (options.maxPageSize !== undefined && options.maxPageSize !== DEFAULT_MAX_PAGE_SIZE) parts.push(`largest Limit: ${options.maxPageSize}`);
  return parts.join("; ");
}
