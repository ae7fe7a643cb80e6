#!/usr/bin/env bash
# lintian on the package built by the packaging.build fixture: no errors (warnings are printed).
#   lintian.sh WORK_DIR
set -euo pipefail
deb=$(cat "$1/deb-path")
command -v lintian >/dev/null || { echo "FAIL: lintian not found (scripts/setup installs it)"; exit 1; }
if lintian --fail-on error --display-info "$deb"; then
  echo "PASS: lintian reports no errors"
else
  echo "FAIL: lintian reports errors"; exit 1
fi
