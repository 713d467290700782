#!/bin/bash
# tests/kdc/test_client_interop.sh - the Kerberos initiator (issue 4):
# `hsmssp client` logs into real peers started here on 127.0.0.1, MIT's
# gss-server with the service's keytab and `hsmssp server` with the
# service keys on its token, through the realm's MIT KDC.
#
# On each token (SoftHSM2, NSS softoken without a database):
#   - every enctype (services e17 e18 e19 e20 e23, ticket and session key
#     of that enctype) against both peers, without mutual authentication
#     (the enctype's own per-message format, three messages) and with it,
#     and to gss-server with a delegated TGT;
#   - the five switches (mutual, --seq, wrap, encryption, MIC), each pair
#     of values in six runs on e18 (half of them without replay
#     detection), against both peers;
#   - the client identities: the HSM-backed account svcacct (keys
#     imported with `hsmssp keytab import` on SoftHSM2, with
#     `--import-keytab` on NSS), alice's MIT credential cache (FILE: from
#     `kinit -k`, and DIR:), dave's password (--password-file), and dave
#     after `hsmssp account import` (SoftHSM2; on NSS the import must say
#     that the token cannot store keys, exit 12);
#   - delegation: granted to deleg/localhost (ok-as-delegate) when the
#     policy allows it (gss-server reports GSS_C_DELEG_FLAG); refused by
#     the default policy, refused to host/localhost (no ok-as-delegate),
#     granted there again with ignore_ok_as_delegate;
#   - `hsmssp server --forward`: the delegated TGT logs the client into a
#     second MIT gss-server (host/localhost) that names the client, once
#     per message; a client that did not delegate is refused, and the
#     server keeps serving others;
#   - channel bindings: equal ones accepted by `hsmssp server`, different
#     ones refused (SEC_E_BAD_BINDINGS); MIT's gss-server takes any;
#   - an empty message; a wrong password, an unknown service, and
#     arcfour-hmac under the default client policy: refused with their
#     statuses and reasons.
# Each run checks the client's exit code and output (MICs verified,
# granted flags) and the server's output (login name, each message,
# context flags, whether the message token was sealed).  docs/interop.md
# has the matrix.  Every client runs under `timeout`, and every server is
# a -once/--once process that the checks wait for (killed after 20 s,
# and by kdc_cleanup on exit).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/kdc/lib.sh
. "$here/lib.sh"
kdc_init client_interop

cli=${HSMSSP_CLI:-}
softhsm=/usr/lib/softhsm/libsofthsm2.so
nss=/usr/lib/x86_64-linux-gnu/libsoftokn3.so
{ [ -n "$cli" ] && [ -x "$cli" ]; } ||
    kdc_skip "HSMSSP_CLI does not name hsmssp"
[ -f "$softhsm" ] || kdc_skip "SoftHSM2 module $softhsm missing"
[ -f "$nss" ] || kdc_skip "NSS softoken $nss missing"
for t in softhsm2-util gss-server kinit timeout od; do
    command -v "$t" >/dev/null || kdc_skip "$t missing"
done
for f in "${HSMSSP_KT_SVCACCT:-}" "${HSMSSP_KT_DELEG:-}" \
    "${HSMSSP_PW_DAVE:-}"; do
    [ -f "$f" ] ||
        kdc_skip "the realm lacks svcacct, deleg/localhost or dave"
done
dir=$HSMSSP_REALM_DIR
realm=$HSMSSP_REALM
svcacct=svcacct@$realm
alice=alice@$realm
dave=dave@$realm

# ---- tokens and configurations ---------------------------------------------

# Two SoftHSM2 tokens: the client's (svcacct, dave) and the server's
# (the services).  Client and server processes run at the same time; each
# writes only its own token, and only during the set-up below.
mkdir -p "$KDC_TMP/softhsm/tokens"
cat >"$KDC_TMP/softhsm/softhsm2.conf" <<EOF
directories.tokendir = $KDC_TMP/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF=$KDC_TMP/softhsm/softhsm2.conf
for label in icli isrv; do
    softhsm2-util --init-token --free --label "$label" --so-pin 123456 \
        --pin 1234 >/dev/null ||
        kdc_skip "softhsm2-util could not make a token"
