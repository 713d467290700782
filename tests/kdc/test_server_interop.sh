#!/bin/bash
# tests/kdc/test_server_interop.sh - MIT's gss-client and a python3-gssapi
# client log into `hsmssp server` over TCP (MIT's gss-sample protocol),
# with the service keys on the token: persistent SoftHSM2 objects
# imported with `hsmssp keytab import` (the keytab file then deleted), and
# NSS softoken session objects imported by `hsmssp server --import-keytab`.
#
#   - the interop matrix (docs/interop.md): for each token and each
#     service e17/e18/e19/e20 (one enctype each, session key of that
#     enctype): a run without mutual authentication (the enctype's own
#     per-message format) and one with mutual + sequence + wrap + MIC,
#     three messages each; the five gss-client switches (mutual, sequence,
#     wrap, encryption, MIC) covered pairwise on e18 for each token;
#   - arcfour-hmac: accepted on NSS and on SoftHSM2 when policy allows it,
#     refused with a clear error by the default policy;
#   - python3-gssapi with channel bindings: equal ones pass, different
#     ones give SEC_E_BAD_BINDINGS;
#   - a replayed AP-REQ refused, also after the server restarted;
#   - clock skew beyond the limit (server under faketime): SEC_E_TIME_SKEW
#     and a KRB_AP_ERR_SKEW token the client reads;
#   - wrong principal, unknown kvno, truncated and bit-flipped tokens: a
#     one-line reason on the server, never a crash;
#   - tshark dissects the AP-REP and KRB-ERROR tokens with no malformed
#     warning;
#   - every key object on the token answers CKA_VALUE with
#     CKR_ATTRIBUTE_SENSITIVE (pkcs11-tool).
# In the ASan+UBSan tree (HSMSSP_SANITIZED=1) the matrix shrinks to e18
# and e20 on each token; the other cases run in full.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/kdc/lib.sh
. "$here/lib.sh"
kdc_init server_interop

cli=${HSMSSP_CLI:-}
softhsm=/usr/lib/softhsm/libsofthsm2.so
nss=/usr/lib/x86_64-linux-gnu/libsoftokn3.so
client_py=$here/gss_sample_client.py
{ [ -n "$cli" ] && [ -x "$cli" ]; } || kdc_skip "HSMSSP_CLI does not name hsmssp"
[ -f "$softhsm" ] || kdc_skip "SoftHSM2 module $softhsm missing"
[ -f "$nss" ] || kdc_skip "NSS softoken $nss missing"
for t in softhsm2-util gss-client pkcs11-tool faketime tshark text2pcap; do
    command -v "$t" >/dev/null || kdc_skip "$t missing"
done
/usr/bin/python3 -c 'import gssapi' 2>/dev/null || kdc_skip "python3-gssapi missing"
dir=$HSMSSP_REALM_DIR

# ---- tokens and configurations ------------------------------------------

mkdir -p "$KDC_TMP/softhsm/tokens"
cat >"$KDC_TMP/softhsm/softhsm2.conf" <<EOF
directories.tokendir = $KDC_TMP/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF=$KDC_TMP/softhsm/softhsm2.conf
softhsm2-util --init-token --free --label interop --so-pin 123456 \
    --pin 1234 >/dev/null || kdc_skip "softhsm2-util could not make a token"
printf 1234 >"$KDC_TMP/pin"
chmod 600 "$KDC_TMP/pin"

# conf NAME MODULE URI EXTRA-POLICY-LINES: an hsmssp configuration file.
conf() {
    local f=$KDC_TMP/$1.conf
    {
        echo "[token]"
        echo "    module = $2"
        echo "    uri = $3"
        [ "$2" = "$softhsm" ] && echo "    pin_file = $KDC_TMP/pin"
        echo "[policy]"
        printf '%b' "$4"
        echo "[kerberos]"
        echo "    rcache = $KDC_TMP/rcache-$1"
    } >"$f"
    chmod 600 "$f"
    echo "$f"
}
rc4_list="    permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 aes256-cts-hmac-sha384-192 aes128-cts-hmac-sha256-128 arcfour-hmac\n"
cfg_soft=$(conf soft "$softhsm" "pkcs11:token=interop" "")
cfg_soft_rc4=$(conf soft_rc4 "$softhsm" "pkcs11:token=interop" \
    "${rc4_list}    allow_host_op = krb\n")
cfg_soft_rc4_noop=$(conf soft_rc4_noop "$softhsm" "pkcs11:token=interop" \
    "$rc4_list")
cfg_nss=$(conf nss "$nss" "pkcs11:token=NSS%20Generic%20Crypto%20Services" \
    "$rc4_list")

