# azd postdown (Windows): see postdown.sh.
$ErrorActionPreference = 'Stop'
azd env set DRIFTGUARD_CONNECT_SIGNALS false
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host 'driftguard: DRIFTGUARD_CONNECT_SIGNALS=false; the next azd up deploys in two phases again.'
