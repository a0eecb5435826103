/**
 * Builds ARM events for the tests, the bench and the demo (the parser that reads them in production
 * is shared/signals/arm-event-parser.ts).
 *
 * A ResourceWriteSuccess event for `resourceId`, shaped as Event Grid delivers ARM events: the full
 * authorization block, the caller's token claims (names, UPN and IP address included — personal data
 * driftguard must never keep) and the HTTP request. Used by the tests, the bench and the demo.
 */
export function armWriteEvent(resourceId: string, id: string = crypto.randomUUID()): Record<string, unknown> {
  const sub = resourceId.split("/")[2]!;
  const typePath = resourceId.split("/providers/").at(-1)!.split("/");
  const provider = typePath[0]!;
  // Microsoft.Storage/storageAccounts/x → Microsoft.Storage/storageAccounts (children keep every type segment).
  const type = [provider, ...typePath.slice(1).filter((_, i) => i % 2 === 0)].join("/");
  return {
    id,
    topic: `/subscriptions/${sub}`,
    subject: resourceId,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: new Date().toISOString(),
    dataVersion: "2",
    metadataVersion: "1",
    data: {
      authorization: {
        scope: resourceId,
        action: `${type}/write`,
        evidence: {
          role: "Contributor",
          roleAssignmentScope: `/subscriptions/${sub}`,
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
      operationName: `${type}/write`,
      status: "Succeeded",
      subscriptionId: sub,
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
