# azd postprovision (Windows): see postprovision.sh.
$ErrorActionPreference = 'Stop'
if ($env:DRIFTGUARD_ROTATE_SECRETS -eq 'true') {
  azd env set DRIFTGUARD_ROTATE_SECRETS false
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
  Write-Host 'driftguard: generated keys rotated; DRIFTGUARD_ROTATE_SECRETS=false again.'
}
# The anchor retention policy was created unlocked; the next provision locks it (see postprovision.sh).
if ($env:DRIFTGUARD_ANCHOR_CONTAINER_URL -and $env:DRIFTGUARD_ANCHOR_LOCKED -ne 'true') {
  azd env set DRIFTGUARD_ANCHOR_LOCKED true
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
  Write-Host 'driftguard: the anchor retention policy is locked on the next provision (DRIFTGUARD_ANCHOR_LOCKED=true; irreversible).'
}
