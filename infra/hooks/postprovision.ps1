# azd postprovision (Windows): see postprovision.sh.
$ErrorActionPreference = 'Stop'
if ($env:DRIFTGUARD_ROTATE_SECRETS -eq 'true') {
  azd env set DRIFTGUARD_ROTATE_SECRETS false
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
  Write-Host 'driftguard: generated keys rotated; DRIFTGUARD_ROTATE_SECRETS=false again.'
}
