#!/bin/bash
# bench/run.sh BUILD_DIR [--only krb|accept|init] [--seconds S]: `make bench`.
#
# Runs the three benchmarks in a throw-away directory (mktemp -d, removed on
# exit):
#   1. BUILD_DIR/bench/hsmssp_bench (bench/bench_krb.c): etype 18
#      encrypt/decrypt and checksum throughput of the token engine on
#      SoftHSM2 and NSS softoken against MIT krb5 and OpenSSL;
#   2. BUILD_DIR/bench/hsmssp_bench_accept (bench/bench_accept.c): the
#      Kerberos acceptor through the SSPI API (AcceptSecurityContext,
#      EncryptMessage, DecryptMessage, MakeSignature, VerifySignature) on
#      both tokens against MIT's GSS-API acceptor.  For it this script
#      starts the test realm (tests/common/realm-setup.sh, a throw-away MIT
#      KDC on 127.0.0.1), gets alice's TGT, merges the e17, e18 and e20
#      service keytabs into the one keytab both acceptors use, and stops
#      the KDC afterwards (also on failure or Ctrl-C);
#   3. BUILD_DIR/bench/hsmssp_bench_init (bench/bench_init.c): the Kerberos
#      initiator through the SSPI API (InitializeSecurityContext with a
#      cached and without a cached service ticket, mutual or not; the TGS
#      and AS exchanges) on both tokens against MIT's GSS-API initiator
#      and libkrb5, in the same realm.  For it this script adds the client
#      accounts bench17, bench18 and bench20 (one key each, of that
#      enctype, pre-authentication required) and their keytab, and passes
#      the KDC's pid so that the KDC's CPU time per exchange is reported.
# The SoftHSM2 token is a fresh one with its own softhsm2.conf, so no
# system token is touched.  --only NAME runs one of the three; --seconds S
# sets the time per cell of every program.  The numbers are reported,
# never asserted.
set -eu

usage="usage: bench/run.sh BUILD_DIR [--only krb|accept|init] [--seconds S]"
build=$(cd "${1:?$usage}" && pwd)
shift
only=
if [ "${1:-}" = --only ]; then
    only=${2:?$usage}
    case $only in krb | accept | init) ;; *)
        echo "$usage" >&2
        exit 2
        ;;
    esac
    shift 2
fi
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$build/bench/hsmssp_bench
abin=$build/bench/hsmssp_bench_accept
ibin=$build/bench/hsmssp_bench_init
if [ ! -x "$bin" ]; then
    echo "bench: $bin not built (configure with -DHSMSSP_BENCH=ON)" >&2
    exit 1
fi
if ! command -v softhsm2-util >/dev/null; then
    echo "bench: softhsm2-util missing (run scripts/install-deps.sh)" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hsmssp-bench.XXXXXX")
chmod 700 "$work"
realm_started=
cleanup() {
    if [ -n "$realm_started" ]; then
        bash "$src/tests/common/realm-stop.sh" "$work/kdc" >/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/tokens"

cat >"$work/softhsm2.conf" <<CONF
directories.tokendir = $work/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF=$work/softhsm2.conf

# Random PINs for a token that lives for one run.  The PIN reaches the
# benchmarks through a 0600 file written without a trailing newline (a
# newline would be part of the PIN).
umask 077
pin=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
so_pin=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
softhsm2-util --init-token --free --label hsmssp-bench --so-pin "$so_pin" \
    --pin "$pin" >/dev/null
printf '%s' "$pin" >"$work/pin"

if [ -z "$only" ] || [ "$only" = krb ]; then
    echo "== etype 18 throughput: token engine vs MIT krb5 and OpenSSL"
    "$bin" --softhsm-token 'pkcs11:token=hsmssp-bench' \
        --pin-file "$work/pin" "$@"
fi
[ "$only" = krb ] && exit 0

for b in "$abin" "$ibin"; do
    if [ ! -x "$b" ]; then
        echo "bench: $b not built (needs the sspi layer)" >&2
        exit 1
    fi
done
# The realm: exit 77 from realm-setup.sh means the MIT KDC tools are
# missing, which skips the two Kerberos benchmarks rather than failing the
# etype table above.
set +e
bash "$src/tests/common/realm-setup.sh" "$work/kdc" >"$work/realm.log" 2>&1
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
    realm_started=yes # stop whatever part of it started
    cat "$work/realm.log" >&2
    if [ "$rc" -eq 77 ]; then
        echo "bench: acceptor and initiator benchmarks skipped" \
            "(no MIT KDC)" >&2
        exit 0
    fi
    exit 1
fi
realm_started=yes
. "$work/kdc/realm/env.sh"
hsmssp_realm_kinit "$work/alice.cc" alice
export KRB5CCNAME=FILE:$work/alice.cc
# One keytab for both acceptors: MIT reads it (KRB5_KTNAME), hsmssp
# imports it into each token.
printf 'rkt %s\nrkt %s\nrkt %s\nwkt %s\nquit\n' "$HSMSSP_KT_E18" \
    "$HSMSSP_KT_E17" "$HSMSSP_KT_E20" "$work/bench.keytab" |
    ktutil >/dev/null
if [ -z "$only" ] || [ "$only" = accept ]; then
    echo
    echo "== Kerberos acceptor: hsmssp SSPI vs MIT GSS-API"
    "$abin" --keytab "$work/bench.keytab" --work "$work" \
        --softhsm-token 'pkcs11:token=hsmssp-bench' --pin-file "$work/pin" \
        "$@"
fi
[ "$only" = accept ] && exit 0

# The initiator's client accounts: benchNN holds only the NN key, so that
# hsmssp (which offers the enctypes of the keys it holds) and MIT (given
# that one enctype) get TGTs whose session key is NN too, and every
# operation of a run with service eNN is in one enctype.  The realm is
# the run's own, so adding principals here touches nothing else.
declare -A etname=([17]=aes128-cts-hmac-sha1-96
    [18]=aes256-cts-hmac-sha1-96 [20]=aes256-cts-hmac-sha384-192)
for n in 18 17 20; do
    add="addprinc -randkey -e ${etname[$n]}:normal +requires_preauth bench$n"
    for q in "$add" "ktadd -k $work/clients.keytab -norandkey bench$n"; do
        # kadmin.local -q exits 0 when the command fails: its error
        # lines are the signal (as in realm-setup.sh).
        out=$(PATH=$PATH:/usr/sbin:/sbin kadmin.local -r "$HSMSSP_REALM" \
            -q "$q" 2>&1 >/dev/null) || true
        out=$(printf '%s\n' "$out" | grep -v -e '^Authenticating as' \
            -e '^No policy specified' -e '^WARNING: no policy specified' ||
            true)
        if [ -n "$out" ]; then
            echo "bench: kadmin.local '$q': $out" >&2
            exit 1
        fi
    done
done
echo
echo "== Kerberos initiator: hsmssp SSPI vs MIT GSS-API and libkrb5"
"$ibin" --keytab "$work/bench.keytab" --client-keytab "$work/clients.keytab" \
    --work "$work" --kdc-pid "$(cat "$HSMSSP_REALM_DIR/kdc.pid")" \
    --softhsm-token 'pkcs11:token=hsmssp-bench' --pin-file "$work/pin" "$@"
