import { describe, expect, it } from "vitest";
import {
  LOCAL_PRINCIPAL_ID,
  LOCAL_TENANT_ID,
  localStackCredential,
  readTokenClaims,
} from "../shared/azure/local-credential.js";

describe("local stack credential", () => {
  it("issues an unsigned JWT per scope with the claims a managed identity's token carries", async () => {
    const now = new Date("2026-12-07T10:00:00Z");
    const cred = localStackCredential({ now: () => now });
    const storage = await cred.getToken("https://storage.azure.com/.default");
    const arm = await cred.getToken(["https://management.azure.com/.default"]);
    const s = readTokenClaims(storage!.token)!;
    const a = readTokenClaims(arm!.token)!;
    expect(s.aud).toBe("https://storage.azure.com");
    expect(a.aud).toBe("https://management.azure.com");
    for (const c of [s, a]) {
      expect(c.iss).toBe(`https://sts.windows.net/${LOCAL_TENANT_ID}/`);
      expect(c.oid).toBe(LOCAL_PRINCIPAL_ID);
      expect(c.nbf).toBeLessThan(c.iat as number);
      expect(c.exp).toBe((c.iat as number) + 3600);
    }
    expect(storage!.expiresOnTimestamp).toBe(((s.exp as number) * 1000) as number);
    // Unsigned: header alg none, empty signature part.
    const [header, , signature] = storage!.token.split(".");
    expect(JSON.parse(Buffer.from(header!, "base64url").toString())).toEqual({ alg: "none", typ: "JWT" });
    expect(signature).toBe("");
  });

  it("names another principal when asked (a person's write in tests)", async () => {
    const token = await localStackCredential({ objectId: "11111111-2222-3333-4444-555555555555" }).getToken(
      "https://management.azure.com/.default",
    );
    expect(readTokenClaims(token!.token)?.oid).toBe("11111111-2222-3333-4444-555555555555");
  });

  it("reads no claims from what is not a JWT", () => {
    expect(readTokenClaims("local-stack-token")).toBeUndefined();
    expect(readTokenClaims("a.%%%.b")).toBeUndefined();
    expect(readTokenClaims(`x.${Buffer.from("[1]").toString("base64url")}.`)).toBeUndefined();
  });
});