# The service keys go onto SoftHSM2 from copies of the keytabs, which are
# deleted afterwards (--remove-source): the token is their only home.
for e in 17 18 19 20 23; do
    cp "$dir/e$e.keytab" "$KDC_TMP/e$e.keytab"
    kdc_check "keytab import e$e" "$cli" keytab import --config "$cfg_soft" \
        --allow-host-op krb --remove-source "$KDC_TMP/e$e.keytab"
    [ -e "$KDC_TMP/e$e.keytab" ] && kdc_bad "keytab e$e still on disk"
done

# ---- running a server and a client --------------------------------------

# serve CONFIG SERVICE [SERVER ARGS...]: hsmssp server --once on a free
# port (SRV_PORT, SRV_PID, SRV_LOG); retries when a port was taken.
serve() {
    local cfg=$1 svc=$2 try
    shift 2
    for try in 1 2 3 4 5; do
        SRV_PORT=$(kdc_free_port)
        SRV_LOG=$KDC_TMP/server.$SRV_PORT.log
        if kdc_start_bg "$SRV_LOG" "$SRV_PORT" ${SRV_PREFIX:-} "$cli" server \
            --config "$cfg" --port "$SRV_PORT" --once "$@" "$svc"; then
            return 0
        fi
    done
    echo "could not start hsmssp server ($cfg, $svc):" >&2
    cat "$SRV_LOG" >&2
    return 1
}

# mit NAME CONFIG SERVICE GSS-CLIENT-ARGS...: one gss-client run against a
# fresh server; the client must succeed and the server log the login and
# each message.
mit() {
    local name=$1 cfg=$2 svc=$3
    shift 3
    serve "$cfg" "$svc@localhost" ${SERVER_ARGS:-} || { kdc_bad "$name: server"; return; }
    kdc_check "$name" gss-client -port "$SRV_PORT" "$@" localhost \
        "$svc@localhost" "msg $name"
    kdc_wait_server 10 >/dev/null
    kdc_assert_grep "$name: login" "$SRV_LOG" \
        'Accepted connection: "alice@HSMSSP.TEST"'
    kdc_assert_grep "$name: message" "$SRV_LOG" "msg $name"
}

# opts M S W X N: gss-client switches for mutual, sequence, wrap,
# encryption and MIC on (1) or off (0).
opts() {
    local a=()
    [ "$1" = 0 ] && a+=(-nomutual)
    [ "$2" = 1 ] && a+=(-seq)
    [ "$3" = 0 ] && a+=(-nw)
    [ "$4" = 0 ] && a+=(-nx)
    [ "$5" = 0 ] && a+=(-nm)
    echo "${a[@]}"
}

# ---- the matrix ------------------------------------------------------------

if [ "${HSMSSP_SANITIZED:-0}" = 1 ]; then
    services="e18 e20"
else
    services="e17 e18 e19 e20"
fi
for tok in soft nss; do
    if [ $tok = soft ]; then
        cfg=$cfg_soft
        SERVER_ARGS=""
    else
        cfg=$cfg_nss
    fi
    for svc in $services; do
        [ $tok = nss ] && SERVER_ARGS="--import-keytab $dir/$svc.keytab"
        # shellcheck disable=SC2046
        mit "$tok $svc no-mutual" "$cfg" "$svc" $(opts 0 1 1 1 1) -mcount 3
        # shellcheck disable=SC2046
        mit "$tok $svc mutual+seq+wrap+mic" "$cfg" "$svc" \
            $(opts 1 1 1 1 1) -mcount 3
    done
    # Pairwise over the five switches (six rows cover every pair of
    # values), on e18.
    [ $tok = nss ] && SERVER_ARGS="--import-keytab $dir/e18.keytab"
    row=0
    for r in "0 0 0 0 0" "0 0 0 0 1" "0 1 1 1 0" "1 0 1 1 0" "1 1 0 1 1" \
             "1 1 1 0 1"; do
        row=$((row + 1))
        # shellcheck disable=SC2046,SC2086
        mit "$tok e18 pairwise $row ($r)" "$cfg" e18 $(opts $r) -mcount 2
    done
done
SERVER_ARGS=""

# ---- arcfour-hmac ----------------------------------------------------------

SERVER_ARGS="--import-keytab $dir/e23.keytab"
# shellcheck disable=SC2046
mit "nss e23 no-mutual" "$cfg_nss" e23 $(opts 0 1 1 1 1) -mcount 2
# shellcheck disable=SC2046
mit "nss e23 mutual" "$cfg_nss" e23 $(opts 1 1 1 1 1) -mcount 2
SERVER_ARGS=""
# shellcheck disable=SC2046
mit "softhsm e23 no-mutual, H(op) allowed" "$cfg_soft_rc4" e23 \
    $(opts 0 1 1 1 1) -mcount 2
