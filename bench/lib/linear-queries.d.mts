/** Types of bench/lib/linear-queries.mjs for TypeScript callers (its test). */

/** A query compiled by the stand-in's query package (`@zeit/cosmosdb-query`). */
export interface StandInQuery {
  readonly code: string;
  exec(documents: unknown[], options?: Record<string, unknown>): unknown;
}

export declare function linearQueryCode(code: string): string;
export declare function linearStripUndefined(value: unknown): unknown;
export declare function standInQueryPackage(): {
  query: (sql: string) => StandInQuery;
  helpers: { stripUndefined: (value: unknown) => unknown };
  executor: (documents: unknown[], options: Record<string, unknown>) => unknown;
};
export declare function installLinearQueries(): void;
