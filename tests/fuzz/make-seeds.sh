#!/bin/sh
# tests/fuzz/make-seeds.sh [BUILD_DIR] - regenerates the committed seed
# corpora under tests/fuzz/corpus/.
#
#   corpus/fuzz_krb_decrypt/    genuine, truncated, corrupted and empty
#   corpus/fuzz_token_decrypt/  ciphertexts of every etype (the same seeds:
#                               both targets read the same input layout,
#                               tests/fuzz/fuzzcommon.h), written by the
#                               fuzz_seedgen tool with krbsw_encrypt
#   corpus/fuzz_faultrules/     rule texts for tests/common/faultmod.c,
#                               well-formed and malformed
#
# BUILD_DIR is a configured, non-fuzz build tree (default: build).  The
# output is deterministic (fixed keys and confounders), so re-running this
# script changes no committed file unless the seeds' definition changed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
corpus=$here/corpus

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build"
fi
cmake --build "$build" --target fuzz_seedgen

rm -rf "$corpus/fuzz_krb_decrypt" "$corpus/fuzz_token_decrypt" \
       "$corpus/fuzz_faultrules"
mkdir -p "$corpus/fuzz_krb_decrypt" "$corpus/fuzz_token_decrypt" \
         "$corpus/fuzz_faultrules"
"$build/tests/fuzz/fuzz_seedgen" "$corpus/fuzz_krb_decrypt"
cp "$corpus/fuzz_krb_decrypt"/* "$corpus/fuzz_token_decrypt/"

# Rule texts: one file per seed, written without a trailing newline unless
# the newline is the point of the seed.
rule() {
    printf '%s' "$2" >"$corpus/fuzz_faultrules/$1"
}
rule empty ''
rule single 'C_Login:1=CKR_PIN_LOCKED'
rule range-open 'C_Encrypt:3-=CKR_DEVICE_REMOVED'
rule range-closed 'C_Sign:2-5=CKR_SESSION_HANDLE_INVALID'
rule star-star '*:*=CKR_GENERAL_ERROR'
rule hex-code 'C_DeriveKey:*=0x5'
rule decimal-code 'C_Decrypt:7=48'
rule several 'C_Login:1=CKR_PIN_LOCKED;C_Encrypt:3-=CKR_DEVICE_REMOVED;C_Sign:2=CKR_SESSION_HANDLE_INVALID;C_DeriveKey:*=0x5'
rule spaces '  C_OpenSession : 2-4 = CKR_TOKEN_NOT_PRESENT ;; '
printf 'C_Login:1=CKR_PIN_INCORRECT # first login fails; C_Sign:1=0x5\nC_FindObjects:2=CKR_GENERAL_ERROR\r\n# comment only\n' \
    >"$corpus/fuzz_faultrules/comments-newlines"
rule bad-function 'C_Nothing:1=CKR_OK'
rule bad-when-zero 'C_Login:0=CKR_PIN_LOCKED'
rule bad-when-reversed 'C_Login:5-2=CKR_PIN_LOCKED'
rule bad-code 'C_Login:1=CKR_NO_SUCH_THING'
rule bad-negative 'C_Login:1=-1'
rule bad-overflow 'C_Login:99999999999999999999999=0x5'
rule bad-hex-overflow 'C_Login:1=0x1ffffffffffffffffff'
rule bad-no-equals 'C_Login:1'
rule bad-no-colon 'C_Login=5'
rule mixed 'C_Login:1=CKR_PIN_LOCKED;garbage;C_Encrypt:*=0x30'
rule lag 'lag:C_DecryptUpdate;C_Sign:2=0x5'
rule bad-lag 'lag:C_EncryptUpdate;lag:'
rule hide-names 'hide:CKM_AES_CBC_ENCRYPT_DATA;hide:CKM_SHA_1_HMAC;C_Sign:1=0x5'
rule hide-number 'hide: 0x1081 ;hide:4224'
rule bad-hide 'hide:CKM_NO_SUCH_MECH;hide:CKR_OK;hide:'

echo "make-seeds: $(ls "$corpus"/*/* | wc -l) seed files," \
     "$(du -cb "$corpus"/*/* | tail -1 | cut -f1) bytes"
