/** One-time approval links: HS256 JWTs (jose) bound to one approval ID, short-lived. */
import { jwtVerify, SignJWT } from "jose";

const AUDIENCE = "driftguard-approval";
const ISSUER = "driftguard";

function keyOf(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

export async function signApprovalToken(
  approvalId: string,
  secret: string,
  expiresAt: Date,
): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(approvalId)
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(keyOf(secret));
}

/** Returns true when `token` is a valid, unexpired link for exactly this approval. */
export async function verifyApprovalToken(
  token: string,
  approvalId: string,
  secret: string,
  now: Date,
): Promise<boolean> {
  try {
    const { payload } = await jwtVerify(token, keyOf(secret), {
      issuer: ISSUER,
      audience: AUDIENCE,
      subject: approvalId,
      algorithms: ["HS256"],
      currentDate: now,
    });
    return payload.sub === approvalId;
  } catch {
    return false;
  }
}

export function approvalLink(baseUrl: string, approvalId: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/api/approvals/${encodeURIComponent(approvalId)}?token=${encodeURIComponent(token)}`;
}
