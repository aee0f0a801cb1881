#!/usr/bin/env bash
# `mamorictl policy` end to end on real files: every subcommand's exit code and message, the key
# file's mode, refusal to overwrite, and each way `verify` refuses a bundle.
# usage: mamorictl_policy_test.sh MAMORICTL DATA_DIR
set -uo pipefail

ctl=$1
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

fail() {
  printf 'FAIL: %s\n' "$1" >&2
  if [[ -n ${2-} ]]; then printf -- '--- output:\n%s\n---\n' "$2" >&2; fi
  exit 1
}

# expect CODE FRAGMENT COMMAND...: COMMAND must exit with CODE and print FRAGMENT (stdout or stderr).
# Leaves the combined output in $out.
expect() {
  local code=$1 fragment=$2 rc
  shift 2
  out=$("$@" 2>&1)
  rc=$?
  ((rc == code)) || fail "'$*' exited $rc, expected $code" "$out"
  [[ $out == *"$fragment"* ]] || fail "'$*' did not print '$fragment'" "$out"
  checks=$((checks + 1))
}

# has FRAGMENT: the last command's output also holds FRAGMENT.
has() {
  [[ $out == *"$1"* ]] || fail "output lacks '$1'" "$out"
}

mode_of() { stat -c %a "$1"; }
field() { sed -n "s/^$1: //p" <<<"$out" | head -1; }

checks=0
policy="$data/valid.json"

# --- help and usage
expect 0 "exit codes:" "$ctl" --help
has "14  verify: rollback"
expect 0 "--key KEYFILE" "$ctl" policy sign --help
has "exit codes:"
expect 2 "unknown area 'frob'" "$ctl" frob
expect 2 "unknown command 'frob'" "$ctl" policy frob
expect 2 "'--key' is required" "$ctl" policy sign "$policy"
expect 2 "missing POLICY.json" "$ctl" policy lint
expect 2 "unrecognised option '--bogus'" "$ctl" policy lint --bogus "$policy"

# --- keygen: exact mode whatever the umask, never overwrites
expect 0 "key_id: " bash -c "umask 000 && exec '$ctl' policy keygen --out k1.pem --trust-out trust1.json"
id1=$(field key_id)
pub1=$(field public_key)
[[ $id1 =~ ^[0-9a-f]{32}$ ]] || fail "key id '$id1' is not 32 hex digits" "$out"
[[ $(mode_of k1.pem) == 600 ]] || fail "k1.pem has mode $(mode_of k1.pem), expected 600"
[[ $(mode_of trust1.json) == 644 ]] || fail "trust1.json has mode $(mode_of trust1.json)"
grep -q -- "-----BEGIN PRIVATE KEY-----" k1.pem || fail "k1.pem is not a PEM private key"
grep -q -- "$pub1" trust1.json || fail "trust1.json does not hold the new public key"
before=$(sha256sum k1.pem)
expect 3 "k1.pem" "$ctl" policy keygen --out k1.pem
has "File exists"
[[ $(sha256sum k1.pem) == "$before" ]] || fail "keygen changed an existing key file"
# A trust file that cannot be created takes the new key with it: both files or neither.
expect 3 "trust1.json" "$ctl" policy keygen --out k3.pem --trust-out trust1.json
[[ ! -e k3.pem ]] || fail "keygen left k3.pem behind after failing to create its trust file"
expect 0 "key_id: " "$ctl" policy keygen --out k2.pem --trust-out trust2.json
id2=$(field key_id)
pub2=$(field public_key)

# --- lint
expect 4 "$data/invalid.json: /usb/allow/0/vid: " "$ctl" policy lint "$data/invalid.json"
has "$data/invalid.json: /version: "
has "$data/invalid.json: /colour: "
expect 0 "ok" "$ctl" policy lint "$policy"
expect 3 "missing.json" "$ctl" policy lint missing.json
has "No such file or directory"

# --- sign
expect 4 "/usb/allow/0/vid" "$ctl" policy sign --key k1.pem "$data/invalid.json" --out never.json
[[ ! -e never.json ]] || fail "sign wrote a bundle for an invalid policy"
expect 4 "$policy: not an Ed25519 private key" "$ctl" policy sign --key "$policy" "$policy"
expect 2 "the same key as k1.pem" "$ctl" policy sign --key k1.pem --key ./k1.pem "$policy"
expect 0 "key_id: $id1" "$ctl" policy sign --key k1.pem "$policy" --out b1.json
has "version: 3"
hash=$(field hash)
[[ $hash =~ ^[0-9a-f]{64}$ ]] || fail "hash '$hash' is not 64 hex digits" "$out"
[[ $(mode_of b1.json) == 644 ]] || fail "b1.json has mode $(mode_of b1.json), expected 644"
expect 3 "b1.json" "$ctl" policy sign --key k1.pem "$policy" --out b1.json
has "File exists"
"$ctl" policy sign --key k1.pem --key k2.pem "$policy" >b12.json 2>sign.err ||
  fail "sign to standard output failed" "$(cat sign.err)"
grep -q '"format":"mamori-policy-bundle/1"' b12.json || fail "stdout bundle lacks its format" "$(cat b12.json)"

sed -e 's/2030-01-01/2021-01-01/' -e 's/2026-11-01/2020-01-01/' "$policy" >old.json
expect 0 "old.json: warning: expires_at 2021-01-01T00:00:00Z has passed" \
  "$ctl" policy sign --key k1.pem old.json --out old-bundle.json