# shellcheck disable=SC2046
mit "softhsm e23 mutual, H(op) allowed" "$cfg_soft_rc4" e23 \
    $(opts 1 1 1 1 1) -mcount 2
# Default policy: arcfour-hmac is not permitted.
serve "$cfg_soft" e23@localhost
kdc_check_fail "softhsm e23 default policy" gss-client -port "$SRV_PORT" \
    localhost e23@localhost "refused"
kdc_wait_server 10 >/dev/null
kdc_assert_grep "e23 refusal names the policy" "$SRV_LOG" \
    "arcfour-hmac, which permitted_enctypes does not list"
# Permitted, but the token would need H(op), which policy refuses.
serve "$cfg_soft_rc4_noop" e23@localhost
kdc_check_fail "softhsm e23 without H(op)" gss-client -port "$SRV_PORT" \
    localhost e23@localhost "refused"
kdc_wait_server 10 >/dev/null
kdc_assert_grep "e23 H(op) refusal names the mechanism" "$SRV_LOG" \
    "lacks CKM_RC4"

# ---- channel bindings (python3-gssapi) --------------------------------------

serve "$cfg_soft" e18@localhost --cb-app-data "tls-server-end-point:1234"
kdc_check "bindings equal" /usr/bin/python3 "$client_py" --port "$SRV_PORT" \
    --cb-app-data "tls-server-end-point:1234" localhost e18@localhost "cb ok"
kdc_wait_server 10 >/dev/null
serve "$cfg_soft" e18@localhost --cb-app-data "tls-server-end-point:1234"
kdc_check_fail "bindings differ" /usr/bin/python3 "$client_py" \
    --port "$SRV_PORT" --cb-app-data "tls-server-end-point:9999" localhost \
    e18@localhost "cb bad"
kdc_wait_server 10 >/dev/null
kdc_assert_grep "bindings differ: SEC_E_BAD_BINDINGS" "$SRV_LOG" \
    "0x80090346"

# ---- replay, also across a restart ------------------------------------------

serve "$cfg_soft" e18@localhost
kdc_check "record an AP-REQ" /usr/bin/python3 "$client_py" --port "$SRV_PORT" \
    --record-token "$KDC_TMP/apreq" --save-reply "$KDC_TMP/aprep" localhost \
    e18@localhost "first"
kdc_wait_server 10 >/dev/null
# The server is gone; a new one (new process, same replay cache file).
serve "$cfg_soft" e18@localhost
kdc_check_fail "replay after restart" /usr/bin/python3 "$client_py" \
    --port "$SRV_PORT" --send-token "$KDC_TMP/apreq" localhost e18@localhost \
    "again"
kdc_wait_server 10 >/dev/null
kdc_assert_grep "replay: client told" "$OUT" "replay"
kdc_assert_grep "replay: server reason" "$SRV_LOG" "already seen (replay)"

# ---- clock skew: the server's clock ten minutes ahead -----------------------

# faketime is an LD_PRELOAD library, set here directly rather than
# through the faketime wrapper: env execs the server itself, so the
# process the test waits for and stops is the server (the wrapper would
# fork it and leave it running).  In the ASan tree ASan must be told that
# it may not come first.
libfaketime=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[ -f "$libfaketime" ] || kdc_skip "$libfaketime missing (faketime)"
SRV_PREFIX="env ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0 LD_PRELOAD=$libfaketime FAKETIME=+600s"
serve "$cfg_soft" e18@localhost
SRV_PREFIX=""
kdc_check_fail "clock skew" /usr/bin/python3 "$client_py" --port "$SRV_PORT" \
    --save-reply "$KDC_TMP/skew-error" localhost e18@localhost "late"
kdc_wait_server 10 >/dev/null
kdc_assert_grep "skew: SEC_E_TIME_SKEW" "$SRV_LOG" "0x80090324"
kdc_assert_grep "skew: client reads KRB_AP_ERR_SKEW" "$OUT" "Clock skew"

# ---- wrong principal, unknown kvno, damaged tokens ---------------------------

serve "$cfg_soft" e18@localhost
kdc_check_fail "wrong principal" gss-client -port "$SRV_PORT" localhost \
    e17@localhost "not us"
kdc_wait_server 10 >/dev/null
kdc_assert_grep "wrong principal: status" "$SRV_LOG" "0x80090322"
kdc_assert_grep "wrong principal: reason" "$SRV_LOG" \
    "ticket is for e17/localhost@HSMSSP.TEST"

# host/localhost: the KDC's tickets have kvno 2; only kvno 1 on the token.
cp "$dir/host.keytab" "$KDC_TMP/host.keytab"
kdc_check "import host kvnos" "$cli" keytab import --config "$cfg_soft" \
    --allow-host-op krb "$KDC_TMP/host.keytab"
