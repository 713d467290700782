#!/bin/bash
# tools/demo.sh BUILD_DIR: `make demo`.
#
# Shows what hsmssp does today, on a throw-away SoftHSM2 token under
# BUILD_DIR/demo (its own softhsm2.conf: no system token is touched):
#   1. creates the token,
#   2. generates two fresh random service keys (aes256-cts-hmac-sha1-96 and
#      aes128-cts-hmac-sha256-128) in 0600 files, imports them as
#      sensitive, non-extractable token objects and shreds the files,
#   3. uses each key on the token (encrypt, decrypt, tamper check,
#      checksum) from a second process that only knows the key's id,
#   4. lists the objects as pkcs11-tool sees them (when installed),
#   5. runs `hsmssp probe` against SoftHSM2 and NSS softoken.
set -eu

build=$(cd "${1:?usage: tools/demo.sh BUILD_DIR}" && pwd)
cli=$build/tools/hsmssp
softhsm=/usr/lib/softhsm/libsofthsm2.so
nss=/usr/lib/x86_64-linux-gnu/libsoftokn3.so
nss_uri='pkcs11:token=NSS%20Generic%20Crypto%20Services'

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() {
    printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"
}
say() {
    printf '    %s\n' "$*"
}
run() {
    # Shows the command line (never a secret: PINs travel in files) and
    # indents what it prints.
    printf '    $ %s\n' "$*" | sed "s|$build|\$BUILD|g"
    "$@" 2>&1 | sed 's/^/      /'
    return "${PIPESTATUS[0]}"
}

[ -x "$cli" ] || { echo "demo: $cli not built" >&2; exit 1; }
[ -f "$softhsm" ] || { echo "demo: SoftHSM2 missing ($softhsm)" >&2; exit 1; }

demo=$build/demo
rm -rf "$demo"
mkdir -p "$demo/tokens"
chmod 700 "$demo"
umask 077
# Whatever happens, no key file survives the demo.
trap 'for f in "$demo"/service-*.key; do [ -f "$f" ] && shred -u "$f"; done' EXIT

step "1. A throw-away SoftHSM2 token"
cat >"$demo/softhsm2.conf" <<CONF
directories.tokendir = $demo/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF=$demo/softhsm2.conf
pin=$(od -An -tx1 -N6 /dev/urandom | tr -d ' \n')
so_pin=$(od -An -tx1 -N6 /dev/urandom | tr -d ' \n')
softhsm2-util --init-token --free --label hsmssp-demo --so-pin "$so_pin" \
    --pin "$pin" >/dev/null
# The PIN file holds the PIN without a trailing newline: hsmssp reads PIN
# files verbatim, and a newline would be part of the PIN.
printf '%s' "$pin" >"$demo/pin"
say "token 'hsmssp-demo' in \$BUILD/demo/tokens (SOFTHSM2_CONF=\$BUILD/demo/softhsm2.conf)"
say "user PIN: random, in \$BUILD/demo/pin (mode 0600, no trailing newline)"
uri='pkcs11:token=hsmssp-demo'
tok=(--module "$softhsm" --token "$uri" --pin-file "$demo/pin")

# etype, CKA_ID, label, key length for the two demo keys.
keys=(
    "18 48545450 HTTP/www.demo.test@DEMO.TEST/kvno1/aes256-sha1 32"
    "19 48545451 HTTP/www.demo.test@DEMO.TEST/kvno1/aes128-sha256 16"
)

step "2. Fresh random service keys, imported into the token"
for k in "${keys[@]}"; do
    read -r etype id label len <<<"$k"
    keyfile=$demo/service-$etype.key
    head -c "$len" /dev/urandom >"$keyfile"
    say "generated $len random bytes in $(basename "$keyfile") (mode $(stat -c %a "$keyfile"))"
    run "$cli" key import-raw "${tok[@]}" --etype "$etype" --id "$id" \
        --label "$label" <"$keyfile"
    shred -u "$keyfile"
    say "$(basename "$keyfile") shredded: the key now exists only on the token"
done

step "3. Using the keys on the token (a new process finds them by CKA_ID)"
for k in "${keys[@]}"; do
    read -r etype id label len <<<"$k"
    run "$cli" key test "${tok[@]}" --etype "$etype" --id "$id"
done
say "etype 19 on SoftHSM2: its per-usage keys were derived on the host during"
say "the import (level H(import)); every later use runs on the token."

step "4. The objects as another PKCS#11 tool sees them"
if command -v pkcs11-tool >/dev/null; then
    # pkcs11-tool takes the PIN on its command line; it is a throw-away
    # token's PIN, so this is acceptable here only.
    # One line per secret-key object: its label, type and access flags.
    pkcs11-tool --module "$softhsm" --token-label hsmssp-demo --login \
        --pin "$(cat "$demo/pin")" --list-objects --type secrkey 2>/dev/null |
        awk '/^Secret Key Object/ { sub(/^Secret Key Object; /, ""); t = $0 }
             /label:/ { sub(/^ *label: */, ""); l = $0 }
             /Access:/ { sub(/^ *Access: */, "");
                         printf "      %-56s %s, %s\n", l, t, $0 }' | sort ||
        say "(pkcs11-tool could not list the objects)"
    say "each object is sensitive and not extractable: the token never hands"
    say "its value out.  The etype 19 key comes with its per-usage keys (/u<usage><role>),"
    say "made at import; etype 18 derives its per-usage keys on the token when used."
else
    say "(pkcs11-tool from opensc not installed; skipped)"
fi

step "5. What runs where: hsmssp probe on SoftHSM2"
run "$cli" probe "${tok[@]}"

step "6. What runs where: hsmssp probe on NSS softoken (PKCS#11 3.0)"
if [ -f "$nss" ]; then
    run "$cli" probe --module "$nss" --token "$nss_uri"
else
    say "(NSS softoken $nss not installed; skipped)"
fi

step "Done"
say "SoftHSM2 lacks AES-CTS, RC4 and HMAC-to-key derivation, so etype 23 is"
say "H(op) there and refused unless --allow-host-op krb; NSS softoken has the"
say "PKCS#11 3.0 KDFs and runs every row on the token.  See docs/probe.md."
say "The demo token stays in \$BUILD/demo until the next 'make demo'."
