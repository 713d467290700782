#!/bin/bash
# tests/hsm/test_cli_probe.sh - the `hsmssp` command against real tokens.
#
# Runs the built binary (HSMSSP_CLI) against a SoftHSM2 token of its own
# (made below with softhsm2-util) and NSS softoken, and checks:
#   - the probe table's levels from DESIGN sec. 3 through --json (parsed
#     with python3's json module): SoftHSM2 17/18 T, 19/20 H(import),
#     23 H(op) refused by default and allowed with --allow-host-op krb, the
#     NTLM steps; NSS softoken every row T;
#   - the documented exit codes (docs/cli.md) and one-line messages for a
#     missing module, no such token, wrong PIN, PIN file with a trailing
#     newline, PIN file readable by others, PIN locked (through the
#     fault-injecting module), usage errors;
#   - `hsmssp key import-raw` / `key test` on SoftHSM2, the key found by
#     --id and by --uri (id=, object=, ambiguous, none, another token).
# Exits 77 when SoftHSM2 or the fixture is missing on a developer machine;
# with CI=true every missing piece is a failure instead.
set -u

cli=${HSMSSP_CLI:-}
work=${HSMSSP_TEST_WORK:-}
softhsm=/usr/lib/softhsm/libsofthsm2.so
nss=/usr/lib/x86_64-linux-gnu/libsoftokn3.so
nss_uri='pkcs11:token=NSS%20Generic%20Crypto%20Services'
py=/usr/bin/python3

skip() {
    echo "SKIP: $*"
    [ "${CI:-}" = true ] && { echo "CI=true: a skip is a failure"; exit 1; }
    exit 77
}
[ -n "$cli" ] && [ -x "$cli" ] || skip "HSMSSP_CLI does not name the built hsmssp"
[ -f "$softhsm" ] || skip "SoftHSM2 module $softhsm missing"
[ -f "$nss" ] || skip "NSS softoken $nss missing"
[ -x "$py" ] || skip "$py missing"
command -v softhsm2-util >/dev/null || skip "softhsm2-util missing"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hsmssp-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# A token of this script's own (as the C tests have, tests/common/
# testutil.c): SoftHSM2 token files shared with tests running in
# parallel made logins fail while another process rewrote them.
mkdir -p "$tmp/softhsm/tokens"
cat >"$tmp/softhsm/softhsm2.conf" <<CONF
directories.tokendir = $tmp/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF=$tmp/softhsm/softhsm2.conf
softhsm2-util --init-token --free --label hsmssp-test --so-pin 123456 \
    --pin 1234 >/dev/null || skip "softhsm2-util could not make a token"
uri='pkcs11:token=hsmssp-test?pin-value=1234'
passed=0
failed=0

ok() {
    passed=$((passed + 1))
    echo "ok   $*"
}
bad() {
    failed=$((failed + 1))
    echo "FAIL $*"
}

# expect_exit NAME CODE cmd...: runs cmd, wants exit CODE; for a non-zero
# CODE also exactly one line on stderr, starting with "hsmssp: ".
# Leaves stdout in $tmp/out and stderr in $tmp/err.
expect_exit() {
    local name=$1 want=$2 got lines
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    got=$?
    if [ "$got" != "$want" ]; then
        bad "$name: exit $got, want $want; stderr: $(head -c 400 "$tmp/err")"
        return 1
    fi
    if [ "$want" != 0 ]; then
        lines=$(wc -l <"$tmp/err")
        if [ "$lines" != 1 ] || ! grep -q '^hsmssp: ' "$tmp/err"; then
            bad "$name: want one 'hsmssp: ' line on stderr, got: $(cat "$tmp/err")"
            return 1
        fi
    fi
    ok "$name (exit $got)"
}

# check_json NAME FILE PYTHON: runs the python assertions with `d` bound to
# the parsed JSON and `row(key)` finding a row by etype or NTLM step name.
check_json() {
    local name=$1 file=$2 code=$3 out
    if out=$("$py" - "$file" "$code" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def row(key):
    for r in d["rows"]:
        if (isinstance(key, int) and r["etype"] == key) or r["name"] == key:
            return r
    raise AssertionError("no row %r in %s" % (key, [r["name"] for r in d["rows"]]))
def level(key, lvl, allowed=True):
    r = row(key)
    assert r["level"] == lvl, "%s: level %s, want %s" % (r["name"], r["level"], lvl)
    assert r["allowed"] == allowed, "%s: allowed %s, want %s" % (r["name"], r["allowed"], allowed)
    assert isinstance(r["mechanisms"], list)
    return r
exec(sys.argv[2])
PY
    ); then
        ok "$name"
    else
        bad "$name: $out"
    fi
}

