#!/bin/bash
# tests/kdc/test_keytab_cli.sh - `hsmssp keytab import|list|remove` with
# the realm's real keytabs (tests/common/realm-setup.sh) on a SoftHSM2
# token of this script's own:
#   - import of every eNN.keytab and of host.keytab (kvno 1 and 2): one
#     line per entry with the level of DESIGN sec. 3 (17/18 T, 19/20
#     H(import), 23 H(op)), etype 23 refused at the default policy with
#     exit 10 and imported with --allow-host-op krb;
#   - `keytab list` (text and --json) and `pkcs11-tool --list-objects`
#     show exactly the keys klist -ke lists in the keytabs, under the
#     same labels; a PKCS#11 URI built from a label finds its key
#     (`hsmssp key test --uri`);
#   - `keytab remove --principal host/localhost@HSMSSP.TEST --kvno 1`
#     removes kvno 1 (and its per-usage objects) only;
#   - `cat kt | hsmssp keytab import -` finds every entry; a truncated
#     keytab on stdin, a missing file: exit 11, nothing imported;
#   - duplicates refused with exit 9, --replace, --remove-source (file
#     deleted after a full import, kept otherwise, refused with '-');
#   - --config supplies the token options and policy, options win;
#   - NSS softoken without a database: exit 12 and the clear message.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/kdc/lib.sh
. "$here/lib.sh"
kdc_init keytab_cli

cli=${HSMSSP_CLI:-}
softhsm=/usr/lib/softhsm/libsofthsm2.so
nss=/usr/lib/x86_64-linux-gnu/libsoftokn3.so
{ [ -n "$cli" ] && [ -x "$cli" ]; } || kdc_skip "HSMSSP_CLI does not name hsmssp"
[ -f "$softhsm" ] || kdc_skip "SoftHSM2 module $softhsm missing"
[ -f "$nss" ] || kdc_skip "NSS softoken $nss missing"
command -v softhsm2-util >/dev/null || kdc_skip "softhsm2-util missing"
command -v pkcs11-tool >/dev/null || kdc_skip "pkcs11-tool missing (opensc)"
dir=$HSMSSP_REALM_DIR
realm=$HSMSSP_REALM

# The token: private to this test (SoftHSM2 token files are not safe to
# share between processes that write them).
mkdir -p "$KDC_TMP/softhsm/tokens"
cat >"$KDC_TMP/softhsm/softhsm2.conf" <<CONF
directories.tokendir = $KDC_TMP/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF=$KDC_TMP/softhsm/softhsm2.conf
softhsm2-util --init-token --free --label kt-cli --so-pin 123456 \
    --pin 1234 >/dev/null || kdc_skip "softhsm2-util could not make a token"
(umask 077 && printf '%s' 1234 >"$KDC_TMP/pin")
tok=(--module "$softhsm" --token 'pkcs11:token=kt-cli'
    --pin-file "$KDC_TMP/pin")

# expect NAME CODE CMD...: CMD must exit CODE; stdout in $KDC_TMP/out,
# stderr in $KDC_TMP/err; a non-zero exit must print exactly one
# "hsmssp: " line on stderr.  Standard input is /dev/null unless the
# caller redirects expect's own input (expect_in).
expect_in() {
    local name=$1 want=$2 got
    shift 2
    "$@" >"$KDC_TMP/out" 2>"$KDC_TMP/err"
    got=$?
    if [ "$got" != "$want" ]; then
        kdc_bad "$name: exit $got, want $want"
        sed 's/^/     | /' "$KDC_TMP/out" "$KDC_TMP/err" | tail -n 15
        return 1
    fi
    if [ "$want" != 0 ] && { [ "$(wc -l <"$KDC_TMP/err")" != 1 ] ||
        ! grep -q '^hsmssp: ' "$KDC_TMP/err"; }; then
        kdc_bad "$name: want one 'hsmssp: ' line on stderr, got:"
        sed 's/^/     | /' "$KDC_TMP/err"
        return 1
    fi
    kdc_ok "$name (exit $got)"
}
expect() {
    expect_in "$@" </dev/null
}

# labels_of KEYTAB...: the key store labels of the keytabs' entries of
# the enctypes hsmssp implements, from MIT's klist -ke (the oracle):
# "<principal> kvno <kvno> <enctype>", sorted.
labels_of() {
    local kt
    for kt in "$@"; do
        klist -ke "$kt" | awk 'NR > 3 {
            e = $3; gsub(/[()]/, "", e); sub(/^DEPRECATED:/, "", e)
            print $2 " kvno " $1 " " e }'
    done | sort
}

# labels_listed: the labels `keytab list` prints (text form), sorted.
labels_listed() {
    "$cli" keytab list "${tok[@]}" 2>/dev/null | sed 's/  \[.*\]$//' | sort
}

