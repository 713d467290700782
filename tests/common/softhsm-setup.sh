#!/bin/bash
# SoftHSM2 fixture: writes WORK/softhsm2.conf with a token directory under
# WORK and initialises the token "hsmssp-test" (SO PIN 123456, user PIN
# 1234).  Exits 77 when SoftHSM2 is missing (a failure when CI=true).
set -eu
work=${1:?usage: softhsm-setup.sh WORKDIR}
if ! command -v softhsm2-util >/dev/null; then
    echo "softhsm2-util not found" >&2
    [ "${CI:-}" = true ] && exit 1
    exit 77
fi
rm -rf "$work/softhsm"
mkdir -p "$work/softhsm/tokens"
cat >"$work/softhsm/softhsm2.conf" <<CONF
directories.tokendir = $work/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF="$work/softhsm/softhsm2.conf"
softhsm2-util --init-token --free --label hsmssp-test --so-pin 123456 \
    --pin 1234 >/dev/null
printf '1234' >"$work/softhsm/pin"
chmod 600 "$work/softhsm/pin"
echo "SoftHSM2 token hsmssp-test ready in $work/softhsm"
