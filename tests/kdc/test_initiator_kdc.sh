#!/bin/bash
# tests/kdc/test_initiator_kdc.sh - the Kerberos initiator (issue 4)
# against MIT's KDC: AS/TGS errors, the KDC transport, the `hsmssp kinit`
# store, `hsmssp account import`, and key hygiene.  One SoftHSM2 token of
# the script's own holds every key.
#
#   1. errors, each checked as the exit code, the SSPI status and the
#      one-line reason `hsmssp client` prints (`0x%08x: reason`):
#      - wrong key (dave imported --no-verify with a wrong password):
#        KDC_ERR_PREAUTH_FAILED -> SEC_E_LOGON_DENIED; account import with
#        a wrong password, or the right one and a wrong --salt, fails and
#        stores nothing;
#      - unknown client (a key for nobody@ from a keytab made here, and a
#        password identity): SEC_E_UNKNOWN_CREDENTIALS; unknown service:
#        SEC_E_TARGET_UNKNOWN;
#      - clock skew (client under faketime +1h): SEC_E_TIME_SKEW;
#      - KDC down: a refused port and a black hole that swallows
#        datagrams, with [kerberos] kdc_timeout_ms / kdc_attempts set:
#        SEC_E_NO_AUTHENTICATING_AUTHORITY within the configured bound
#        (and not before it: the black hole counts the attempts);
#      - reply too big for UDP: a second krb5kdc on the same database
#        with kdc_max_dgram_reply_size 400; the exchange succeeds and the
#        capture shows KRB_ERR_RESPONSE_TOO_BIG over UDP, then the AS-REP
#        and the TGS-REP over TCP.
#   2. the kinit store, against a private krb5kdc (same database, its own
#      port and log, so that other tests' AS exchanges do not count):
#      directory 0700 and file 0600 whatever the umask, the key object
#      labelled with the ticket, a second process using the stored TGT
#      without an AS exchange (KDC log), klist (valid; expired under
#      faketime), kinit again replacing the object, an expired ticket
#      removed on load, kdestroy (file and object; klist exits 1), NSS
#      softoken without a database refused; account import with the
#      right password, then a login as dave.
#   3. key hygiene: every secret-key object on the token refuses
#      CKA_VALUE (CKR_ATTRIBUTE_SENSITIVE) and is not extractable; the
#      TGT session keys (and service-ticket keys) learnt by tshark from
#      the captured AS-REPs, decrypted with this test's copy of svcacct's
#      keytab, appear in no file of the ticket directory or of the test's
#      scratch directory (raw or as hex); the detector is shown to find
#      a key planted on purpose.
# Every server and KDC this script starts is stopped before it ends.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/kdc/lib.sh
. "$here/lib.sh"
kdc_init initiator_kdc
T0=$EPOCHREALTIME

cli=${HSMSSP_CLI:-}
softhsm=/usr/lib/softhsm/libsofthsm2.so
nss=/usr/lib/x86_64-linux-gnu/libsoftokn3.so
{ [ -n "$cli" ] && [ -x "$cli" ]; } || kdc_skip "HSMSSP_CLI does not name hsmssp"
[ -f "$softhsm" ] || kdc_skip "SoftHSM2 module $softhsm missing"
[ -f "$nss" ] || kdc_skip "NSS softoken $nss missing"
for t in softhsm2-util pkcs11-tool gss-server faketime tshark krb5kdc \
    /usr/sbin/kcm; do
    command -v "$t" >/dev/null || kdc_skip "$t missing"
done
dir=$HSMSSP_REALM_DIR
realm=$HSMSSP_REALM
# No test here may fall back to alice's ccache (kdc_init's): an hsmssp
# credential that finds no key must say so, not borrow hers.
export KRB5CCNAME=FILE:$KDC_TMP/no-such.ccache

# The SSPI status codes (include/hsmssp/sspi.h).
ST_TARGET_UNKNOWN=80090303
ST_LOGON_DENIED=8009030c
ST_UNKNOWN_CREDENTIALS=8009030d
ST_NO_CREDENTIALS=8009030e
ST_NO_AUTHORITY=80090311
ST_TIME_SKEW=80090324

# ---- the token and the configurations ------------------------------------

mkdir -p "$KDC_TMP/softhsm/tokens"
cat >"$KDC_TMP/softhsm/softhsm2.conf" <<EOF
directories.tokendir = $KDC_TMP/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF=$KDC_TMP/softhsm/softhsm2.conf
softhsm2-util --init-token --free --label initkdc --so-pin 123456 \
    --pin 1234 >/dev/null || kdc_skip "softhsm2-util could not make a token"
(umask 077 && printf 1234 >"$KDC_TMP/pin")

