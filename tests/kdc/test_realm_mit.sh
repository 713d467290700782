#!/bin/bash
# tests/kdc/test_realm_mit.sh - proves the realm fixture with MIT's own
# peers only, before any hsmssp code relies on it:
#   - per enctype 17/18/19/20/23: MIT gss-client -> gss-server with that
#     service's keytab, without mutual auth and with mutual auth + -seq;
#     alice's service ticket has that enctype for both ticket and session
#     key (klist -e), which hsmssp's per-enctype tests depend on;
#   - gss_sample_client.py (python3-gssapi) against gss-server for every
#     enctype, with and without channel bindings, and with the wrap/MIC
#     variants of the protocol;
#   - negative controls: a service's keytab does not accept another
#     service's ticket, a wrong service name fails with a GSS message;
#   - host.keytab holds kvno 1 and 2 for all five enctypes with different
#     keys, the KDC issues kvno 2, and gss-server accepts with it;
#   - the password files match the keys (alice by password and keytab,
#     carol by password);
#   - realm-setup.sh re-run in a private WORKDIR replaces its KDC and
#     realm-stop.sh stops it (the shared realm is not touched).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/kdc/lib.sh
. "$here/lib.sh"
kdc_init realm_mit
if ! command -v gss-server >/dev/null || ! command -v gss-client >/dev/null
then
    kdc_skip "gss-server/gss-client missing (krb5-gss-samples)"
fi
"$PY" -c 'import gssapi' 2>/dev/null || kdc_skip "python3-gssapi missing"
client=("$PY" "$here/gss_sample_client.py")
dir=$HSMSSP_REALM_DIR
realm=$HSMSSP_REALM

# --- MIT gss-client against MIT gss-server, per enctype ---------------
for n in 17 18 19 20 23; do
    svc=e$n@localhost
    kt=$dir/e$n.keytab
    want=${KDC_ETNAME[$n]}

    # -nomutual: no AP-REP, so no acceptor subkey; the per-message tokens
    # use the ticket's session key, of enctype n.
    if kdc_start_gss_server "$kt" "$svc"; then
        kdc_check "e$n gss-client -nomutual" gss-client -port "$SRV_PORT" \
            -nomutual localhost "$svc" "msg-$n-nomutual" &&
            kdc_assert_grep "e$n client verified the server's MIC" \
                "$OUT" "Signature verified."
        kdc_wait_server
        kdc_assert_eq "e$n gss-server exit status" "$?" 0
        kdc_assert_grep "e$n gss-server authenticated alice" "$SRV_LOG" \
            "Accepted connection: \"alice@$realm\""
        kdc_assert_grep "e$n gss-server unwrapped the message" "$SRV_LOG" \
            "Received message: \"msg-$n-nomutual\""
        if grep -q GSS_C_MUTUAL_FLAG "$SRV_LOG"; then
            kdc_bad "e$n -nomutual context has the mutual flag"
        else
            kdc_ok "e$n -nomutual context without mutual flag"
        fi
    else
        kdc_bad "e$n gss-server did not start"
    fi

    # Mutual auth with sequence checking.
    if kdc_start_gss_server "$kt" "$svc"; then
        kdc_check "e$n gss-client mutual -seq" gss-client -port "$SRV_PORT" \
            -seq localhost "$svc" "msg-$n-mutual" &&
            kdc_assert_grep "e$n mutual: client verified the MIC" \
                "$OUT" "Signature verified."
        kdc_wait_server
        kdc_assert_eq "e$n mutual: gss-server exit status" "$?" 0
        kdc_assert_grep "e$n mutual: server saw the mutual flag" \
            "$SRV_LOG" "context flag: GSS_C_MUTUAL_FLAG"
        kdc_assert_grep "e$n mutual: server saw the sequence flag" \
            "$SRV_LOG" "context flag: GSS_C_SEQUENCE_FLAG"
        kdc_assert_grep "e$n mutual: message arrived" "$SRV_LOG" \
            "Received message: \"msg-$n-mutual\""
    else
        kdc_bad "e$n gss-server did not start (mutual)"
    fi

    # The fact the hsmssp tests build on: ticket and session key of
    # eNN/localhost both have enctype NN.
    kdc_assert_eq "e$n ticket enctypes (skey tkt) in alice's ccache" \
        "$(kdc_ticket_etypes "$CC" "e$n/localhost@$realm")" "$want $want"
done

