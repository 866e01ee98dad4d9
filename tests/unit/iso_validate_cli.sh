#!/bin/sh
# iso_validate_cli.sh — end-to-end check of `xborder validate` on the public samples and on our own
# fixtures: exit codes, one line per file, the VALID/INVALID column, --json and usage errors.
# usage: iso_validate_cli.sh XBORDER SAMPLES_DIR FIXTURES_MESSAGES_DIR
set -u
xb=$1
samples=$2
fixtures=$3
fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
bad() { echo "FAIL: $*"; fail=1; }

# usage errors
"$xb" validate >/dev/null 2>&1; [ $? -eq 2 ] || bad "no files should exit 2"
"$xb" validate --no-such-option x >/dev/null 2>&1; [ $? -eq 2 ] || bad "unknown option should exit 2"
"$xb" validate --help | grep -q 'usage: xborder validate' || bad "--help"

# our valid fixtures: all VALID, exit 0
"$xb" validate "$fixtures"/valid/*.xml >"$out"; rc=$?
[ $rc -eq 0 ] || { bad "valid fixtures exit $rc"; grep INVALID "$out"; }
n=$(ls "$fixtures"/valid/*.xml | wc -l)
[ "$(grep -c "	VALID	-$" "$out")" -eq "$n" ] || bad "valid fixtures: not $n VALID lines"

# our invalid fixtures: every one INVALID, exit 1
"$xb" validate "$fixtures"/invalid/*.xml >"$out"; rc=$?
[ $rc -eq 1 ] || bad "invalid fixtures exit $rc"
n=$(ls "$fixtures"/invalid/*.xml | wc -l)
[ "$(grep -c "	INVALID	" "$out")" -eq "$n" ] || { bad "invalid fixtures: not $n INVALID lines"; cat "$out"; }

if [ ! -d "$samples" ]; then
    echo "samples folder $samples missing: fixture checks only"
    exit $fail
fi
"$xb" validate "$samples"/*.xml >"$out"; rc=$?
[ $rc -eq 1 ] || bad "samples exit $rc (some are invalid)"
[ "$(wc -l <"$out")" -eq 26 ] || bad "want 26 lines"
for f in "$samples"/*.xml; do
    base=$(basename "$f")
    line=$(grep -F "$f	" "$out")
    case $base in
    06_* | 14_* | 15_* | 18_* | 19_* | 20_* | 21_* | 22_* | 23_* | 24_* | 26_*) want=INVALID ;;
    *) want=VALID ;;
    esac
    got=$(printf '%s\n' "$line" | cut -f3)
    [ "$got" = "$want" ] || bad "$base: $got, want $want ($line)"
done
grep -F "22_pacs.008.001.07" "$out" | grep -q "	-	INVALID	EUNSUPPORTED: unsupported definition pacs.008.001.07" ||
    bad "22 should say unsupported definition pacs.008.001.07"
grep -F "14_NEG" "$out" | grep -q "pacs.008.001.08	INVALID	ERULE: commodity currency XAU" || bad "14 XAU"
"$xb" validate "$samples"/01_*.xml "$samples"/10_*.xml >/dev/null; [ $? -eq 0 ] || bad "01+10 should exit 0"
"$xb" validate --json "$samples"/18_*.xml >"$out"
grep -q '"definition":null,"valid":false,"error":{"code":"EINVAL","message":"no ISO 20022 Document found in <Message>"' "$out" || { bad "--json 18"; cat "$out"; }
[ $fail -eq 0 ] && echo "xborder validate: all checks passed"
exit $fail