done
printf 1234 >"$KDC_TMP/pin"
chmod 600 "$KDC_TMP/pin"
nss_uri="pkcs11:token=NSS%20Generic%20Crypto%20Services"

# conf NAME MODULE URI POLICY-LINES: an hsmssp configuration file; prints
# its path.
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
# The default list (docs/config.md) plus arcfour-hmac.
rc4="    permitted_enctypes = ${KDC_ETNAME[18]} ${KDC_ETNAME[17]}"
rc4+=" ${KDC_ETNAME[20]} ${KDC_ETNAME[19]} ${KDC_ETNAME[23]}\n"
hop="    allow_host_op = krb\n" # SoftHSM2 lacks CKM_RC4: rc4 is H(op) there
deleg="    allow_delegation = true\n"
ignore="    ignore_ok_as_delegate = true\n"
# Client side: the main configuration (all enctypes, delegation allowed),
# the default policy ("plain": no delegation, no rc4), and delegation
# that ignores the ok-as-delegate flag.
c_soft=$(conf c_soft "$softhsm" "pkcs11:token=icli" "$rc4$hop$deleg")
c_soft_plain=$(conf c_soft_plain "$softhsm" "pkcs11:token=icli" "")
c_soft_ignore=$(conf c_soft_ignore "$softhsm" "pkcs11:token=icli" \
    "$rc4$hop$deleg$ignore")
c_nss=$(conf c_nss "$nss" "$nss_uri" "$rc4$deleg")
c_nss_plain=$(conf c_nss_plain "$nss" "$nss_uri" "")
c_nss_ignore=$(conf c_nss_ignore "$nss" "$nss_uri" "$rc4$deleg$ignore")
# Server side (hsmssp server): every enctype accepted.
s_soft=$(conf s_soft "$softhsm" "pkcs11:token=isrv" "$rc4$hop")
s_nss=$(conf s_nss "$nss" "$nss_uri" "$rc4")

# with_stdin FILE CMD...: CMD with standard input from FILE (kdc_check
# gives its commands /dev/null).
with_stdin() {
    local f=$1
    shift
    "$@" <"$f"
}

# SoftHSM2 gets the keys from copies of the keytabs, deleted afterwards
# (--remove-source): the token is their only home.
cp "$HSMSSP_KT_SVCACCT" "$KDC_TMP/svcacct.keytab"
kdc_check "import svcacct's keys (client token)" "$cli" keytab import \
    --config "$c_soft" --allow-host-op krb --remove-source \
    "$KDC_TMP/svcacct.keytab"
for s in e17 e18 e19 e20 e23 deleg host; do
    cp "$dir/$s.keytab" "$KDC_TMP/$s.keytab"
    kdc_check "import $s's keys (server token)" "$cli" keytab import \
        --config "$s_soft" --allow-host-op krb --remove-source \
        "$KDC_TMP/$s.keytab"
done
# dave's keys from his password, with the KDC's salt: string-to-key once.
kdc_check "account import dave (SoftHSM2)" with_stdin "$HSMSSP_PW_DAVE" \
    "$cli" account import --config "$c_soft" "$dave"
kdc_assert_grep "account import dave: checked with the KDC" "$OUT" "$dave"
# NSS softoken without a database keeps no keys: exit 12, said clearly.
with_stdin "$HSMSSP_PW_DAVE" "$cli" account import --config "$c_nss" \
    "$dave" >"$KDC_TMP/acct-nss.out" 2>&1
kdc_assert_eq "account import on NSS: exit 12 (no storage)" "$?" 12
kdc_assert_grep "account import on NSS: says why" "$KDC_TMP/acct-nss.out" \
    "cannot store keys"
