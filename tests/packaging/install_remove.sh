#!/usr/bin/env bash
# Installs, upgrades in place, removes and purges the chipwatch package ON THIS MACHINE with dpkg.
# Needs root and CHIPWATCH_TEST_DPKG=1 (exit 77, skipped, otherwise); meant for disposable CI
# machines. Refuses to run if chipwatch is already installed. Cleans up after itself, including
# the chipwatch user and group if this test created them.
#   install_remove.sh WORK_DIR      (WORK_DIR/deb-path from the packaging.build fixture)
#   install_remove.sh --deb FILE
set -euo pipefail

if [ "${CHIPWATCH_TEST_DPKG:-}" != 1 ]; then echo "SKIP: set CHIPWATCH_TEST_DPKG=1 to run"; exit 77; fi
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root"; exit 77; fi
if [ "$1" = --deb ]; then deb=$2; else deb=$(cat "$1/deb-path"); fi
if dpkg-query -W -f='${Status}' chipwatch 2>/dev/null | grep -qv "not-installed"; then
  echo "FAIL: chipwatch is already installed (or its conffiles remain); not touching it"; exit 1
fi

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "PASS: $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

user_existed=no
getent passwd chipwatch >/dev/null && user_existed=yes
group_existed=no
getent group chipwatch >/dev/null && group_existed=yes
site=/etc/chipwatch/rules.d/site-test.yaml

cleanup() {
  dpkg -P chipwatch >/dev/null 2>&1 || true
  rm -f "$site"
  rmdir /etc/chipwatch/rules.d /etc/chipwatch 2>/dev/null || true
  if [ "$user_existed" = no ] && getent passwd chipwatch >/dev/null; then deluser --system --quiet chipwatch || true; fi
  if [ "$group_existed" = no ] && getent group chipwatch >/dev/null; then delgroup --system --quiet chipwatch || true; fi
}
trap cleanup EXIT

# --- install ---
dpkg -i "$deb" || { echo "FAIL: dpkg -i $deb"; exit 1; }
check "installed" sh -c "dpkg-query -W -f='\${Status}' chipwatch | grep -q 'install ok installed'"
check "user chipwatch (system, no login, home /var/lib/chipwatch)" \
  sh -c 'u=$(getent passwd chipwatch) && [ "$(echo "$u" | cut -d: -f3)" -lt 1000 ] &&
         [ "$(echo "$u" | cut -d: -f6)" = /var/lib/chipwatch ] && [ "$(echo "$u" | cut -d: -f7)" = /usr/sbin/nologin ]'
check "group chipwatch" getent group chipwatch
check "primary group chipwatch" sh -c '[ "$(id -gn chipwatch)" = chipwatch ]'
for f in /usr/bin/chipwatch /lib/systemd/system/chipwatch.service /etc/chipwatch/chipwatch.yaml \
         /etc/chipwatch/rules.d/README /usr/share/chipwatch/rules/export_control.yaml \
         /usr/share/doc/chipwatch/copyright /usr/share/man/man1/chipwatch.1.gz; do
  check "$f" test -f "$f"
done
check "/etc/chipwatch/chipwatch.yaml is root:chipwatch 640" \
  sh -c '[ "$(stat -c %U:%G:%a /etc/chipwatch/chipwatch.yaml)" = root:chipwatch:640 ]'
check "statoverride registered" dpkg-statoverride --list /etc/chipwatch/chipwatch.yaml
for d in /var/lib/chipwatch /var/log/chipwatch; do
  check "$d is chipwatch:chipwatch 750" sh -c "[ \"\$(stat -c %U:%G:%a $d)\" = chipwatch:chipwatch:750 ]"
done
check "chipwatch version (from PATH)" sh -c 'command -v chipwatch | grep -qx /usr/bin/chipwatch && chipwatch version'
# As the service's user: the configuration is readable, the rules load, /var/log/chipwatch is writable.
check "check --config as user chipwatch" runuser -u chipwatch -- /usr/bin/chipwatch check --config /etc/chipwatch/chipwatch.yaml
check "test --rules as user chipwatch" runuser -u chipwatch -- /usr/bin/chipwatch test --rules /usr/share/chipwatch/rules

# --- reinstall (the upgrade path): the operator's rules and configuration changes are kept ---
printf 'lists:\n  - name: watchlist_accounts\n    append: true\n    items: ["111122223333"]\n' > "$site"
sed -i 's/^  level: info$/  level: debug/' /etc/chipwatch/chipwatch.yaml
dpkg -i --force-confold "$deb" || fail "dpkg -i (reinstall)"
check "operator rule file kept on upgrade" test -f "$site"
check "configuration change kept on upgrade" grep -q '^  level: debug$' /etc/chipwatch/chipwatch.yaml
check "permissions kept on upgrade" sh -c '[ "$(stat -c %U:%G:%a /etc/chipwatch/chipwatch.yaml)" = root:chipwatch:640 ]'
check "check --config with the operator's rules" runuser -u chipwatch -- /usr/bin/chipwatch check --config /etc/chipwatch/chipwatch.yaml

# --- remove: the program goes, configuration, data and the user stay ---
dpkg -r chipwatch || fail "dpkg -r"
check "binary removed" test ! -e /usr/bin/chipwatch
check "unit removed" test ! -e /lib/systemd/system/chipwatch.service
check "default pack removed" test ! -e /usr/share/chipwatch
check "configuration kept" test -f /etc/chipwatch/chipwatch.yaml
check "state kept" test -d /var/lib/chipwatch
check "user kept" getent passwd chipwatch

# --- purge: configuration and the service's directories go, the operator's rules stay ---
dpkg -P chipwatch || fail "dpkg -P"
check "not installed" sh -c "! dpkg-query -W chipwatch >/dev/null 2>&1 || dpkg-query -W -f='\${Status}' chipwatch | grep -q not-installed"
check "configuration purged" test ! -e /etc/chipwatch/chipwatch.yaml
check "rules.d README purged" test ! -e /etc/chipwatch/rules.d/README
check "operator rule file kept" test -f "$site"
check "/var/lib/chipwatch purged" test ! -e /var/lib/chipwatch
check "/var/log/chipwatch purged" test ! -e /var/log/chipwatch
check "statoverride removed" sh -c '! dpkg-statoverride --list /etc/chipwatch/chipwatch.yaml >/dev/null'

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "PASS: install, upgrade, remove and purge"
