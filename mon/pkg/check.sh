#!/usr/bin/env bash
# Builds the Debian package the way a release does (`cargo deb -p mon`: the `dist` profile,
# stripped) and checks what it holds: the file list and modes (`dpkg-deb -c`), the control
# data (`dpkg-deb -I`: conffiles, maintainer scripts), a stripped binary that runs, the
# postinst's directories (run against a scratch root with the systemd helpers stubbed), and
# the unit (`systemd-analyze verify`; `systemd-analyze security` is printed, see
# docs/operations.md). Needs cargo-deb (.ci/run installs it), dpkg-deb, systemd-analyze,
# readelf. Prints the time the package build took.
#
# PKG_PROFILE=dev (what .ci/run sets, after `cargo test --workspace`) packages the binary the
# test build left in target/debug (`cargo deb --no-build`, stripped by cargo-deb's `--strip`)
# instead of compiling the whole workspace a third time with `dist` (several minutes of CI's
# 30 on 2 cores); everything below is checked the same way. The `dist` profile's own settings
# (no debug info, stripped) are checked in Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "mon/pkg/check.sh: $*" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

profile="${PKG_PROFILE:-dist}"
grep -A3 '^\[profile.dist\]' Cargo.toml | grep -qx 'strip = true' || fail "Cargo.toml: [profile.dist] does not strip"
grep -A3 '^\[profile.dist\]' Cargo.toml | grep -qx 'debug = false' || fail "Cargo.toml: [profile.dist] keeps debug info"
grep -qx 'profile = "dist"' mon/Cargo.toml || fail "mon/Cargo.toml: the package is not built with the dist profile"
echo "== cargo deb -p mon --profile $profile"
start=$(date +%s)
build=()
if [[ "$profile" == dev ]]; then
  [[ -x target/debug/mon ]] || fail "PKG_PROFILE=dev packages target/debug/mon: run cargo test --workspace (or cargo build -p mon) first"
  build=(--no-build)
fi
deb=$(cargo deb -p mon --profile "$profile" "${build[@]}" --strip --output "$scratch/" | tail -n 1)
echo "built $deb in $(( $(date +%s) - start )) s"
[[ -f "$deb" ]] || fail "cargo deb printed no package path ($deb)"

echo "== dpkg-deb -I"
dpkg-deb -I "$deb" | tee "$scratch/info"
grep -q '^ Package: mon$' "$scratch/info" || fail "package name is not mon"
dpkg-deb -e "$deb" "$scratch/control"
grep -qx '/etc/mon/server.conf' "$scratch/control/conffiles" || fail "/etc/mon/server.conf is not a conffile"
[[ -x "$scratch/control/postinst" ]] || fail "no postinst"

echo "== dpkg-deb -c"
dpkg-deb -c "$deb" | tee "$scratch/list"
# mode path, for every file the package must hold
want=(
  "-rwxr-xr-x ./usr/bin/mon"
  "-rw-r--r-- ./usr/share/man/man1/mon.1.gz"
  "-rw-r--r-- ./usr/share/man/man1/mon-server.1.gz"
  "-rw-r--r-- ./usr/share/man/man1/mon-server-init.1.gz"
  "-rw-r--r-- ./usr/share/man/man1/mon-policy-check.1.gz"
  "-rw-r--r-- ./usr/share/bash-completion/completions/mon"
  "-rw-r--r-- ./usr/share/zsh/vendor-completions/_mon"
  "-rw-r--r-- ./usr/share/fish/vendor_completions.d/mon.fish"
  "-rw-r--r-- ./usr/lib/systemd/system/mon.service"
  "-rw-r--r-- ./usr/share/doc/mon/README.Debian"
  "-rw-r--r-- ./usr/share/doc/mon/copyright"
  "-rw-r--r-- ./etc/mon/server.conf"
)
for w in "${want[@]}"; do
  awk '{print $1, $6}' "$scratch/list" | grep -qxF -- "$w" || fail "missing from the package: $w"
done
echo "every expected file is there, with its mode"

echo "== the binary"
dpkg-deb -x "$deb" "$scratch/root"
bin="$scratch/root/usr/bin/mon"
if readelf -SW "$bin" | grep -Eq '\.debug_(info|line|abbrev|str|ranges|loc|aranges|frame)'; then fail "usr/bin/mon carries debug info"; fi
echo "usr/bin/mon: $(stat -c %s "$bin") bytes, no debug sections"
"$bin" --version | tee "$scratch/version"
grep -q 'commit [0-9a-f]\{7,\}' "$scratch/version" || fail "--version names no commit"
grep -q 'insecure features: none' "$scratch/version" || fail "the packaged binary has insecure features"

echo "== postinst configure (scratch root, systemd helpers stubbed)"
mkdir -p "$scratch/stubs"
for tool in deb-systemd-helper deb-systemd-invoke systemctl; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/stub.log"\n' "$tool" "$scratch" >"$scratch/stubs/$tool"
  chmod +x "$scratch/stubs/$tool"
done
rm -rf "$scratch/root/var/lib/mon"
DPKG_ROOT="$scratch/root" PATH="$scratch/stubs:$PATH" sh "$scratch/control/postinst" configure
[[ "$(stat -c %a "$scratch/root/var/lib/mon")" == 700 ]] || fail "postinst: /var/lib/mon is not 0700"
[[ "$(stat -c %a "$scratch/root/etc/mon/slices")" == 755 ]] || fail "postinst: no /etc/mon/slices"
echo "/var/lib/mon 0700, /etc/mon/slices 0755"

echo "== systemd-analyze verify"
unit="$scratch/root/usr/lib/systemd/system/mon.service"
# The unit names /usr/bin/mon and man:mon-server(1): verify them in the unpacked package.
sed "s|/usr/bin/mon|$bin|" "$unit" >"$scratch/mon.service"
MANPATH="$scratch/root/usr/share/man" systemd-analyze verify "$scratch/mon.service"
echo "verified"

echo "== systemd-analyze security (offline)"
systemd-analyze security --offline=true --no-pager "$scratch/mon.service" | tail -n 3 || true
