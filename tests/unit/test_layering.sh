#!/bin/bash
# tests/unit/test_layering.sh - the layering and hygiene rules of
# DESIGN sec. 1 and STYLE sec. 1, 4, 6, checked on the source tree:
#
#   1. base/ includes nothing from hsm/, provider/, sspi/, keytabs/, tools/
#   2. hsm/ includes nothing from provider/ or sspi/
#   3. pkcs11.h and p11-kit appear only in hsm/ and tests/
#   4. <krb5.h> appears only in provider/kerberos/, keytabs/, tests/, bench/
#   5. library layers never memcmp a MAC, checksum, HMAC, signature or
#      proof (constant-time base_ct_equal instead)
#   6. library code (base/, hsm/, provider/, sspi/, keytabs/) never
#      prints: no printf, fprintf, puts, perror and friends, no
#      stdout/stderr
#   7. provider/ includes nothing from sspi/, keytabs/, tools/; sspi/ and
#      keytabs/ nothing from tools/ or each other
#   8. MIT's <profile.h> appears only in provider/config.c
#   9. SSPI status codes (SEC_E_*, SEC_I_*) appear only in sspi/ (and
#      the public header, tools, tests)
#
# Comments and string literals are removed before matching, so prose that
# names a forbidden header or function does not count.  The rules are
# first run on small synthetic trees, one violation each, to prove that
# each rule still fires; then on the real tree (HSMSSP_SOURCE, set by
# tests/CMakeLists.txt).
set -u

src=${HSMSSP_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ ! -d "$src/base" ]; then
    echo "HSMSSP_SOURCE ($src) is not the source tree" >&2
    exit 1
fi