# A wrong password for dave.
(umask 077 && printf 'Not-dave-pw' >"$KDC_TMP/wrong.pw")
# A second credential cache of alice's, of type DIR.
kdc_check "kinit alice into a DIR: ccache" kinit -k -t "$HSMSSP_KT_ALICE" \
    -c "DIR:$KDC_TMP/ccdir" "$alice"

# ---- servers ---------------------------------------------------------------

# start_mit SVC: MIT gss-server -once for SVC@localhost with its keytab
# from the realm (SRV_PORT, SRV_PID, SRV_LOG).  -verbose makes it dump
# each message token, which shows what the client sealed.
start_mit() {
    kdc_start_gss_server "$dir/$1.keytab" "$1@localhost" -verbose
}

# start_mit_many SVC: the same serving any number of connections (no
# -once); the caller stops it.
start_mit_many() {
    for _ in 1 2 3 4 5; do
        SRV_PORT=$(kdc_free_port)
        SRV_LOG=$KDC_TMP/gss-server.$SRV_PORT.log
        if kdc_start_bg "$SRV_LOG" "$SRV_PORT" gss-server -port "$SRV_PORT" \
            -keytab "$dir/$1.keytab" -verbose "$1@localhost"; then
            return 0
        fi
    done
    echo "could not start gss-server for $1; last log:"
    sed 's/^/     | /' "$SRV_LOG"
    return 1
}

# stop PID: ends a server started here and reaps it.
stop() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# start_hss SVC [ARGS...]: hsmssp server --once for SVC@localhost with the
# current server configuration ($SCFG); on NSS the service's keytab goes
# into the server's session first.  Retries when a port was taken.
# HSS_MANY=1: without --once (the caller stops it).
start_hss() {
    local svc=$1 extra=()
    shift
    [ "$TOK" = nss ] && extra=(--import-keytab "$dir/$svc.keytab")
    [ "${HSS_MANY:-0}" = 1 ] || extra+=(--once)
    for _ in 1 2 3 4 5; do
        SRV_PORT=$(kdc_free_port)
        SRV_LOG=$KDC_TMP/hss.$SRV_PORT.log
        if kdc_start_bg "$SRV_LOG" "$SRV_PORT" "$cli" server --config \
            "$SCFG" --port "$SRV_PORT" "${extra[@]}" "$@" \
            "$svc@localhost"; then
            return 0
        fi
    done
    echo "could not start hsmssp server for $svc; last log:"
    sed 's/^/     | /' "$SRV_LOG"
    return 1
}

# mit_flags LOG: "deleg=D mutual=M replay=R seq=S" from gss-server's
# context flags.
mit_flags() {
    local d=0 m=0 r=0 s=0
    grep -q 'context flag: GSS_C_DELEG_FLAG' "$1" && d=1
    grep -q 'context flag: GSS_C_MUTUAL_FLAG' "$1" && m=1
    grep -q 'context flag: GSS_C_REPLAY_FLAG' "$1" && r=1
    grep -q 'context flag: GSS_C_SEQUENCE_FLAG' "$1" && s=1
    echo "deleg=$d mutual=$m replay=$r seq=$s"
}

# hss_flags LOG: "deleg=D mutual=M" from hsmssp server's "Context flags"
# line.  (Its replay and sequence flags also reflect the server's own
# request, so they say nothing about the client's.)
hss_flags() {
    local line d=0 m=0
    line=$(grep '^Context flags:' "$1")
    case " $line " in *" delegate "*) d=1 ;; esac
    case " $line " in *" mutual "*) m=1 ;; esac
    echo "deleg=$d mutual=$m"
}

