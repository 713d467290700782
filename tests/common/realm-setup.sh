#!/bin/bash
# tests/common/realm-setup.sh WORKDIR - the throw-away MIT realm HSMSSP.TEST.
#
# Creates WORKDIR/realm from scratch (stopping a KDC left by an earlier run
# first) and starts krb5kdc on 127.0.0.1, one free port for UDP and TCP:
#   krb5.conf, kdc.conf    for KRB5_CONFIG / KRB5_KDC_PROFILE; nothing is
#                          read from /etc/krb5.conf
#   principal*, stash      the KDB and its master key stash (random password)
#   alice, bob             users with random passwords (NAME.pw, 0600) and
#                          those same keys in NAME.keytab (ktadd -norandkey)
#   carol                  user with the fixed password in carol.pw, for
#                          password-based flows
#   svcacct                HSM-backed service account for the initiator:
#                          requires pre-authentication; svcacct.keytab
#   dave                   user with the fixed password in dave.pw that
#                          requires pre-authentication
#   deleg/localhost        service marked ok-as-delegate; deleg.keytab
#   OTHER.TEST             a second realm in the same KDC, with the
#                          cross-realm key krbtgt/OTHER.TEST@HSMSSP.TEST
#                          and the service xr/www.other.test@OTHER.TEST
#                          (xr.keytab); only the KDC maps .other.test to
#                          OTHER.TEST, so clients get referrals
#   eNN/localhost          one service per enctype NN in 17 18 19 20 23,
#                          holding only that enctype's key and with
#                          session_enctypes set to it; keytab eNN.keytab
#   host/localhost         all five enctypes, kvno 1 and kvno 2 both kept in
#                          host.keytab (the KDB holds kvno 2); key rotation
#   env.sh                 sourced by tests (see docs/test-realm.md)
#   kdc.log, kdc.pid       the KDC's log and process id
# Exits 77 when the MIT KDC tools are missing (1 when CI=true), 1 on any
# other failure.  realm-stop.sh WORKDIR stops the KDC.
set -eu
work=${1:?usage: realm-setup.sh WORKDIR}
here=$(cd "$(dirname "$0")" && pwd)
# kdb5_util, kadmin.local and krb5kdc live in sbin, which a developer's
# PATH may lack.
export PATH=$PATH:/usr/sbin:/sbin
realm=HSMSSP.TEST
# A second realm served by the same KDC, for cross-realm paths and
# referrals: krbtgt/OTHER.TEST@HSMSSP.TEST exists in both databases.
other=OTHER.TEST

mkdir -p "$work"
work=$(cd "$work" && pwd)
dir=$work/realm

for tool in krb5kdc kdb5_util kadmin.local kinit klist /usr/bin/python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "realm-setup: $tool not found (install krb5-kdc," \
            "krb5-admin-server, krb5-user)" >&2
        # A realm left by an earlier run must not pass for this one.
        bash "$here/realm-stop.sh" "$work" >/dev/null 2>&1 || true
        rm -rf "$dir"
        [ "${CI:-}" = true ] && exit 1
        exit 77
    fi
done

# An old KDC from an earlier run still serves the old database: stop it
# before the directory it reads from goes away.
bash "$here/realm-stop.sh" "$work"
rm -rf "$dir"
mkdir -p "$dir"
chmod 700 "$dir"

# Never let anything fall back to the system's configuration, default
# ccache, keytabs or replay cache while we build the realm.
export KRB5_CONFIG=$dir/krb5.conf
export KRB5_KDC_PROFILE=$dir/kdc.conf
export KRB5CCNAME=FILE:$dir/setup.ccache
export KRB5_KTNAME=FILE:$dir/none.keytab
export KRB5_CLIENT_KTNAME=FILE:$dir/none.keytab
export KRB5RCACHEDIR=$dir/rcache
mkdir -p "$KRB5RCACHEDIR"
unset KRB5_TRACE

# randpw: 24 characters of base64 from the kernel's generator, printed.
randpw() {
    head -c 18 /dev/urandom | base64 | tr '+/' '-_'
}

# freeport: a port that is free on 127.0.0.1 for both TCP and UDP right
# now.  Another process may take it before krb5kdc binds it, so the start
# below is retried with a fresh port.
freeport() {
    /usr/bin/python3 - <<'PY'
import socket
for _ in range(50):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close()
        continue
    t.close()
    u.close()
    print(port)
    break
else:
    raise SystemExit("no free port")
PY
}

