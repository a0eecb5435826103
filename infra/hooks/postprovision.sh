#!/bin/sh
# azd postprovision: a deliberate rotation of the generated keys (DRIFTGUARD_ROTATE_SECRETS=true) is
# done once it provisioned; turn it off so that the next provision does not rotate them again.
set -eu
if [ "${DRIFTGUARD_ROTATE_SECRETS:-false}" = "true" ]; then
  azd env set DRIFTGUARD_ROTATE_SECRETS false
  echo "driftguard: generated keys rotated; DRIFTGUARD_ROTATE_SECRETS=false again."
fi
