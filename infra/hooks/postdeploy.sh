#!/bin/sh
# azd postdeploy: phase 2, once (see postdeploy.mjs).
set -eu
exec node "$(dirname "$0")/postdeploy.mjs"
