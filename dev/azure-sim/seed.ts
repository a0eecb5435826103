/** Seed file schema (zod) for the Azure simulator. */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { ArmResource } from "./common.js";
import { isArmResourceId, nameOfId, typeOfId } from "./store.js";

export interface SeedSecret {
  vault: string;
  name: string;
  value: string;
  tags?: Record<string, string>;
  expiresOn?: string;
  contentType?: string;
  createdOn?: string;
}

export interface Seed {
  resources?: ArmResource[];
  secrets?: SeedSecret[];
  storageKeys?: Record<string, { keyName: string; value: string }[]>;
}

const armId = z.string().refine(isArmResourceId, {
  message:
    "not a well-formed ARM resource ID (/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}…])",
});

const resourceSchema = z
  .looseObject({
    id: armId,
    name: z.string().min(1).optional(),
    type: z.string().min(1).optional(),
    location: z.string().optional(),
    tags: z.record(z.string(), z.string()).optional(),
    properties: z.record(z.string(), z.unknown()).optional(),
    kind: z.string().optional(),
  })
  .superRefine((r, ctx) => {
    if (!isArmResourceId(r.id)) return;
    if (r.name !== undefined && r.name.toLowerCase() !== nameOfId(r.id).toLowerCase()) {
      ctx.addIssue({ code: "custom", path: ["name"], message: `does not match the ID (${nameOfId(r.id)})` });
    }
    if (r.type !== undefined && r.type.toLowerCase() !== typeOfId(r.id).toLowerCase()) {
      ctx.addIssue({ code: "custom", path: ["type"], message: `does not match the ID (${typeOfId(r.id)})` });
    }
  });

const vaultName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/, "not a valid Key Vault name");

const secretSchema = z.object({
  vault: vaultName,
  name: z.string().regex(/^[0-9a-zA-Z-]{1,127}$/, "not a valid secret name"),
  value: z.string(),
  tags: z.record(z.string(), z.string()).optional(),
  /** ISO 8601 timestamp, or an ISO 8601 duration (e.g. `P20D`) counted from when the seed is loaded */
  expiresOn: z
    .string()
    .refine((v) => durationMs(v) !== undefined || z.iso.datetime({ offset: true }).safeParse(v).success, {
      message: "not an ISO 8601 timestamp (with offset) or duration such as P20D",
    })
    .optional(),
  contentType: z.string().optional(),
  /** When the seeded version was created (ISO 8601); default 30 days before the simulator starts. */
  createdOn: z.iso.datetime({ offset: true }).optional(),
});

export const seedSchema = z.strictObject({
  $schema: z.string().optional(),
  description: z.string().optional(),
  resources: z.array(resourceSchema).optional(),
  secrets: z.array(secretSchema).optional(),
  storageKeys: z
    .record(armId, z.array(z.object({ keyName: z.string().min(1), value: z.string().min(1) })))
    .optional(),
});

/** Milliseconds of an ISO 8601 duration with weeks/days/hours/minutes/seconds (`P20D`, `PT36H`), else undefined. */
export function durationMs(v: string): number | undefined {
  const m = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(v);
  if (!m || v === "P" || v.endsWith("T")) return undefined;
  const [, w, d, h, min, s] = m;
  return (
    ((Number(w ?? 0) * 7 + Number(d ?? 0)) * 24 * 3600 +
      Number(h ?? 0) * 3600 +
      Number(min ?? 0) * 60 +
      Number(s ?? 0)) *
    1000
  );
}

export class SeedError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = "SeedError";
  }
}

function formatPath(path: PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || "(root)";
}

/** Validates a parsed seed; throws SeedError naming the first bad field (all issues in the message). */
export function validateSeed(data: unknown, source = "seed"): Seed {
  const r = seedSchema.safeParse(data);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    const first = r.error.issues[0];
    throw new SeedError(`invalid ${source}: ${issues.join("; ")}`, formatPath(first?.path ?? []));
  }
  const seed = r.data;
  return {
    resources: seed.resources?.map((res) => ({
      ...res,
      name: res.name ?? nameOfId(res.id),
      type: res.type ?? typeOfId(res.id),
    })) as ArmResource[] | undefined,
    secrets: seed.secrets?.map((sec) => {
      const d = sec.expiresOn === undefined ? undefined : durationMs(sec.expiresOn);
      return d === undefined ? sec : { ...sec, expiresOn: new Date(Date.now() + d).toISOString() };
    }),
    storageKeys: seed.storageKeys,
  };
}

export async function loadSeedFile(file: string): Promise<Seed> {
  const text = await readFile(file, "utf8");
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new SeedError(`invalid seed file ${file}: not JSON (${(e as Error).message})`, "(root)");
  }
  return validateSeed(data, `seed file ${file}`);
}
