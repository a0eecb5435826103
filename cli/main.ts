/**
 * `driftguard` CLI (docs/cli.md#the-driftguard-cli): replay, audit, audit verify, policy validate, policy schema, rotate, sweep, doctor.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import { InputError } from "../shared/errors.js";
import type { Decision } from "../shared/pipeline.js";
import { DEFAULT_POLICY_FILE, validatePolicyText } from "../shared/policy/load.js";
import { builtinRegistry } from "../shared/remediations/index.js";
import { parseJsonBody } from "../shared/signals/body.js";
import { parseSignalFile } from "../shared/signals/index.js";
import type { Signal } from "../shared/signals/types.js";
import { auditCommand } from "./audit.js";
import { cliEnvironment, openContext } from "./context.js";
import { formatDecision } from "./format.js";
import { policySchemaCommand } from "./policy-schema.js";
import { rotateCommand } from "./rotate.js";
import { sweepCommand } from "./sweep.js";

async function listPayloadFiles(target: string): Promise<string[]> {
  const s = await stat(target).catch(() => undefined);
  if (!s) throw new InputError("NotFound", `no such file or directory: ${target}`, target);
  if (s.isFile()) return [target];
  const entries = await readdir(target);
  return entries
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => path.join(target, f));
}

/** Parses every file before anything runs: invalid input → exit 1 naming file and field, nothing applied. */
async function parseAll(files: string[]): Promise<{ file: string; signals: Signal[] }[]> {
  const out: { file: string; signals: Signal[] }[] = [];
  const errors: string[] = [];
  for (const file of files) {
    try {
      const json = parseJsonBody(await readFile(file));
      // No file name passed down: the message is prefixed with file and field once, here.
      out.push({ file, signals: parseSignalFile(json) });
    } catch (err) {
      if (err instanceof InputError) errors.push(`${file}: ${err.path ? `${err.path}: ` : ""}${err.message}`);
      else throw err;
    }
  }
  if (errors.length > 0) {
    for (const e of errors) process.stderr.write(`invalid input: ${e}\n`);
    process.exitCode = 1;
    return [];
  }
  return out;
}

function decisionJson(file: string, signal: Signal, d: Decision) {
  return {
    file,
    signal: { source: signal.source, type: signal.type, id: signal.id },
    resourceId: d.target.resourceId,
    policy: d.policy ?? null,
    kind: d.kind ?? null,
    mode: d.mode ?? null,
    outcome: d.outcome,
    reason: d.reason ?? d.summary ?? null,
    changes: d.changes ?? [],
    recordId: d.record?.id ?? null,
  };
}