NTLM_STEPS='["NTOWFv2","NTProofStr","SessionBaseKey","KeyExchange","SignKey","SealKey","Seal"]'

# ---- SoftHSM2: the probe table --------------------------------------------
if expect_exit "softhsm2 probe --json" 0 "$cli" probe --module "$softhsm" \
    --token "$uri" --json; then
    cp "$tmp/out" "$tmp/softhsm.json"
    check_json "softhsm2: identity and trial facts" "$tmp/softhsm.json" '
t = d["token"]
assert t["label"] == "hsmssp-test", t
assert t["login_required"] is True and t["persistent_objects"] is True, t
assert t["cryptoki_major"] == 2, t
c = d["caps"]
assert c["aes_cbc"] and c["aes_ecb"] and c["aes_cbc_encrypt_data"], c
assert not c["rc4"] and not c["kdf_counter_sha256"], c
assert c["hmac_min_sha1"] == 20 and c["hmac_min_sha256"] == 32, c
assert d["policy"] == {"allow_host_op_krb": False, "allow_host_op_ntlm": False}
assert [r["etype"] for r in d["rows"][:5]] == [17, 18, 19, 20, 23]
assert [r["name"] for r in d["rows"][5:]] == '"$NTLM_STEPS"', d["rows"]
'
    check_json "softhsm2: enctype levels (17/18 T, 19/20 H(import), 23 H(op) refused)" \
        "$tmp/softhsm.json" '
level(17, "T"); level(18, "T")
level(19, "H(import)"); level(20, "H(import)")
r = level(23, "H(op)", allowed=False)
assert r["missing"], "etype 23 must name the missing mechanism: %r" % r
for e in (17, 18):
    assert row(e)["missing"] is None, row(e)
'
    check_json "softhsm2: NTLM levels (DESIGN sec. 3)" "$tmp/softhsm.json" '
level("NTOWFv2", "H(import)")
level("NTProofStr", "T")
for s in ("SessionBaseKey", "KeyExchange", "SignKey", "SealKey"):
    level(s, "H(arrival)")
r = level("Seal", "H(op)", allowed=False)
assert r["missing"], r
'
fi

if expect_exit "softhsm2 probe --allow-host-op krb" 0 "$cli" probe \
    --module "$softhsm" --token "$uri" --allow-host-op krb --json; then
    check_json "softhsm2 with krb H(op) allowed: 23 allowed, NTLM Seal still refused" \
        "$tmp/out" '
level(23, "H(op)", allowed=True)
level("Seal", "H(op)", allowed=False)
assert d["policy"]["allow_host_op_krb"] is True
'
fi
if expect_exit "softhsm2 probe --allow-host-op krb,ntlm" 0 "$cli" probe \
    --module "$softhsm" --token "$uri" --allow-host-op krb,ntlm --json; then
    check_json "softhsm2 with all H(op) allowed: every row allowed" "$tmp/out" '
bad = [r["name"] for r in d["rows"] if not r["allowed"]]
assert not bad, bad
'
fi

# The text table: the same rows, readable.
if expect_exit "softhsm2 probe (text)" 0 "$cli" probe --module "$softhsm" \
    --token "$uri"; then
    if grep -q 'aes256-cts-hmac-sha1-96' "$tmp/out" &&
        grep -q 'REFUSED' "$tmp/out" && grep -q 'hsmssp-test' "$tmp/out"; then
        ok "text table names the rows and the refusal"
    else
        bad "text table incomplete: $(cat "$tmp/out")"
    fi
fi

# ---- NSS softoken: every row on the token ----------------------------------
if expect_exit "nss probe --json" 0 "$cli" probe --module "$nss" \
    --token "$nss_uri" --json; then
    check_json "nss: every row T and allowed" "$tmp/out" '
