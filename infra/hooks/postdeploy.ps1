# azd postdeploy (Windows): phase 2, once (see postdeploy.mjs).
$ErrorActionPreference = 'Stop'
node (Join-Path $PSScriptRoot 'postdeploy.mjs')
exit $LASTEXITCODE