# client_flags FILE: "deleg=D mutual=M replay=R seq=S" from the flags
# hsmssp client printed for its context (what ISC_RET granted).
client_flags() {
    local line d=0 m=0 r=0 s=0
    line=$(grep ', flags 0x' "$1" | sed 's/.*(\(.*\)).*/\1/')
    case " $line " in *" delegated "*) d=1 ;; esac
    case " $line " in *" mutual "*) m=1 ;; esac
    case " $line " in *" replay "*) r=1 ;; esac
    case " $line " in *" sequence "*) s=1 ;; esac
    echo "deleg=$d mutual=$m replay=$r seq=$s"
}

# mit_tokens LOG MSG: one line "flags=F clear=C" per distinct kind of
# message token gss-server -verbose dumped: F its gss-sample flag byte
# (decimal), C 1 when MSG's bytes appear in it (sent in the clear, or
# wrapped without confidentiality), 0 when they do not (sealed).
mit_tokens() {
    local hex
    hex=$(printf '%s' "$2" | od -An -tx1 | tr -d ' \n')
    awk -v want="$hex" '
        function flush() {
            if (inside)
                printf "flags=%s clear=%d\n", f, (index(acc, want) > 0)
            inside = 0
            acc = ""
        }
        /^Message token \(flags=[0-9]+\):$/ {
            flush()
            f = $0
            sub(/.*flags=/, "", f)
            sub(/\):$/, "", f)
            inside = 1
            next
        }
        inside && /^([0-9a-f][0-9a-f] ?)+$/ {
            g = $0
            gsub(/ /, "", g)
            acc = acc g
            next
        }
        { flush() }
        END { flush() }' "$1" | sort -u
}

# count_lines FILE STRING: how many lines of FILE are exactly STRING.
count_lines() {
    grep -cxF -- "$2" "$1"
}

# client ARGS...: hsmssp client with the current client configuration
# ($CCFG), never longer than a minute.
# shellcheck disable=SC2317  # called through kdc_check
client() {
    timeout 60 "$cli" client --config "$CCFG" "$@"
}

# start_peer PEER SVC NAME: MIT gss-server (mit) or hsmssp server with
# $SERVER_ARGS (hss) for SVC@localhost.  1 (after a failed check) when
# it did not start.
start_peer() {
    if [ "$1" = mit ]; then
        start_mit "$2" && return 0
        kdc_bad "$3: gss-server did not start"
    else
        # shellcheck disable=SC2086  # SERVER_ARGS is a word list
        start_hss "$2" ${SERVER_ARGS:-} && return 0
        kdc_bad "$3: hsmssp server did not start"
    fi
    return 1
}

