#!/usr/bin/env bash
# ctest fixture: builds the Debian package once with scripts/package into WORK_DIR/build and
# writes its path to WORK_DIR/deb-path, for the other packaging tests.
#   build_package.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1
work=$2
mkdir -p "$work"
rm -f "$work/deb-path"
deb=$(BUILD_DIR="$work/build" "$src/scripts/package" | tail -n 1)
[ -f "$deb" ] || { echo "FAIL: scripts/package printed '$deb', which is not a file"; exit 1; }
echo "$deb" > "$work/deb-path"
echo "PASS: built $deb"
