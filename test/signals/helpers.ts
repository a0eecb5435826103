import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { InputError } from "../../shared/errors.js";

const DIR = new URL("../fixtures/events/", import.meta.url);

/** A fresh copy of a fixture (tests mutate them freely). */
// biome-ignore lint/suspicious/noExplicitAny: fixtures are mutated structurally in tests
export function fixture(name: string): any {
  return JSON.parse(readFileSync(new URL(name, DIR), "utf8"));
}

/** Asserts that `fn` throws an InputError with this code and path (and status, default 400). */
export function expectInputError(
  fn: () => unknown,
  want: { code: string; path: string; status?: number; message?: RegExp },
): InputError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected an InputError to be thrown").toBeInstanceOf(InputError);
  const e = caught as InputError;
  expect({ code: e.code, path: e.path, status: e.status }).toEqual({
    code: want.code,
    path: want.path,
    status: want.status ?? 400,
  });
  if (want.message) expect(e.message).toMatch(want.message);
  return e;
}

/** Personal claim values used in the fixtures: none may appear in a Signal. */
export const PERSONAL_VALUES = [
  "Ada Lovelace",
  "ada@contoso.com",
  "203.0.113.7",
  "Lovelace",
  "vK3mQ9xP1rT7yU2wE5zA8bC4dF6gH0jL",
];

export function expectNoPersonalData(value: unknown): void {
  const text = JSON.stringify(value);
  for (const v of PERSONAL_VALUES) expect(text).not.toContain(v);
  expect(text).not.toMatch(/"(name|upn|ipaddr|claims|clientIpAddress|BudgetCreator)"/);
}

export const SUB = "8f0a2c4e-1b7d-4a3e-9c55-2d6e7f8a9b10";
export const RG = `/subscriptions/${SUB}/resourceGroups/ml-prod`;
