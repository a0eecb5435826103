# azd postprovision (Windows): see postprovision.sh.
$ErrorActionPreference = 'Stop'
if ($env:DRIFTGUARD_WRITE_SECRETS -ne 'false') {
  azd env set DRIFTGUARD_WRITE_SECRETS false
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
  Write-Host 'driftguard: generated keys are in Key Vault; DRIFTGUARD_WRITE_SECRETS=false from now on.'
}
