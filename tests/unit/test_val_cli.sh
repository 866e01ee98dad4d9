#!/bin/sh
# test_val_cli.sh — exit codes and outputs of `xborder valuate` (0 ok, 1 invalid, 2 usage,
# 3 missing price/rate), REPL on re-run, both namespaces. Usage: test_val_cli.sh XBORDER FIXTURES TMP
set -u
XB=$1
FX=$2
TMP=$3
rm -rf "$TMP" && mkdir -p "$TMP" || exit 1
F=$FX/funds
S=$FX/messages/valid
fails=0

expect() { # expect CODE DESCRIPTION -- ARGS...
    want=$1; what=$2; shift 3
    "$XB" valuate "$@" >"$TMP/stdout" 2>"$TMP/stderr"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $what: exit $got, want $want"; cat "$TMP/stderr"; fails=$((fails + 1))
    else
        echo "ok: $what (exit $got)"
    fi
}
contains() { # contains FILE TEXT DESCRIPTION
    if grep -q -- "$2" "$1"; then echo "ok: $3"; else echo "FAIL: $3: '$2' not in $1"; fails=$((fails + 1)); fi
}
lacks() {
    if grep -q -- "$2" "$1"; then echo "FAIL: $3: '$2' in $1"; fails=$((fails + 1)); else echo "ok: $3"; fi
}

BASE="--fund $F/lg-gbf-01.yaml --holdings $S/semt.003-lg-gbf-01-v12.xml --rates $F/rates-2025-01-02.csv --date 2025-01-02"

expect 0 "help" -- --help
contains "$TMP/stdout" "--holdings" "help names the options"
expect 2 "no arguments" --
expect 2 "unknown option" -- $BASE --bogus
expect 2 "bad namespace" -- $BASE --namespace xml
expect 3 "price missing without the price file" -- $BASE
contains "$TMP/stderr" "CNE0000HD013" "missing price is named"
expect 3 "rate missing" -- --fund $F/lg-gbf-01.yaml --holdings $S/semt.003-lg-gbf-01-v12.xml \
    --prices $F/prices-2025-01-02.csv --rates $F/rates-no-hkd.csv --date 2025-01-02
contains "$TMP/stderr" "HKD" "missing rate is named"
expect 1 "invalid date" -- $BASE --prices $F/prices-2025-01-02.csv --date 2025-02-30
expect 1 "unreadable fund file" -- --fund $TMP/none.yaml --holdings $S/semt.003-half-v12.xml \
    --rates $F/rates-2025-01-02.csv --date 2025-01-02
expect 1 "not a semt.003" -- --fund $F/half.yaml --holdings $S/pacs.008-cny-cips-individual.xml \
    --rates $F/rates-2025-01-02.csv --date 2025-01-02
printf 'fund: {id: X, base_currency: CNY}\nclasses:\n  - {id: A, isin: CNE1000XB001, currency: CNY, units: "-1", mgmt_fee_pa: "0", custody_fee_pa: "0"}\n' >"$TMP/bad.yaml"
expect 1 "invalid fund names the key" -- --fund "$TMP/bad.yaml" --holdings $S/semt.003-half-v12.xml \
    --rates $F/rates-2025-01-02.csv --date 2025-01-02
contains "$TMP/stderr" "classes\[0\].units" "key named in the reason"

# Success: stdout, then --out twice (the second run is a REPL of the same PricRptId).
expect 0 "valuation to stdout (iso)" -- $BASE --prices $F/prices-2025-01-02.csv
contains "$TMP/stdout" 'urn:iso:std:iso:20022:tech:xsd:reda.001.001.04' "urn:iso namespace"
contains "$TMP/stdout" '<Amt Ccy="USD">0.9945</Amt>' "I-USD NAV in USD"
contains "$TMP/stdout" '<Amt Ccy="CNY">7.1486</Amt>' "I-USD NAV in CNY"
lacks "$TMP/stderr" "valuing holdings" "no progress when stderr is not a terminal"
expect 0 "first run to a file (swift)" -- $BASE --prices $F/prices-2025-01-02.csv --out "$TMP/r.xml" --namespace swift
contains "$TMP/r.xml" 'urn:swift:xsd:reda.001.001.04' "urn:swift namespace"
contains "$TMP/r.xml" '<Fctn>NEWP</Fctn>' "first run is NEWP"
expect 0 "re-run of the same date" -- $BASE --prices $F/prices-2025-01-02.csv --out "$TMP/r.xml" --namespace swift
contains "$TMP/r.xml" '<Fctn>REPL</Fctn>' "re-run is REPL"
expect 0 "explicit NEWP overrides" -- $BASE --prices $F/prices-2025-01-02.csv --out "$TMP/r.xml" --function NEWP
contains "$TMP/r.xml" '<Fctn>NEWP</Fctn>' "--function NEWP"
expect 0 "explain" -- $BASE --prices $F/prices-2025-01-02.csv --explain
contains "$TMP/stderr" "total.net_assets = 65488943.160000000000000000 CNY" "explain has the total"
contains "$TMP/stderr" "class I-USD fees = 313.371749346606713374 CNY" "explain has the fees"

# Tolerance: flagged and estimated, exit 0 with a warning; --force makes it official.
B2="--fund $F/breach.yaml --holdings $S/semt.003-one-class-v11.xml --rates $F/rates-2025-01-02.csv --date 2025-01-02"
expect 0 "tolerance breach" -- $B2
contains "$TMP/stderr" "beyond tolerance" "breach warned"
contains "$TMP/stdout" "<EstmtdPricInd>true</EstmtdPricInd>" "breach estimated"
expect 0 "tolerance breach forced" -- $B2 --force
contains "$TMP/stdout" "<OffclValtnInd>true</OffclValtnInd>" "forced official"
expect 0 "suspended" -- --fund $F/suspended.yaml --holdings $S/semt.003-half-v12.xml --rates $F/rates-no-hkd.csv --date 2025-01-02
contains "$TMP/stdout" "<SspdInd>true</SspdInd>" "suspended"
lacks "$TMP/stdout" "<PricDtls>" "suspended has no price"

if [ "$fails" -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all passed"
