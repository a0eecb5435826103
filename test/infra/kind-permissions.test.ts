/**
 * Each kind declares the Azure operations it performs (`Remediation.permissions`; `driftguard
 * doctor` checks them against the identity's effective permissions). The roles in infra/ grant
 * exactly those: nothing a kind needs is missing, nothing is granted that no kind declares.
 */
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { builtinRegistry } from "../../shared/remediations/index.js";
import { blockAfter, stringItems } from "./bicep-reader.js";

const main = readFileSync("infra/main.bicep", "utf8");
const roles = {
  remediator: stringItems(blockAfter(main, /^var remediatorActions\s*=/m)),
  keyRotation: stringItems(blockAfter(main, /^var keyRotationActions\s*=/m)),
  secretRotation: stringItems(blockAfter(main, /^var secretRotationDataActions\s*=/m)),
  vaultWrite: stringItems(blockAfter(main, /^var vaultWriteActions\s*=/m)),
  identityAssign: stringItems(blockAfter(main, /^var identityAssignActions\s*=/m)),
};
const kinds = builtinRegistry().all;
const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

it("the remediator role grants exactly the kinds' ARM operations", () => {
  expect(sorted(roles.remediator)).toEqual(sorted(kinds.flatMap((k) => k.permissions.actions)));
});

it("the roles assigned per resource group grant exactly the kinds' operations needed only for some targets", () => {
  // Key rotation (provider accounts), vault network (Key Vaults), identity assign (endpoints'
  // user-assigned identities): each granted only where its targets live.
  expect(sorted([...roles.keyRotation, ...roles.vaultWrite, ...roles.identityAssign])).toEqual(
    sorted(kinds.flatMap((k) => k.permissions.conditionalActions ?? [])),
  );
  // None of them is also in the subscription-wide role.
  for (const a of [...roles.keyRotation, ...roles.vaultWrite, ...roles.identityAssign])
    expect(roles.remediator, a).not.toContain(a);
});

it("the secret rotation role grants exactly the kinds' data-plane operations", () => {
  expect(sorted(roles.secretRotation)).toEqual(sorted(kinds.flatMap((k) => k.permissions.dataActions ?? [])));
});