export function buildProgram(): Command {
  const program = new Command("driftguard")
    .description("driftguard — drift remediation for AI platforms on Azure")
    .showHelpAfterError();

  program
    .command("replay")
    .description("run Event Grid / CloudEvents / alert / budget payload files through the pipeline")
    .argument("<path>", "a payload file or a directory of .json files")
    .option("--dry-run", "plan only: record dry-run decisions, change nothing", false)
    .option("--json", "print one JSON object per decision", false)
    .option("--policy <file>", "policy file (default: DRIFTGUARD_POLICY_FILE or policies/default.yaml)")
    .action(async (target: string, opts: { dryRun: boolean; json: boolean; policy?: string }) => {
      let files: string[];
      try {
        files = await listPayloadFiles(target);
      } catch (err) {
        process.stderr.write(`invalid input: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      if (files.length === 0) {
        process.stderr.write(`invalid input: ${target}: no .json payload files\n`);
        process.exitCode = 1;
        return;
      }
      const parsed = await parseAll(files);
      if (parsed.length === 0) return;
      const ctx = await openContext({ policyFile: opts.policy });
      if (!opts.json)
        process.stdout.write(
          `replaying ${files.length} file(s) against ${ctx.target}${opts.dryRun ? " (dry-run)" : ""}\n`,
        );
      let failed = false;
      try {
        for (const { file, signals } of parsed) {
          if (!opts.json) process.stdout.write(`▶ ${file}\n`);
          for (const signal of signals) {
            const decisions = await ctx.runtime.pipeline.handle(signal, {
              dryRun: opts.dryRun,
              actor: "cli:replay",
            });
            for (const d of decisions) {
              if (d.outcome === "failed") failed = true;
              process.stdout.write(
                opts.json ? `${JSON.stringify(decisionJson(file, signal, d))}\n` : `${formatDecision(d)}\n`,
              );
            }
          }
        }
      } finally {
        await ctx.close();
      }
      if (failed) process.exitCode = 2;
    });

  // One context per CLI run: the audit commands share its runtime (store, evidence, anchors).
  let context: ReturnType<typeof openContext> | undefined;
  const runtime = async () => {
    context ??= openContext({ ephemeral: false });
    return (await context).runtime;
  };
  program.addCommand(
    auditCommand(
      async () => (await runtime()).stores.audit,
      undefined,
      async () => {
        const rt = await runtime();
        if (!rt.stores.evidence) throw new Error("this store keeps no evidence");
        return {
          evidence: rt.stores.evidence,
          ...(rt.anchors ? { anchors: rt.anchors } : {}),
          clock: rt.clock,
          retentionDays: rt.config.cosmos.auditRetentionDays,
          periodMs: rt.config.anchors.periodMs,
        };
      },
    ),
  );

  const registry = builtinRegistry();
  const policy = program.command("policy").description("policy-as-code tools");
  policy
    .command("validate")
    .description("validate a policy file; prints every error with its path")
    .argument(
      "[file]",
      "policy file (YAML or JSON)",
      process.env.DRIFTGUARD_POLICY_FILE || DEFAULT_POLICY_FILE,
    )
    .action(async (file: string) => {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        process.stderr.write(`${file}: cannot read: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const { file: parsed, issues } = validatePolicyText(text, registry);
      if (!parsed) {
        for (const i of issues) process.stderr.write(`${file}: ${i.path || "(root)"}: ${i.message}\n`);
        process.stderr.write(`${issues.length} error(s)\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(
        `${file}: ${parsed.policies.length} policies valid (${[...new Set(parsed.policies.map((p) => p.kind))].join(", ")})\n`,
      );
    });
  policy.addCommand(policySchemaCommand(registry));

  program.addCommand(
    rotateCommand(async (vault, secret, { dryRun }) => {
      const { rotateOnDemand } = await import("./rotate-run.js");
      const ctx = await openContext();
      try {
        const decisions = await rotateOnDemand(ctx.runtime, vault, secret, { dryRun });
        for (const d of decisions) process.stdout.write(`${formatDecision(d)}\n`);
        return decisions.some((d) => d.outcome === "failed" || d.outcome === "ignored") ? 1 : 0;
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        return 1;
      } finally {
        await ctx.close();
      }
    }),
  );
  program.addCommand(
    sweepCommand(
      async (opts, hooks) => {
        const { sweepWithLease } = await import("../shared/sweep/leased.js");
        const ctx = await openContext();
        try {
          return await sweepWithLease(ctx.runtime, {
            trigger: "cli",
            dryRun: opts.dryRun,
            policyNames: opts.policy,
            subscriptions: opts.subscription,
            ...(opts.maxChanges !== undefined ? { maxChanges: opts.maxChanges } : {}),
            ...hooks,
          });
        } finally {
          await ctx.close();
        }
      },
      {
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t),
        isTty: process.stderr.isTTY === true,
      },
    ),
  );
  program
    .command("doctor")
    .description(
      "check a configuration before traffic arrives: settings, Cosmos DB, scopes, permissions, Teams",
    )
    .option("--policy <file>", "policy file (default: DRIFTGUARD_POLICY_FILE or policies/default.yaml)")
    .option(
      "--subscription <id>",
      "subscription to check policies without a scope in (repeatable; default AZURE_SUBSCRIPTION_ID)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option("--json", "print the results as JSON", false)
    .action(async (opts: { policy?: string; subscription: string[]; json: boolean }) => {
      const { formatResults, runDoctor } = await import("./doctor.js");
      const environment = await cliEnvironment(opts.policy);
      const env = environment?.env ?? {
        ...process.env,
        ...(opts.policy ? { DRIFTGUARD_POLICY_FILE: opts.policy } : {}),
      };
      const results = await runDoctor({
        env,
        registry,
        ...(environment?.credential ? { credential: environment.credential } : {}),
        subscriptions: opts.subscription.length ? opts.subscription : (environment?.subscriptions ?? []),
      });
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(results, null, 2)}\n`
          : `doctor: ${environment?.target ?? "the configured environment"}\n${formatResults(results)}\n`,
      );
      process.exitCode = results.some((r) => r.status === "fail") ? 1 : 0;
    });
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err) => {
    process.stderr.write(`driftguard: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
