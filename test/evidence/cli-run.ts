/** Runs `driftguard audit …` in-process against a local stack's runtime, capturing output and exit code. */
import { auditCommand } from "../../cli/audit.js";
import type { EvidenceContext } from "../../cli/evidence.js";
import type { Runtime } from "../../shared/runtime.js";

export function evidenceContext(runtime: Runtime): EvidenceContext {
  return {
    evidence: runtime.stores.evidence!,
    ...(runtime.anchors ? { anchors: runtime.anchors } : {}),
    clock: runtime.clock,
    retentionDays: runtime.config.cosmos.auditRetentionDays,
    periodMs: runtime.config.anchors.periodMs,
  };
}

export async function runAudit(
  runtime: Runtime,
  args: string[],
): Promise<{ out: string; err: string; code: number | undefined }> {
  let out = "";
  let err = "";
  const cmd = auditCommand(
    async () => runtime.stores.audit,
    { stdout: (t) => (out += t), stderr: (t) => (err += t), now: () => runtime.clock.now() },
    async () => evidenceContext(runtime),
  );
  cmd.exitOverride();
  cmd.configureOutput({ writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
  for (const sub of cmd.commands) {
    sub.exitOverride();
    sub.configureOutput({ writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
  }
  process.exitCode = undefined;
  try {
    await cmd.parseAsync(args, { from: "user" });
  } catch (e) {
    err += String((e as Error).message);
  }
  const code = process.exitCode as number | undefined;
  process.exitCode = undefined;
  return { out, err, code: code === 0 ? undefined : code };
}
