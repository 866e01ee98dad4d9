#!/bin/sh
# audit_cli.sh — end-to-end check of `xborder verify-audit` and `xborder audit-proof`: exit codes,
# the seq named for each kind of tampering, proofs that verify and proofs that must not.
# usage: audit_cli.sh XBORDER AUDIT_LOG_FIXTURE
set -u
xb=$1
gen=$2
fail=0
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
bad() { echo "FAIL: $*"; fail=1; }
openssl genpkey -algorithm ed25519 -out "$dir/k.pem" 2>/dev/null || { echo "FAIL: openssl"; exit 1; }
openssl pkey -in "$dir/k.pem" -pubout -out "$dir/k.pub" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$dir/o.pem" 2>/dev/null
openssl pkey -in "$dir/o.pem" -pubout -out "$dir/o.pub" 2>/dev/null
# 30 decisions, a checkpoint every 10 (the one after decision 30 is also the shutdown one):
# 33 entries, checkpoints at seq 11, 22 and 33
"$gen" "$dir/audit.log" "$dir/k.pem" 30 10 final || { echo "FAIL: fixture"; exit 1; }

# usage
"$xb" verify-audit >/dev/null 2>&1; [ $? -eq 2 ] || bad "verify-audit without files should exit 2"
"$xb" audit-proof --audit "$dir/audit.log" >/dev/null 2>&1; [ $? -eq 2 ] || bad "audit-proof without --seq should exit 2"
"$xb" verify-audit --help | grep -q 'usage: xborder verify-audit' || bad "verify-audit --help"

# intact
out=$("$xb" verify-audit --pub "$dir/k.pub" "$dir/audit.log"); rc=$?
[ $rc -eq 0 ] || bad "intact log exit $rc: $out"
echo "$out" | grep -q '^intact: 33 entries (30 decisions), 3 checkpoints, signed up to entry 32' || bad "intact line: $out"
"$xb" verify-audit --json --pub "$dir/k.pub" "$dir/audit.log" | grep -q '"status": "intact"' || bad "--json"
out=$("$xb" verify-audit --pub "$dir/o.pub" "$dir/audit.log"); rc=$?
[ $rc -eq 1 ] || bad "wrong key exit $rc"
echo "$out" | grep -q '^BROKEN at seq 11: bad-signature' || bad "wrong key: $out"

# one byte changed in entry 7 (a digit of its "n")
sed '7s/"n":6,/"n":8,/' "$dir/audit.log" >"$dir/t1.log"
out=$("$xb" verify-audit --pub "$dir/k.pub" "$dir/t1.log"); rc=$?
[ $rc -eq 1 ] || bad "altered exit $rc"
echo "$out" | grep -q '^BROKEN at seq 7: altered' || bad "altered: $out"
# entry 5 deleted
sed '5d' "$dir/audit.log" >"$dir/t2.log"
out=$("$xb" verify-audit --pub "$dir/k.pub" "$dir/t2.log"); [ $? -eq 1 ] || bad "deleted exit"
echo "$out" | grep -q '^BROKEN at seq 5: missing' || bad "deleted: $out"
# entries 12 and 13 swapped
sed -n '13p' "$dir/audit.log" >"$dir/l13"
sed '13d' "$dir/audit.log" | sed "11r $dir/l13" >"$dir/t3.log"
out=$("$xb" verify-audit --pub "$dir/k.pub" "$dir/t3.log"); [ $? -eq 1 ] || bad "swapped exit"
echo "$out" | grep -q '^BROKEN at seq 12: reordered' || bad "swapped: $out"
# one more decision appended without a checkpoint
cp "$dir/audit.log" "$dir/t4.log"
"$gen" "$dir/t4.log" "$dir/k.pem" 1 1000 nofinal
out=$("$xb" verify-audit --pub "$dir/k.pub" "$dir/t4.log"); [ $? -eq 1 ] || bad "unsigned tail exit"
echo "$out" | grep -q '^BROKEN at seq 34: unsigned-tail' || bad "unsigned tail: $out"
"$xb" verify-audit --allow-unsigned-tail --pub "$dir/k.pub" "$dir/t4.log" >/dev/null || bad "live log should pass with --allow-unsigned-tail"

# inclusion proof of entry 17 against the checkpoint that covers it (seq 22, tree_size 21)
"$xb" audit-proof --audit "$dir/audit.log" --seq 17 --pub "$dir/k.pub" >"$dir/p.json" || bad "proof exit"
grep -q '"tree_size": 21' "$dir/p.json" || bad "proof tree size: $(head -c 300 "$dir/p.json")"
out=$("$xb" audit-proof --verify "$dir/p.json" --pub "$dir/k.pub"); rc=$?
[ $rc -eq 0 ] || bad "proof verify exit $rc: $out"
echo "$out" | grep -q '^VALID: entry 17 is leaf 16 of the log of 21 entries' || bad "proof: $out"
"$xb" audit-proof --verify "$dir/p.json" --pub "$dir/o.pub" >/dev/null; [ $? -eq 1 ] || bad "proof with wrong key"
# a path hash flipped: one hex digit of the first path element changed
ln=$(grep -n '^ *"[0-9a-f]*",\{0,1\}$' "$dir/p.json" | head -n 1 | cut -d: -f1)
[ -n "$ln" ] || bad "test bug: no path element in proof"
c=$(sed -n "${ln}p" "$dir/p.json" | sed 's/^ *"\(.\).*/\1/')
[ "$c" = 0 ] && r=1 || r=0
sed "${ln}s/^\( *\)\"./\1\"$r/" "$dir/p.json" >"$dir/p2.json"
cmp -s "$dir/p.json" "$dir/p2.json" && bad "test bug: proof not modified"
out=$("$xb" audit-proof --verify "$dir/p2.json" --pub "$dir/k.pub"); [ $? -eq 1 ] || bad "tampered path accepted"
echo "$out" | grep -q 'does not lead to the signed root' || bad "tampered path: $out"
# the entry itself changed
sed 's/\\"n\\":\([0-9]*\)/\\"n\\":9\1/' "$dir/p.json" >"$dir/p3.json"
cmp -s "$dir/p.json" "$dir/p3.json" && bad "test bug: entry not modified"
"$xb" audit-proof --verify "$dir/p3.json" --pub "$dir/k.pub" >/dev/null; [ $? -eq 1 ] || bad "tampered entry accepted"
# not yet signed: entry 34 of t4
"$xb" audit-proof --audit "$dir/t4.log" --seq 34 >/dev/null 2>&1; [ $? -eq 1 ] || bad "unsigned entry proof"

[ $fail -eq 0 ] && echo "audit_cli: ok"
exit $fail
