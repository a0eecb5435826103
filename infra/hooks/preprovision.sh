#!/bin/sh
# azd preprovision: which generated keys already exist in the app's Key Vault (see preprovision.mjs).
set -eu
exec node "$(dirname "$0")/preprovision.mjs"