# labels_p11: the key labels pkcs11-tool shows (per-usage objects, whose
# labels end in /u<usage><role>, left out), sorted.
labels_p11() {
    pkcs11-tool --module "$softhsm" --token-label kt-cli --login \
        --pin 1234 --list-objects --type secrkey 2>/dev/null |
        sed -n 's/^  label: *//p' | grep -v '/u[0-9]*[eic]$' | sort
}

# ---- import each service keytab ------------------------------------------
declare -A level=([17]=T [18]=T [19]=H\(import\) [20]=H\(import\))
for n in 17 18 19 20; do
    if expect "import e$n.keytab" 0 "$cli" keytab import "${tok[@]}" \
        "$dir/e$n.keytab"; then
        kdc_assert_grep "e$n line: label, level, imported" "$KDC_TMP/out" \
            "e$n/localhost@$realm kvno 1 ${KDC_ETNAME[$n]}  [${level[$n]}]  imported"
    fi
done
# etype 23 needs H(op) on SoftHSM2: refused per entry by default (exit 10)
if expect "import e23.keytab at default policy" 10 "$cli" keytab import \
    "${tok[@]}" "$dir/e23.keytab"; then
    kdc_assert_grep "e23 refused: the policy error names CKM_RC4" \
        "$KDC_TMP/out" "[H(op) refused]  failed: "
    kdc_assert_grep "e23 refusal names the option" "$KDC_TMP/out" \
        "CKM_RC4; allow H(op) for Kerberos in the policy to permit it (--allow-host-op krb)"
fi
expect "import e23.keytab with --allow-host-op krb" 0 "$cli" keytab import \
    "${tok[@]}" --allow-host-op krb "$dir/e23.keytab" &&
    kdc_assert_grep "e23 imported at H(op)" "$KDC_TMP/out" \
        "e23/localhost@$realm kvno 1 arcfour-hmac  [H(op)]  imported"

# host.keytab: ten entries, kvno 1 and 2; --json
if expect "import host.keytab --json" 0 "$cli" keytab import "${tok[@]}" \
    --allow-host-op krb --json "$dir/host.keytab"; then
    if out=$("$PY" - "$KDC_TMP/out" "$realm" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
e = d["entries"]
assert len(e) == 10, len(e)
assert sorted(x["kvno"] for x in e) == [1] * 5 + [2] * 5
assert all(x["status"] == "imported" and x["detail"] is None for x in e), e
assert all(x["principal"] == "host/localhost@" + sys.argv[2] for x in e)
lv = {17: "T", 18: "T", 19: "H(import)", 20: "H(import)", 23: "H(op)"}
assert all(x["level"] == lv[x["etype"]] and x["allowed"] for x in e), e
assert (d["imported"], d["exists"], d["failed"], d["removed"]) == \
    (10, 0, 0, False), d
PY
    ); then
        kdc_ok "host.keytab JSON: 10 entries, levels, statuses"
    else
        kdc_bad "host.keytab JSON: $out"
    fi
fi

# ---- list and pkcs11-tool show what klist shows ---------------------------
want=$(labels_of "$dir"/e1[789].keytab "$dir"/e2[03].keytab \
    "$dir/host.keytab")
kdc_assert_eq "want 15 keys (oracle: klist -ke)" \
    "$(printf '%s\n' "$want" | wc -l)" 15
kdc_assert_eq "keytab list shows the keytabs' keys" "$(labels_listed)" \
    "$want"
kdc_assert_eq "pkcs11-tool shows the same labels" "$(labels_p11)" "$want"
if expect "keytab list (default policy)" 0 "$cli" keytab list "${tok[@]}"
then
    kdc_assert_grep "list marks etype 23 refused at default policy" \
        "$KDC_TMP/out" "e23/localhost@$realm kvno 1 arcfour-hmac  [H(op) refused]"
    kdc_assert_grep "list shows etype 19's level" "$KDC_TMP/out" \
        "host/localhost@$realm kvno 2 aes128-cts-hmac-sha256-128  [H(import)]"
fi
if expect "keytab list --json --principal host" 0 "$cli" keytab list \
    "${tok[@]}" --json --principal "host/localhost@$realm"; then
    if out=$("$PY" - "$KDC_TMP/out" <<'PY' 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
k = d["keys"]
assert d["token"] == "kt-cli", d["token"]
assert len(k) == 10, len(k)
# sorted: kvno descending, then etype
assert [x["kvno"] for x in k] == [2] * 5 + [1] * 5, k
assert [x["etype"] for x in k[:5]] == [17, 18, 19, 20, 23], k
for x in k:
    assert x["label"] == "%s kvno %d %s" % (x["principal"], x["kvno"],
                                           x["enctype"]), x
    assert x["allowed"] == (x["etype"] != 23), x
PY
    ); then
        kdc_ok "list --json: 10 host keys, order, labels, policy"
    else
        kdc_bad "list --json: $out"
    fi
