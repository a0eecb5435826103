# azd prepackage (Windows): see prepackage.sh.
$ErrorActionPreference = 'Stop'
$lines = @()
if (Test-Path .funcignore) { $lines = Get-Content .funcignore | ForEach-Object { $_.Trim().Trim('/') } }
$missing = @('.git', '.azure', '.driftguard', 'node_modules') | Where-Object { $lines -notcontains $_ }
if ($missing.Count -gt 0) {
  Write-Error "driftguard: .funcignore must exclude: $($missing -join ', ') (see infra/README.md, 'Deployment package')"
  exit 1
}