# The enctypes by number: the services are named after the numbers, the
# configuration needs the names.
declare -A etname=(
    [17]=aes128-cts-hmac-sha1-96
    [18]=aes256-cts-hmac-sha1-96
    [19]=aes128-cts-hmac-sha256-128
    [20]=aes256-cts-hmac-sha384-192
    [23]=arcfour-hmac
)
all_names=
all_keysalts=
for n in 18 17 20 19 23; do
    all_names+="${all_names:+ }${etname[$n]}"
    all_keysalts+="${all_keysalts:+,}${etname[$n]}:normal"
done

# write_conf PORT: krb5.conf and kdc.conf for a KDC on 127.0.0.1:PORT.
write_conf() {
    local port=$1
    # allow_rc4 is read from [libdefaults] by the 1.20 library on both
    # sides: without it the KDC refuses rc4 session keys.  The permitted
    # list puts aes256-sha1 first so the TGT's session key stays
    # aes256-sha1; rc4 is listed last so only session_enctypes picks it.
    cat >"$dir/krb5.conf" <<CONF
# Generated by tests/common/realm-setup.sh; recreated on every run.
[libdefaults]
    default_realm = $realm
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    allow_rc4 = true
    permitted_enctypes = $all_names
    default_tkt_enctypes = $all_names
    default_tgs_enctypes = $all_names
    ticket_lifetime = 10h
    renew_lifetime = 1d
    forwardable = true

[realms]
    $realm = {
        kdc = 127.0.0.1:$port
    }
    $other = {
        kdc = 127.0.0.1:$port
    }

[domain_realm]
    localhost = $realm
    .localhost = $realm
CONF
    # The KDC's own view adds a mapping clients lack: a host-based name
    # in .other.test that a client asks its own KDC for gets a referral
    # to $other (RFC 6806).
    {
        cat "$dir/krb5.conf"
        printf '    .other.test = %s\n' "$other"
    } >"$dir/kdc-krb5.conf"
    # kdc_listen/kdc_tcp_listen with an address keep the KDC on loopback;
    # the plain kdc_ports would bind the wildcard address.
    cat >"$dir/kdc.conf" <<CONF
# Generated by tests/common/realm-setup.sh; recreated on every run.
[kdcdefaults]
    kdc_listen = 127.0.0.1:$port
    kdc_tcp_listen = 127.0.0.1:$port

[realms]
    $realm = {
        database_name = $dir/principal
        key_stash_file = $dir/stash
        acl_file = $dir/kadm5.acl
        master_key_type = aes256-cts-hmac-sha1-96
        supported_enctypes = $all_keysalts
        max_life = 10h
        max_renewable_life = 1d
    }
    $other = {
        database_name = $dir/other-principal
        key_stash_file = $dir/other-stash
        acl_file = $dir/kadm5.acl
        master_key_type = aes256-cts-hmac-sha1-96
        supported_enctypes = $all_keysalts
        max_life = 10h
        max_renewable_life = 1d
    }

[logging]
    kdc = FILE:$dir/kdc.log
CONF
}

# kadm CMD: one kadmin.local command.  kadmin.local -q exits 0 even when
# the command fails, so its error lines (" while ...") are the signal.
kadm() {
    local err
    if ! err=$(kadmin.local -r "${kadm_realm:-$realm}" -q "$1" 2>&1 >/dev/null); then
        echo "realm-setup: kadmin.local '$1' failed: $err" >&2
        return 1
    fi
    err=$(printf '%s\n' "$err" | grep -v -e '^Authenticating as' \
        -e '^No policy specified' -e '^WARNING: no policy specified' ||
        true)
    if [ -n "$err" ]; then
        echo "realm-setup: kadmin.local '$1': $err" >&2
        return 1
    fi
}

# Database and principals.  The KDB only needs a port in the files to be
# written; the KDC's port is chosen right before it starts.
write_conf 0
: >"$dir/kadm5.acl"
kdb5_util -r "$realm" create -s -P "$(randpw)" >/dev/null
kdb5_util -r "$other" create -s -P "$(randpw)" >/dev/null

