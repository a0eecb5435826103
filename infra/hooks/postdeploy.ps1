# azd postdeploy (Windows): see postdeploy.sh.
$ErrorActionPreference = 'Stop'
if ($env:DRIFTGUARD_CONNECT_SIGNALS -eq 'true') { exit 0 }
azd env set DRIFTGUARD_CONNECT_SIGNALS true
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host 'driftguard: code deployed; provisioning the Event Grid subscriptions and the action group'
for ($attempt = 1; $attempt -le 3; $attempt++) {
  azd provision --no-prompt
  if ($LASTEXITCODE -eq 0) { exit 0 }
  if ($attempt -lt 3) {
    Write-Host "driftguard: retrying in 30 s (attempt $($attempt + 1) of 3)"
    Start-Sleep -Seconds 30
  }
}
azd env set DRIFTGUARD_CONNECT_SIGNALS false
Write-Error 'driftguard: connecting the signals failed; fix the cause, then run: azd env set DRIFTGUARD_CONNECT_SIGNALS true; azd provision'
exit 1
