import { defineConfig } from "vitest/config";
// Unit tests and integration tests, split by what each file starts (scripts/test-suites.mjs):
// `vitest run --project unit`, `--project integration`, or both.
import { testSuites } from "./scripts/test-suites.mjs";

const suites = testSuites(import.meta.dirname);

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
    projects: [
      { extends: true, test: { name: "unit", include: suites.unit } },
      { extends: true, test: { name: "integration", include: suites.integration } },
    ],
  },
});
