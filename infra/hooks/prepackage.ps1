# azd prepackage (Windows): see prepackage.sh. The root is found from this script's location.
$ErrorActionPreference = 'Stop'
$root = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$file = Join-Path $root '.funcignore'
$lines = @()
if (Test-Path $file) { $lines = Get-Content $file | ForEach-Object { $_.Trim().Trim('/') } }
$missing = @('.git', '.azure', '.driftguard', 'node_modules') | Where-Object { $lines -notcontains $_ }
if ($missing.Count -gt 0) {
  Write-Error "driftguard: $file must exclude: $($missing -join ', ') (see infra/README.md, 'Deployment package')"
  exit 1
}
