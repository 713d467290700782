#!/bin/bash
# tests/fuzz/make-kerb-seeds.sh [BUILD_DIR] - regenerates the committed
# seed corpora of the Kerberos acceptor's fuzz targets:
#
#   corpus/fuzz_krb_parse/   real messages from the test realm: MIT's
#                            AP-REQs per enctype (with and without
#                            delegation), their Ticket, EncTicketPart,
#                            Authenticator, 0x8003 checksum, KRB-CRED and
#                            EncKrbCredPart, AP-REPs and KRB-ERRORs of
#                            hsmssp's and MIT's acceptors; the KDC
#                            exchanges (issue #4): hsmssp's AS-REQs,
#                            TGS-REQ, PA-ENC-TS-ENC and delegation
#                            KRB-CRED, the KDC's AS-REP and TGS-REP with
#                            their decrypted EncASRepPart/EncTGSRepPart,
#                            PREAUTH_REQUIRED, PREAUTH_FAILED and
#                            C_PRINCIPAL_UNKNOWN errors, METHOD-DATA and
#                            ETYPE-INFO2 (default and random salts); plus
#                            encoder output; all written by
#                            tests/kdc/test_der_oracle --write-seeds, key
#                            bytes in plaintexts overwritten
#   corpus/fuzz_msg_tokens/  MIC and Wrap tokens on the fixed keys of
#                            msgctx.h, by fuzz_msg_seedgen
#   corpus/fuzz_init_reply/  the KDC's AS-REPs, TGS-REPs and KRB-ERRORs
#                            and the acceptors' AP-REPs and KRB-ERRORs
#                            recorded while tests/kdc/test_init runs
#                            (fuzz_init_seedgen, tests/fuzz/initseed.c),
#                            plaintext keys replaced by the fixed ones,
#                            and edge cases derived from them
#
# Files named regress-* or known-* are reproducers kept by hand (a fixed
# bug; a reported, unfixed deviation) and survive regeneration.  BUILD_DIR
# is a configured, non-fuzz build tree (default: build); a throw-away realm
# is made in BUILD_DIR/test-work-seeds and stopped at the end.  The
# realm's keys, times and the confounders are new at every run, so every
# generated file changes: commit a regeneration only when the seeds'
# definition changed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
corpus=$here/corpus

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build"
fi
build=$(cd "$build" && pwd) # the configuration wants absolute paths
cmake --build "$build" --target kdc_test_der_oracle fuzz_msg_seedgen \
    fuzz_init_seedgen

realm_work=$build/test-work-seeds
bash "$root/tests/common/realm-setup.sh" "$realm_work"
trap 'bash "$root/tests/common/realm-stop.sh" "$realm_work"' EXIT

# regenerate TARGET COMMAND...: runs COMMAND with the output directory
# appended, then replaces the generated files of corpus/TARGET.
regenerate() {
    local target=$1 tmp
    shift
    tmp=$(mktemp -d)
    "$@" "$tmp"
    mkdir -p "$corpus/$target"
    find "$corpus/$target" -type f ! -name 'regress-*' ! -name 'known-*' \
        -delete
    cp "$tmp"/* "$corpus/$target/"
    rm -rf "$tmp"
}

HSMSSP_REALM_ENV=$realm_work/realm/env.sh \
HSMSSP_TEST_WORK=$realm_work \
HSMSSP_VECTORS=$root/tests/vectors \
    regenerate fuzz_krb_parse "$build/tests/kdc_test_der_oracle" \
    --write-seeds
regenerate fuzz_msg_tokens "$build/tests/fuzz/fuzz_msg_seedgen"
HSMSSP_REALM_ENV=$realm_work/realm/env.sh \
HSMSSP_TEST_WORK=$realm_work \
HSMSSP_VECTORS=$root/tests/vectors \
    regenerate fuzz_init_reply "$build/tests/fuzz/fuzz_init_seedgen"

for t in fuzz_krb_parse fuzz_msg_tokens fuzz_init_reply; do
    echo "make-kerb-seeds: $t: $(ls "$corpus/$t" | wc -l) files," \
        "$(du -cb "$corpus/$t"/* | tail -1 | cut -f1) bytes"
done