assert d["token"]["label"] == "NSS Generic Crypto Services", d["token"]
c = d["caps"]
assert c["kdf_counter_sha256"] and c["kdf_feedback_md5"] and c["rc4"], c
assert len(d["rows"]) == 12, len(d["rows"])
for r in d["rows"]:
    assert r["level"] == "T" and r["allowed"], r
    assert r["mechanisms"], r
'
fi

# ---- exit codes --------------------------------------------------------------
expect_exit "missing module -> 3" 3 "$cli" probe \
    --module "$tmp/no-such-module.so" --token "$uri"
expect_exit "no such token -> 4" 4 "$cli" probe --module "$softhsm" \
    --token 'pkcs11:token=no-such-token?pin-value=1234'
expect_exit "wrong PIN -> 5" 5 "$cli" probe --module "$softhsm" \
    --token 'pkcs11:token=hsmssp-test?pin-value=9999'

# PIN files: read verbatim, so a trailing newline is a wrong PIN, and the
# message must say so; a file others can read is refused before use.
printf '1234' >"$tmp/pin"
chmod 600 "$tmp/pin"
expect_exit "pin file -> 0" 0 "$cli" probe --module "$softhsm" \
    --token 'pkcs11:token=hsmssp-test' --pin-file "$tmp/pin"
printf '1234\n' >"$tmp/pin-nl"
chmod 600 "$tmp/pin-nl"
if expect_exit "pin file with trailing newline -> 5" 5 "$cli" probe \
    --module "$softhsm" --token 'pkcs11:token=hsmssp-test' \
    --pin-file "$tmp/pin-nl"; then
    if grep -qi 'newline' "$tmp/err"; then
        ok "wrong PIN from a file hints at the trailing newline"
    else
        bad "no newline hint: $(cat "$tmp/err")"
    fi
fi
printf '1234' >"$tmp/pin-open"
chmod 644 "$tmp/pin-open"
expect_exit "pin file readable by others -> 7" 7 "$cli" probe \
    --module "$softhsm" --token 'pkcs11:token=hsmssp-test' \
    --pin-file "$tmp/pin-open"

# PIN locked cannot be produced by SoftHSM2: the fault module wraps it.
fault=${HSMSSP_FAULT_MODULE:-}
if [ -n "$fault" ] && [ -f "$fault" ]; then
    HSMSSP_FAULT_TARGET=$softhsm HSMSSP_FAULT_RULES='C_Login:*=CKR_PIN_LOCKED' \
        expect_exit "PIN locked -> 6" 6 "$cli" probe --module "$fault" \
        --token "$uri"
else
    if [ "${CI:-}" = true ]; then
        bad "PIN locked: fault module missing (HSMSSP_FAULT_MODULE=$fault)"
    else
        echo "skip PIN locked: fault module missing (HSMSSP_FAULT_MODULE=$fault)"
    fi
fi

expect_exit "no --module -> 2" 2 "$cli" probe --token "$uri"
expect_exit "unknown option -> 2" 2 "$cli" probe --module "$softhsm" --bogus
expect_exit "bad --allow-host-op -> 2" 2 "$cli" probe --module "$softhsm" \
    --allow-host-op rc5
expect_exit "unknown command -> 2" 2 "$cli" frobnicate
if expect_exit "help probe -> 0" 0 "$cli" help probe; then
    if grep -q 'exit codes' "$tmp/out" && grep -q 'PIN locked' "$tmp/out"; then
        ok "help probe documents the exit codes"
    else
        bad "help probe lacks the exit codes"
    fi
fi
if expect_exit "--version -> 0" 0 "$cli" --version; then
    grep -Eq '^hsmssp [0-9]+\.[0-9]+\.[0-9]+$' "$tmp/out" &&
        ok "--version prints the version" || bad "--version: $(cat "$tmp/out")"
fi

