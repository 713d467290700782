# tests/kdc/lib.sh - sourced by the tests/kdc/test_*.sh scripts (bash).
# shellcheck shell=bash
#
#   . "$(dirname "$0")/lib.sh"
#   kdc_init NAME          realm env, private tmp dir, alice's TGT in $CC
#   kdc_start_gss_server KEYTAB SERVICE [ARGS...]
#                          MIT gss-server -once on a free port; sets
#                          SRV_PORT, SRV_PID, SRV_LOG
#   kdc_check NAME CMD...  CMD must exit 0 (output kept in $OUT)
#   kdc_check_fail NAME CMD...   CMD must exit non-zero
#   kdc_assert_eq NAME GOT WANT / kdc_assert_grep NAME FILE PATTERN
#   kdc_finish             summary; exit 1 if anything failed
#
# Several tests share the one realm under ctest -j: everything a test
# changes lives in its own $KDC_TMP (ccache, replay cache, server logs), and
# every port comes from kdc_free_port.  Servers started here are killed on
# exit.  Skips (exit 77) when the realm fixture is missing; with CI=true a
# skip is a failure.

KDC_PASSED=0
KDC_FAILED=0
KDC_PIDS=()
KDC_TMP=
PY=/usr/bin/python3

# kdc_skip MSG: exit 77, or 1 when CI=true.
kdc_skip() {
    echo "SKIP: $*"
    if [ "${CI:-}" = true ]; then
        echo "CI=true: a skip is a failure"
        exit 1
    fi
    exit 77
}

# kdc_cleanup: the EXIT trap; kills this test's servers, removes $KDC_TMP
# unless KDC_KEEP_TMP is set (for debugging).
kdc_cleanup() {
    local pid
    for pid in "${KDC_PIDS[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    if [ -n "$KDC_TMP" ] && [ -z "${KDC_KEEP_TMP:-}" ]; then
        rm -rf "$KDC_TMP"
    elif [ -n "$KDC_TMP" ]; then
        echo "kept $KDC_TMP"
    fi
}

# kdc_init NAME: sources the realm's env.sh (HSMSSP_REALM_ENV), creates
# $KDC_TMP, points KRB5CCNAME and KRB5RCACHEDIR into it, and puts alice's
# TGT in $CC (= $KRB5CCNAME).
kdc_init() {
    local name=${1:?kdc_init NAME}
    export PATH=$PATH:/usr/sbin:/sbin
    [ -n "${HSMSSP_REALM_ENV:-}" ] || kdc_skip "HSMSSP_REALM_ENV not set"
    [ -f "$HSMSSP_REALM_ENV" ] ||
        kdc_skip "realm fixture missing ($HSMSSP_REALM_ENV)"
    # shellcheck source=/dev/null
    . "$HSMSSP_REALM_ENV"
    local base=${HSMSSP_TEST_WORK:-${TMPDIR:-/tmp}}
    mkdir -p "$base"
    KDC_TMP=$(mktemp -d "$base/$name.XXXXXX")
    trap kdc_cleanup EXIT
    mkdir "$KDC_TMP/rcache"
    export KRB5RCACHEDIR=$KDC_TMP/rcache
    export KRB5CCNAME=FILE:$KDC_TMP/alice.ccache
    CC=$KRB5CCNAME
    if ! hsmssp_realm_kinit "$CC" alice >"$KDC_TMP/kinit.log" 2>&1; then
        cat "$KDC_TMP/kinit.log"
        echo "FAIL kinit alice through the realm's KDC" \
            "(port $HSMSSP_KDC_PORT; see $HSMSSP_REALM_DIR/kdc.log)"
        exit 1
    fi
}

kdc_ok() {
    KDC_PASSED=$((KDC_PASSED + 1))
    echo "ok   $*"
}

kdc_bad() {
    KDC_FAILED=$((KDC_FAILED + 1))
    echo "FAIL $*"
}

# kdc_check NAME CMD...: CMD must exit 0.  Its stdout+stderr go to $OUT
# (a file); on failure the command, its status and output are printed.
kdc_check() {
    local name=$1 rc
    shift
    OUT=$KDC_TMP/out
    "$@" >"$OUT" 2>&1 </dev/null
    rc=$?
    if [ "$rc" -eq 0 ]; then
        kdc_ok "$name"
        return 0
    fi
    kdc_bad "$name: exit $rc from: $*"
    sed 's/^/     | /' "$OUT" | tail -n 20
    return 1
}

# kdc_check_fail NAME CMD...: CMD must exit non-zero (output in $OUT).
kdc_check_fail() {
    local name=$1 rc
    shift
    OUT=$KDC_TMP/out
    "$@" >"$OUT" 2>&1 </dev/null
    rc=$?
    if [ "$rc" -ne 0 ]; then
        kdc_ok "$name (exit $rc)"
        return 0
    fi
    kdc_bad "$name: expected failure, got exit 0 from: $*"
    sed 's/^/     | /' "$OUT" | tail -n 20
    return 1
}

# kdc_assert_eq NAME GOT WANT
kdc_assert_eq() {
    if [ "$2" = "$3" ]; then
        kdc_ok "$1"
        return 0
    fi
    kdc_bad "$1: got '$2', want '$3'"
    return 1
}