# Within the document limit, yet its signed bundle (labels of backslashes, escaped twice) would be
# larger than terminals accept.
awk 'BEGIN {
  label = ""; for (i = 0; i < 256; i++) label = label "\\\\"
  printf "{\"schema\":1,\"version\":1,\"issued_at\":\"2026-01-01T00:00:00Z\","
  printf "\"expires_at\":\"2030-01-01T00:00:00Z\",\"targets\":[\"*\"],\"usb\":{\"allow\":["
  for (i = 0; i < 1880; i++) printf "%s{\"id\":\"r%d\",\"vid\":\"0001\",\"label\":\"%s\"}", (i ? "," : ""), i, label
  printf "]}}\n"
}' >big.json
expect 4 "big.json: /: canonical form is" "$ctl" policy lint big.json
expect 4 "big.json: /: canonical form is" "$ctl" policy sign --key k1.pem big.json --out big-bundle.json
[[ ! -e big-bundle.json ]] || fail "sign wrote a bundle terminals would refuse"

# --- verify
now=(--now 2027-01-01T00:00:00Z)
expect 0 "ok: version 3, hash $hash, signed by $id1" \
  "$ctl" policy verify --trust trust1.json --group shimin-ka "${now[@]}" b1.json
expect 0 "ok: version 3" "$ctl" policy verify --trust trust1.json --group zeimu-ka b1.json
expect 12 "b1.json: unknown key: " \
  "$ctl" policy verify --trust trust2.json --group shimin-ka "${now[@]}" b1.json
has "$id1"
expect 14 "b1.json: rollback: " \
  "$ctl" policy verify --trust trust1.json --group shimin-ka --last-version 5 "${now[@]}" b1.json
expect 0 "already applied: version 3, hash $hash" "$ctl" policy verify --trust trust1.json \
  --group shimin-ka --last-version 3 --last-hash "$hash" "${now[@]}" b1.json
other_hash=$(printf '0%.0s' {1..64})
expect 14 "already applied with other content" "$ctl" policy verify --trust trust1.json \
  --group shimin-ka --last-version 3 --last-hash "$other_hash" "${now[@]}" b1.json
expect 0 "ok: version 3" \
  "$ctl" policy verify --trust trust1.json --group shimin-ka --last-version 2 "${now[@]}" b1.json
expect 16 "b1.json: not for this terminal: " \
  "$ctl" policy verify --trust trust1.json --group kokuho-ka "${now[@]}" b1.json
expect 15 "b1.json: expired: " \
  "$ctl" policy verify --trust trust1.json --group shimin-ka --now 2030-01-01T00:00:00Z b1.json
expect 2 "--now: expected RFC 3339" \
  "$ctl" policy verify --trust trust1.json --now "2027-01-01 00:00" b1.json
expect 2 "--last-version: expected a non-negative integer" \
  "$ctl" policy verify --trust trust1.json --last-version -1 b1.json
expect 2 "--last-hash needs --last-version" \
  "$ctl" policy verify --trust trust1.json --last-hash "$hash" b1.json
expect 4 "$policy: " "$ctl" policy verify --trust "$policy" b1.json

# Threshold: two pinned keys, both required.
printf '{"threshold":2,"keys":["%s","%s"]}\n' "$pub1" "$pub2" >trust12.json
expect 13 "b1.json: below threshold: " \
  "$ctl" policy verify --trust trust12.json --group shimin-ka "${now[@]}" b1.json
expect 0 "signed by $id1, $id2" \
  "$ctl" policy verify --trust trust12.json --group shimin-ka "${now[@]}" b12.json

# Tampering: the version inside the signed bytes raised, then the envelope cut short.
sed 's/\\"version\\":3/\\"version\\":4/' b1.json >tampered.json
cmp -s b1.json tampered.json && fail "could not tamper with b1.json" "$(cat b1.json)"
expect 11 "tampered.json: bad signature: " \
  "$ctl" policy verify --trust trust1.json --group shimin-ka "${now[@]}" tampered.json
head -c 100 b1.json >truncated.json
expect 10 "truncated.json: malformed: " \
  "$ctl" policy verify --trust trust1.json --group shimin-ka "${now[@]}" truncated.json
# One byte flipped at every 97th offset: each copy must be refused as malformed or as a bad signature.
size=$(stat -c %s b1.json)
for ((offset = 0; offset < size; offset += 97)); do
  cp b1.json flipped.json
  byte=$(dd if=b1.json bs=1 skip="$offset" count=1 2>/dev/null)
  replacement=X
  [[ $byte == X ]] && replacement=Y
  printf '%s' "$replacement" | dd of=flipped.json bs=1 seek="$offset" conv=notrunc 2>/dev/null
  "$ctl" policy verify --trust trust1.json --group shimin-ka "${now[@]}" flipped.json >flip.out 2>&1
  rc=$?
  ((rc == 10 || rc == 11)) || fail "byte $offset flipped: exit $rc, expected 10 or 11" "$(cat flip.out)"
done
checks=$((checks + 1))
head -c $((2 * 1024 * 1024 + 64 * 1024 + 1)) /dev/zero >huge.json
expect 17 "huge.json: too large: " "$ctl" policy verify --trust trust1.json huge.json

# --- show
expect 0 "hash: $hash" "$ctl" policy show b1.json
has "signature: $id1"
has '"version": 3'
has "ledger-0012"
expect 0 '"targets"' "$ctl" policy show "$policy"
has "shimin-ka"
expect 4 "/usb/allow/0/vid" "$ctl" policy show "$data/invalid.json"
sed 's/\\"version\\":3/\\"version\\":0/' b1.json >version0.json
expect 4 "version0.json (policy inside the bundle): /version: " "$ctl" policy show version0.json
printf '{"format":"something-else/9","policy":"","signatures":[]}' >alien.json
expect 4 "alien.json: /format: " "$ctl" policy show alien.json

echo "mamorictl policy: $checks checks passed"