# conf NAME [KERBEROS-LINES]: an hsmssp configuration on the SoftHSM2
# token with ticket_dir $KDC_TMP/tickets-NAME unless the lines set one.
conf() {
    local f=$KDC_TMP/$1.conf
    {
        echo "[token]"
        echo "    module = $softhsm"
        echo "    uri = pkcs11:token=initkdc"
        echo "    pin_file = $KDC_TMP/pin"
        echo "[kerberos]"
        echo "    rcache = none"
        printf '%b' "${2:-    ticket_dir = $KDC_TMP/tickets-$1\n}"
    } >"$f"
    chmod 600 "$f"
    echo "$f"
}
cfg=$(conf main)
tickets=$KDC_TMP/tickets
cfg_store=$(conf store "    ticket_dir = $tickets\n")
cfg_hole=$(conf hole "    ticket_dir = $KDC_TMP/tickets-hole
    kdc_timeout_ms = 400\n    kdc_attempts = 2\n")
cfg_dead=$(conf dead "    ticket_dir = $KDC_TMP/tickets-dead
    kdc_timeout_ms = 300\n    kdc_attempts = 1\n")
cfg_nss=$KDC_TMP/nss.conf
cat >"$cfg_nss" <<EOF
[token]
    module = $nss
    uri = pkcs11:token=NSS%20Generic%20Crypto%20Services
[kerberos]
    ticket_dir = $KDC_TMP/tickets-nss
EOF
chmod 600 "$cfg_nss"

# p11 ARGS...: pkcs11-tool logged in to the test token.
p11() {
    pkcs11-tool --module "$softhsm" --token-label initkdc --login \
        --pin 1234 "$@" 2>/dev/null
}
# labels: every secret-key label on the token, one a line.
labels() {
    p11 --list-objects --type secrkey | sed -n 's/^ *label: *//p'
}
# tgt_ids PRINCIPAL: the CKA_IDs of PRINCIPAL's stored-TGT key objects.
tgt_ids() {
    p11 --list-objects --type secrkey | awk -v p="TGT $1 for " '
        /^ *label:/ { l = $0; sub(/^ *label: */, "", l); want = index(l, p) == 1 }
        /^ *ID:/ && want { print $2; want = 0 }'
}

# expect NAME CODE CMD...: CMD (stdin from the caller) must exit CODE;
# stdout in $KDC_TMP/out, stderr in $KDC_TMP/err.
expect() {
    local name=$1 want=$2 got
    shift 2
    "$@" >"$KDC_TMP/out" 2>"$KDC_TMP/err"
    got=$?
    if [ "$got" = "$want" ]; then
        kdc_ok "$name (exit $got)"
        return 0
    fi
    kdc_bad "$name: exit $got, want $want"
    sed 's/^/     | /' "$KDC_TMP/out" "$KDC_TMP/err" | tail -n 15
    return 1
}

# expect_status NAME STATUS REASON CMD...: CMD must fail (exit 1) with
# exactly one line on stderr, holding "0xSTATUS: " and REASON (fixed
# strings).  Three checks.
expect_status() {
    local name=$1 st=$2 reason=$3
    shift 3
    expect "$name" 1 "$@" </dev/null
    if [ "$(wc -l <"$KDC_TMP/err")" = 1 ] &&
        grep -qF -- "0x$st: " "$KDC_TMP/err"; then
        kdc_ok "$name: one line, status 0x$st"
    else
        kdc_bad "$name: want one stderr line with 0x$st, got:"
        sed 's/^/     | /' "$KDC_TMP/err"
    fi
    kdc_assert_grep "$name: reason" "$KDC_TMP/err" "$reason"
}

# faked OFFSET CMD...: CMD with its clock moved by OFFSET.  libfaketime is
# preloaded directly, not through the faketime wrapper: the wrapper names
# a semaphore after its PID and refuses to run ("sem_open: File exists")
# when an earlier wrapper of a reused PID left one in /dev/shm.  In the
# ASan tree ASan must let the library come first.
libfaketime=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[ -f "$libfaketime" ] || kdc_skip "$libfaketime missing (faketime)"
# shellcheck disable=SC2317  # called through expect/expect_status
faked() {
    local off=$1
    shift
    env ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
        LD_PRELOAD="$libfaketime" FAKETIME="$off" "$@"
}

# elapsed_ms START: milliseconds since START (an $EPOCHREALTIME value).
elapsed_ms() {
    local now=$EPOCHREALTIME
    echo $(( (${now/./} - ${1/./}) / 1000 ))
}

# free_port: a port free on 127.0.0.1 for both UDP and TCP right now.
free_port() {
    "$PY" - <<'EOF'
import socket
for _ in range(50):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close()
        continue
    t.close()
    u.close()
    print(port)
    break
EOF
}

# private_kdc NAME [KDCDEFAULTS-LINE]: a second krb5kdc on the realm's
# database, with copies of kdc.conf (its own port and log, plus the
# line) and krb5.conf (the realm's KDC at that port).  Sets PK_PORT,
# PK_PID, PK_LOG, PK_KRB5.  The realm's KDC is not touched.
private_kdc() {
    local name=$1 extra=${2:-}
    PK_LOG=$KDC_TMP/$name.log
    PK_KRB5=$KDC_TMP/$name.krb5.conf
    for _ in 1 2 3 4 5; do
        PK_PORT=$(free_port)
        sed -e "s/^\( *kdc_\(tcp_\)\{0,1\}listen = \).*/\1127.0.0.1:$PK_PORT/" \
            -e "s|^\( *kdc = \)FILE:.*|\1FILE:$PK_LOG|" \
            -e "s/^\[kdcdefaults\]\$/&\n$extra/" \
            "$dir/kdc.conf" >"$KDC_TMP/$name.kdc.conf"
        sed "s/^\( *kdc = \)127\.0\.0\.1:[0-9]*/\1127.0.0.1:$PK_PORT/" \
            "$dir/krb5.conf" >"$PK_KRB5"
        if kdc_start_bg "$KDC_TMP/$name.out" "$PK_PORT" env \
            KRB5_KDC_PROFILE="$KDC_TMP/$name.kdc.conf" \
            KRB5_CONFIG="$PK_KRB5" krb5kdc -n -r "$realm"; then
            PK_PID=$SRV_PID
            for _ in $(seq 100); do
                grep -q 'commencing operation' "$PK_LOG" 2>/dev/null &&
                    return 0
                sleep 0.05
            done
        fi
        kill "$SRV_PID" 2>/dev/null
        wait "$SRV_PID" 2>/dev/null
    done
    echo "could not start krb5kdc $name:"
    cat "$KDC_TMP/$name.out" "$PK_LOG" 2>/dev/null | tail -n 5
    return 1
}

# stop_pid PID: ends one process this script started and reaps it.
stop_pid() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    kdc_running "$1" && kill -9 "$1" 2>/dev/null
    return 0
}

# client NAME CFG PRINCIPAL [ENV...]: `hsmssp client --credential
# PRINCIPAL` to a fresh MIT gss-server for e18@localhost; must succeed,
# the server must log the login and the message.
client() {
    local name=$1 c=$2 princ=$3
    shift 3
    kdc_start_gss_server "$HSMSSP_KT_E18" e18@localhost ||
        { kdc_bad "$name: gss-server"; return 1; }
    kdc_check "$name" env "$@" "$cli" client --config "$c" --port "$SRV_PORT" \
        --credential "$princ" localhost e18@localhost "hi from $princ"
    kdc_wait_server 10 >/dev/null
    kdc_assert_grep "$name: server saw the login" "$SRV_LOG" \
        "Accepted connection: \"$princ@$realm\""
    kdc_assert_grep "$name: server got the message" "$SRV_LOG" \
        "hi from $princ"
}

# The realm's svcacct keytab, copied: the keys go onto the token from it,
# and tshark decrypts the AS-REPs with it (section 3).
cp "$HSMSSP_KT_SVCACCT" "$KDC_TMP/svcacct.keytab"
kdc_check "import svcacct's keys" "$cli" keytab import --config "$cfg" \
    --allow-host-op krb "$KDC_TMP/svcacct.keytab"

# ---- 1. errors from the realm's KDC ----------------------------------------

# Wrong password: account import checks each key with the KDC first.
printf 'Not-daves-pw\n' >"$KDC_TMP/wrong.pw"
expect "account import, wrong password" 1 "$cli" account import \
    --config "$cfg" dave <"$KDC_TMP/wrong.pw"
kdc_assert_grep "account import, wrong password: reason" "$KDC_TMP/err" \
    "refused the pre-authentication (wrong key or password)"
kdc_assert_eq "account import, wrong password: nothing stored" \
    "$(labels | grep -c "^dave@")" 0
# ... imported anyway (--no-verify): the KDC refuses the key.
expect "account import --no-verify, wrong password" 0 "$cli" account import \
    --config "$cfg" --no-verify --kvno 1 dave <"$KDC_TMP/wrong.pw"
expect_status "wrong key: KDC_ERR_PREAUTH_FAILED" "$ST_LOGON_DENIED" \
    "answered KRB-ERROR 24 (pre-authentication failed (wrong key or password))" \
    "$cli" client --config "$cfg" --credential dave localhost e18@localhost x

# Unknown client: a key for nobody@ from a keytab made here (format of
# MIT's keytab file, version 0x502), which klist -ke must read back.
"$PY" - "$KDC_TMP/nobody.keytab" "nobody@$realm" <<'EOF'
import os, struct, sys, time
path, princ = sys.argv[1], sys.argv[2]
name, realm = princ.split("@")
def counted(b):
    return struct.pack(">H", len(b)) + b
e = struct.pack(">H", 1) + counted(realm.encode()) + counted(name.encode())
e += struct.pack(">IIB", 1, int(time.time()), 1)   # NT-PRINCIPAL, kvno 1
e += struct.pack(">H", 18) + counted(os.urandom(32)) + struct.pack(">I", 1)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, b"\x05\x02" + struct.pack(">i", len(e)) + e)
os.close(fd)
EOF
kdc_assert_eq "nobody.keytab as klist -ke reads it" \
    "$(klist -ke "$KDC_TMP/nobody.keytab" | awk 'NR > 3 { print $1, $2, $3 }')" \
    "1 nobody@$realm (aes256-cts-hmac-sha1-96)"