fi

# A PKCS#11 URI made from a label (docs/keystore.md) finds that one key,
# and the engine uses it on the token.
expect "key test --uri object=<label>" 0 "$cli" key test "${tok[@]}" \
    --etype 18 \
    --uri "pkcs11:token=kt-cli;object=e18%2Flocalhost@$realm%20kvno%201%20aes256-cts-hmac-sha1-96;type=secret-key"
# ... and by its CKA_ID: "krb5" 01, etype 18, kvno 1, length 25, name
expect "key test --uri id=<key store id>" 0 "$cli" key test "${tok[@]}" \
    --etype 18 \
    --uri "pkcs11:token=kt-cli;type=secret-key;id=%6b%72%62%35%01%00%00%00%12%00%00%00%01%00%19e18%2Flocalhost@$realm"

# ---- remove one kvno ------------------------------------------------------
if expect "remove host kvno 1" 0 "$cli" keytab remove "${tok[@]}" \
    --principal "host/localhost@$realm" --kvno 1; then
    kdc_assert_grep "remove reports 5 keys" "$KDC_TMP/out" \
        "removed 5 keys of host/localhost@$realm kvno 1"
fi
want_after=$(printf '%s\n' "$want" | grep -v "^host/localhost@$realm kvno 1 ")
kdc_assert_eq "list after remove: kvno 1 gone, kvno 2 kept" \
    "$(labels_listed)" "$want_after"
kdc_assert_eq "pkcs11-tool after remove" "$(labels_p11)" "$want_after"
n_left=$(pkcs11-tool --module "$softhsm" --token-label kt-cli --login \
    --pin 1234 --list-objects --type secrkey 2>/dev/null |
    grep -c "label: *host/localhost@$realm kvno 1 ")
kdc_assert_eq "no per-usage object of kvno 1 left" "$n_left" 0
expect "remove again: nothing left to remove" 1 "$cli" keytab remove \
    "${tok[@]}" --principal "host/localhost@$realm" --kvno 1
kdc_assert_grep "remove names what was not found" "$KDC_TMP/err" \
    "no key of host/localhost@$realm with that kvno"

# ---- standard input ---------------------------------------------------------
# kvno 1 was removed, kvno 2 is there: all ten entries must be seen through
# the pipe, five imported and five existing (exit 9).
if expect_in "cat host.keytab | keytab import -" 9 "$cli" keytab import \
    "${tok[@]}" --allow-host-op krb - <"$dir/host.keytab"; then
    kdc_assert_eq "stdin: 5 imported" "$(grep -c '  imported$' "$KDC_TMP/out")" 5
    kdc_assert_eq "stdin: 5 exist" \
        "$(grep -c 'exists (use --replace)$' "$KDC_TMP/out")" 5
    kdc_assert_grep "stdin: stderr says why" "$KDC_TMP/err" \
        "5 of 10 entries were already on the token"
fi
# through a real pipe (not a redirected file, which is read in place)
# shellcheck disable=SC2002  # the pipe is the point
cat "$dir/e18.keytab" | "$cli" keytab import "${tok[@]}" --replace - \
    >"$KDC_TMP/out" 2>"$KDC_TMP/err"
kdc_assert_eq "cat e18.keytab | import --replace -: exit" "$?" 0
kdc_assert_grep "pipe: e18 replaced" "$KDC_TMP/out" \
    "e18/localhost@$realm kvno 1 aes256-cts-hmac-sha1-96  [T]  replaced"
kdc_assert_eq "labels unchanged after the stdin imports" "$(labels_listed)" \
    "$want"
head -c 100 "$dir/host.keytab" | "$cli" keytab import "${tok[@]}" - \
    >"$KDC_TMP/out" 2>"$KDC_TMP/err"
kdc_assert_eq "truncated keytab on stdin: exit 11" "$?" 11
kdc_assert_grep "truncated keytab: the reason" "$KDC_TMP/err" \
    "keytab on standard input is truncated"
: | "$cli" keytab import "${tok[@]}" - >"$KDC_TMP/out" 2>"$KDC_TMP/err"
kdc_assert_eq "empty pipe: exit 11" "$?" 11
expect "missing keytab file: exit 11" 11 "$cli" keytab import "${tok[@]}" \
    "$KDC_TMP/no-such.keytab"

