/** Types of scripts/build.mjs for TypeScript callers (the bench). */
import type { Metafile } from "esbuild";

export declare const PROVIDED_BY_HOST: string[];
export declare function buildPackage(options?: { outdir?: string }): Promise<Metafile>;