kdc_check "import nobody's key" "$cli" keytab import --config "$cfg" \
    "$KDC_TMP/nobody.keytab"
expect_status "unknown client (key on the token)" "$ST_UNKNOWN_CREDENTIALS" \
    "answered KRB-ERROR 6 (client not found in the Kerberos database)" \
    "$cli" client --config "$cfg" --credential nobody localhost \
    e18@localhost x
(umask 077 && printf 'Nobodys-pw' >"$KDC_TMP/nobody.pw")
expect_status "unknown client (password identity)" \
    "$ST_UNKNOWN_CREDENTIALS" \
    "answered KRB-ERROR 6 (client not found in the Kerberos database)" \
    "$cli" client --config "$cfg" --credential "nobody@$realm" \
    --password-file "$KDC_TMP/nobody.pw" localhost e18@localhost x

# Unknown service: the TGS exchange runs in InitializeSecurityContext,
# after the client has connected, so a server must be listening.
if kdc_start_gss_server "$HSMSSP_KT_E18" e18@localhost; then
    expect_status "unknown service" "$ST_TARGET_UNKNOWN" \
        "answered KRB-ERROR 7 (server not found in the Kerberos database)" \
        "$cli" client --config "$cfg" --port "$SRV_PORT" --credential \
        svcacct localhost nosuch@localhost x
    kdc_assert_grep "unknown service: in InitializeSecurityContext" \
        "$KDC_TMP/err" "InitializeSecurityContext: 0x$ST_TARGET_UNKNOWN"
    kdc_wait_server 10 >/dev/null
else
    kdc_bad "unknown service: gss-server"
fi

# Clock skew: the client an hour ahead; its PA-ENC-TIMESTAMP is refused.
expect_status "clock skew (+1h)" "$ST_TIME_SKEW" \
    "answered KRB-ERROR 37 (clock skew too great)" \
    faked +3600s "$cli" client --config "$cfg" --credential svcacct \
    localhost e18@localhost x

# KDC down (1): nothing listens on the port; ICMP ends the one attempt.
dead=$(free_port)
sed "s/^\( *kdc = \)127\.0\.0\.1:[0-9]*/\1127.0.0.1:$dead/" \
    "$dir/krb5.conf" >"$KDC_TMP/dead.krb5.conf"
t=$EPOCHREALTIME
expect_status "KDC down (refused)" "$ST_NO_AUTHORITY" \
    "no usable reply from 127.0.0.1:$dead (1 round, 300 ms per attempt)" \
    env KRB5_CONFIG="$KDC_TMP/dead.krb5.conf" "$cli" client --config \
    "$cfg_dead" --credential svcacct localhost e18@localhost x
ms=$(elapsed_ms "$t")
if [ "$ms" -lt 5300 ]; then
    kdc_ok "KDC down (refused): returned in $ms ms (bound 300 ms + 5 s)"
else
    kdc_bad "KDC down (refused): took $ms ms"
fi