# kdc_assert_grep NAME FILE PATTERN: FILE has a line matching the fixed
# string PATTERN.
kdc_assert_grep() {
    if grep -qF -- "$3" "$2"; then
        kdc_ok "$1"
        return 0
    fi
    kdc_bad "$1: '$3' not in $2"
    sed 's/^/     | /' "$2" | tail -n 20
    return 1
}

# kdc_finish: prints the counts; exits 1 when a check failed.
kdc_finish() {
    echo "$KDC_PASSED passed, $KDC_FAILED failed"
    [ "$KDC_FAILED" -eq 0 ] || exit 1
    exit 0
}

# kdc_free_port: a TCP port free on every address right now (MIT's
# gss-server binds the wildcard address).  Racy by nature: starters retry.
kdc_free_port() {
    "$PY" -c '
import socket
s = socket.socket()
s.bind(("0.0.0.0", 0))
print(s.getsockname()[1])
s.close()'
}

# kdc_listening PID PORT: PID itself holds a TCP socket listening on PORT
# (so another test's server on a port we raced for does not count).
kdc_listening() {
    local pid=$1 port hexport inodes inode fd link
    port=$2
    hexport=$(printf '%04X' "$port")
    # /proc/net/tcp{,6}: local address is field 2 (ADDR:PORT, hex), state
    # field 4 (0A = LISTEN), inode field 10.
    inodes=$(awk -v p="$hexport" \
        '$4 == "0A" { n = split($2, a, ":"); if (a[n] == p) print $10 }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    [ -n "$inodes" ] || return 1
    for fd in "/proc/$pid/fd"/*; do
        link=$(readlink "$fd" 2>/dev/null) || continue
        for inode in $inodes; do
            [ "$link" = "socket:[$inode]" ] && return 0
        done
    done
    return 1
}

# kdc_start_bg LOG PORT CMD...: starts CMD in the background (output to
# LOG) and waits up to 5 s until it listens on PORT.  Sets SRV_PID.
# Returns 1 when it died or never listened.
kdc_start_bg() {
    local log=$1 port=$2
    shift 2
    "$@" </dev/null >"$log" 2>&1 &
    SRV_PID=$!
    KDC_PIDS+=("$SRV_PID")
    for _ in $(seq 100); do
        kill -0 "$SRV_PID" 2>/dev/null || return 1
        kdc_listening "$SRV_PID" "$port" && return 0
        sleep 0.05
    done
    kill "$SRV_PID" 2>/dev/null
    return 1
}

# kdc_start_gss_server KEYTAB SERVICE [GSS-SERVER ARGS...]: MIT gss-server
# for SERVICE (service@host) with KEYTAB, serving one connection (-once) on
# a free port.  Sets SRV_PORT, SRV_PID, SRV_LOG; retries with other ports
# when one was taken meanwhile.
kdc_start_gss_server() {
    local keytab=$1 service=$2
    shift 2
    for _ in 1 2 3 4 5; do
        SRV_PORT=$(kdc_free_port)
        SRV_LOG=$KDC_TMP/gss-server.$SRV_PORT.log
        if kdc_start_bg "$SRV_LOG" "$SRV_PORT" gss-server -port "$SRV_PORT" \
            -once -keytab "$keytab" "$@" "$service"; then
            return 0
        fi
    done
    echo "could not start gss-server for $service; last log:"
    sed 's/^/     | /' "$SRV_LOG"
    return 1
}

# kdc_wait_server [SECONDS]: waits for $SRV_PID to exit (gss-server -once
# exits after its one connection); returns its status, 124 on timeout.
# shellcheck disable=SC2120  # callers may omit the optional argument
kdc_wait_server() {
    local limit=${1:-10}
    for _ in $(seq $((limit * 20))); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$SRV_PID" 2>/dev/null; then
        kill "$SRV_PID" 2>/dev/null
        wait "$SRV_PID" 2>/dev/null
        return 124
    fi
    wait "$SRV_PID"
}

# kdc_running PID: PID is a live process, not a zombie.  A KDC that
# realm-setup.sh started is reparented to init when setup exits, so after
# it ends it may linger as a zombie until init reaps it; kill -0 would
# still succeed then.
kdc_running() {
    local state
    state=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# kdc_ticket_etypes CCACHE PRINCIPAL: prints "SKEY TKT", the session key's
# and the ticket's enctype names for PRINCIPAL's ticket in CCACHE, as
# klist -e shows them minus its "DEPRECATED:" prefix (arcfour-hmac).
kdc_ticket_etypes() {
    klist -e -c "$1" 2>/dev/null | awk -v p="$2" '
        $NF == p { want = 1; next }
        want && /Etype \(skey, tkt\):/ {
            sub(/.*Etype \(skey, tkt\): */, "")
            gsub(/DEPRECATED:/, "")
            gsub(/,/, "")
            print $1, $2
            exit
        }
        want && /^[0-9]/ { want = 0 }'
}

# The enctype names by number, as the realm's configuration spells them.
# shellcheck disable=SC2034  # used by the test scripts
declare -A KDC_ETNAME=(
    [17]=aes128-cts-hmac-sha1-96
    [18]=aes256-cts-hmac-sha1-96
    [19]=aes128-cts-hmac-sha256-128
    [20]=aes256-cts-hmac-sha384-192
    [23]=arcfour-hmac
)
