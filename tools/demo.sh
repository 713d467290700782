#!/bin/bash
# tools/demo.sh BUILD_DIR: `make demo`.
#
# A Kerberos server whose service key lives in a PKCS#11 token, and an
# unmodified MIT client logging into it, all throw-away and on 127.0.0.1:
#   1. a Kerberos realm (MIT KDC) with a user, alice, and a service,
#      e18/localhost, whose key is in a keytab file;
#   2. a SoftHSM2 token;
#   3. the keytab imported into the token, then deleted: from now on the
#      key exists only on the token, and the token never gives it back;
#   4. `hsmssp probe`: what the token computes itself;
#   5. `hsmssp server` for e18/localhost (SSPI AcceptSecurityContext);
#   6. alice gets a ticket and MIT's gss-client logs in and sends sealed
#      messages; the server opens them and signs its replies on the token;
#   7. the same login replayed is refused;
#   8. an HSM-backed service account, svcacct, whose key is on the token,
#      gets a TGT (`hsmssp kinit`: AS exchange run on the token, the TGT's
#      session key kept as a token object) and logs into MIT's gss-server
#      and into `hsmssp server` with `hsmssp client`;
#   9. NSS softoken's probe; everything stopped.
# Nothing outside BUILD_DIR/demo is touched.
set -eu

build=$(cd "${1:?usage: tools/demo.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
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
    printf '    $ %s\n' "$*" | sed "s|$build|\$BUILD|g; s|$src|\$SRC|g"
    "$@" 2>&1 | sed 's/^/      /'
    return "${PIPESTATUS[0]}"
}

[ -x "$cli" ] || { echo "demo: $cli not built" >&2; exit 1; }
[ -f "$softhsm" ] || { echo "demo: SoftHSM2 missing ($softhsm)" >&2; exit 1; }

demo=$build/demo
server_pid=
gss_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    [ -n "$gss_pid" ] && kill "$gss_pid" 2>/dev/null
    bash "$src/tests/common/realm-stop.sh" "$demo" >/dev/null 2>&1 || true
    [ -f "$demo/e18.keytab" ] && shred -u "$demo/e18.keytab"
    [ -f "$demo/svcacct.keytab" ] && shred -u "$demo/svcacct.keytab"
    return 0
}
trap cleanup EXIT
bash "$src/tests/common/realm-stop.sh" "$demo" >/dev/null 2>&1 || true
rm -rf "$demo"
mkdir -p "$demo/tokens"
chmod 700 "$demo"
umask 077

step "1. A throw-away Kerberos realm"
bash "$src/tests/common/realm-setup.sh" "$demo" >"$demo/realm-setup.log" 2>&1 ||
    { cat "$demo/realm-setup.log"; exit 1; }
# shellcheck disable=SC1091
. "$demo/realm/env.sh"
say "An MIT KDC for the realm $HSMSSP_REALM listens on 127.0.0.1:$HSMSSP_KDC_PORT."
say "It knows the user alice and the service e18/localhost, whose secret key"
say "(aes256-cts-hmac-sha1-96) the KDC wrote to a keytab file: that key is what"
say "a Kerberos server normally keeps on disk and loads into memory."

step "2. A throw-away token (SoftHSM2 stands in for an HSM or a TPM)"
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
# hsmssp reads PIN files verbatim: no trailing newline.
printf '%s' "$pin" >"$demo/pin"
cat >"$demo/hsmssp.conf" <<CONF
[token]
    module = $softhsm
    uri = pkcs11:token=hsmssp-demo
    pin_file = $demo/pin
[kerberos]
    rcache = $demo/rcache/e18
    ticket_dir = $demo/tickets
CONF
chmod 600 "$demo/hsmssp.conf"
say "Token 'hsmssp-demo' with a random PIN in \$BUILD/demo/pin (mode 0600)."
say "hsmssp's configuration, \$BUILD/demo/hsmssp.conf, names the token and"
say "the PIN file (docs/config.md)."

step "3. The service key moves into the token; the keytab is deleted"
cp "$HSMSSP_KT_E18" "$demo/e18.keytab"
run "$cli" keytab import --config "$demo/hsmssp.conf" --remove-source \
    "$demo/e18.keytab"
say "The key is now a token object marked sensitive and not extractable;"
say "the keytab copy is gone.  What the token holds:"
run "$cli" keytab list --config "$demo/hsmssp.conf"
if command -v pkcs11-tool >/dev/null; then
    say "and as another PKCS#11 tool sees it (its value cannot be read):"
    pkcs11-tool --module "$softhsm" --token-label hsmssp-demo --login \
        --pin "$pin" --list-objects --type secrkey 2>/dev/null |
        awk '/label:/ { sub(/^ *label: */, ""); l = $0 }
             /Access:/ { sub(/^ *Access: */, "");
                         printf "      %s: %s\n", l, $0 }'
fi

step "4. What the token computes itself"
# The Kerberos rows of the table (the NTLM rows matter for a later package).
run "$cli" probe --module "$softhsm" --token pkcs11:token=hsmssp-demo \
    --pin-file "$demo/pin" | sed '/NTOWFv2/,$d' 
say "aes256-cts-hmac-sha1-96 runs entirely on the token (level T): the ticket"
say "will be decrypted there, and the messages sealed and signed there."

