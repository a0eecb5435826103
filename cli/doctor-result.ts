/** One line of `driftguard doctor`. */
export type CheckStatus = "ok" | "warn" | "fail";

export interface CheckResult {
  status: CheckStatus;
  check: string;
  detail: string;
  /** What to do about it (warnings and failures). */
  fix?: string;
}
