#!/bin/bash
# bench/run.sh BUILD_DIR [bench options]: `make bench`.
#
# Creates a throw-away SoftHSM2 token for the benchmark under
# BUILD_DIR/bench-work (its own softhsm2.conf, so no system token is
# touched), then runs BUILD_DIR/bench/hsmssp_bench, which imports a fresh
# random etype 18 key as session objects into that token and into NSS
# softoken and prints the table.  Extra arguments go to the program
# (--seconds S sets the time per cell).  The numbers are reported, never
# asserted.
set -eu

build=$(cd "${1:?usage: bench/run.sh BUILD_DIR [--seconds S]}" && pwd)
shift
bin=$build/bench/hsmssp_bench
if [ ! -x "$bin" ]; then
    echo "bench: $bin not built (configure with -DHSMSSP_BENCH=ON)" >&2
    exit 1
fi
if ! command -v softhsm2-util >/dev/null; then
    echo "bench: softhsm2-util missing (run scripts/install-deps.sh)" >&2
    exit 1
fi

work=$build/bench-work
rm -rf "$work"
mkdir -p "$work/tokens"
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT

cat >"$work/softhsm2.conf" <<CONF
directories.tokendir = $work/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF=$work/softhsm2.conf

# Random PINs for a token that lives for one run.  The PIN reaches the
# benchmark through a 0600 file written without a trailing newline (a
# newline would be part of the PIN).
umask 077
pin=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
so_pin=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
softhsm2-util --init-token --free --label hsmssp-bench --so-pin "$so_pin" \
    --pin "$pin" >/dev/null
printf '%s' "$pin" >"$work/pin"

"$bin" --softhsm-token 'pkcs11:token=hsmssp-bench' --pin-file "$work/pin" "$@"
