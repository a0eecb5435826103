#!/bin/sh
# azd postdeploy: phase 2. Event Grid refuses an AzureFunction destination that does not exist yet, and
# the action group needs the host's function key, which exists once the code has started. After the
# first deploy, provision once more with DRIFTGUARD_CONNECT_SIGNALS=true; later deploys skip this.
# The function list can lag the deployment by a little, so the provision is tried up to three times.
set -eu
if [ "${DRIFTGUARD_CONNECT_SIGNALS:-false}" = "true" ]; then
  exit 0
fi
azd env set DRIFTGUARD_CONNECT_SIGNALS true
echo "driftguard: code deployed; provisioning the Event Grid subscriptions and the action group"
attempt=1
until azd provision --no-prompt; do
  if [ "$attempt" -ge 3 ]; then
    azd env set DRIFTGUARD_CONNECT_SIGNALS false
    echo "driftguard: connecting the signals failed; fix the cause, then run: azd env set DRIFTGUARD_CONNECT_SIGNALS true && azd provision" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  echo "driftguard: retrying in 30 s (attempt $attempt of 3)"
  sleep 30
done