# run PEER SVC WHO NAME CLIENT-ARGS...: PEER (mit: MIT gss-server, hss:
# hsmssp server with $SCFG and $SERVER_ARGS) serves SVC@localhost;
# `hsmssp client --config $CCFG CLIENT-ARGS` logs in as WHO and sends
# "msg NAME" (or $MSG when set).  What must happen follows from
# CLIENT-ARGS (--no-mutual,
# --seq, --no-replay, --no-wrap, --no-encrypt, --no-mic, --count N) and
# WANT_DELEG (1: the TGT must be delegated); WANT_ETYPE, when set, is the
# enctype hsmssp server must name for the login.
run() {
    local peer=$1 svc=$2 who=$3 name=$4 a prev='' count=1 mutual=1 seq=0
    local replay=1 mic=1 wrap=1 enc=1 rc want got n msg=${MSG-msg $4}
    shift 4
    for a in "$@"; do
        case $a in
        --no-mutual) mutual=0 ;;
        --seq) seq=1 ;;
        --no-replay) replay=0 ;;
        --no-mic) mic=0 ;;
        --no-wrap) wrap=0 ;;
        --no-encrypt) enc=0 ;;
        esac
        [ "$prev" = --count ] && count=$a
        prev=$a
    done
    start_peer "$peer" "$svc" "$name" || return
    kdc_check "$name" client --port "$SRV_PORT" "$@" localhost \
        "$svc@localhost" "$msg"
    rc=$?
    cp "$OUT" "$KDC_TMP/client.out"
    kdc_wait_server 20
    kdc_assert_eq "$name: server exit" "$?" 0
    if [ "$rc" -ne 0 ]; then
        sed 's/^/     | /' "$SRV_LOG" | tail -n 15
        return
    fi
    kdc_assert_grep "$name: server names $who" "$SRV_LOG" \
        "Accepted connection: \"$who\"${WANT_ETYPE:+ ($WANT_ETYPE)}"
    # gss-server 1.20 decides how to print a message from its first two
    # bytes, which an empty message does not have: then any form counts.
    if [ "$peer" = mit ] && [ -z "$msg" ]; then
        n=$(grep -c '^Received message: ' "$SRV_LOG")
    else
        n=$(count_lines "$SRV_LOG" "Received message: \"$msg\"")
    fi
    kdc_assert_eq "$name: server received $count" "$n" "$count"
    # Context flags at the server, as asked and as policy decided.
    want="deleg=${WANT_DELEG:-0} mutual=$mutual"
    if [ "$peer" = mit ]; then
        kdc_assert_eq "$name: gss-server flags" "$(mit_flags "$SRV_LOG")" \
            "$want replay=$replay seq=$seq"
        # What went over the wire: the gss-sample flags DATA, WRAPPED,
        # ENCRYPTED and SEND_MIC as asked, and the message readable in
        # the token unless it was sealed with confidentiality.
        want="flags=$((4 + 32 * wrap + 64 * wrap * enc + 128 * mic))"
        want+=" clear=$((1 - wrap * enc))"
        kdc_assert_eq "$name: message tokens" \
            "$(mit_tokens "$SRV_LOG" "$msg")" "$want"
    else
        kdc_assert_eq "$name: hsmssp server flags" \
            "$(hss_flags "$SRV_LOG")" "$want"
    fi
    # The client: the flags it was granted, each MIC verified (or each
    # plain answer taken).
    got="$(client_flags "$KDC_TMP/client.out")"
    got+=" verified=$(count_lines "$KDC_TMP/client.out" "Signature verified.")"
    got+=" plain=$(count_lines "$KDC_TMP/client.out" "Response received.")"
    want="deleg=${WANT_DELEG:-0} mutual=$mutual replay=$replay seq=$seq"
    want+=" verified=$((mic * count)) plain=$(((1 - mic) * count))"
    kdc_assert_eq "$name: client flags and answers" "$got" "$want"
}

# refused PEER SVC NAME REASON CLIENT-ARGS...: the client (asking for
# $TARGET, by default SVC@localhost) must fail and its output name
# REASON; the server must end (gss-server -once gets the closed
# connection, hsmssp server --once exits 1).
refused() {
    local peer=$1 svc=$2 name=$3 reason=$4
    shift 4
    start_peer "$peer" "$svc" "$name" || return
    kdc_check_fail "$name" client --port "$SRV_PORT" "$@" localhost \
        "${TARGET:-$svc@localhost}" "msg $name"
    kdc_assert_grep "$name: client says why" "$OUT" "$reason"
    kdc_wait_server 20
    if [ "$?" -eq 124 ]; then
        kdc_bad "$name: the server did not end"
    else
        kdc_ok "$name: the server ended"
    fi
}