# KDC down (2): a socket that takes every datagram and never answers.
# 2 rounds x 1 address x 400 ms: the call must take that long (the
# datagrams prove the rounds) and not much longer.
hole=$(free_port)
"$PY" - "$hole" "$KDC_TMP/hole.count" <<'EOF' &
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", int(sys.argv[1])))
n = 0
open(sys.argv[2], "w").write("ready\n")
u.settimeout(60)
while True:
    try:
        u.recvfrom(65536)
    except socket.timeout:
        break
    n += 1
    open(sys.argv[2], "w").write("%d\n" % n)
EOF
hole_pid=$!
KDC_PIDS+=("$hole_pid")
for _ in $(seq 100); do
    [ -s "$KDC_TMP/hole.count" ] && break
    sleep 0.05
done
sed "s/^\( *kdc = \)127\.0\.0\.1:[0-9]*/\1127.0.0.1:$hole/" \
    "$dir/krb5.conf" >"$KDC_TMP/hole.krb5.conf"
t=$EPOCHREALTIME
expect_status "KDC down (black hole)" "$ST_NO_AUTHORITY" \
    "no usable reply from 127.0.0.1:$hole (2 rounds, 400 ms per attempt)" \
    env KRB5_CONFIG="$KDC_TMP/hole.krb5.conf" "$cli" client --config \
    "$cfg_hole" --credential svcacct localhost e18@localhost x
ms=$(elapsed_ms "$t")
# The lower bound is exact (every wait is a poll on the monotonic clock
# to the attempt's deadline); the upper one leaves 6 s for starting the
# process and opening the token on a loaded machine.
if [ "$ms" -ge 800 ] && [ "$ms" -lt 6800 ]; then
    kdc_ok "KDC down (black hole): $ms ms (bound 2 x 400 ms)"
else
    kdc_bad "KDC down (black hole): $ms ms, want 800 ms .. 800 ms + 6 s"
fi
kdc_assert_eq "KDC down (black hole): one AS-REQ per round" \
    "$(cat "$KDC_TMP/hole.count")" 2
stop_pid "$hole_pid"

# ---- the private KDCs and the capture -------------------------------------

# A: an ordinary second KDC, whose log and traffic are this test's alone.
# B: replies over UDP of at most 400 bytes (the AS-REP and TGS-REP are
# about 750; the PREAUTH_REQUIRED error about 240).
private_kdc kdcA || { kdc_bad "private KDC A"; kdc_finish; }
pa=$PK_PORT pa_pid=$PK_PID pa_log=$PK_LOG krb_a=$PK_KRB5
private_kdc kdcB '    kdc_max_dgram_reply_size = 400' ||
    { kdc_bad "private KDC B"; kdc_finish; }
pb=$PK_PORT pb_pid=$PK_PID pb_log=$PK_LOG krb_b=$PK_KRB5

# One capture of both private KDCs' ports on loopback, plus a probe port:
# a datagram to it that shows up in the live summary proves the capture
# runs (at the start) and has seen everything sent before it (at the
# end).
pcap=$KDC_TMP/kdc.pcapng
probe=$(free_port)
# The shell opens the redirections in the background child, so the files
# are created here first: capture_sync may read them before the child runs.
: >"$KDC_TMP/capture.sum"
: >"$KDC_TMP/capture.err"
tshark -n -l -i lo -P -w "$pcap" \
    -f "port $pa or port $pb or udp port $probe" \
    >"$KDC_TMP/capture.sum" 2>"$KDC_TMP/capture.err" </dev/null &
cap_pid=$!
KDC_PIDS+=("$cap_pid")
# capture_sync: sends probes until one appears in the summary (~10 s).
capture_sync() {
    local before
    before=$(grep -cw "$probe" "$KDC_TMP/capture.sum" || true)
    for _ in $(seq 100); do
        "$PY" -c 'import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"sync",
    ("127.0.0.1", int(sys.argv[1])))' "$probe"
        sleep 0.1
        [ "$(grep -cw "$probe" "$KDC_TMP/capture.sum" || true)" -gt "${before:-0}" ] &&
            return 0
        kill -0 "$cap_pid" 2>/dev/null || break
    done
    return 1
}
if capture_sync; then
    kdc_ok "tshark captures on lo"
else
    kdc_bad "tshark does not capture on lo"
    sed 's/^/     | /' "$KDC_TMP/capture.err"
fi

# Reply too big for UDP: the exchange works (through KDC B).
client "too big for UDP: login through KDC B" "$cfg" svcacct \
    KRB5_CONFIG="$krb_b"

# ---- 2. the kinit store (KDC A) --------------------------------------------

as_count() {
    grep -c "AS_REQ .*svcacct@$realm for krbtgt/$realm@$realm" "$pa_log"
}
tgs_count() {
    grep -c "TGS_REQ .*svcacct@$realm for e18/localhost@$realm" "$pa_log"
}
# A umask that would make everything world-writable: kinit sets the modes.
old_umask=$(umask)
umask 000
expect "kinit svcacct" 0 env KRB5_CONFIG="$krb_a" "$cli" kinit --config \
    "$cfg_store" svcacct </dev/null
umask "$old_umask"
kdc_assert_grep "kinit names the file" "$KDC_TMP/out" \
    "TGT of svcacct@$realm for krbtgt/$realm@$realm stored in $tickets/svcacct@$realm.tgt"
kdc_assert_eq "ticket directory mode" "$(stat -c %a "$tickets")" 700
kdc_assert_eq "ticket file mode" \
    "$(stat -c %a "$tickets/svcacct@$realm.tgt" 2>&1)" 600
kdc_assert_eq "ticket directory holds one file" "$(ls -A "$tickets")" \
    "svcacct@$realm.tgt"
kdc_assert_eq "one TGT key object, labelled with the ticket" \
    "$(labels | grep -c "^TGT svcacct@$realm for krbtgt/$realm@$realm until 20[0-9-]*T[0-9:]*Z\$")" 1
first_id=$(tgt_ids "svcacct@$realm")

as_before=$(as_count)
tgs_before=$(tgs_count)
client "second process uses the stored TGT" "$cfg_store" svcacct \
    KRB5_CONFIG="$krb_a"
