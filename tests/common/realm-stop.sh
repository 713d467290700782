#!/bin/bash
# tests/common/realm-stop.sh WORKDIR - stops the KDC that realm-setup.sh
# started for WORKDIR/realm, by the pid in WORKDIR/realm/kdc.pid, and waits
# for it to go.  The pid is only signalled when it still names that realm's
# krb5kdc (its environment carries this realm's KRB5_KDC_PROFILE), so a
# stale pid file never hits an unrelated process.  The realm's files stay
# for inspection (kdc.log); realm-setup.sh removes them.  Exits 0 when no
# KDC is running.
set -u
work=${1:?usage: realm-stop.sh WORKDIR}
[ -d "$work" ] || exit 0
dir=$(cd "$work" && pwd)/realm
pidfile=$dir/kdc.pid
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")

# ours PID: PID is a live (not zombie) krb5kdc serving this realm.
ours() {
    local state
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$state" != Z ] || return 1
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = krb5kdc ] || return 1
    tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null |
        grep -qxF "KRB5_KDC_PROFILE=$dir/kdc.conf"
}

case $pid in
'' | *[!0-9]*)
    echo "realm-stop: $pidfile does not hold a pid" >&2
    rm -f "$pidfile"
    exit 1
    ;;
esac
if ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    # krb5kdc exits promptly on SIGTERM; give it 5 s, then SIGKILL.
    for _ in $(seq 100); do
        ours "$pid" || break
        sleep 0.05
    done
    if ours "$pid"; then
        echo "realm-stop: KDC $pid ignored SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null
        for _ in $(seq 40); do
            ours "$pid" || break
            sleep 0.05
        done
    fi
    if ours "$pid"; then
        echo "realm-stop: KDC $pid is still running" >&2
        exit 1
    fi
    echo "realm-stop: KDC $pid stopped"
fi
rm -f "$pidfile"
exit 0
