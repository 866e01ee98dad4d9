#!/usr/bin/env bash
# test_ops_help.sh XBORDER SOURCE_DIR [ALLOCATOR] — help that answers (issue #11): every subcommand listed by
# `xborder --help` answers `--help` with its usage, its exit status and an example; has a man page
# docs/man/xborder-COMMAND.1 that renders without warnings and names every option the help names;
# the overview page lists every command; `xborder --version` names the catalog version in force
# and the allocator the program was linked with (ALLOCATOR: jemalloc or libc; default jemalloc).
# Owns: a temp folder (removed at exit). Never: touches the network.
set -euo pipefail
XB=${1:?xborder binary}
SRC=${2:?source dir}
ALLOC=${3:-jemalloc}
MAN=$SRC/docs/man
T=$(mktemp -d /tmp/xb-ops-help.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

"$XB" --help >"$T/help" || bad "xborder --help exits non-zero"
cmds=$(sed -n '/^commands:/,/^$/p' "$T/help" | awk 'NF && !/^commands:/ {print $1}')
[ "$(echo "$cmds" | wc -w)" -ge 9 ] || bad "xborder --help lists too few commands: $cmds"

for c in $cmds; do
  rc=0
  "$XB" "$c" --help >"$T/h" 2>&1 || rc=$?
  [ $rc -eq 0 ] || bad "$c --help exits $rc"
  grep -q "^usage: xborder $c" "$T/h" || bad "$c --help has no 'usage: xborder $c' line"
  grep -qi 'exit' "$T/h" || bad "$c --help does not give its exit status"
  grep -qi 'example' "$T/h" || bad "$c --help has no example"
  page=$MAN/xborder-$c.1
  if [ ! -f "$page" ]; then bad "no man page docs/man/xborder-$c.1"; continue; fi
  MANWIDTH=100 man --warnings -l "$page" >"$T/rendered" 2>"$T/warn" || bad "man -l $page fails"
  [ -s "$T/warn" ] && bad "$page renders with warnings: $(head -3 "$T/warn")"
  sed 's/\\-/-/g' "$page" >"$T/page"
  for opt in $(grep -o -- '--[a-z][a-z0-9-]*' "$T/h" | sort -u); do
    grep -qF -- "$opt" "$T/page" || bad "$c: option $opt is in --help but not in its man page"
  done
  grep -qF "xborder-$c(1)" <(sed 's/\\f[BRI]//g; s/\\-/-/g' "$MAN/xborder.1") ||
    bad "xborder.1 does not point at xborder-$c(1)"
done

# --version: the program version and the catalog in force, from the default catalog folder
"$XB" --version >"$T/v" || bad "xborder --version exits non-zero"
grep -qE '^xborder [0-9]+\.[0-9]+\.[0-9]+$' "$T/v" || bad "--version: no version line"
grep -qE '^catalog cn-finance [0-9.]+ in force since ' "$T/v" || bad "--version: no catalog in force"
grep -q '^schemas ' "$T/v" || bad "--version: no schema folder"
grep -q "^allocator $ALLOC" "$T/v" || bad "--version: allocator is not $ALLOC: $(grep '^allocator' "$T/v")"
# jemalloc gives freed pages back after 1 s (main.c's malloc_conf), not its default 10 s
[ "$ALLOC" != jemalloc ] || grep -q "^allocator jemalloc .*(dirty_decay_ms 1000)" "$T/v" ||
  bad "--version: jemalloc without the 1 s decay: $(grep '^allocator' "$T/v")"
# and with --config, the catalogs that config names (a missing config is an actionable error)
rc=0
"$XB" --version --config "$T/none.yaml" >"$T/v2" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q "$T/none.yaml" "$T/v2" || bad "--version --config MISSING: want exit 1 naming the file"

rc=0
"$XB" no-such-command >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || bad "unknown command exits $rc, not 2"

[ $fails -eq 0 ] || { echo "$fails help/man problem(s)"; exit 1; }
echo "help, man pages and --version answer for: $(echo $cmds)"
