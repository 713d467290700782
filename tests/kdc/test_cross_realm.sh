#!/bin/bash
# tests/kdc/test_cross_realm.sh - the initiator across realms: the realm
# fixture's KDC serves HSMSSP.TEST and OTHER.TEST, which share the key
# krbtgt/OTHER.TEST@HSMSSP.TEST, and only the KDC maps .other.test to
# OTHER.TEST (docs/test-realm.md).  svcacct@HSMSSP.TEST, its key on a
# SoftHSM2 token, logs into xr/www.other.test@OTHER.TEST:
#   - named with its realm: the initiator asks its KDC for the cross-realm
#     TGT, then OTHER.TEST's KDC for the service;
#   - named without a realm: the client knows no mapping, asks its own
#     KDC, gets a referral TGT (RFC 6806, host-based name) and follows it;
#   - to hsmssp server and to MIT gss-server;
#   - a realm no path leads to fails with the KDC's reason.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
kdc_init cross_realm

cli=${HSMSSP_CLI:-}
softhsm=/usr/lib/softhsm/libsofthsm2.so
{ [ -n "$cli" ] && [ -x "$cli" ]; } || kdc_skip "HSMSSP_CLI does not name hsmssp"
[ -f "$softhsm" ] || kdc_skip "SoftHSM2 module $softhsm missing"
for t in softhsm2-util gss-server; do
    command -v "$t" >/dev/null || kdc_skip "$t missing"
done
[ -n "${HSMSSP_OTHER_REALM:-}" ] && [ -f "${HSMSSP_KT_XR:-}" ] ||
    kdc_skip "the realm fixture has no second realm (rebuild it)"
dir=$HSMSSP_REALM_DIR
other=$HSMSSP_OTHER_REALM
kdclog=$dir/kdc.log

mkdir -p "$KDC_TMP/softhsm/tokens"
cat >"$KDC_TMP/softhsm/softhsm2.conf" <<EOF
directories.tokendir = $KDC_TMP/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF=$KDC_TMP/softhsm/softhsm2.conf
softhsm2-util --init-token --free --label xrealm --so-pin 123456 \
    --pin 1234 >/dev/null || kdc_skip "softhsm2-util could not make a token"
printf 1234 >"$KDC_TMP/pin"
chmod 600 "$KDC_TMP/pin"
conf=$KDC_TMP/hsmssp.conf
cat >"$conf" <<EOF
[token]
    module = $softhsm
    uri = pkcs11:token=xrealm
    pin_file = $KDC_TMP/pin
[kerberos]
    rcache = $KDC_TMP/rcache-hsmssp
EOF
chmod 600 "$conf"
export HSMSSP_CONFIG=$conf

# The account and the service: the rc4 entries are refused (SoftHSM2 has
# no RC4 and the policy forbids host crypto), the AES keys go in.
"$cli" keytab import --config "$conf" "$HSMSSP_KT_SVCACCT" >/dev/null 2>&1
"$cli" keytab import --config "$conf" "$HSMSSP_KT_XR" >/dev/null 2>&1
kdc_check "svcacct and xr keys on the token" \
    "$cli" keytab list --config "$conf" --principal "xr/www.other.test@$other"

# issued NAME: how many tickets the KDC issued for NAME so far.
issued() {
    grep -c "ISSUE: .*svcacct@$HSMSSP_REALM for $1\$" "$kdclog"
}

# to_hsmssp TARGET MESSAGE: hsmssp client -> hsmssp server ('*').
to_hsmssp() {
    local port log
    port=$(kdc_free_port)
    log=$KDC_TMP/server.$port.log
    kdc_start_bg "$log" "$port" "$cli" server --config "$conf" --once \
        --port "$port" '*' || return 1
    "$cli" client --config "$conf" --port "$port" --credential svcacct \
        localhost "$1" "$2" || return 1
    kdc_wait_server || return 1
    grep -qF "Accepted connection: \"svcacct@$HSMSSP_REALM\"" "$log" &&
        grep -qF "Received message: \"$2\"" "$log"
}

x0=$(issued "krbtgt/$other@$HSMSSP_REALM")
s0=$(issued "xr/www.other.test@$other")
kdc_check "explicit realm: svcacct -> xr/www.other.test@$other (hsmssp server)" \
    to_hsmssp "xr/www.other.test@$other" "across realms"
kdc_assert_eq "one cross-realm TGT issued by $HSMSSP_REALM" \
    "$(($(issued "krbtgt/$other@$HSMSSP_REALM") - x0))" 1
kdc_assert_eq "one service ticket issued by $other" \
    "$(($(issued "xr/www.other.test@$other") - s0))" 1

x0=$(issued "krbtgt/$other@$HSMSSP_REALM")
kdc_check "no realm: the KDC refers svcacct to $other (RFC 6806)" \
    to_hsmssp "xr/www.other.test" "by referral"
kdc_assert_eq "the referral was a cross-realm TGT from $HSMSSP_REALM's KDC" \
    "$(($(issued "krbtgt/$other@$HSMSSP_REALM") - x0))" 1
kdc_check "GSS form xr@www.other.test also follows the referral" \
    to_hsmssp "xr@www.other.test" "service@host"

# MIT's gss-server, which needs the KDC's view of the mapping to name its
# own key; the client knows none and is referred as above.
to_mit() {
    KRB5_CONFIG=$dir/kdc-krb5.conf kdc_start_gss_server "$HSMSSP_KT_XR" \
        xr@www.other.test || return 1
    "$cli" client --config "$conf" --port "$SRV_PORT" --credential svcacct \
        --seq localhost "$1" "to MIT" || return 1
    kdc_wait_server || return 1
    grep -qF 'Received message: "to MIT"' "$SRV_LOG" &&
        grep -qF "\"svcacct@$HSMSSP_REALM\"" "$SRV_LOG"
}
kdc_check "svcacct -> MIT gss-server in $other, by referral" to_mit \
    "xr/www.other.test"
kdc_check "svcacct -> MIT gss-server in $other, realm named" to_mit \
    "xr/www.other.test@$other"

# No path: no cross-realm key for NOWHERE.TEST.
nport=$(kdc_free_port)
kdc_start_bg "$KDC_TMP/nowhere.log" "$nport" "$cli" server --config "$conf" \
    --once --port "$nport" '*' || kdc_bad "server for the no-path case"
kdc_check_fail "a realm without a path is refused" \
    "$cli" client --config "$conf" --port "$nport" --credential svcacct \
    localhost "xr/www.nowhere.test@NOWHERE.TEST" "nowhere"
kdc_assert_grep "... with the KDC's reason (server unknown)" "$OUT" \
    "0x80090303"
kdc_assert_grep "... naming the cross-realm TGT it asked for" "$OUT" \
    "KRB-ERROR 7"

kdc_finish
