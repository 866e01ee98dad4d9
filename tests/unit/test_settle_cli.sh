#!/usr/bin/env bash
# test_settle_cli.sh — exit statuses and outputs of `xborder settle` and `xborder settlement-report`.
# Usage: test_settle_cli.sh XBORDER FIXTURES   (registered by tests/unit/settle.cmake)
set -u
xb=$1
fx=$2
cfg=$fx/config/settle-test.yaml
msgs=$fx/messages/settle
work=$(mktemp -d /tmp/xb-settle-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0

# expect STATUS DESCRIPTION -- COMMAND...: runs the command, checks its exit status.
expect() {
  local want=$1 what=$2
  shift 3
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $what: exit $got, wanted $want"
    sed 's/^/  stderr: /' "$work/err" | head -20
    fails=$((fails + 1))
  else
    echo "ok: $what (exit $got)"
  fi
}

# must_contain FILE TEXT DESCRIPTION
must_contain() {
  if ! grep -qF -- "$2" "$1"; then
    echo "FAIL: $3: '$2' not in $(basename "$1")"
    head -40 "$1" | sed 's/^/  /'
    fails=$((fails + 1))
  fi
}

expect 0 "--help" -- "$xb" settle --help
must_contain "$work/out" "usage: xborder settle" "help text"
expect 2 "no arguments" -- "$xb" settle
expect 2 "no route" -- "$xb" settle --config "$cfg" "$msgs/pacs008-usd.xml"
expect 2 "unknown route" -- "$xb" settle --config "$cfg" --route nowhere "$msgs/pacs008-usd.xml"
expect 2 "unknown option" -- "$xb" settle --config "$cfg" --route payments-to-hk --frobnicate "$msgs/pacs008-usd.xml"
expect 2 "missing message file" -- "$xb" settle --config "$cfg" --route payments-to-hk "$work/nope.xml"

# Settled: 1000.00 USD x 7.1034 = 7103.40 CNY on stdout, details on stderr.
expect 0 "USD settles" -- "$xb" settle --config "$cfg" --route payments-to-hk "$msgs/pacs008-usd.xml"
must_contain "$work/out" '<IntrBkSttlmAmt Ccy="CNY">7103.40</IntrBkSttlmAmt>' "settled amount"
must_contain "$work/out" '<InstdAmt Ccy="USD">1000.00</InstdAmt>' "instructed amount kept"
must_contain "$work/out" '<XchgRate>7.1034</XchgRate>' "rate"
must_contain "$work/out" '<Cd>CIP</Cd>' "CIPS clearing"
must_contain "$work/err" '"rate_source": "CFETS central parity"' "details: source"
must_contain "$work/err" '"verdict": "settled"' "details: verdict"
cp "$work/out" "$work/settled.xml"
# What came out is a message xborder itself accepts and settles to the same thing.
expect 0 "settled output settles unchanged" -- "$xb" settle --config "$cfg" --route payments-to-hk "$work/settled.xml"
must_contain "$work/err" '"verdict": "unchanged"' "idempotent"

# --rates overrides the route's rates file: an empty rates file means no rate -> quarantine.
printf 'date,currency,cny_per_unit\n' >"$work/empty.csv"
expect 10 "--rates without the rate" -- "$xb" settle --config "$cfg" --route payments-to-hk --rates "$work/empty.csv" "$msgs/pacs008-usd.xml"
printf '2026-11-27,USD,7.2\n' >"$work/one.csv"
expect 0 "--rates used" -- "$xb" settle --config "$cfg" --route payments-to-hk --rates "$work/one.csv" "$msgs/pacs008-usd.xml"
must_contain "$work/out" '<IntrBkSttlmAmt Ccy="CNY">7200.00</IntrBkSttlmAmt>' "override rate 7.2"
expect 2 "--rates unreadable" -- "$xb" settle --config "$cfg" --route payments-to-hk --rates "$work/none.csv" "$msgs/pacs008-usd.xml"

expect 10 "missing rate for the date" -- "$xb" settle --config "$cfg" --route payments-to-hk "$msgs/pacs008-norate.xml"
must_contain "$work/err" '"verdict": "quarantine"' "quarantine verdict"
expect 10 "leasing without required fields" -- "$xb" settle --config "$cfg" --route payments-to-hk "$msgs/pacs008-leasing-missing.xml"
expect 10 "amount beyond 18 digits" -- "$xb" settle --config "$cfg" --route payments-to-hk "$msgs/pacs008-jpy-max.xml"
expect 1 "CNH without map_cnh" -- "$xb" settle --config "$cfg" --route payments-to-hk "$msgs/pacs008-cnh.xml"
expect 0 "CNH with map_cnh" -- "$xb" settle --config "$cfg" --route payments-cnh "$msgs/pacs008-cnh.xml"
must_contain "$work/err" '"cnh_relabelled": 1' "relabelling recorded"
expect 1 "CNY with 3 decimals" -- "$xb" settle --config "$cfg" --route payments-to-hk "$msgs/pacs008-cny-3dp.xml"
printf 'not xml' >"$work/garbage.xml"
expect 1 "not a message" -- "$xb" settle --config "$cfg" --route payments-to-hk "$work/garbage.xml"
expect 0 "pacs.009 cover" -- "$xb" settle --config "$cfg" --route payments-to-hk "$msgs/pacs009-cov-eur.xml"
must_contain "$work/out" '<IntrBkSttlmAmt Ccy="CNY">9521.35</IntrBkSttlmAmt>' "cover amount"

# settlement-report
expect 0 "report --help" -- "$xb" settlement-report --help
expect 2 "report without --date" -- "$xb" settlement-report --state "$work"
expect 2 "report bad date" -- "$xb" settlement-report --state "$work" --date 2026-02-30
expect 0 "report on an empty store" -- "$xb" settlement-report --state "$work" --date 2026-11-27
must_contain "$work/out" "balanced: yes" "empty report balances"
expect 0 "report --json" -- "$xb" settlement-report --store "sqlite:$work/xborder.db" --date 2026-11-27 --json
must_contain "$work/out" '"balanced": true' "json balanced"

# settlement-status: pacs.002 files into the ledger of the config's state store.
cat >"$work/status.yaml" <<YAML
kafka: {bootstrap.servers: embedded}
routes:
  - {name: r, topics: [t], messages: [pacs.008], destination: d,
     settle: {currency: CNY, rates: {file: $fx/rates/cfets-2026-11.csv}}}
policy: {catalogs: [c.yaml], keys: keys}
destinations: {d: {url: "https://127.0.0.1:1/x", country: HK}}
audit: {file: audit.log}
dlq: {topic: dlq}
state: {store: "sqlite:$work/status.db"}
YAML
expect 0 "status --help" -- "$xb" settlement-status --help
expect 2 "status without input" -- "$xb" settlement-status --config "$work/status.yaml"
expect 0 "status from a file" -- "$xb" settlement-status --config "$work/status.yaml" "$msgs/pacs002-group-acsp.xml"
must_contain "$work/out" "0 status(es) applied" "nothing known yet"
expect 1 "status from a missing file" -- "$xb" settlement-status --config "$work/status.yaml" "$work/none.xml"
expect 0 "report lists the unmatched status" -- "$xb" settlement-report --store "sqlite:$work/status.db" --date "$(date -u +%F)" --json
must_contain "$work/out" '"orgnl_msg_id": "XB-SETTLE-009-1"' "unmatched group status"

if [ "$fails" -ne 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "all settle CLI checks passed"