# --- python3-gssapi client against gss-server ---------------------------
for n in 17 18 19 20 23; do
    svc=e$n@localhost
    if kdc_start_gss_server "$dir/e$n.keytab" "$svc"; then
        kdc_check "e$n gss_sample_client.py --no-mutual" "${client[@]}" \
            --port "$SRV_PORT" --no-mutual localhost "$svc" "py-$n"
        kdc_wait_server
        kdc_assert_eq "e$n gss-server exit after python client" "$?" 0
        kdc_assert_grep "e$n python message arrived" "$SRV_LOG" \
            "Received message: \"py-$n\""
    else
        kdc_bad "e$n gss-server did not start (python)"
    fi
done

# e18 through the python client's protocol variants.  MIT's gss-server
# passes no channel bindings, and then MIT accepts any the initiator sent.
# Each row: test name, client options, the server log line proving it.
py_case() {
    local name=$1 opts=$2 msg=$3 count=$4 got
    if ! kdc_start_gss_server "$dir/e18.keytab" e18@localhost; then
        kdc_bad "e18 $name: gss-server did not start"
        return
    fi
    # shellcheck disable=SC2086  # opts is a word list
    kdc_check "e18 python $name" "${client[@]}" --port "$SRV_PORT" $opts \
        --ccache "$CC" localhost e18@localhost "$msg"
    kdc_wait_server
    kdc_assert_eq "e18 python $name: server exit" "$?" 0
    got=$(grep -cxF "Received message: \"$msg\"" "$SRV_LOG")
    kdc_assert_eq "e18 python $name: messages received" "$got" "$count"
}
py_case "default (mutual, wrap, encrypt, MIC)" "" "py-default" 1
py_case "--cb-app-data" "--cb-app-data app-binding-1" "py-cb" 1
py_case "--cb-app-data --no-mutual --seq" \
    "--cb-app-data x --no-mutual --seq" "py-cb-seq" 1
py_case "--no-encrypt --count 3" "--no-encrypt --count 3" "py-integ" 3
py_case "--no-wrap --no-mic" "--no-wrap --no-mic" "py-plain" 1
py_case "--no-mutual --no-replay" "--no-mutual --no-replay" "py-noflags" 1

# --- negative controls ------------------------------------------------
# e18's keytab cannot decrypt e17's ticket: the keytabs hold different
# keys and the assertions above could fail.
if kdc_start_gss_server "$dir/e18.keytab" e17@localhost; then
    kdc_check_fail "gss-server with e18.keytab rejects e17's ticket" \
        gss-client -port "$SRV_PORT" -nomutual localhost e17@localhost x
    kdc_wait_server
    kdc_assert_grep "gss-server reports the missing key" "$SRV_LOG" \
        "GSS-API error accepting context"
else
    kdc_bad "gss-server for the negative control did not start"
fi
if kdc_start_gss_server "$dir/e18.keytab" e18@localhost; then
    if kdc_check_fail "python client: unknown service fails" "${client[@]}" \
        --port "$SRV_PORT" localhost nosuch@localhost x; then
        kdc_assert_grep "python client prints the GSS major/minor text" \
            "$OUT" "initializing context: GSS major 0x"
        kdc_assert_eq "python client failure is one line" \
            "$(wc -l <"$OUT")" 1
    fi
    kdc_wait_server
else
    kdc_bad "gss-server for the unknown-service control did not start"
fi

# --- host/localhost: two kvnos --------------------------------------------
# klist -kK prints "KVNO PRINCIPAL (ENCTYPE) (0xKEY)".
keys=$(klist -kK -e "$dir/host.keytab" | awk 'NR > 3' |
    sed 's/(DEPRECATED:/(/')
for kvno in 1 2; do
    for n in 17 18 19 20 23; do
        if printf '%s\n' "$keys" | grep -qE \
            "^ *$kvno host/localhost@$realm \(${KDC_ETNAME[$n]}\) "; then
            kdc_ok "host.keytab has kvno $kvno enctype $n"
        else
            kdc_bad "host.keytab lacks kvno $kvno enctype $n"
        fi
    done
done
kdc_assert_eq "host.keytab holds exactly 10 entries" \
    "$(printf '%s\n' "$keys" | grep -c .)" 10
for n in 17 18 19 20 23; do
    k1=$(printf '%s\n' "$keys" |
        awk -v e="(${KDC_ETNAME[$n]})" '$1 == 1 && $3 == e { print $4 }')
    k2=$(printf '%s\n' "$keys" |
        awk -v e="(${KDC_ETNAME[$n]})" '$1 == 2 && $3 == e { print $4 }')
    if [ -n "$k1" ] && [ -n "$k2" ] && [ "$k1" != "$k2" ]; then
        kdc_ok "host kvno 1 and 2 keys differ for enctype $n"
    else
        kdc_bad "host kvno 1/2 keys for enctype $n: '$k1' '$k2'"
    fi
