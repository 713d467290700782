#!/bin/bash
# bench/run.sh BUILD_DIR [--seconds S]: `make bench`.
#
# Runs the two benchmarks in a throw-away directory (mktemp -d, removed on
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
#      the KDC afterwards (also on failure or Ctrl-C).
# The SoftHSM2 token is a fresh one with its own softhsm2.conf, so no
# system token is touched.  --seconds S sets the time per cell of both
# programs.  The numbers are reported, never asserted.
set -eu

build=$(cd "${1:?usage: bench/run.sh BUILD_DIR [--seconds S]}" && pwd)
shift
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$build/bench/hsmssp_bench
abin=$build/bench/hsmssp_bench_accept
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

echo "== etype 18 throughput: token engine vs MIT krb5 and OpenSSL"
"$bin" --softhsm-token 'pkcs11:token=hsmssp-bench' --pin-file "$work/pin" "$@"

echo
echo "== Kerberos acceptor: hsmssp SSPI vs MIT GSS-API"
if [ ! -x "$abin" ]; then
    echo "bench: $abin not built (needs the sspi layer)" >&2
    exit 1
fi
# The realm: exit 77 from realm-setup.sh means the MIT KDC tools are
# missing, which skips this half rather than failing the etype table above.
set +e
bash "$src/tests/common/realm-setup.sh" "$work/kdc" >"$work/realm.log" 2>&1
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
    realm_started=yes # stop whatever part of it started
    cat "$work/realm.log" >&2
    if [ "$rc" -eq 77 ]; then
        echo "bench: acceptor benchmark skipped (no MIT KDC)" >&2
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
"$abin" --keytab "$work/bench.keytab" --work "$work" \
    --softhsm-token 'pkcs11:token=hsmssp-bench' --pin-file "$work/pin" "$@"
