#!/bin/sh
# azd postprovision: the first provision wrote the generated DRIFTGUARD_PSEUDONYM_KEY and
# APPROVER_SIGNING_KEY into Key Vault; later provisions must not replace them (a new pseudonym key
# splits every pseudonymous ID in the audit trail, a new signing key voids open approval links).
# To rotate both on purpose: `azd env set DRIFTGUARD_WRITE_SECRETS true && azd provision`.
set -eu
if [ "${DRIFTGUARD_WRITE_SECRETS:-true}" != "false" ]; then
  azd env set DRIFTGUARD_WRITE_SECRETS false
  echo "driftguard: generated keys are in Key Vault; DRIFTGUARD_WRITE_SECRETS=false from now on."
fi