# ---- duplicates, --remove-source -------------------------------------------
if expect "import e17.keytab again: exit 9" 9 "$cli" keytab import \
    "${tok[@]}" "$dir/e17.keytab"; then
    kdc_assert_grep "duplicate: exists (use --replace)" "$KDC_TMP/out" \
        "e17/localhost@$realm kvno 1 aes128-cts-hmac-sha1-96  [T]  exists (use --replace)"
fi
cp "$dir/e19.keytab" "$KDC_TMP/copy.keytab"
expect "--remove-source with keys already there: exit 9" 9 "$cli" keytab \
    import "${tok[@]}" --remove-source "$KDC_TMP/copy.keytab"
kdc_assert_grep "--remove-source: file kept" "$KDC_TMP/err" \
    "kept $KDC_TMP/copy.keytab"
if [ -f "$KDC_TMP/copy.keytab" ]; then
    kdc_ok "copy.keytab still there"
else
    kdc_bad "copy.keytab removed although its key was not imported"
fi
expect "remove e19 keys" 0 "$cli" keytab remove "${tok[@]}" \
    --principal "e19/localhost@$realm"
if expect "import --remove-source" 0 "$cli" keytab import "${tok[@]}" \
    "$KDC_TMP/copy.keytab" --remove-source; then
    kdc_assert_grep "--remove-source reports the removal" "$KDC_TMP/out" \
        "removed $KDC_TMP/copy.keytab"
fi
if [ ! -e "$KDC_TMP/copy.keytab" ]; then
    kdc_ok "copy.keytab deleted"
else
    kdc_bad "copy.keytab still exists after --remove-source"
fi
expect "--remove-source with '-': usage error" 2 "$cli" keytab import \
    "${tok[@]}" --remove-source -
ln -s "$dir/e18.keytab" "$KDC_TMP/link.keytab"
expect "--remove-source on a symbolic link: usage error" 2 "$cli" keytab \
    import "${tok[@]}" --remove-source "$KDC_TMP/link.keytab"
if [ -f "$dir/e18.keytab" ]; then
    kdc_ok "the link's target is untouched"
else
    kdc_bad "the realm's e18.keytab is gone"
fi

# ---- --config ---------------------------------------------------------------
(umask 077 && cat >"$KDC_TMP/hsmssp.conf" <<CONF
[token]
    module = $softhsm
    uri = pkcs11:token=kt-cli
    pin_file = $KDC_TMP/pin

[policy]
    allow_host_op = krb
CONF
)
if expect "list --config" 0 "$cli" keytab list --config "$KDC_TMP/hsmssp.conf"
then
    # the configuration's policy allows H(op): etype 23 not refused
    kdc_assert_grep "--config: policy from [policy] allow_host_op" \
        "$KDC_TMP/out" "e23/localhost@$realm kvno 1 arcfour-hmac  [H(op)]"
fi
expect "--config with --token: the option wins" 4 "$cli" keytab list \
    --config "$KDC_TMP/hsmssp.conf" --token 'pkcs11:token=no-such-token'
expect "--config with --allow-host-op none: the option wins" 0 "$cli" \
    keytab list --config "$KDC_TMP/hsmssp.conf" --allow-host-op none
kdc_assert_grep "--allow-host-op none beats the file" "$KDC_TMP/out" \
    "arcfour-hmac  [H(op) refused]"
chmod 644 "$KDC_TMP/hsmssp.conf"
expect "--config readable by others: exit 7" 7 "$cli" keytab list \
    --config "$KDC_TMP/hsmssp.conf"

# ---- usage -------------------------------------------------------------------
expect "import without a file" 2 "$cli" keytab import "${tok[@]}"
expect "import without a module" 2 "$cli" keytab import "$dir/e18.keytab"
expect "list takes no --replace" 2 "$cli" keytab list "${tok[@]}" --replace
expect "remove without --principal" 2 "$cli" keytab remove "${tok[@]}"
expect "remove --kvno -1" 2 "$cli" keytab remove "${tok[@]}" \
    --principal x@Y --kvno -1
expect "unknown subcommand" 2 "$cli" keytab frobnicate
expect "keytab --help" 0 "$cli" keytab --help
kdc_assert_grep "help lists exit code 12" "$KDC_TMP/out" \
    "12 import: the token cannot store keys"

# ---- NSS softoken without a database ------------------------------------------
if expect "NSS: import refused, exit 12" 12 "$cli" keytab import \
    --module "$nss" "$dir/e18.keytab"; then
    kdc_assert_grep "NSS: says the token cannot store keys" \
        "$KDC_TMP/err" "cannot store keys"
    kdc_assert_grep "NSS: points at server --import-keytab" \
        "$KDC_TMP/err" "hsmssp server --import-keytab"
fi

kdc_finish
