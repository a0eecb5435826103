# azd preprovision (Windows): see preprovision.mjs.
$ErrorActionPreference = 'Stop'
node (Join-Path $PSScriptRoot 'preprovision.mjs')
exit $LASTEXITCODE
