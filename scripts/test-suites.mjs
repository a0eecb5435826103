// Which tests are fast unit tests and which need more: `npm run test:unit` runs the unit tests (no
// local stack, no Cosmos DB stand-in, no child process, no browser — in-process fakes and the
// in-process simulators only), `npm run test:integration` the rest, `npm test` both. A test file is
// an integration test when its source starts any of those; the split follows the files themselves,
// so a new test lands on the right side without a list to keep (test/structure.test.ts checks it).
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

/** What only an integration test starts: the local stack (in one process or several), the Cosmos
 *  DB stand-in, a child process, a browser. */
export const INTEGRATION_MARKERS =
  /\b(?:startTestStack|startTestProcessStack|startLocalStack|startProcessStack|startApprovalsStack|startEmbeddedCosmos|spawn|spawnSync|execFile|execFileSync|playwright|chromium)\b/;

function testFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return testFiles(file);
    return name.endsWith(".test.ts") ? [file] : [];
  });
}

/** The test files under `root`/test, relative to `root`, split into unit and integration. */
export function testSuites(root = process.cwd()) {
  const files = testFiles(path.join(root, "test")).map((f) =>
    path.relative(root, f).split(path.sep).join("/"),
  );
  const integration = files.filter((f) => INTEGRATION_MARKERS.test(readFileSync(path.join(root, f), "utf8")));
  return { unit: files.filter((f) => !integration.includes(f)), integration };
}
