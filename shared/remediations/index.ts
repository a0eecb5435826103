/**
 * The kinds driftguard ships. Adding a kind = one entry in `BUILTIN_KINDS`; the runtime, the CLI
 * and the tests build their registry here and pass it on.
 */
import * as closeInternetInboundRule from "./close-internet-inbound-rule/kind.js";
import * as disableLocalAuth from "./disable-local-auth/kind.js";
import * as disablePublicNetworkAccess from "./disable-public-network-access/kind.js";
import * as enableDiagnosticLogs from "./enable-diagnostic-logs/kind.js";
import * as protectModelStorage from "./protect-model-storage/kind.js";
import { createRegistry, type RemediationRegistry } from "./registry.js";
import * as requireApiSubscription from "./require-api-subscription/kind.js";
import * as requireSecureTransport from "./require-secure-transport/kind.js";
import * as rotateSecret from "./rotate-secret/kind.js";
import * as scaleGpuPool from "./scale-gpu-pool/kind.js";
import * as throttleApiSubscription from "./throttle-api-subscription/kind.js";
import type { AnyRemediation } from "./types.js";

export const BUILTIN_KINDS: readonly AnyRemediation[] = [
  disablePublicNetworkAccess.remediation,
  closeInternetInboundRule.remediation,
  rotateSecret.remediation,
  scaleGpuPool.remediation,
  throttleApiSubscription.remediation,
  disableLocalAuth.remediation,
  requireSecureTransport.remediation,
  enableDiagnosticLogs.remediation,
  protectModelStorage.remediation,
  requireApiSubscription.remediation,
];

/** A registry of every shipped kind. */
export function builtinRegistry(): RemediationRegistry {
  return createRegistry(BUILTIN_KINDS);
}

export { createRegistry, type RemediationRegistry } from "./registry.js";
