#!/bin/sh
# azd prepackage (service `api`: runs on azd package, deploy and up): the repository root is the
# deployment package. Without a .funcignore, azd leaves out only node_modules, so the local stack's
# private files (.driftguard/: TLS key, stack.json), .azure/ (azd's environment files) and .git would be
# uploaded. Refuse to package until .funcignore keeps them out. The root is found from this script's
# location, whatever the working directory.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
missing=""
for entry in .git .azure .driftguard node_modules; do
  if [ ! -f "$root/.funcignore" ] || ! grep -Eq "^/?${entry}/?\$" "$root/.funcignore"; then
    missing="$missing $entry"
  fi
done
if [ -n "$missing" ]; then
  echo "driftguard: $root/.funcignore must exclude:$missing (see infra/README.md, \"Deployment package\")" >&2
  exit 1
fi
