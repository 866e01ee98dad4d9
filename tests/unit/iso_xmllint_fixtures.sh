#!/bin/sh
# iso_xmllint_fixtures.sh — cross-checks xborder's valid message fixtures with the reference
# tool: every AppHdr and Document (found by namespace with XPath) must pass `xmllint --schema`.
# Owns nothing but a temp dir; never edits fixtures.
# usage: iso_xmllint_fixtures.sh SCHEMA_DIR FIXTURE_DIR
set -eu
schemas=$1
dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
checked=0

# xsd_for NAMESPACE -> schema file for it
xsd_for() {
    case $1 in
    urn:iso:std:iso:20022:tech:xsd:reda.001.001.04) echo "$schemas/variants/iso-namespace/reda.001.001.04.xsd" ;;
    urn:iso:std:iso:20022:tech:xsd:*) echo "$schemas/${1#urn:iso:std:iso:20022:tech:xsd:}.xsd" ;;
    urn:swift:xsd:*) echo "$schemas/${1#urn:swift:xsd:}.xsd" ;;
    *) echo "" ;;
    esac
}

check_part() { # FILE LOCALNAME
    ns=$(xmllint --xpath "string(namespace-uri((//*[local-name()='$2' and (starts-with(namespace-uri(),'urn:iso:std:iso:20022') or starts-with(namespace-uri(),'urn:swift:xsd:'))])[1]))" "$1" 2>/dev/null || true)
    [ -n "$ns" ] || return 0
    xsd=$(xsd_for "$ns")
    xmllint --xpath "(//*[local-name()='$2' and namespace-uri()='$ns'])[1]" "$1" >"$tmp/part.xml" 2>/dev/null
    if xmllint --noout --nonet --schema "$xsd" "$tmp/part.xml" >"$tmp/out" 2>&1; then
        checked=$((checked + 1))
    else
        echo "FAIL $1 $2 ($ns):"; cat "$tmp/out"; fail=1
    fi
}

for f in "$dir"/*.xml; do
    check_part "$f" AppHdr
    check_part "$f" Document
done
echo "xmllint checked $checked parts"
[ "$checked" -gt 0 ] || { echo "no parts checked"; exit 1; }
exit $fail
