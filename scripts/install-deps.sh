#!/bin/sh
# Installs the Debian packages hsmssp needs to build, test and run its demo,
# when they are missing.  As root it runs apt-get; otherwise it prints the
# one command to run and exits non-zero.
set -eu

# Besides the build and the tokens: softhsm2-common registers SoftHSM2
# with p11-kit (/usr/share/p11-kit/modules/softhsm2.module, used by the
# open-by-name test), python3 parses the CLI's JSON in
# tests/hsm/test_cli_probe.sh, perl scans sources in
# tests/unit/test_layering.sh, opensc's pkcs11-tool lists objects in the
# demo.  The interop tests use MIT's GSS-API (krb5-multidev pulls the
# gssapi development files), python3-gssapi as a second client, tshark and
# text2pcap (wireshark-common) to dissect the tokens hsmssp sends,
# faketime to move a server's clock, and heimdal-kcm's kcm daemon to hold
# a KCM: credential cache (MIT's libkrb5 speaks its protocol); passwd's
# useradd creates the account impersonation is tested with.
# libclang-rt-dev holds clang's sanitizer and libFuzzer runtimes
# (libclang_rt.fuzzer, .asan, .ubsan for `make fuzz` and the fuzz-smoke
# step of `make check`); clang only recommends it, and recommends are not
# installed here.
PKGS="cmake make gcc clang libclang-rt-dev pkg-config libp11-kit-dev
libkrb5-dev libssl-dev
libcmocka-dev libjansson-dev softhsm2 softhsm2-common libnss3 libnss3-tools
opensc python3 perl krb5-kdc krb5-admin-server krb5-user krb5-gss-samples
krb5-multidev python3-gssapi tshark wireshark-common faketime heimdal-kcm
passwd"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "hsmssp: missing Debian packages; run as root:" >&2
    echo "  apt-get install -y$missing" >&2
    exit 1
fi
echo "hsmssp: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