# forward NAME FRONT BACK WHO WANT CLIENT-ARGS...: MIT gss-server for
# BACK@localhost, `hsmssp server --forward` for FRONT@localhost relaying
# to it, and the client logging into FRONT as WHO.  WANT=1: each message
# (--count N) reaches BACK in WHO's name, one login per message; WANT=0:
# the front refuses (the client did not delegate), BACK sees nobody.
forward() {
    local name=$1 front=$2 back=$3 who=$4 want=$5 back_pid back_log
    local front_log mutual=1 count=1 a prev=''
    shift 5
    for a in "$@"; do
        [ "$a" = --no-mutual ] && mutual=0
        [ "$prev" = --count ] && count=$a
        prev=$a
    done
    if [ "$count" = 1 ]; then
        start_peer mit "$back" "$name" || return
    else
        start_mit_many "$back" ||
            { kdc_bad "$name: gss-server did not start"; return; }
    fi
    back_pid=$SRV_PID
    back_log=$SRV_LOG
    SERVER_ARGS="--forward 127.0.0.1:$SRV_PORT $back@localhost" \
        start_peer hss "$front" "$name" || return
    front_log=$SRV_LOG
    if [ "$want" = 1 ]; then
        kdc_check "$name" client --port "$SRV_PORT" "$@" localhost \
            "$front@localhost" "msg $name"
    else
        kdc_check_fail "$name" client --port "$SRV_PORT" "$@" localhost \
            "$front@localhost" "msg $name"
    fi
    kdc_wait_server 20
    kdc_assert_eq "$name: front server exit" "$?" "$((want == 1 ? 0 : 1))"
    kdc_assert_grep "$name: front names $who" "$front_log" \
        "Accepted connection: \"$who\""
    if [ "$want" = 1 ]; then
        kdc_assert_grep "$name: front forwarded" "$front_log" \
            "Forwarded message to $back@localhost as $who"
        kdc_assert_eq "$name: front flags" "$(hss_flags "$front_log")" \
            "deleg=1 mutual=$mutual"
        kdc_assert_eq "$name: front forwarded $count" \
            "$(grep -c "^Forwarded message to " "$front_log")" "$count"
        if [ "$count" = 1 ]; then
            SRV_PID=$back_pid
            kdc_wait_server 20
            kdc_assert_eq "$name: back server exit" "$?" 0
        else
            stop "$back_pid"
        fi
        kdc_assert_eq "$name: back server logins by $who" \
            "$(count_lines "$back_log" "Accepted connection: \"$who\"")" \
            "$count"
        kdc_assert_eq "$name: back server received each message" \
            "$(count_lines "$back_log" "Received message: \"msg $name\"")" \
            "$count"
    else
        kdc_assert_grep "$name: front says the client did not delegate" \
            "$front_log" "did not delegate a TGT"
        stop "$back_pid"
        if grep -q "Accepted connection" "$back_log"; then
            kdc_bad "$name: the back server saw a login"
        else
            kdc_ok "$name: the back server saw nobody"
        fi
    fi
}

# serving_on NAME CLIENT-ARGS...: `hsmssp server --forward` without
# --once refuses a client that did not delegate, then forwards the next
# one's message, and is still running.
serving_on() {
    local name=$1 back_pid back_log front_pid
    shift
    start_peer mit host "$name" || return
    back_pid=$SRV_PID
    back_log=$SRV_LOG
    HSS_MANY=1 SERVER_ARGS="--forward 127.0.0.1:$SRV_PORT host@localhost" \
        start_peer hss deleg "$name" || { stop "$back_pid"; return; }
    front_pid=$SRV_PID
    kdc_check_fail "$name: a client that did not delegate" client \
        --port "$SRV_PORT" "$@" localhost deleg@localhost "first"
    kdc_check "$name: the next client" client --port "$SRV_PORT" "$@" \
        --delegate localhost deleg@localhost "second"
    SRV_PID=$back_pid
    kdc_wait_server 20
    kdc_assert_eq "$name: back server exit" "$?" 0
    kdc_assert_grep "$name: back server got the second message" \
        "$back_log" 'Received message: "second"'
    if kill -0 "$front_pid" 2>/dev/null; then
        kdc_ok "$name: the front still serves"
    else
        kdc_bad "$name: the front ended"
    fi
    stop "$front_pid"
}

# ---- the matrix, on each token ---------------------------------------------

# Six rows cover every pair of values of the five switches (mutual,
# sequence, wrap, encrypt, MIC); the odd rows also turn replay detection
# off.
pairwise=("0 0 0 0 0" "0 0 0 0 1" "0 1 1 1 0" "1 0 1 1 0" "1 1 0 1 1"
          "1 1 1 0 1")
