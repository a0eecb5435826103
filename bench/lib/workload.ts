/**
 * The bench's workload: seeded resources that drift (storage accounts open to the Internet) and
 * real-shaped Azure Resource Manager events about them, as Event Grid delivers them (one event per
 * delivery, as the Functions Event Grid trigger receives them).
 */
import type { Seed } from "../../dev/azure-sim/index.js";

export const BENCH_SUB = "00000000-0000-0000-0000-0000000000bb";

export const BENCH_POLICY_YAML = `# The bench's policy: the shipped one for storage accounts, with a blast-radius limit a load test
# does not hit (the default 50 per hour would turn most of the burst into approval requests).
version: 1
policies:
  - name: storage-private
    resourceTypes: [Microsoft.Storage/storageAccounts]
    triggers: [{ eventGrid: Microsoft.Resources.ResourceWriteSuccess }]
    kind: disable-public-network-access
    mode: enforce
    maxActionsPerHour: 100000
`;

/** `count` storage accounts in resource group `group`, named `<prefix><n>`. */
export function storageAccounts(group: string, prefix: string, count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) =>
      `/subscriptions/${BENCH_SUB}/resourceGroups/${group}/providers/Microsoft.Storage/storageAccounts/${prefix}${String(i).padStart(5, "0")}`,
  );
}

export function driftedStorageAccount(id: string) {
  return {
    id,
    name: id.split("/").pop()!,
    type: "Microsoft.Storage/storageAccounts",
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS", tier: "Standard" },
    tags: { env: "bench" },
    properties: { publicNetworkAccess: "Enabled", allowBlobPublicAccess: true, minimumTlsVersion: "TLS1_2" },
  };
}

export function seedOf(ids: readonly string[]): Seed {
  return { resources: ids.map(driftedStorageAccount) };
}

/** A ResourceWriteSuccess event as Event Grid delivers it (claims, authorization, httpRequest …). */
export function armWriteEvent(resourceId: string, id: string = crypto.randomUUID()): Record<string, unknown> {
  const provider = resourceId.split("/providers/")[1]!.split("/")[0]!;
  return {
    id,
    topic: `/subscriptions/${BENCH_SUB}`,
    subject: resourceId,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: new Date().toISOString(),
    dataVersion: "2",
    metadataVersion: "1",
    data: {
      authorization: {
        scope: resourceId,
        action: `${provider}/storageAccounts/write`,
        evidence: {
          role: "Contributor",
          roleAssignmentScope: `/subscriptions/${BENCH_SUB}`,
          roleAssignmentId: "0e6b2ad4e3c84c07a2e5b1e4d4b2c3a1",
          roleDefinitionId: "b24988ac618042a0ab8820f7382dd24c",
          principalId: "6d1f6c2e2a5b4f8e9c3d7e8f9a0b1c2d",
          principalType: "User",
        },
      },
      claims: {
        aud: "https://management.core.windows.net/",
        iss: "https://sts.windows.net/11111111-2222-3333-4444-555555555555/",
        iat: "1718000000",
        nbf: "1718000000",
        exp: "1718003600",
        "http://schemas.microsoft.com/claims/authnclassreference": "1",
        aio: "AVQAq/8WAAAA",
        "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa",
        appid: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        appidacr: "0",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": "Mulder",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": "Fox",
        ipaddr: "198.51.100.77",
        name: "Fox Mulder",
        "http://schemas.microsoft.com/identity/claims/objectidentifier":
          "6d1f6c2e-2a5b-4f8e-9c3d-7e8f9a0b1c2d",
        puid: "10032001A2B3C4D5",
        "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": "x9Yt3Kq",
        "http://schemas.microsoft.com/identity/claims/tenantid": "11111111-2222-3333-4444-555555555555",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": "fox.mulder@contoso.example",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "fox.mulder@contoso.example",
        uti: "b3JhbmdlLXV0aQ",
        ver: "1.0",
      },
      correlationId: crypto.randomUUID(),
      resourceProvider: provider,
      resourceUri: resourceId,
      operationName: `${provider}/storageAccounts/write`,
      status: "Succeeded",
      subscriptionId: BENCH_SUB,
      tenantId: "11111111-2222-3333-4444-555555555555",
      httpRequest: {
        clientRequestId: crypto.randomUUID(),
        clientIpAddress: "198.51.100.77",
        method: "PUT",
        url: `https://management.azure.com${resourceId}?api-version=2023-05-01`,
      },
    },
  };
}

/** Fisher–Yates with a seeded generator (the same burst every run). */
export function shuffled<T>(items: readonly T[], seed = 42): T[] {
  const out = [...items];
  let s = seed >>> 0;
  const rand = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * A burst of `total` events about `ids.length` resources: one event per resource, plus redeliveries
 * of the same events (Event Grid's at-least-once duplicates) up to `total`, shuffled.
 */
export function burstWithDuplicates(ids: readonly string[], total: number, seed = 7) {
  const originals = ids.map((id) => ({ resourceId: id, event: armWriteEvent(id) }));
  const duplicates = shuffled(originals, seed).slice(0, total - originals.length);
  const extra = Array.from(
    { length: Math.max(0, total - originals.length - duplicates.length) },
    (_, i) => originals[i % originals.length]!,
  );
  return shuffled([...originals, ...duplicates, ...extra], seed + 1);
}