# ---- key import-raw / key test on SoftHSM2 ----------------------------------
# A random CKA_ID per run, so parallel and repeated runs never collide.
id=$(od -An -tx1 -N6 /dev/urandom | tr -d ' \n')
for spec in "18 32" "19 16"; do
    read -r etype len <<<"$spec"
    head -c "$len" /dev/urandom >"$tmp/key"
    "$cli" key import-raw --module "$softhsm" --token "$uri" --etype "$etype" \
        --id "$id$etype" --label "cli-test-$id-$etype" <"$tmp/key" \
        >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ "$rc" = 0 ] && ok "key import-raw etype $etype" ||
        bad "key import-raw etype $etype: exit $rc: $(cat "$tmp/err")"
    if expect_exit "key test etype $etype" 0 "$cli" key test \
        --module "$softhsm" --token "$uri" --etype "$etype" --id "$id$etype"; then
        grep -q '^OK$' "$tmp/out" && grep -q 'rejected' "$tmp/out" &&
            ok "key test etype $etype reports OK and the tamper rejection" ||
            bad "key test output: $(cat "$tmp/out")"
    fi
done
head -c 31 /dev/urandom >"$tmp/key"
"$cli" key import-raw --module "$softhsm" --token "$uri" --etype 18 \
    --id "${id}ff" <"$tmp/key" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && grep -q 'exactly 32' "$tmp/err" &&
    ok "key import-raw refuses a short key (exit 1)" ||
    bad "short key: exit $rc: $(cat "$tmp/err")"
expect_exit "key test of an absent id -> 1" 1 "$cli" key test \
    --module "$softhsm" --token "$uri" --etype 18 --id "${id}ee"

# ---- key test --uri ----------------------------------------------------------
# The etype 18 key above has CKA_ID $id"18" and label cli-test-$id-18
# (unique per run); a URI spells the id as %XX bytes.
pct_id=$(printf '%s' "${id}18" | sed 's/../%&/g')
if expect_exit "key test --uri id= -> 0" 0 "$cli" key test \
    --module "$softhsm" --token "$uri" --etype 18 \
    --uri "pkcs11:id=$pct_id;type=secret-key"; then
    grep -q '^OK$' "$tmp/out" && ok "key test --uri id= reports OK" ||
        bad "key test --uri output: $(cat "$tmp/out")"
fi
expect_exit "key test --uri object= -> 0" 0 "$cli" key test \
    --module "$softhsm" --token "$uri" --etype 18 \
    --uri "pkcs11:token=hsmssp-test;object=cli-test-$id-18"
# A pin-value in the key URI is ignored, and never echoed.
if expect_exit "key test --uri with pin-value -> 0" 0 "$cli" key test \
    --module "$softhsm" --token "$uri" --etype 18 \
    --uri "pkcs11:object=cli-test-$id-18?pin-value=secret-pin-77"; then
    grep -q 'secret-pin-77' "$tmp/out" "$tmp/err" &&
        bad "the URI's pin-value was echoed" ||
        ok "the URI's pin-value is not echoed"
fi
# A second key with the same label: the label alone is ambiguous.
head -c 32 /dev/urandom >"$tmp/key"
"$cli" key import-raw --module "$softhsm" --token "$uri" --etype 18 \
    --id "${id}dd" --label "cli-test-$id-18" <"$tmp/key" >/dev/null 2>&1 ||
    bad "import of a second key with the same label"
if expect_exit "key test --uri ambiguous -> 1" 1 "$cli" key test \
    --module "$softhsm" --token "$uri" --etype 18 \
    --uri "pkcs11:object=cli-test-$id-18"; then
    grep -q 'URI matches 2 objects' "$tmp/err" &&
        ok "ambiguous URI names the count" ||
        bad "ambiguous URI message: $(cat "$tmp/err")"
fi
if expect_exit "key test --uri none -> 1" 1 "$cli" key test \
    --module "$softhsm" --token "$uri" --etype 18 \
    --uri "pkcs11:object=cli-test-$id-none"; then
    grep -qi 'not found' "$tmp/err" && ok "absent URI: key not found" ||
        bad "absent URI message: $(cat "$tmp/err")"
fi
expect_exit "key test --uri of another token -> 4" 4 "$cli" key test \
    --module "$softhsm" --token "$uri" --etype 18 \
    --uri "pkcs11:token=some-other-token;object=cli-test-$id-18"
expect_exit "key test --id and --uri -> 2" 2 "$cli" key test \
    --module "$softhsm" --token "$uri" --etype 18 --id "${id}18" \
    --uri "pkcs11:object=cli-test-$id-18"
expect_exit "key import-raw --uri -> 2" 2 "$cli" key import-raw \
    --module "$softhsm" --token "$uri" --etype 18 --id "${id}cc" \
    --uri "pkcs11:object=x"

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
