/** driftguard's own version, written into every anchor (test/anchors/anchor.test.ts keeps it equal to package.json's). */
export const DRIFTGUARD_VERSION = "0.1.0";
