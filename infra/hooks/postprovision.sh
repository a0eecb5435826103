#!/bin/sh
# azd postprovision: a deliberate rotation of the generated keys (DRIFTGUARD_ROTATE_SECRETS=true) is
# done once it provisioned; turn it off so that the next provision does not rotate them again.
set -eu
if [ "${DRIFTGUARD_ROTATE_SECRETS:-false}" = "true" ]; then
  azd env set DRIFTGUARD_ROTATE_SECRETS false
  echo "driftguard: generated keys rotated; DRIFTGUARD_ROTATE_SECRETS=false again."
fi
# The anchor container's retention policy was created unlocked (a policy cannot be created locked);
# now that the account exists, every later provision — azd up's second one first — locks it.
if [ -n "${DRIFTGUARD_ANCHOR_CONTAINER_URL:-}" ] && [ "${DRIFTGUARD_ANCHOR_LOCKED:-false}" != "true" ]; then
  azd env set DRIFTGUARD_ANCHOR_LOCKED true
  echo "driftguard: the anchor retention policy is locked on the next provision (DRIFTGUARD_ANCHOR_LOCKED=true; irreversible)."
fi
