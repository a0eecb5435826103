/**
 * `driftguard rotate --vault V --secret S [--dry-run]`: rotates one Key Vault secret on demand.
 * The caller wires `run` to the pipeline with a `manual` signal; its return value is the exit code.
 * Names are validated here, before anything runs, and a bad one names the option.
 */
import { Command, InvalidArgumentError } from "commander";

/** Key Vault names: 3–24 characters, letters, digits and '-', starting with a letter, no '--'. */
export const VAULT_NAME = /^[A-Za-z](?!.*--)[A-Za-z0-9-]{1,22}[A-Za-z0-9]$/;
/** Key Vault secret names: 1–127 characters, letters, digits and '-'. */
export const SECRET_NAME = /^[A-Za-z0-9-]{1,127}$/;

export function parseVaultName(raw: string): string {
  const v = raw.trim();
  if (!VAULT_NAME.test(v)) {
    throw new InvalidArgumentError(
      "a vault name is 3-24 letters, digits and '-', starts with a letter, ends with a letter or digit",
    );
  }
  return v;
}

export function parseSecretName(raw: string): string {
  const v = raw.trim();
  if (!SECRET_NAME.test(v)) throw new InvalidArgumentError("a secret name is 1-127 letters, digits and '-'");
  return v;
}

export type RotateRun = (vault: string, secret: string, opts: { dryRun: boolean }) => Promise<number>;

export function rotateCommand(run: RotateRun): Command {
  return new Command("rotate")
    .description(
      "rotate a Key Vault secret now (two-credential alternation when tagged, else a generated value)",
    )
    .requiredOption("--vault <name>", "Key Vault name", parseVaultName)
    .requiredOption("--secret <name>", "secret name", parseSecretName)
    .option("--dry-run", "plan only: print the exact changes, write nothing", false)
    .action(async (opts: { vault: string; secret: string; dryRun: boolean }) => {
      const code = await run(opts.vault, opts.secret, { dryRun: opts.dryRun === true });
      process.exitCode = code;
    });
}
