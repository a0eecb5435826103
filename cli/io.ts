/** What a CLI command writes to and reads the time from (tests pass their own), and duration parsing. */
import { InvalidArgumentError } from "commander";

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  now: () => Date;
}

export const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  now: () => new Date(),
};

/**
 * `24h`, `7d`, `30m`, `90s`, `2w`, or ISO 8601 durations (`PT1H`, `P7D`, `P1DT12H`) → milliseconds.
 * Throws InvalidArgumentError (commander prints it and exits 1).
 */
export function parseDuration(raw: string): number {
  const s = raw.trim();
  const simple = /^(\d{1,6})(s|m|h|d|w)$/i.exec(s);
  const unit: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };
  let ms: number | undefined;
  if (simple) ms = Number(simple[1]) * unit[simple[2]!.toLowerCase()]!;
  else {
    const iso =
      /^P(?:(\d{1,6})W)?(?:(\d{1,6})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,6})M)?(?:(\d{1,6}(?:\.\d{1,3})?)S)?)?$/i.exec(
        s,
      );
    if (iso && /\d/.test(s) && !/T$/i.test(s)) {
      const [, w, d, h, m, sec] = iso;
      ms =
        (Number(w ?? 0) * 7 * 86400 +
          Number(d ?? 0) * 86400 +
          Number(h ?? 0) * 3600 +
          Number(m ?? 0) * 60 +
          Number(sec ?? 0)) *
        1000;
    }
  }
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw new InvalidArgumentError("expected a duration like 24h, 7d, 30m or PT1H");
  }
  return ms;
}
