#!/bin/sh
# azd postdown: the resources are gone, so the next `azd up` must start from phase 1 again: Event Grid
# and the action group can only be connected once the new code runs (postdeploy does it then).
set -eu
azd env set DRIFTGUARD_CONNECT_SIGNALS false
echo "driftguard: DRIFTGUARD_CONNECT_SIGNALS=false; the next azd up deploys in two phases again."
