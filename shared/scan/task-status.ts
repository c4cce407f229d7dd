import { SCAN_STATUS } from "../csip/actions.ts";

/** A task's state in words, from DescribeScanTaskList's ScanStatus; `ended` once it will not change. */
export const TASK_STATES = {
  [SCAN_STATUS.initial]: { state: "waiting", ended: false },
  [SCAN_STATUS.scanning]: { state: "scanning", ended: false },
  [SCAN_STATUS.done]: { state: "done", ended: true },
  [SCAN_STATUS.error]: { state: "failed", ended: true },
  [SCAN_STATUS.stopped]: { state: "stopped", ended: true },
  [SCAN_STATUS.paused]: { state: "paused", ended: false },
  [SCAN_STATUS.restarted]: { state: "restarted", ended: false },
} as const;

export type TaskState = (typeof TASK_STATES)[keyof typeof TASK_STATES]["state"] | "not found";
