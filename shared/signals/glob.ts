/**
 * Case-insensitive, anchored glob matching with `*` (any run, including empty) and `?` (exactly
 * one character). Used by policy matching on event types, alert rule and budget names. No regex:
 * the value comes from untrusted payloads, so matching is linear-ish (classic two-pointer
 * backtracking to the last `*`), never exponential.
 */
export function matchesGlob(pattern: string, value: string): boolean {
  const p = [...pattern.toLowerCase()];
  const v = [...value.toLowerCase()];
  let pi = 0;
  let vi = 0;
  let starP = -1;
  let starV = 0;
  while (vi < v.length) {
    const pc = p[pi];
    if (pc === "*") {
      starP = pi++;
      starV = vi;
    } else if (pc !== undefined && (pc === "?" || pc === v[vi])) {
      pi++;
      vi++;
    } else if (starP >= 0) {
      pi = starP + 1;
      vi = ++starV;
    } else {
      return false;
    }
  }
  while (p[pi] === "*") pi++;
  return pi === p.length;
}