for user in alice bob; do
    pw=$(randpw)
    (umask 077 && printf '%s' "$pw" >"$dir/$user.pw")
    kadm "addprinc -pw $pw $user"
    # -norandkey exports the password-derived keys, so the keytab and the
    # password file stay two ways to the same credentials.
    kadm "ktadd -k $dir/$user.keytab -norandkey $user"
done
(umask 077 && printf '%s' 'Carol-pw-1' >"$dir/carol.pw")
kadm "addprinc -pw Carol-pw-1 carol"
# The initiator's accounts (issue 4) must pre-authenticate, as accounts
# in a real realm do: the KDC answers their first AS-REQ with
# PREAUTH_REQUIRED and ETYPE-INFO2.  svcacct is the HSM-backed service
# account (random keys, every enctype, in svcacct.keytab); dave has a
# fixed password (dave.pw) for the password paths.
kadm "addprinc -randkey +requires_preauth svcacct"
kadm "ktadd -k $dir/svcacct.keytab -norandkey svcacct"
(umask 077 && printf '%s' 'Dave-pw-1' >"$dir/dave.pw")
kadm "addprinc -pw Dave-pw-1 +requires_preauth dave"
# deleg/localhost: a service the KDC marks ok-as-delegate, so initiators
# may forward TGTs to it when their policy allows.
kadm "addprinc -randkey +ok_as_delegate deleg/localhost"
kadm "ktadd -k $dir/deleg.keytab -norandkey deleg/localhost"

for n in 17 18 19 20 23; do
    princ=e$n/localhost
    kadm "addprinc -randkey -e ${etname[$n]}:normal $princ"
    # The 1.20 KDC assumes every service supports aes256-sha1 session
    # keys; session_enctypes makes the session key this enctype too.
    kadm "setstr $princ session_enctypes ${etname[$n]}"
    kadm "ktadd -k $dir/e$n.keytab -norandkey $princ"
done

# Cross-realm: the same key (same password, same principal name, so the
# same salt) in both databases; a service in $other with a host-based
# name its KDC's mapping places there.
xpw=$(randpw)
kadm "addprinc -pw $xpw krbtgt/$other@$realm"
kadm_realm=$other kadm "addprinc -pw $xpw krbtgt/$other@$realm"
kadm_realm=$other kadm "addprinc -randkey xr/www.other.test@$other"
kadm_realm=$other kadm "ktadd -k $dir/xr.keytab -norandkey xr/www.other.test@$other"