kdc_assert_eq "... without an AS exchange (KDC A log)" "$(as_count)" \
    "$as_before"
kdc_assert_eq "... with one TGS exchange (KDC A log)" "$(tgs_count)" \
    $((tgs_before + 1))

if expect "klist" 0 "$cli" klist --config "$cfg_store" </dev/null; then
    kdc_assert_grep "klist shows the TGT" "$KDC_TMP/out" \
        "svcacct@$realm / krbtgt/$realm@$realm"
    grep -q "(expired)" "$KDC_TMP/out" && kdc_bad "klist: marked expired"
fi
if expect "klist 11 hours later" 1 faked +11h "$cli" klist --config \
    "$cfg_store" </dev/null; then
    kdc_assert_grep "klist marks it expired" "$KDC_TMP/out" \
        "svcacct@$realm / krbtgt/$realm@$realm  (expired)"
fi

expect "kinit again" 0 env KRB5_CONFIG="$krb_a" "$cli" kinit --quiet \
    --config "$cfg_store" svcacct </dev/null
second_id=$(tgt_ids "svcacct@$realm")
kdc_assert_eq "kinit again: one TGT object left" \
    "$(printf '%s\n' "$second_id" | grep -c .)" 1
if [ -n "$second_id" ] && [ "$second_id" != "$first_id" ]; then
    kdc_ok "kinit again: the old object was replaced"
else
    kdc_bad "kinit again: object id '$first_id' -> '$second_id'"
fi
client "login with the new stored TGT" "$cfg_store" svcacct \
    KRB5_CONFIG="$krb_a"
kdc_assert_eq "... still no AS exchange but kinit's" "$(as_count)" \
    $((as_before + 2))

# The capture is complete: stop it.
capture_sync || kdc_bad "capture: the last probe never arrived"
kill -INT "$cap_pid" 2>/dev/null
wait "$cap_pid" 2>/dev/null

# ---- the capture: UDP, then TCP, for KDC B ----------------------------------

# frames PORT: "transport msg-type error-code" of every Kerberos message
# the KDC on PORT sent, in order.
frames() {
    tshark -n -r "$pcap" -d "udp.port==$1,kerberos" \
        -d "tcp.port==$1,kerberos" \
        -Y "kerberos && (udp.srcport == $1 || tcp.srcport == $1)" \
        -T fields -e udp.srcport -e kerberos.msg_type \
        -e kerberos.error_code 2>/dev/null |
        awk -F'\t' '{ print ($1 == "" ? "tcp" : "udp"), $2, ($3 == "" ? "-" : $3) }'
}
frames "$pb" >"$KDC_TMP/kdcB.frames"
sed 's/^/     KDC B sent: /' "$KDC_TMP/kdcB.frames"
# Over UDP, KDC B may send KRB-ERRORs only; the AS-REP and the TGS-REP
# come over TCP, each after a RESPONSE_TOO_BIG (52) over UDP.
kdc_assert_eq "too big: no AS-REP or TGS-REP over UDP" \
    "$(grep -c '^udp 1[13] ' "$KDC_TMP/kdcB.frames")" 0
for rep in "11 AS-REP" "13 TGS-REP"; do
    kdc_assert_eq "too big: UDP RESPONSE_TOO_BIG, then the ${rep#* } over TCP" \
        "$(awk -v m="${rep%% *}" '
            $1 == "udp" && $2 == 30 && $3 == 52 { big = 1; next }
            $1 == "tcp" && $2 == m && big { ok = 1 }
            $1 == "tcp" { big = 0 }
            END { print ok ? "yes" : "no" }' "$KDC_TMP/kdcB.frames")" yes
done
kdc_assert_eq "too big: two RESPONSE_TOO_BIG errors" \
    "$(grep -c '^udp 30 52$' "$KDC_TMP/kdcB.frames")" 2
# MIT's KDC logs the TCP retry as a repeat of the UDP request it answered.
kdc_assert_grep "too big: KDC B log shows the retry" "$pb_log" \
    "repeated (retransmitted?) request"

# ---- 3. key hygiene ---------------------------------------------------------

# The session keys of every AS-REP from KDC A (svcacct's two TGTs), and
# of every TGS-REP (the service tickets), as tshark learns them with the
# keytab copy.
dissect_a() {
    tshark -n -r "$pcap" -d "udp.port==$pa,kerberos" \
        -d "tcp.port==$pa,kerberos" -o kerberos.decrypt:TRUE \
        -o "kerberos.file:$KDC_TMP/svcacct.keytab" "$@" 2>/dev/null
}
as_keys=$(dissect_a -Y "kerberos.msg_type == 11 && udp.srcport == $pa" \
    -T fields -e kerberos.keyvalue | tr ',' '\n' | grep -v '^$' | sort -u)
tgs_keys=$(dissect_a -Y "kerberos.msg_type == 13 && udp.srcport == $pa" \
    -T fields -e kerberos.keyvalue | tr ',' '\n' | grep -v '^$' | sort -u)
kdc_assert_eq "tshark learnt both TGT session keys (two kinits)" \
    "$(printf '%s\n' "$as_keys" | grep -cE '^[0-9a-f]{32,64}$')" 2
kdc_assert_eq "tshark learnt both service-ticket session keys" \
    "$(printf '%s\n' "$tgs_keys" | grep -cE '^[0-9a-f]{32,64}$')" 2
# The keys are the ones the later processes used: each client's TGS-REQ
# authenticator (usage 7) decrypts with the key tshark learnt from the
# AS-REP of the kinit before it, and every kinit's key is used so.
as_frames=$(dissect_a -Y "kerberos.msg_type == 11 && udp.srcport == $pa" \
    -T fields -e frame.number | sort -n | tr '\n' ' ')
used_frames=$(dissect_a -V -Y "kerberos.msg_type == 12 && udp.dstport == $pa" |
    grep -o 'Decrypted keytype [0-9]* usage 7 using learnt encASRepPart_key in frame [0-9]*' |
    awk '{ print $NF }' | sort -nu | tr '\n' ' ')
