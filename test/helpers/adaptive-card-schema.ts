/**
 * Offline Adaptive Card validation with `adaptivecards` (Microsoft's reference object model, whose
 * element, action and property definitions carry the schema version that introduced them). A card
 * passes when, parsed for the version it declares:
 * - parsing reports nothing (unknown element or action types, values the version does not have,
 *   properties newer than the version);
 * - property validation reports nothing (required properties, ID clashes);
 * - serialising it back for that version gives the very same JSON — so no property was unknown or
 *   ignored, which is what a schema with closed objects would catch.
 */
import { createRequire } from "node:module";

interface AcEvent {
  event: number;
  message: string;
}
interface AcVersion {
  readonly isValid: boolean;
  toString(): string;
}
interface AcModule {
  AdaptiveCard: new () => {
    parse(json: unknown, ctx: unknown): void;
    toJSON(ctx: unknown): unknown;
    validateProperties(): { validationEvents: AcEvent[] };
  };
  SerializationContext: new (
    version?: AcVersion,
  ) => {
    readonly eventCount: number;
    getEventAt(i: number): AcEvent;
  };
  Version: { parse(text: string, ctx: unknown): AcVersion | undefined };
  ValidationEvent: Record<number, string>;
}

// The package's ESM build has extension-less imports Node cannot load; its UMD bundle is complete.
const AC = createRequire(import.meta.url)("adaptivecards/dist/adaptivecards.js") as AcModule;

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        // The serialiser leaves out empty lists (`actions: []`), which the schema allows either way.
        .filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

/** Paths where `a` and `b` differ (both canonical JSON). */
function differences(a: unknown, b: unknown, path = "$"): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (a && b && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`),
    );
  }
  return [`${path}: ${JSON.stringify(a) ?? "(absent)"} is read back as ${JSON.stringify(b) ?? "(absent)"}`];
}

/** Problems of `card` against the Adaptive Card schema of the version it declares; [] = valid. */
export function adaptiveCardProblems(card: Record<string, unknown>): string[] {
  if (card.type !== "AdaptiveCard") return ["type is not 'AdaptiveCard'"];
  if (typeof card.version !== "string") return ["version is missing"];
  const version = AC.Version.parse(card.version, new AC.SerializationContext());
  if (!version?.isValid) return [`version '${card.version}' is not a version`];
  const problems: string[] = [];
  const parsed = new AC.AdaptiveCard();
  const parseContext = new AC.SerializationContext(version);
  parsed.parse(card, parseContext);
  for (let i = 0; i < parseContext.eventCount; i++) {
    const e = parseContext.getEventAt(i);
    problems.push(`${AC.ValidationEvent[e.event]}: ${e.message}`);
  }
  for (const e of parsed.validateProperties().validationEvents) {
    problems.push(`${AC.ValidationEvent[e.event]}: ${e.message}`);
  }
  const readBack = parsed.toJSON(new AC.SerializationContext(version));
  problems.push(...differences(canonical(card), canonical(readBack)));
  return problems;
}