# switches ROW M S W X N: the hsmssp client options for those values.
switches() {
    local a=()
    [ $(($1 % 2)) = 1 ] && a+=(--no-replay)
    [ "$2" = 0 ] && a+=(--no-mutual)
    [ "$3" = 1 ] && a+=(--seq)
    [ "$4" = 0 ] && a+=(--no-wrap)
    [ "$5" = 0 ] && a+=(--no-encrypt)
    [ "$6" = 0 ] && a+=(--no-mic)
    echo "${a[@]}"
}

for TOK in soft nss; do
    if [ "$TOK" = soft ]; then
        CCFG=$c_soft SCFG=$s_soft
        plain=$c_soft_plain ign=$c_soft_ignore
        svc_id=(--credential "$svcacct")
    else
        CCFG=$c_nss SCFG=$s_nss
        plain=$c_nss_plain ign=$c_nss_ignore
        svc_id=(--import-keytab "$HSMSSP_KT_SVCACCT" --credential "$svcacct")
    fi

    # Every enctype, both peers, the HSM-backed account.
    for e in 17 18 19 20 23; do
        run mit "e$e" "$svcacct" "$TOK mit e$e no-mutual" "${svc_id[@]}" \
            --no-mutual --seq --count 3
        run mit "e$e" "$svcacct" "$TOK mit e$e mutual" "${svc_id[@]}" \
            --seq --count 2
        WANT_ETYPE=${KDC_ETNAME[$e]} run hss "e$e" "$svcacct" \
            "$TOK hss e$e no-mutual" "${svc_id[@]}" --no-mutual --seq \
            --count 3
        run hss "e$e" "$svcacct" "$TOK hss e$e mutual" "${svc_id[@]}" \
            --seq --count 2
        # A TGT delegated in a KRB-CRED sealed with this enctype's
        # subkey (the services are not ok-as-delegate).
        CCFG=$ign WANT_DELEG=1 run mit "e$e" "$svcacct" \
            "$TOK mit e$e delegated" "${svc_id[@]}" --delegate
    done

    # The switches, pairwise, on e18.
    row=0
    for r in "${pairwise[@]}"; do
        row=$((row + 1))
        for peer in mit hss; do
            # shellcheck disable=SC2046,SC2086
            run "$peer" e18 "$svcacct" "$TOK $peer e18 switches $row ($r)" \
                "${svc_id[@]}" $(switches $row $r) --count 2
        done
    done

    # The other identities.
    run mit e18 "$alice" "$TOK mit ccache FILE"
    run hss e20 "$alice" "$TOK hss ccache FILE" --seq
    KRB5CCNAME=DIR:$KDC_TMP/ccdir run mit e19 "$alice" "$TOK mit ccache DIR" \
        --no-mutual
    KRB5CCNAME=DIR:$KDC_TMP/ccdir run hss e17 "$alice" "$TOK hss ccache DIR"
    run mit e17 "$dave" "$TOK mit password" --credential "$dave" \
        --password-file "$HSMSSP_PW_DAVE" --no-mutual
    run hss e19 "$dave" "$TOK hss password" --credential "$dave" \
        --password-file "$HSMSSP_PW_DAVE"
    if [ "$TOK" = soft ]; then
        run mit e19 "$dave" "$TOK mit account import" --credential "$dave"
        run hss e17 "$dave" "$TOK hss account import" --credential "$dave" \
            --no-mutual
    fi

    # Delegation, seen by gss-server.
    WANT_DELEG=1 run mit deleg "$svcacct" "$TOK mit delegation allowed" \
        "${svc_id[@]}" --delegate
    WANT_DELEG=1 run mit deleg "$alice" \
        "$TOK mit delegation allowed (ccache)" --delegate
    CCFG=$plain run mit deleg "$svcacct" \
        "$TOK mit delegation refused by policy" "${svc_id[@]}" --delegate
    run mit host "$svcacct" "$TOK mit delegation refused (no ok-as-delegate)" \
        "${svc_id[@]}" --delegate
    CCFG=$ign WANT_DELEG=1 run mit host "$svcacct" \
        "$TOK mit delegation with ignore_ok_as_delegate" "${svc_id[@]}" \
        --delegate

    # Delegation through hsmssp server --forward to a second gss-server.
    forward "$TOK forward" deleg host "$svcacct" 1 "${svc_id[@]}" --delegate
    forward "$TOK forward, client did not delegate" deleg host "$svcacct" 0 \
        "${svc_id[@]}"
    CCFG=$plain forward "$TOK forward, delegation refused by policy" deleg \
        host "$svcacct" 0 "${svc_id[@]}" --delegate
    forward "$TOK forward, front without ok-as-delegate" host e18 "$svcacct" \
        0 "${svc_id[@]}" --delegate
    CCFG=$ign forward "$TOK forward, ignore_ok_as_delegate" host e18 \
        "$svcacct" 1 "${svc_id[@]}" --delegate --no-mutual
    forward "$TOK forward (ccache)" deleg host "$alice" 1 --delegate --seq
    # Three messages: three logins with the one delegated credential.
    forward "$TOK forward, three messages" deleg host "$svcacct" 1 \
        "${svc_id[@]}" --delegate --count 3 --no-encrypt

    # A forwarding server that serves on after refusing a client.
    serving_on "$TOK forward, serving on" "${svc_id[@]}"

    # Channel bindings.
    SERVER_ARGS="--cb-app-data tls-server-end-point:1234" run hss e18 \
        "$svcacct" "$TOK hss bindings equal" "${svc_id[@]}" \
        --cb-app-data tls-server-end-point:1234
    # The client learns of it from the KRB-ERROR, which does not say
    # which check failed.
    why="0x8009030f: integrity check failed: the acceptor answered"
    why+=" KRB-ERROR 41"
    SERVER_ARGS="--cb-app-data tls-server-end-point:1234" refused hss e18 \
        "$TOK hss bindings differ" "$why" "${svc_id[@]}" \
        --cb-app-data tls-server-end-point:9999
    kdc_assert_grep "$TOK hss bindings differ: server status" "$SRV_LOG" \
        "AcceptSecurityContext: 0x80090346"
    run mit e18 "$svcacct" "$TOK mit bindings (gss-server takes any)" \
        "${svc_id[@]}" --cb-app-data tls-server-end-point:1234

    # An empty message: sealed to hsmssp server, in the clear to MIT's
    # gss-server 1.20, which reads two bytes of the message to decide how
    # to print it and crashes on an empty sealed one (also from MIT's own
    # gss-client).
    MSG='' run hss e18 "$svcacct" "$TOK hss empty message" "${svc_id[@]}"
    MSG='' run mit e18 "$svcacct" "$TOK mit empty message" "${svc_id[@]}" \
        --no-wrap

    # KDC errors, each with its status and reason.
    kdc_check_fail "$TOK wrong password" client --port 9 \
        --credential "$dave" --password-file "$KDC_TMP/wrong.pw" localhost \
        e18@localhost "msg"
    kdc_assert_grep "$TOK wrong password: status and reason" "$OUT" \
        "0x8009030c: the KDC refused the pre-authentication"
    TARGET=nosuch@localhost refused mit e18 "$TOK unknown service" \
        "0x80090303: the KDC does not know the principal" "${svc_id[@]}"

    # arcfour-hmac at the default client policy: not permitted.
    CCFG=$plain refused mit e23 "$TOK mit e23 at default policy" \
        "0x80090342: no encryption type in common with the KDC" \
        "${svc_id[@]}"
    kdc_assert_grep "$TOK mit e23: the reason names the policy" "$OUT" \
        "hsmssp offered [policy] permitted_enctypes = aes256-cts-hmac-sha1-96"
done

echo "elapsed: ${SECONDS}s"
kdc_finish