kdc_assert_eq "the clients' TGS-REQs use the TGT keys of kinit's AS-REPs" \
    "$(wc -w <<<"$used_frames") $used_frames" "2 $as_frames"

# keysearch ROOT...: searches every regular file under the ROOTs (no
# symbolic links followed; the token directory and the capture left out)
# for each key on standard input (hex, one a line), as raw bytes and as
# hex text in either case.  Prints what it searched and what it found;
# exits 1 when some key was found, 2 when there was nothing to search.
cat >"$KDC_TMP/keysearch.py" <<'EOF'
import os, sys
skip_dir, skip_file = sys.argv[1], sys.argv[2]
keys = [bytes.fromhex(l.strip()) for l in sys.stdin if l.strip()]
if not keys:
    sys.exit(2)
found = files = size = 0
for root in sys.argv[3:]:
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if os.path.join(d, x) != skip_dir]
        for name in names:
            p = os.path.join(d, name)
            if p == skip_file or os.path.islink(p) or not os.path.isfile(p):
                continue
            data = open(p, "rb").read()
            files += 1
            size += len(data)
            if p.endswith(".tgt"):
                print("searched ticket file", p)
            for i, k in enumerate(keys):
                for form in (k, k.hex().encode(), k.hex().upper().encode()):
                    if data.find(form) >= 0:
                        print("FOUND key %d in %s" % (i, p))
                        found += 1
print("%d keys, %d files, %d bytes searched, %d found" % (len(keys), files,
                                                        size, found))
sys.exit(1 if found else 0)
EOF
keysearch() {
    printf '%s\n' "$as_keys" "$tgs_keys" |
        "$PY" "$KDC_TMP/keysearch.py" "$KDC_TMP/softhsm" "$pcap" "$@"
}
# The detector works: a key planted in a file is found, raw and as hex.
mkdir "$KDC_TMP/plant"
"$PY" - "$KDC_TMP/plant" "$(printf '%s\n' "$as_keys" | tail -n 1)" <<'EOF'
import os, sys
k = bytes.fromhex(sys.argv[2])
open(sys.argv[1] + "/raw.bin", "wb").write(os.urandom(99) + k + os.urandom(7))
open(sys.argv[1] + "/hex.txt", "w").write("key=%s\n" % k.hex().upper())
EOF
keysearch "$KDC_TMP/plant" >"$KDC_TMP/plant.out"
kdc_assert_eq "detector: exits 1 on a planted key" "$?" 1
kdc_assert_grep "detector: finds the raw key" "$KDC_TMP/plant.out" \
    "in $KDC_TMP/plant/raw.bin"
kdc_assert_grep "detector: finds the hex key" "$KDC_TMP/plant.out" \
    "in $KDC_TMP/plant/hex.txt"
rm -rf "$KDC_TMP/plant"
# The real search: the ticket directory lies inside $KDC_TMP.
keysearch "$KDC_TMP" >"$KDC_TMP/search.out"
rc=$?
sed 's/^/     /' "$KDC_TMP/search.out"
kdc_assert_eq "no session key in any file kinit (or the test) wrote" "$rc" 0
kdc_assert_grep "the ticket file was searched" "$KDC_TMP/search.out" \
    "searched ticket file $tickets/svcacct@$realm.tgt"

# ---- 2 (continued). expiry, kdestroy, NSS --------------------------------

# An expired ticket is removed when a process loads it.  alice's TGT is
# stored, then her key removed, so the stored TGT is her only source.
cp "$HSMSSP_KT_ALICE" "$KDC_TMP/alice.keytab"
kdc_check "import alice's keys" "$cli" keytab import --config "$cfg_store" \
    --allow-host-op krb "$KDC_TMP/alice.keytab"
kdc_check "kinit alice" env KRB5_CONFIG="$krb_a" "$cli" kinit --config \
    "$cfg_store" alice
kdc_check "remove alice's long-term keys" "$cli" keytab remove --config \
    "$cfg_store" --principal "alice@$realm"
kdc_assert_eq "alice: one TGT object" \
    "$(tgt_ids "alice@$realm" | grep -c .)" 1
expect_status "alice 11 hours later: no credential" "$ST_NO_CREDENTIALS" \
    "the stored TGT of alice@$realm had expired and was removed" \
    faked +11h env KRB5_CONFIG="$krb_a" "$cli" client --config \
    "$cfg_store" --credential alice localhost e18@localhost x
if [ -e "$tickets/alice@$realm.tgt" ]; then
    kdc_bad "expired ticket file still there"
else
    kdc_ok "expired ticket file removed on load"
fi
kdc_assert_eq "expired ticket's key object removed on load" \
    "$(tgt_ids "alice@$realm" | grep -c .)" 0

expect "kdestroy svcacct" 0 "$cli" kdestroy --config "$cfg_store" svcacct \
    </dev/null && kdc_assert_grep "kdestroy: one removed" "$KDC_TMP/out" \
    "1 stored TGT(s) removed"
if [ -e "$tickets/svcacct@$realm.tgt" ]; then
    kdc_bad "kdestroy: the file is still there"
else
    kdc_ok "kdestroy: file removed"
fi
kdc_assert_eq "kdestroy: key object removed" \
    "$(labels | grep -c '^TGT ')" 0
expect "klist after kdestroy" 1 "$cli" klist --config "$cfg_store" \
    </dev/null && kdc_assert_grep "klist: nothing stored" "$KDC_TMP/out" \
    "no stored TGTs"

expect "NSS softoken without a database: kinit refused" 1 env \
    KRB5_CONFIG="$krb_a" "$cli" kinit --config "$cfg_nss" svcacct </dev/null
kdc_assert_grep "NSS: says why" "$KDC_TMP/err" \
    "cannot store objects (NSS softoken without a database?)"
if [ -e "$KDC_TMP/tickets-nss" ]; then
    kdc_bad "NSS: a ticket directory was made"
else
    kdc_ok "NSS: nothing written"
fi

