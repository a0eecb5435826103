#!/bin/sh
# azd prepackage: the repository root is the deployment package. Without a .funcignore, azd leaves out
# only node_modules, so the local stack's private files (.driftguard/: TLS key, stack.json) and .git
# would be uploaded. Refuse to package until .funcignore keeps them out.
set -eu
missing=""
for entry in .git .azure .driftguard node_modules; do
  if [ ! -f .funcignore ] || ! grep -Eq "^/?${entry}/?\$" .funcignore; then
    missing="$missing $entry"
  fi
done
if [ -n "$missing" ]; then
  echo "driftguard: .funcignore must exclude:$missing (see infra/README.md, \"Deployment package\")" >&2
  exit 1
fi
