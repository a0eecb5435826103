/** The opt-out tag (docs/policies.md#opt-out-tag): `driftguard:exclude` = `true` on a resource (tag names are case-insensitive in ARM). */
export const EXCLUDE_TAG = "driftguard:exclude";

export function isOptedOut(tags: Readonly<Record<string, string>> | undefined): boolean {
  if (!tags) return false;
  const entry = Object.entries(tags).find(([k]) => k.toLowerCase() === EXCLUDE_TAG);
  return (
    String(entry?.[1] ?? "")
      .trim()
      .toLowerCase() === "true"
  );
}