# account import with the right password; then a login as dave, and a
# wrong --salt that fails the check and keeps the keys.
if expect "account import dave" 0 "$cli" account import --config "$cfg" \
    --replace dave <"$HSMSSP_PW_DAVE"; then
    kdc_assert_grep "account import: salt from the KDC, checked" \
        "$KDC_TMP/out" \
        "dave@$realm kvno 1 aes256-cts-hmac-sha1-96 imported (salt \"${realm}dave\", checked with the KDC)"
fi
client "login as dave" "$cfg" dave
expect "account import --salt (wrong salt)" 1 "$cli" account import \
    --config "$cfg" --replace --salt "${realm}Dave" dave <"$HSMSSP_PW_DAVE"
kdc_assert_grep "wrong salt: the KDC refuses the key" "$KDC_TMP/err" \
    "refused the pre-authentication (wrong key or password)"
client "login as dave after the failed import" "$cfg" dave

# A TGT on the token again, for the object check.
kdc_check "kinit svcacct after kdestroy" env KRB5_CONFIG="$krb_a" "$cli" \
    kinit --config "$cfg_store" svcacct

# ---- 3 (continued). no object answers CKA_VALUE ---------------------------

p11 --list-objects --type secrkey >"$KDC_TMP/objects"
# "ID access label" per object.
awk '/^Secret Key Object/ { if (id != "") print id "\t" acc "\t" lab
                            id = ""; acc = ""; lab = "" }
     /^ *label:/ { lab = $0; sub(/^ *label: */, "", lab) }
     /^ *ID:/ { id = $2 }
     /^ *Access:/ { acc = $0; sub(/^ *Access: */, "", acc) }
     END { if (id != "") print id "\t" acc "\t" lab }' \
    "$KDC_TMP/objects" >"$KDC_TMP/objects.tsv"
nobj=$(grep -c '^Secret Key Object' "$KDC_TMP/objects")
kdc_assert_eq "every object has a distinct CKA_ID" \
    "$(cut -f1 "$KDC_TMP/objects.tsv" | sort -u | wc -l)" "$nobj"
for want in "^TGT svcacct@" "^svcacct@" "^dave@" "^nobody@"; do
    cut -f3 "$KDC_TMP/objects.tsv" | grep -q "$want" ||
        kdc_bad "no object labelled $want on the token"
done
bad=0
while IFS=$'\t' read -r id acc lab; do
    if ! printf '%s\n' "$acc" | grep -q '^sensitive' ||
        printf '%s\n' "$acc" | sed 's/never extractable//' |
        grep -q extractable; then
        kdc_bad "object '$lab': access '$acc'"
        bad=$((bad + 1))
    fi
    if pkcs11-tool --module "$softhsm" --token-label initkdc --login \
        --pin 1234 --read-object --type secrkey --id "$id" \
        -o "$KDC_TMP/value" >"$KDC_TMP/read.out" 2>&1; then
        kdc_bad "CKA_VALUE of '$lab' was readable"
        bad=$((bad + 1))
    elif ! grep -q 'CKR_ATTRIBUTE_SENSITIVE' "$KDC_TMP/read.out"; then
        kdc_bad "reading '$lab' failed, but not with CKR_ATTRIBUTE_SENSITIVE"
        sed 's/^/     | /' "$KDC_TMP/read.out"
        bad=$((bad + 1))
    fi
done <"$KDC_TMP/objects.tsv"
rm -f "$KDC_TMP/value"
[ "$bad" -eq 0 ] &&
    kdc_ok "no key object answers CKA_VALUE: $nobj objects, each CKR_ATTRIBUTE_SENSITIVE and not extractable"

# ---- 4. credential cache types ---------------------------------------------

# The ccache path goes through libkrb5, so every type it has works: a
# DIR: collection (the principal picks the cache) and, where the kernel
# offers keyrings, KEYRING:.  alice's TGT key is imported at acquire time.
mkdir -p "$KDC_TMP/ccdir"
if KRB5CCNAME=DIR:$KDC_TMP/ccdir kinit -k -t "$HSMSSP_KT_ALICE" \
    "alice@$realm" >/dev/null 2>&1; then
    client "DIR: ccache user alice" "$cfg" alice \
        KRB5CCNAME="DIR:$KDC_TMP/ccdir"
else
    kdc_bad "kinit into a DIR: ccache"
fi
krname=KEYRING:session:hsmssp-initkdc-$$
if KRB5CCNAME=$krname kinit -k -t "$HSMSSP_KT_ALICE" "alice@$realm" \
    >/dev/null 2>&1; then
    client "KEYRING: ccache user alice" "$cfg" alice KRB5CCNAME="$krname"
    KRB5CCNAME=$krname kdestroy >/dev/null 2>&1
else
    # Not a skip of hsmssp: MIT's own kinit cannot use a keyring here
    # (a container without the keyctl system calls).
    kdc_ok "KEYRING: ccaches: the kernel offers no keyring here (MIT's kinit fails too)"
fi

# KCM: through Heimdal's kcm daemon, a KCM server nobody here wrote (MIT's
# libkrb5 speaks its protocol).  Heimdal's kcm listens on
# /var/run/.heim_org.h5l.kcm-socket whatever --socket-path says, and that
# is MIT's default kcm_socket too.  A kcm already serving it (a system
# one) is used as it is; otherwise this test starts one and stops it.  The
# cache has a name of this run's own, under root's uid as kcm requires.
kcm_sock=/var/run/.heim_org.h5l.kcm-socket
kcmname=KCM:$(id -u):hsmssp-initkdc-$$
kcm_pid=
kcm_kinit() {
    KRB5CCNAME=$kcmname kinit -k -t "$HSMSSP_KT_ALICE" "alice@$realm" \
        >"$KDC_TMP/kcm.kinit" 2>&1
}
if ! kcm_kinit; then
    /usr/sbin/kcm >"$KDC_TMP/kcm.log" 2>&1 </dev/null &
    kcm_pid=$!
    KDC_PIDS+=("$kcm_pid")
    for _ in $(seq 50); do
        [ -S "$kcm_sock" ] && kcm_kinit && break
        sleep 0.1
    done