done
kdc_check "kvno host/localhost" kvno -c "$CC" host/localhost &&
    kdc_assert_grep "KDC issues host/localhost at kvno 2" "$OUT" \
        "host/localhost@$realm: kvno = 2"
kdc_assert_eq "host/localhost session key is aes256-sha1" \
    "$(kdc_ticket_etypes "$CC" "host/localhost@$realm")" \
    "${KDC_ETNAME[18]} ${KDC_ETNAME[18]}"
if kdc_start_gss_server "$dir/host.keytab" host@localhost; then
    kdc_check "gss-client to host@localhost (kvno 2 ticket)" \
        gss-client -port "$SRV_PORT" localhost host@localhost "host-msg"
    kdc_wait_server
    kdc_assert_eq "host gss-server exit status" "$?" 0
else
    kdc_bad "gss-server for host did not start"
fi

# --- passwords ---------------------------------------------------------
# kinit_pw CCACHE USER PWFILE: kinit USER with the password in PWFILE.
# shellcheck disable=SC2317  # called through kdc_check
kinit_pw() {
    KRB5CCNAME=FILE:$1 kinit "$2" <"$3"
}
for f in alice.pw bob.pw carol.pw alice.keytab e23.keytab host.keytab; do
    kdc_assert_eq "$f is mode 600" "$(stat -c %a "$dir/$f")" 600
done
kdc_check "alice by password (alice.pw matches alice.keytab)" \
    kinit_pw "$KDC_TMP/alice-pw.ccache" alice "$dir/alice.pw"
kdc_check "carol by password" \
    kinit_pw "$KDC_TMP/carol.ccache" carol "$dir/carol.pw"
echo wrong >"$KDC_TMP/wrong.pw"
kdc_check_fail "carol with a wrong password" \
    kinit_pw "$KDC_TMP/carol2.ccache" carol "$KDC_TMP/wrong.pw"
kdc_check "bob from bob.keytab" \
    env KRB5CCNAME="FILE:$KDC_TMP/bob.ccache" \
    kinit -k -t "$HSMSSP_KT_BOB" bob

# --- the fixture itself, in a private WORKDIR ------------------------------
# Runs the real scripts twice on a second realm (own KDC, own port): the
# second run must stop the first KDC and leave one running.
if [ -n "${HSMSSP_SOURCE:-}" ]; then
    common=$HSMSSP_SOURCE/tests/common
    priv=$KDC_TMP/private
    (
        # The nested realm must not see this test's realm environment.
        unset KRB5_CONFIG KRB5_KDC_PROFILE KRB5CCNAME KRB5RCACHEDIR
        start=$(date +%s%N)
        bash "$common/realm-setup.sh" "$priv" >"$KDC_TMP/setup1.log" 2>&1 ||
            exit 11
        end=$(date +%s%N)
        echo "setup took $(((end - start) / 1000000)) ms" \
            >"$KDC_TMP/setup-time"
        pid1=$(cat "$priv/realm/kdc.pid")
        bash "$common/realm-setup.sh" "$priv" >"$KDC_TMP/setup2.log" 2>&1 ||
            exit 12
        pid2=$(cat "$priv/realm/kdc.pid")
        [ "$pid1" != "$pid2" ] || exit 13
        ! kdc_running "$pid1" || exit 14
        kdc_running "$pid2" || exit 15
        bash "$common/realm-stop.sh" "$priv" >/dev/null 2>&1 || exit 16
        for _ in $(seq 40); do
            kdc_running "$pid2" || break
            sleep 0.05
        done
        ! kdc_running "$pid2" || exit 17
        [ ! -e "$priv/realm/kdc.pid" ] || exit 18
        bash "$common/realm-stop.sh" "$priv" >/dev/null 2>&1 || exit 19
    )
    rc=$?
    # rc names the step that failed: 11/12 a setup run, 13-15 the first
    # KDC not replaced, 16-19 realm-stop.sh.
    kdc_assert_eq "private realm: setup, setup again, stop (step code)" \
        "$rc" 0
    [ -f "$KDC_TMP/setup-time" ] && echo "     $(cat "$KDC_TMP/setup-time")"
    if [ "$rc" -ne 0 ]; then
        sed 's/^/     | /' "$KDC_TMP"/setup*.log 2>/dev/null | tail -n 20
        # never leave the private KDC behind
        bash "$common/realm-stop.sh" "$priv" >/dev/null 2>&1
    fi
else
    echo "note: HSMSSP_SOURCE unset; fixture re-run not checked"
fi

kdc_finish