step "5. hsmssp's sample server for e18/localhost"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$cli" server --config "$demo/hsmssp.conf" --port "$port" \
    e18@localhost >"$demo/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
    grep -q listening "$demo/server.log" 2>/dev/null && break
    sleep 0.1
done
sed 's/^/      /' "$demo/server.log"
say "It uses only the SSPI calls a Windows server would use"
say "(AcquireCredentialsHandle, AcceptSecurityContext, DecryptMessage,"
say "MakeSignature), with the key on the token behind them."

step "6. alice logs in with MIT's own gss-client"
export KRB5CCNAME=FILE:$demo/alice.cc
run kinit -k -t "$HSMSSP_KT_ALICE" "alice@$HSMSSP_REALM"
say "alice has a ticket-granting ticket; gss-client gets a ticket for"
say "e18/localhost from the KDC and sends it, wrapped in an AP-REQ:"
run gss-client -port "$port" -mcount 3 localhost e18@localhost \
    "hello from an MIT client" | grep -E "init_sec_context|Signature|flag: GSS_C_MUTUAL|flag: GSS_C_CONF" || true
sleep 0.3
say "The server's side:"
sed -n '2,$p' "$demo/server.log" | sed 's/^/      /'
say "On the token: the ticket was decrypted with the service key; the"
say "session's key was imported at arrival and is now a token object too."
say "Each sealed message was opened on the token (DecryptMessage) and each"
say "reply signed there (MakeSignature); gss-client verified every signature."

step "7. A replayed login is refused"
/usr/bin/python3 "$src/tests/kdc/gss_sample_client.py" --port "$port" -q \
    --record-token "$demo/ap-req" localhost e18@localhost "once" >/dev/null
run /usr/bin/python3 "$src/tests/kdc/gss_sample_client.py" --port "$port" \
    --send-token "$demo/ap-req" localhost e18@localhost "twice" || true
say "The server's replay cache (\$BUILD/demo/rcache) recognised the AP-REQ;"
say "it survives restarts and is shared by every server process."

step "8. An HSM-backed service account logs in as a Kerberos client"
say "svcacct is a service account (it must pre-authenticate, as accounts in a"
say "real realm do).  Its key moves into the token the same way:"
cp "$HSMSSP_KT_SVCACCT" "$demo/svcacct.keytab"
run "$cli" keytab import --config "$demo/hsmssp.conf" --remove-source \
    "$demo/svcacct.keytab" | grep -E "aes256-cts-hmac-sha1-96|arcfour|entries"
say "(arcfour-hmac is refused: SoftHSM2 has no RC4, and the policy forbids"
say "running it on the host; the AES keys are what the account uses.)"
say "hsmssp kinit runs the AS exchange: the KDC asks for pre-authentication,"
say "the encrypted timestamp is made on the token, the AS-REP is decrypted on"
say "the token, and the TGT's session key is imported into it at once:"
run "$cli" kinit --config "$demo/hsmssp.conf" svcacct
run "$cli" klist --config "$demo/hsmssp.conf"
run ls -l "$demo/tickets"
say "The ticket file holds the ticket and public facts only; the session key"
say "is the token object labelled with the ticket:"
if command -v pkcs11-tool >/dev/null; then
    pkcs11-tool --module "$softhsm" --token-label hsmssp-demo --login \
        --pin "$pin" --list-objects --type secrkey 2>/dev/null |
        awk '/label:/ { sub(/^ *label: */, ""); l = $0 }
             /Access:/ { sub(/^ *Access: */, "");
                         if (l ~ /^TGT/) printf "      %s: %s\n", l, $0 }'
fi
gport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
KRB5_KTNAME=$HSMSSP_KT_HOST gss-server -port "$gport" host@localhost \
    >"$demo/gss-server.log" 2>&1 &
gss_pid=$!
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $gport)).close()" 2>/dev/null && break
    sleep 0.1
done
say "MIT's gss-server for host/localhost (its key in an ordinary keytab);"
say "hsmssp client logs in as svcacct with the stored TGT (the TGS exchange"
say "and the authenticator run on the token) and sends a sealed message:"
run "$cli" client --config "$demo/hsmssp.conf" --port "$gport" \
    --credential svcacct --seq localhost host@localhost \
    "hello from an HSM-backed account"
sleep 0.3
say "gss-server's side:"
grep -E "Accepted|Received|GSS_C_MUTUAL|GSS_C_SEQUENCE" "$demo/gss-server.log" |
    sed 's/^/      /'
say "and into hsmssp's own server from step 5 (both ends on the token):"
run "$cli" client --config "$demo/hsmssp.conf" --port "$port" \
    --credential svcacct localhost e18@localhost "hello, hsmssp to hsmssp"
sleep 0.3
tail -n 2 "$demo/server.log" | sed 's/^/      /'
run "$cli" kdestroy --config "$demo/hsmssp.conf" svcacct

step "9. NSS softoken, a PKCS#11 3.0 token, runs even more on the token"
if [ -f "$nss" ]; then
    run "$cli" probe --module "$nss" --token "$nss_uri" | sed -n '1,9p;/OPERATION/,/^$/p' | head -30
fi

step "Done"
say "Server, KDC and token were throw-away; they stay in \$BUILD/demo until the"
say "next 'make demo'.  More: README.md, docs/sspi.md, docs/interop.md."