fi
if KRB5CCNAME=$kcmname klist -s 2>/dev/null; then
    client "KCM: ccache user alice" "$cfg" alice KRB5CCNAME="$kcmname"
    # hsmssp writes nothing into the cache (its service tickets stay in
    # its own memory, their keys on the token): kinit's TGT alone.
    kdc_assert_eq "KCM: the cache holds only kinit's TGT" \
        "$(KRB5CCNAME=$kcmname klist 2>/dev/null | grep -c '@')" 2
    KRB5CCNAME=$kcmname kdestroy >/dev/null 2>&1
else
    kdc_bad "kinit into a KCM: ccache (Heimdal's kcm)"
    sed 's/^/     | /' "$KDC_TMP/kcm.kinit" "$KDC_TMP/kcm.log" 2>/dev/null
fi
if [ -n "$kcm_pid" ]; then
    stop_pid "$kcm_pid"
    rm -f "$kcm_sock"
fi

# ---- 5. KDCs from DNS SRV records ---------------------------------------------

# A realm section without kdc lines, dns_lookup_kdc on: the KDCs come from
# _kerberos._udp and _kerberos._tcp SRV records (res_nquery).  The
# resolver reads /etc/resolv.conf, which names no port, so the client runs
# in a mount namespace of its own (unshare -m) where a copy naming this
# test's DNS server (fakedns.py on 127.0.0.77:53) is bound over it; other
# processes keep the machine's resolver.
dns_addr=127.0.0.77
printf 'nameserver %s\noptions attempts:1 timeout:2\n' "$dns_addr" \
    >"$KDC_TMP/resolv.conf"
sed -e '/^ *kdc = /d' -e 's/dns_lookup_kdc = false/dns_lookup_kdc = true/' \
    "$dir/krb5.conf" >"$KDC_TMP/dns.krb5.conf"
# in_ns CMD...: CMD with the test's resolv.conf.
in_ns() {
    unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift &&
        exec "$@"' sh "$KDC_TMP/resolv.conf" "$@"
}
# start_dns RECORD...: fakedns.py with these SRV records, once it answers.
dns_pid=
start_dns() {
    [ -n "$dns_pid" ] && stop_pid "$dns_pid"
    : >"$KDC_TMP/dns.log"
    "$PY" "$here/fakedns.py" "$dns_addr" 53 "$KDC_TMP/dns.log" "$@" \
        >"$KDC_TMP/dns.out" 2>&1 </dev/null &
    dns_pid=$!
    KDC_PIDS+=("$dns_pid")
    for _ in $(seq 50); do
        in_ns "$PY" -c 'import socket; socket.getaddrinfo("probe.invalid", 0)' \
            >/dev/null 2>&1
        grep -q '^probe\.invalid ' "$KDC_TMP/dns.log" && return 0
        kill -0 "$dns_pid" 2>/dev/null || break
        sleep 0.1
    done
    sed 's/^/     | /' "$KDC_TMP/dns.out"
    return 1
}
if ! in_ns true 2>"$KDC_TMP/unshare.err"; then
    kdc_bad "unshare -m and a bind mount over /etc/resolv.conf (root with CAP_SYS_ADMIN)"
    sed 's/^/     | /' "$KDC_TMP/unshare.err"
elif ! start_dns; then
    kdc_bad "fakedns.py on $dns_addr:53"
else
    # No records: the realm has no KDC, and the message says where it
    # looked.
    expect_status "DNS without SRV records" "$ST_NO_AUTHORITY" \
        "nor in DNS (_kerberos SRV records)" \
        in_ns env KRB5_CONFIG="$KDC_TMP/dns.krb5.conf" "$cli" client \
        --config "$cfg" --credential svcacct localhost e18@localhost x
    kdc_assert_eq "DNS without SRV records: both SRV names asked" \
        "$(grep -c "^_kerberos\._\(udp\|tcp\)\.$realm 33\$" "$KDC_TMP/dns.log")" 2
    # Records: over UDP a dead port first (priority 0), the realm's KDC
    # second; over TCP the realm's KDC.
    dead=$(free_port)
    if start_dns "_kerberos._udp.$realm=1,0,$HSMSSP_KDC_PORT,localhost" \
        "_kerberos._udp.$realm=0,0,$dead,localhost" \
        "_kerberos._tcp.$realm=0,0,$HSMSSP_KDC_PORT,localhost"; then
        kdc_start_gss_server "$HSMSSP_KT_E18" e18@localhost ||
            kdc_bad "KDC from DNS: gss-server"
        kdc_check "KDC from DNS SRV records" in_ns env \
            KRB5_CONFIG="$KDC_TMP/dns.krb5.conf" "$cli" client --config \
            "$cfg" --port "$SRV_PORT" --credential svcacct localhost \
            e18@localhost "hi through DNS"
        kdc_wait_server 10 >/dev/null
        kdc_assert_grep "KDC from DNS: server saw the login" "$SRV_LOG" \
            "Accepted connection: \"svcacct@$realm\""
        kdc_assert_grep "KDC from DNS: server got the message" "$SRV_LOG" \
            "hi through DNS"
        # Each request to the KDC (AS-REQ twice, TGS-REQ) looks both up.
        kdc_assert_eq "KDC from DNS: the SRV names asked per request" \
            "$(grep -c "^_kerberos\._udp\.$realm 33\$" "$KDC_TMP/dns.log") $(grep -c "^_kerberos\._tcp\.$realm 33\$" "$KDC_TMP/dns.log")" \
            "3 3"
    else
        kdc_bad "fakedns.py on $dns_addr:53 with records"
    fi
    stop_pid "$dns_pid"
fi

# ---- the end: nothing left running ------------------------------------------

for p in "$pa_pid" "$pb_pid"; do
    stop_pid "$p"
done
if kdc_running "$pa_pid" || kdc_running "$pb_pid" ||
    kdc_running "$cap_pid"; then
    kdc_bad "a private KDC or tshark is still running"
else
    kdc_ok "private KDCs and the capture stopped"
fi
echo "ran in $(elapsed_ms "$T0") ms"
kdc_finish
