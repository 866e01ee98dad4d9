#!/bin/sh
# test_pol_cli.sh — `xborder classify` exit codes and outputs (issue #3).
# usage: test_pol_cli.sh XBORDER SOURCE_DIR
# Keys are generated here (never committed); the example config is copied with its relative
# paths pointed at them.
set -u
XB=$1
SRC=$2
T=$(mktemp -d /tmp/xb-pol-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
mkdir -p "$T/keys" "$T/state"
head -c 32 /dev/urandom > "$T/keys/counter.key"
head -c 32 /dev/urandom > "$T/keys/k-hk.2026a.key"
head -c 32 /dev/urandom > "$T/keys/k-sg.2026a.key"
sed -e "s#\.\./catalogs/#$SRC/fixtures/catalogs/#" -e "s#\.\./\.\./state/keys#$T/keys#g" \
    "$SRC/fixtures/config/example.yaml" > "$T/config.yaml"
MSG=$SRC/fixtures/messages/policy
AT=2026-12-15T10:30:00+08:00

expect() { # expect CODE DESCRIPTION -- ARGS...
    want=$1; what=$2; shift 3
    "$XB" classify "$@" > "$T/out" 2> "$T/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $what: exit $got, want $want"; sed 's/^/    /' "$T/err" | tail -5; fail=1
    else
        echo "ok: $what (exit $got)"
    fi
}

expect 0 "help" -- --help
expect 0 "payment chain delivers" -- --config "$T/config.yaml" --dest hk-correspondent --at $AT \
    --decision "$T/d.json" "$MSG/pacs.008-remit-individual.xml"
grep -q '<Ustrd>学费 UCL 2026 春季学期 联系 \[CN_MOB\]</Ustrd>' "$T/out" || { echo "FAIL: redacted output"; fail=1; }
grep -q '"verdict": "DELIVER"' "$T/d.json" || { echo "FAIL: decision record"; fail=1; }
grep -q '"basis": "EXEMPT_ART5_1_CONTRACT"' "$T/d.json" || { echo "FAIL: basis in record"; fail=1; }
grep -q 'Dbtr/PstlAdr/StrtNm' "$T/err" || { echo "FAIL: table on stderr"; fail=1; }

expect 0 "group ops delivers, counted" -- --config "$T/config.yaml" --dest sg-group-ops --at $AT \
    --state "$T/state" --decision "$T/d2.json" "$MSG/pacs.008-one-spi.xml"
grep -q '"spi_after": 1' "$T/d2.json" || { echo "FAIL: spi counted"; fail=1; }
# A restart: the same person is already counted, a new process reads the durable count.
expect 0 "group ops again, same person" -- --config "$T/config.yaml" --dest sg-group-ops --at $AT \
    --state "$T/state" --decision "$T/d3.json" "$MSG/pacs.008-one-spi.xml"
grep -q '"spi_before": 1' "$T/d3.json" && grep -q '"new_spi_subjects": 0' "$T/d3.json" \
    || { echo "FAIL: durable counters across processes"; fail=1; }
[ -s "$T/out" ] || { echo "FAIL: DELIVER writes the message to stdout"; fail=1; }

expect 10 "uncovered supplementary data quarantines" -- --config "$T/config.yaml" \
    --dest hk-correspondent --at $AT "$MSG/pacs.008-splmtry.xml"
[ -s "$T/out" ] && { echo "FAIL: nothing on stdout unless DELIVER"; fail=1; }
expect 10 "no legal basis before the SCC is filed" -- --config "$T/config.yaml" \
    --dest sg-group-ops --at 2025-05-01T00:00:00+08:00 "$MSG/pacs.008-one-spi.xml"
expect 10 "catalog not yet in force" -- --config "$T/config.yaml" \
    --dest hk-correspondent --at 2024-01-01T00:00:00+08:00 "$MSG/pacs.008-corporate.xml"
expect 10 "unknown definition quarantines" -- --config "$T/config.yaml" --dest hk-correspondent \
    --at $AT --decision "$T/d4.json" "$MSG/pacs.008.001.07-unknown.xml"
grep -q 'QUARANTINE' "$T/d4.json" || { echo "FAIL: record for an unknown definition"; fail=1; }
expect 11 "secret blocks" -- --config "$T/config.yaml" --dest sg-group-ops --at $AT \
    "$MSG/pacs.008-secret.xml"
expect 1 "invalid message" -- --config "$T/config.yaml" --dest sg-group-ops --at $AT \
    "$MSG/invalid-truncated.xml"
expect 2 "unknown destination" -- --config "$T/config.yaml" --dest nowhere --at $AT \
    "$MSG/pacs.008-corporate.xml"
expect 2 "missing arguments" -- --config "$T/config.yaml"
expect 2 "bad --at" -- --config "$T/config.yaml" --dest sg-group-ops --at 2026-13-45 \
    "$MSG/pacs.008-corporate.xml"
sed 's/^  warn_fraction:/  warn_fractoin:/' "$T/config.yaml" > "$T/typo.yaml"
expect 2 "unknown policy key" -- --config "$T/typo.yaml" --dest sg-group-ops --at $AT \
    "$MSG/pacs.008-corporate.xml"
grep -q 'warn_fractoin' "$T/err" || { echo "FAIL: error names the key"; fail=1; }
sed "s#^  counter_key:.*#  counter_key: $T/keys/none.key#" "$T/config.yaml" > "$T/nokey.yaml"
expect 2 "missing counter key" -- --config "$T/nokey.yaml" --dest sg-group-ops --at $AT \
    "$MSG/pacs.008-corporate.xml"
# Signing configured but no signature next to the catalog: refused, configuration error.
printf '  catalog_pubkey: %s/pub.pem\n' "$T" >> "$T/signed.yaml.tmp"
sed "/^  warn_fraction:/r $T/signed.yaml.tmp" "$T/config.yaml" > "$T/signed.yaml"
openssl genpkey -algorithm ed25519 -out "$T/priv.pem" 2>/dev/null
openssl pkey -in "$T/priv.pem" -pubout -out "$T/pub.pem" 2>/dev/null
expect 2 "unsigned catalog refused when signing is on" -- --config "$T/signed.yaml" \
    --dest hk-correspondent --at $AT "$MSG/pacs.008-corporate.xml"
# The documented signing procedure (docs/catalog.md): Ed25519 over the file bytes.
cp "$SRC/fixtures/catalogs/cn-finance.yaml" "$T/cat.yaml"
openssl pkeyutl -sign -inkey "$T/priv.pem" -rawin -in "$T/cat.yaml" -out "$T/cat.yaml.sig"
sed "s#^  catalogs:.*#  catalogs: [$T/cat.yaml]#" "$T/signed.yaml" > "$T/signed2.yaml"
expect 0 "signed catalog accepted" -- --config "$T/signed2.yaml" --dest hk-correspondent --at $AT \
    "$MSG/pacs.008-corporate.xml"
printf '# tampered after signing\n' >> "$T/cat.yaml"
expect 2 "tampered catalog refused" -- --config "$T/signed2.yaml" --dest hk-correspondent \
    --at $AT "$MSG/pacs.008-corporate.xml"
grep -q 'does not verify' "$T/err" || { echo "FAIL: tamper reason"; fail=1; }
exit $fail
