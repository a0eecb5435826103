/** Loads every remediation kind (each file registers itself). Adding a kind = one import here. */
import "./disable-public-network-access.js";
import "./close-internet-inbound-rule.js";
import "./rotate-secret.js";
import "./scale-gpu-pool.js";
import "./throttle-api-subscription.js";

export { getRemediation, knownKinds, listRemediations } from "./registry.js";
