import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseSignalFile } from "../../shared/signals/replay.js";
import { expectNoPersonalData } from "./helpers.js";

const DIR = new URL("../../dev/sample-events/", import.meta.url);

describe("the bundled sample scenario (dev/sample-events) parses", () => {
  it("every sample file yields Signals with targets and no personal data", () => {
    expect(existsSync(DIR)).toBe(true);
    const files = readdirSync(DIR).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const signals = parseSignalFile(JSON.parse(readFileSync(new URL(f, DIR), "utf8")), f);
      expect(signals.length, f).toBeGreaterThan(0);
      for (const s of signals) {
        expect(s.targets.length, f).toBeGreaterThan(0);
        expect(s.dedupeKey, f).not.toBe("");
      }
      expectNoPersonalData(signals);
    }
  });
});