# strip FILE: prints FILE with comments and string/char literals blanked,
# keeping line numbers, except that the target of an #include "..." stays.
strip() {
    perl -0777 -ne '
        my $s = $_;
        # Protect quoted includes: their "path" is what rule 1-4 read.
        $s =~ s{^(\s*#\s*include\s*)"([^"\n]*)"}{$1<$2>}mg;
        $s =~ s{/\*.*?\*/}{ my $c = $&; $c =~ tr/\n//cd; $c }gse;
        $s =~ s{//[^\n]*}{}g;
        $s =~ s{"(?:[^"\\\n]|\\.)*"}{""}g;
        $s =~ s{\x27(?:[^\x27\\\n]|\\.)*\x27}{\x27\x27}g;
        print $s;' "$1"
}

# grep_rule ROOT DESCRIPTION PERL-REGEX FILE...: reports every line of the
# files (comment-stripped) that matches.  Prints "file:line: text".
grep_rule() {
    local root=$1 what=$2 re=$3 f hits=0
    shift 3
    for f in "$@"; do
        [ -f "$f" ] || continue
        while IFS= read -r line; do
            echo "${f#"$root"/}:$line   [$what]"
            hits=$((hits + 1))
        done < <(strip "$f" | perl -ne "print \"\$.: \$_\" if /$re/")
    done
    return $((hits > 0))
}

# The memcmp rule needs whole calls, which may span lines.
memcmp_rule() {
    local root=$1 f hits=0
    shift
    for f in "$@"; do
        [ -f "$f" ] || continue
        while IFS= read -r line; do
            echo "${f#"$root"/}:$line   [memcmp on a MAC/checksum/proof]"
            hits=$((hits + 1))
        done < <(strip "$f" | perl -0777 -ne '
            while (/\bmemcmp\s*(\((?:[^()]++|(?1))*\))/g) {
                my ($args, $pos) = ($1, $-[0]);
                my $line = 1 + (substr($_, 0, $pos) =~ tr/\n//);
                my $bad = 0;
                for my $id ($args =~ /([A-Za-z_]\w*)/g) {
                    for my $part (split /_+/, lc $id) {
                        $bad = 1 if $part =~
                            /^(?:mac|macs|mic|sig|sigs|signature|tag)$/
                            || $part =~ /cksum|checksum|hmac|proof/;
                    }
                }
                (my $one = $args) =~ s/\s+/ /g;
                print "$line: memcmp$one\n" if $bad;
            }')
    done
    return $((hits > 0))
}

# Source files under ROOT/DIR (C sources and headers).
sources() {
    local root=$1
    shift
    local d
    for d in "$@"; do
        [ -d "$root/$d" ] && find "$root/$d" -type f \( -name '*.c' -o -name '*.h' \) | sort
    done
}

# Every source file of the tree outside build and hidden directories.
all_sources() {
    find "$1" \( -name 'build*' -o -name '.*' -o -name CMakeFiles \) -prune -o \
        -type f \( -name '*.c' -o -name '*.h' \) -print | sort
}

# check_tree ROOT: runs the six rules, prints violations, returns their
# number of failed rules.
check_tree() {
    local root=$1 failed=0 f
    local inc='^\s*#\s*include\s*<'

    grep_rule "$root" "base/ includes an upper layer" \
        "${inc}(?:\\.\\.\\/)*(?:hsm|provider|sspi|keytabs|tools)\\/" \
        $(sources "$root" base) || failed=$((failed + 1))

    grep_rule "$root" "hsm/ includes provider/ or sspi/" \
        "${inc}(?:\\.\\.\\/)*(?:provider|sspi)\\/" \
        $(sources "$root" hsm) || failed=$((failed + 1))

    local outside_hsm=() outside_krb=()
    while IFS= read -r f; do
        case "${f#"$root"/}" in
        hsm/* | tests/*) ;;
        *) outside_hsm+=("$f") ;;
        esac
        case "${f#"$root"/}" in
        provider/kerberos/* | keytabs/* | tests/* | bench/*) ;;
        *) outside_krb+=("$f") ;;
        esac
    done < <(all_sources "$root")

    grep_rule "$root" "pkcs11.h/p11-kit outside hsm/" \
        "${inc}[^>]*(?:pkcs11[^>]*\\.h|p11-kit)" \
        "${outside_hsm[@]}" || failed=$((failed + 1))

    grep_rule "$root" "<krb5.h> outside provider/kerberos, keytabs" \
        "${inc}(?:krb5\\/)?krb5\\.h>" \
        "${outside_krb[@]}" || failed=$((failed + 1))

    memcmp_rule "$root" $(sources "$root" base hsm provider sspi keytabs) ||
        failed=$((failed + 1))

    grep_rule "$root" "library code prints" \
        '\b(?:printf|fprintf|vprintf|vfprintf|dprintf|vdprintf|puts|fputs|putchar|perror)\s*\(|\bstd(?:out|err)\b' \
        $(sources "$root" base hsm provider sspi keytabs) ||
        failed=$((failed + 1))

    grep_rule "$root" "provider/ includes sspi/, keytabs/ or tools/" \
        "${inc}(?:\\.\\.\\/)*(?:sspi|keytabs|tools)\\/" \
        $(sources "$root" provider) || failed=$((failed + 1))

    grep_rule "$root" "sspi/ or keytabs/ includes tools/ (or each other)" \
        "${inc}(?:\\.\\.\\/)*(?:tools|keytabs)\\/" \
        $(sources "$root" sspi) || failed=$((failed + 1))
    grep_rule "$root" "sspi/ or keytabs/ includes tools/ (or each other)" \
        "${inc}(?:\\.\\.\\/)*(?:tools|sspi)\\/" \
        $(sources "$root" keytabs) || failed=$((failed + 1))

    local outside_cfg=() below_sspi=()
    while IFS= read -r f; do
        case "${f#"$root"/}" in
        provider/config.c | tests/*) ;;
        *) outside_cfg+=("$f") ;;
        esac
    done < <(all_sources "$root")
    grep_rule "$root" "<profile.h> outside provider/config.c" \
        "${inc}profile\\.h>" \
        "${outside_cfg[@]}" || failed=$((failed + 1))

    # SSPI status codes are produced only in sspi/ (STYLE sec. 1, 4).
    grep_rule "$root" "SSPI status code below sspi/" \
        '\bSEC_[EI]_[A-Z_]+\b' \
        $(sources "$root" base hsm provider keytabs) ||
        failed=$((failed + 1))

    return "$failed"
}

# ---- self-test: each rule must fire on a tree made to break it --------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# mk TREE FILE CONTENT: writes one file of a synthetic tree.
mk() {
    mkdir -p "$(dirname "$tmp/$1/$2")"
    printf '%s\n' "$3" >"$tmp/$1/$2"
}

clean_c='/* a comment naming #include <krb5.h>, memcmp(mac, x, 4) and printf( */
#include "base/base.h"
#include <string.h>
static const char *s = "printf(\"x\") memcmp(cksum, a, 1)";
int f(const unsigned char *key_id, const unsigned char *b);
int f(const unsigned char *key_id, const unsigned char *b)
{
    char buf[8];
    snprintf(buf, sizeof(buf), "%d", 1);
    return memcmp(key_id, b, 4) == 0;
}'
for t in clean r1 r2 r3 r4 r5a r5b r6a r6b r6c r7 r8 r9 r10 r11; do
    mkdir -p "$tmp/$t/base" "$tmp/$t/hsm"
    mk "$t" base/ok.c "$clean_c"
    mk "$t" hsm/ok.c "$clean_c"
    mk "$t" hsm/p11.c '#include <p11-kit/pkcs11.h>'
    mk "$t" tests/t.c '#include <krb5.h>
#include <p11-kit/p11-kit.h>
int main(void) { printf("ok"); return 0; }'
    mk "$t" provider/kerberos/k.c '#include <krb5.h>'
done
mk r1 base/bad.c '#include "hsm/hsm.h"'
mk r2 hsm/bad.c '  #  include "../provider/kerberos/kerb.h"'
mk r3 tools/bad.c '#include <p11-kit/pkcs11.h>'
mk r4 provider/ntlm/bad.c '#include <krb5.h>'
mk r5a hsm/bad.c 'int g(const unsigned char *a, const unsigned char *b)
{ return memcmp(a,
                b + expected_cksum_off, 12); }'
mk r5b base/bad.c 'int h(const unsigned char *ntproofstr, const unsigned char *x)
{ return !memcmp(ntproofstr, x, 16); }'
mk r6a base/bad.c 'void k(void) { fprintf(stderr, "x"); }'
mk r6b hsm/bad.c 'void k(void) { perror("x"); }'
mk r6c provider/bad.c 'void k(void) { puts("x"); }'
mk r7 provider/kerberos/bad.c '#include "sspi/sspi-int.h"'
mk r8 sspi/bad.c '#include "tools/cli.h"'
mk r9 keytabs/bad.c '#include "sspi/sspi-int.h"'
mk r10 provider/kerberos/bad.c '#include <profile.h>'
mk r11 provider/kerberos/bad.c 'int s(void) { return SEC_E_INVALID_TOKEN; }'

selftest_ok=1
if ! out=$(check_tree "$tmp/clean" 2>&1); then
    echo "SELF-TEST: the clean synthetic tree was flagged:" >&2
    echo "$out" >&2
    selftest_ok=0
fi
# case:the tag its violation must be reported under
for c in "r1:[base/ includes" "r2:[hsm/ includes" "r3:[pkcs11.h" \
         "r4:[<krb5.h>" "r5a:[memcmp" "r5b:[memcmp" "r6a:[library code prints" \
         "r6b:[library code prints" "r6c:[library code prints" \
         "r7:[provider/ includes" "r8:[sspi/ or keytabs/" \
         "r9:[sspi/ or keytabs/" "r10:[<profile.h>" \
         "r11:[SSPI status code"; do
    t=${c%%:*}
    tag=${c#*:}
    out=$(check_tree "$tmp/$t" 2>&1)
    if [ $? = 0 ] || [[ "$out" != *"bad.c:"*"$tag"* ]]; then
        echo "SELF-TEST: rule case $t was not detected as $tag:" >&2
        echo "$out" >&2
        selftest_ok=0
    fi
done
if [ "$selftest_ok" != 1 ]; then
    echo "0 passed, 2 failed"
    exit 1
fi
echo "self-test: every rule fires on its synthetic violation"

# ---- the real tree -----------------------------------------------------
if out=$(check_tree "$src"); then
    echo "layering: $src is clean"
    echo "2 passed, 0 failed"
    exit 0
fi
echo "layering violations in $src:" >&2
echo "$out" >&2
echo "1 passed, 1 failed"
exit 1
