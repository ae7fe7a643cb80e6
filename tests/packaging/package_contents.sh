#!/usr/bin/env bash
# Checks the Debian package built by the packaging.build fixture: metadata, file list, conffiles,
# and that the packaged binary accepts the packaged rules and configuration.
#   package_contents.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1
work=$2
deb=$(cat "$work/deb-path")
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "PASS: $*"; }

root=$(mktemp -d)
ctl=$(mktemp -d)
trap 'rm -rf "$root" "$ctl"' EXIT
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$ctl"

# Metadata.
[ "$(dpkg-deb -f "$deb" Package)" = chipwatch ] && pass "Package: chipwatch" || fail "Package field"
[ "$(dpkg-deb -f "$deb" Section)" = admin ] && pass "Section: admin" || fail "Section field"
[ "$(dpkg-deb -f "$deb" Priority)" = optional ] && pass "Priority: optional" || fail "Priority field"
depends=$(dpkg-deb -f "$deb" Depends)
for dep in adduser libc6 librdkafka1 libhyperscan5 libyaml-cpp; do
  case "$depends" in *"$dep"*) pass "Depends has $dep" ;; *) fail "Depends lacks $dep: $depends" ;; esac
done

# Files.
for f in usr/bin/chipwatch lib/systemd/system/chipwatch.service etc/chipwatch/chipwatch.yaml \
         etc/chipwatch/rules.d/README usr/share/chipwatch/rules/export_control.yaml \
         usr/share/chipwatch/rules/catalog/accelerators.yaml usr/share/doc/chipwatch/copyright \
         usr/share/doc/chipwatch/changelog.Debian.gz usr/share/man/man1/chipwatch.1.gz \
         usr/share/chipwatch/watchlists/entity_list_ai_compute.yaml; do
  [ -f "$root/$f" ] && pass "/$f" || fail "/$f missing"
done
[ -x "$root/usr/bin/chipwatch" ] || fail "/usr/bin/chipwatch not executable"
cmp -s "$root/lib/systemd/system/chipwatch.service" "$src/packaging/systemd/chipwatch.service" \
  && pass "unit as in packaging/systemd" || fail "packaged unit differs from packaging/systemd/chipwatch.service"
cmp -s "$root/etc/chipwatch/chipwatch.yaml" "$src/config/chipwatch.yaml" \
  && pass "configuration is config/chipwatch.yaml" || fail "packaged configuration differs from config/chipwatch.yaml"
# The rules.d directory holds nothing but its README; the default pack only policy files.
extra=$(find "$root/etc/chipwatch/rules.d" -mindepth 1 ! -name README)
[ -z "$extra" ] && pass "rules.d holds only README" || fail "rules.d holds $extra"
other=$(find "$root/usr/share/chipwatch/rules" -type f ! -name '*.yaml' ! -name '*.yml')
[ -z "$other" ] && pass "default pack holds only *.yaml/*.yml" || fail "default pack holds $other"
head -n 1 "$root/usr/share/doc/chipwatch/copyright" | grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
  && pass "copyright is DEP-5" || fail "copyright lacks the DEP-5 Format line"
zcat "$root/usr/share/doc/chipwatch/changelog.Debian.gz" | head -n 1 | grep -q "^chipwatch ($(dpkg-deb -f "$deb" Version)) " \
  && pass "changelog top entry matches the version" || fail "changelog top entry does not match $(dpkg-deb -f "$deb" Version)"

# Control files: conffiles exactly, maintainer scripts executable and valid sh.
printf '/etc/chipwatch/chipwatch.yaml\n/etc/chipwatch/rules.d/README\n' | cmp -s - "$ctl/conffiles" \
  && pass "conffiles" || fail "conffiles: $(tr '\n' ' ' < "$ctl/conffiles")"
for s in postinst prerm postrm; do
  if [ -x "$ctl/$s" ] && sh -n "$ctl/$s"; then pass "$s"; else fail "$s missing, not executable or not valid sh"; fi
done

# The packaged binary with the packaged rules.
cw="$root/usr/bin/chipwatch"
"$cw" version >/dev/null && pass "chipwatch version" || fail "chipwatch version"
if out=$("$cw" check --rules "$root/usr/share/chipwatch/rules" --rules "$root/etc/chipwatch/rules.d" 2>&1); then
  pass "check --rules (default pack + rules.d)"
else
  echo "$out"; fail "check --rules"
fi
# The opt-in Entity List seed is packaged beside the pack (never inside it) and loads after it.
if out=$("$cw" check --rules "$root/usr/share/chipwatch/rules" \
           --rules "$root/usr/share/chipwatch/watchlists/entity_list_ai_compute.yaml" 2>&1); then
  pass "check --rules (default pack + Entity List seed)"
else
  echo "$out"; fail "check --rules with the Entity List seed"
fi
if out=$("$cw" test --rules "$root/usr/share/chipwatch/rules" 2>&1); then
  pass "test --rules: $(echo "$out" | tail -n 1)"
else
  echo "$out"; fail "test --rules"
fi
# The packaged configuration, its absolute paths moved into the scratch root.
mkdir -p "$root/var/log/chipwatch" "$root/var/lib/chipwatch"
sed -e "s#/usr/share/chipwatch#$root/usr/share/chipwatch#g" -e "s#/etc/chipwatch#$root/etc/chipwatch#g" \
    -e "s#/var/log/chipwatch#$root/var/log/chipwatch#g" -e "s#/var/lib/chipwatch#$root/var/lib/chipwatch#g" \
    "$root/etc/chipwatch/chipwatch.yaml" > "$root/etc/chipwatch/chipwatch.test.yaml"
if out=$("$cw" check --config "$root/etc/chipwatch/chipwatch.test.yaml" 2>&1); then
  pass "check --config (packaged configuration)"
else
  echo "$out"; fail "check --config (packaged configuration)"
fi
# The man page renders without warnings (the unit's Documentation= names it).
if command -v man >/dev/null; then
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$root/usr/share/man/man1/chipwatch.1.gz" 2>&1 >/dev/null)
  [ -z "$warnings" ] && pass "man page renders" || fail "man page: $warnings"
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
