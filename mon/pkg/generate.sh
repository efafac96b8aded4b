#!/usr/bin/env bash
# Writes mon/pkg/generated/: the man pages and shell completions the Debian package ships,
# generated from the one clap definition (mon/src/cli.rs) by `mon man --dir` and
# `mon completions`. Run it after changing a command's help or flags, and commit the result:
# the test `the_packaged_pages_and_completions_are_current` (cargo test -p mon --bin mon)
# fails while they differ.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=mon/pkg/generated
mon() { cargo run -q -p mon -- "$@"; }
rm -rf "$out"
mkdir -p "$out/man" "$out/completions"
mon man --dir "$out/man" >/dev/null
for shell in bash zsh fish; do
  mon completions "$shell" >"$out/completions/mon.$shell"
done
echo "wrote $(ls "$out/man" | wc -l) man pages and 3 completion scripts into $out"