# host/localhost: kvno 1 exported as is, then ktadd re-randomises all five
# keys to kvno 2 and appends them; the keytab keeps both.
kadm "addprinc -randkey host/localhost"
kadm "ktadd -k $dir/host.keytab -norandkey host/localhost"
kadm "ktadd -k $dir/host.keytab -e $all_keysalts host/localhost"
chmod 600 "$dir"/*.keytab

# check_keytab FILE WANT: klist -ke lists exactly the "kvno principal
# (enctype)" lines in WANT, in any order.  klist prints rc4 as
# "DEPRECATED:arcfour-hmac"; the prefix is dropped before comparing.
check_keytab() {
    local got
    got=$(klist -ke "$1" | awk 'NR > 3 { print $1, $2, $3 }' |
        sed 's/(DEPRECATED:/(/' | sort)
    if [ "$got" != "$(printf '%s\n' "$2" | sort)" ]; then
        printf 'realm-setup: %s holds\n%s\nwanted\n%s\n' "$1" "$got" "$2" >&2
        return 1
    fi
}
for user in alice bob; do
    want=
    for n in 18 17 20 19 23; do
        want+="1 $user@$realm (${etname[$n]})"$'\n'
    done
    check_keytab "$dir/$user.keytab" "${want%$'\n'}"
done
for n in 17 18 19 20 23; do
    check_keytab "$dir/e$n.keytab" "1 e$n/localhost@$realm (${etname[$n]})"
done
want=
for kvno in 1 2; do
    for n in 18 17 20 19 23; do
        want+="$kvno host/localhost@$realm (${etname[$n]})"$'\n'
    done
done
check_keytab "$dir/host.keytab" "${want%$'\n'}"
want=
for n in 18 17 20 19 23; do
    want+="1 svcacct@$realm (${etname[$n]})"$'\n'
done
check_keytab "$dir/svcacct.keytab" "${want%$'\n'}"

# kdc_alive PID: the process is still there (a port clash ends it).
kdc_alive() {
    kill -0 "$1" 2>/dev/null
}

# Start the KDC: -n keeps it in the foreground so $! is its pid; setsid
# and the redirections detach it from ctest's pipes (ctest waits for every
# holder of its output pipe).  Ready once kinit through it succeeds.
started=
for attempt in 1 2 3 4 5; do
    port=$(freeport)
    write_conf "$port"
    KRB5_CONFIG=$dir/kdc-krb5.conf setsid krb5kdc -n -r "$realm" \
        -r "$other" </dev/null >>"$dir/kdc.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/kdc.pid"
    for _ in $(seq 100); do
        kdc_alive "$pid" || break
        if kinit -k -t "$dir/alice.keytab" alice >/dev/null 2>&1; then
            started=yes
            break
        fi
        sleep 0.05
    done
    [ -n "$started" ] && break
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/kdc.pid"
    echo "realm-setup: KDC on port $port did not answer (attempt" \
        "$attempt); kdc.log:" >&2
    tail -n 5 "$dir/kdc.log" >&2 || true
done
if [ -z "$started" ]; then
    echo "realm-setup: krb5kdc did not start" >&2
    exit 1
fi
echo "$port" >"$dir/kdc.port"
kdestroy -q 2>/dev/null || true

# env.sh: everything a test needs, by absolute path.
cat >"$dir/env.sh" <<ENV
# Generated by tests/common/realm-setup.sh: the realm $realm.
# Source it, then get a TGT with: hsmssp_realm_kinit CCACHE [USER]
export KRB5_CONFIG=$dir/krb5.conf
export KRB5_KDC_PROFILE=$dir/kdc.conf
# Nothing may fall back to /tmp/krb5cc_*, /etc/krb5.keytab, the client
# keytab or /var/tmp's replay cache: point the defaults into the realm.
export KRB5CCNAME=FILE:$dir/default.ccache
export KRB5_KTNAME=FILE:$dir/none.keytab
export KRB5_CLIENT_KTNAME=FILE:$dir/none.keytab
export KRB5RCACHEDIR=$dir/rcache
export HSMSSP_REALM=$realm
export HSMSSP_KDC_PORT=$port
export HSMSSP_REALM_DIR=$dir
export HSMSSP_KT_ALICE=$dir/alice.keytab
export HSMSSP_KT_BOB=$dir/bob.keytab
export HSMSSP_KT_E17=$dir/e17.keytab
export HSMSSP_KT_E18=$dir/e18.keytab
export HSMSSP_KT_E19=$dir/e19.keytab
export HSMSSP_KT_E20=$dir/e20.keytab
export HSMSSP_KT_E23=$dir/e23.keytab
export HSMSSP_KT_HOST=$dir/host.keytab
export HSMSSP_PW_ALICE=$dir/alice.pw
export HSMSSP_PW_BOB=$dir/bob.pw
export HSMSSP_PW_CAROL=$dir/carol.pw
export HSMSSP_KT_SVCACCT=$dir/svcacct.keytab
export HSMSSP_KT_DELEG=$dir/deleg.keytab
export HSMSSP_OTHER_REALM=$other
export HSMSSP_KT_XR=$dir/xr.keytab
export HSMSSP_PW_DAVE=$dir/dave.pw

# hsmssp_realm_kinit CCACHE [USER]: a TGT for USER (alice, default, or bob)
# from its keytab into CCACHE (a path or TYPE:residual).  For carol use
# kinit with her password: kinit carol <\$HSMSSP_PW_CAROL.
hsmssp_realm_kinit() {
    local cc=\${1:?usage: hsmssp_realm_kinit CCACHE [USER]} user=\${2:-alice}
    case \$cc in *:*) ;; *) cc=FILE:\$cc ;; esac
    KRB5CCNAME=\$cc kinit -k -t "$dir/\$user.keytab" "\$user@$realm"
}
ENV
n_princ=$(kadmin.local -r "$realm" -q listprincs 2>/dev/null |
    grep -c "@$realm")
echo "realm $realm ready in $dir: KDC pid $(cat "$dir/kdc.pid") on" \
    "127.0.0.1:$port (udp+tcp), $n_princ principals"
