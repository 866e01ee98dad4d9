#!/usr/bin/env bash
# test_ops_errors.sh XBORDER SOURCE_DIR — errors a person can act on (issue #11): triggers a sample
# of error messages (bad config key, bad value, missing file, bad catalog, unknown destination in a
# route and on the command line, invalid XML, missing rate) and asserts that each names the file,
# key or element AND says what to do, with the documented exit status.
# Owns: a temp folder (removed at exit). Never: touches the network.
set -euo pipefail
XB=${1:?xborder binary}
SRC=${2:?source dir}
FIX=$SRC/fixtures
T=$(mktemp -d /tmp/xb-ops-errors.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0

# A valid config to break one thing at a time (fixtures/config/ops/base.yaml).
fresh() {
  rm -rf "$T/c" && mkdir -p "$T/c/keys" "$T/c/state"
  sed "s#@FIXTURES@#$FIX#" "$FIX/config/ops/base.yaml" >"$T/c/x.yaml"
  head -c 32 /dev/urandom >"$T/c/keys/counter.key"
  head -c 32 /dev/urandom >"$T/c/keys/k-hk.2026a.key"
}

# expect NAME STATUS "needle"... -- CMD...: runs CMD, wants exit STATUS and every needle in stderr.
expect() {
  local name=$1 want=$2
  shift 2
  local needles=()
  while [ "$1" != -- ]; do needles+=("$1"); shift; done
  shift
  local rc=0
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  local ok=1
  [ "$rc" -eq "$want" ] || { echo "FAIL $name: exit $rc, expected $want"; ok=0; }
  for n in "${needles[@]}"; do
    grep -qF -- "$n" "$T/err" || { echo "FAIL $name: stderr lacks: $n"; ok=0; }
  done
  if [ $ok = 1 ]; then echo "ok   $name"; else
    sed 's/^/     | /' "$T/err"
    fails=$((fails + 1))
  fi
}

fresh
expect "baseline config is valid" 0 -- "$XB" check-config "$T/c/x.yaml"

# 1. a misspelt section: the key and "check the spelling"
fresh
sed -i 's/^dlq:/dlqq:/' "$T/c/x.yaml"
expect "unknown config key" 1 "key:   dlqq" "unknown key (check the spelling)" -- \
  "$XB" check-config "$T/c/x.yaml"

# 2. a bad value: the dotted key and the values it accepts
fresh
sed -i 's#^  file: state/audit.log#  file: state/audit.log\n  fsync: sometimes#' "$T/c/x.yaml"
expect "bad config value" 1 "key:   audit.fsync" "expected always, every or interval" -- \
  "$XB" check-config "$T/c/x.yaml"

# 3. a config file that is not there: the path and what to check
expect "missing config file" 1 "$T/nowhere/xborder.yaml" "No such file or directory" "check the path" -- \
  "$XB" check-config "$T/nowhere/xborder.yaml"

# 4. a missing key file: the key, the file and what is wrong with it
fresh
rm "$T/c/keys/counter.key"
expect "missing counter key" 1 "policy.counter_key" "$T/c/keys/counter.key" -- \
  "$XB" check-config "$T/c/x.yaml"

# 5. a broken catalog: the config key, the catalog file, the line, and the YAML problem
fresh
printf 'catalog_id: broken\nversions: [\n  - {version: "1"\n' >"$T/c/broken.yaml"
sed -i "s#$FIX/catalogs/cn-finance.yaml#broken.yaml#" "$T/c/x.yaml"
expect "bad catalog" 1 "policy.catalogs[0]" "$T/c/broken.yaml:" "YAML syntax error" -- \
  "$XB" check-config "$T/c/x.yaml"

# 6. a route to a destination that is not configured: the route key, the name, the fix
fresh
sed -i 's/    destination: hk-correspondent/    destination: hk-corespondent/' "$T/c/x.yaml"
expect "unknown destination in a route" 1 "routes[0].destination" "'hk-corespondent'" \
  "add it there or correct the name" -- "$XB" check-config "$T/c/x.yaml"

# 7. an unknown destination on the command line
fresh
expect "unknown --dest" 2 "'sg-nowhere'" "--dest takes a name under destinations:" -- \
  "$XB" classify --config "$T/c/x.yaml" --dest sg-nowhere "$FIX/messages/valid/pacs.008-cny-cips-corporate.xml"

# 8. invalid XML: the file, the line and the element where it broke
expect "invalid XML" 1 -- "$XB" validate "$FIX/messages/hostile/truncated.xml"
grep -qF "truncated.xml" "$T/out" && grep -qE "line [0-9]+" "$T/out" && grep -qF "Nm" "$T/out" ||
  { echo "FAIL invalid XML: report lacks file, line or element"; sed 's/^/     | /' "$T/out"; fails=$((fails + 1)); }

# 9. an XSD error: the element path
expect "XSD-invalid message" 1 -- "$XB" validate "$FIX/messages/invalid/xsd-missing-msgid.xml"
grep -qF "/Document/" "$T/out" ||
  { echo "FAIL XSD error: no element path"; sed 's/^/     | /' "$T/out"; fails=$((fails + 1)); }

# 10. a missing rate when valuing a fund: currency, date and the row to add (exit 3)
expect "missing rate (valuate)" 3 "HKD" "2025-01-02" 'add a row "2025-01-02,HKD,CNY_PER_UNIT"' -- \
  "$XB" valuate --fund "$FIX/funds/lg-gbf-01.yaml" --holdings "$FIX/messages/valid/semt.003-lg-gbf-01-v12.xml" \
  --prices "$FIX/funds/prices-2025-01-02.csv" --rates "$FIX/funds/rates-no-hkd.csv" --date 2025-01-02

# 11. a missing rate when settling: currency, date, element and the row to add (exit 10)
printf 'date,currency,cny_per_unit\n2026-11-02,EUR,7.5\n' >"$T/rates.csv"
expect "missing rate (settle)" 10 "USD" "2024-03-19" "IntrBkSttlmAmt" 'add a row "2024-03-19,USD,CNY_PER_UNIT"' -- \
  "$XB" settle --config "$FIX/config/settle-test.yaml" --route payments-half-even --rates "$T/rates.csv" \
  "$FIX/messages/valid/pacs.008-usd-to-settle.xml"

# 12. an unknown subcommand points at the help
expect "unknown command" 2 "unknown command 'valuatee'" "xborder --help" -- "$XB" valuatee

[ $fails -eq 0 ] || { echo "$fails error message(s) are not actionable"; exit 1; }
echo "all error messages name what is wrong and what to do"