kdc_check "remove host kvno 2" "$cli" keytab remove --config "$cfg_soft" \
    --principal host/localhost@HSMSSP.TEST --kvno 2
serve "$cfg_soft" host@localhost
kdc_check_fail "unknown kvno" gss-client -port "$SRV_PORT" localhost \
    host@localhost "kvno"
kdc_wait_server 10 >/dev/null
kdc_assert_grep "unknown kvno: status" "$SRV_LOG" "0x80090330"
kdc_assert_grep "unknown kvno: reason" "$SRV_LOG" "with kvno 2"

# Damaged AP-REQs: truncated and bit-flipped copies of the recorded one.
/usr/bin/python3 - "$KDC_TMP/apreq" "$KDC_TMP" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2] + "/apreq-cut", "wb").write(d[:len(d) // 2])
f = bytearray(d)
f[len(f) - 40] ^= 0x10
open(sys.argv[2] + "/apreq-flip", "wb").write(bytes(f))
EOF
for bad in cut flip; do
    serve "$cfg_soft" e18@localhost
    kdc_check_fail "damaged AP-REQ ($bad)" /usr/bin/python3 "$client_py" \
        --port "$SRV_PORT" --send-token "$KDC_TMP/apreq-$bad" localhost \
        e18@localhost "bad"
    kdc_wait_server 10 >/dev/null
    kdc_assert_grep "damaged AP-REQ ($bad): one-line reason" "$SRV_LOG" \
        "AcceptSecurityContext: 0x"
    if grep -q "Sanitizer\|Segmentation" "$SRV_LOG"; then
        kdc_bad "damaged AP-REQ ($bad): server crashed"
    fi
done

# ---- tshark dissects what the server sent -------------------------------------

# dissect NAME FILE: the GSS-framed token in FILE, unframed (RFC 2743
# header, OID, 2-byte token id) and put in a Kerberos-over-TCP record on
# port 88, through tshark; prints the dissection into $OUT.
dissect() {
    /usr/bin/python3 - "$2" "$KDC_TMP/$1.txt" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
i = 1
n = d[i]
i += 1 + (n & 0x7f if n & 0x80 else 0)
i += 2 + d[i + 1]          # OID
msg = d[i + 2:]            # after the token id
rec = len(msg).to_bytes(4, "big") + msg
with open(sys.argv[2], "w") as f:
    for off in range(0, len(rec), 16):
        f.write("%06x %s\n" % (off, " ".join("%02x" % b
                                           for b in rec[off:off + 16])))
EOF
    text2pcap -q -T 40000,88 "$KDC_TMP/$1.txt" "$KDC_TMP/$1.pcap" &&
        tshark -r "$KDC_TMP/$1.pcap" -V -o kerberos.desegment:TRUE \
            >"$KDC_TMP/$1.dissect" 2>&1
}
if dissect ap-rep "$KDC_TMP/aprep"; then
    kdc_assert_grep "tshark: AP-REP" "$KDC_TMP/ap-rep.dissect" "ap-rep"
    grep -qi malformed "$KDC_TMP/ap-rep.dissect" &&
        kdc_bad "tshark: AP-REP malformed"
else
    kdc_bad "tshark: AP-REP not dissected"
fi
if dissect krb-error "$KDC_TMP/skew-error"; then
    kdc_assert_grep "tshark: KRB-ERROR" "$KDC_TMP/krb-error.dissect" \
        "error-code: eRR-SKEW (37)"
    grep -qi malformed "$KDC_TMP/krb-error.dissect" &&
        kdc_bad "tshark: KRB-ERROR malformed"
else
    kdc_bad "tshark: KRB-ERROR not dissected"
fi

# ---- no key object can be read ------------------------------------------------

pkcs11-tool --module "$softhsm" --login --pin 1234 --list-objects \
    --type secrkey 2>/dev/null | sed -n 's/^ *label: *//p' >"$KDC_TMP/labels"
nlabels=$(wc -l <"$KDC_TMP/labels")
[ "$nlabels" -ge 20 ] || kdc_bad "expected the imported keys on the token, saw $nlabels"
while IFS= read -r label; do
    if pkcs11-tool --module "$softhsm" --login --pin 1234 --read-object \
        --type secrkey --label "$label" -o "$KDC_TMP/value" >/dev/null 2>&1 &&
        [ -s "$KDC_TMP/value" ]; then
        kdc_bad "CKA_VALUE of '$label' was readable"
    fi
done <"$KDC_TMP/labels"
kdc_ok "no key object answers CKA_VALUE ($nlabels objects)"

kdc_finish
