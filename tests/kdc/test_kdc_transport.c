/*
 * tests/kdc/test_kdc_transport.c - the KDC transport
 * (provider/kerberos/kerb_kdc.h) against the real MIT KDC of the test
 * realm (tests/common/realm-setup.sh), over UDP and, with udp_limit 1,
 * over TCP.  The AS-REQs are built here, field by field, with the DER
 * writer (RFC 4120 sec. 5.4.1), so the KDC's answers depend on nothing
 * but this test:
 *
 *   - alice, no pre-authentication: the fixture's principals do not
 *     carry requires_preauth (docs/test-realm.md), so the 1.20 KDC
 *     answers with an AS-REP for alice at once; the reply is checked to
 *     be an AS-REP whose crealm and cname are alice's;
 *   - alice with a PA-ENC-TIMESTAMP that is random bytes: KRB-ERROR
 *     KDC_ERR_PREAUTH_FAILED (24);
 *   - alice asking only for single DES: KDC_ERR_ETYPE_NOSUPP (14);
 *   - a principal the KDB does not have: KDC_ERR_C_PRINCIPAL_UNKNOWN (6).
 *
 * KRB-ERRORs are read with kerb_dec_error.  A last case puts a dead
 * address before the real KDC in a krb5.conf of the test's own and
 * checks that the answer still comes, within the bound.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/der.h"
#include "provider/kerberos/kerb_asn1.h"
#include "provider/kerberos/kerb_kdc.h"
#include "kdcutil.h"
#include "testutil.h"

#define REALM "HSMSSP.TEST"

/* ---- realm ----------------------------------------------------------- */

static unsigned
realm_port(void)
{
    char path[700];
    unsigned port = 0;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/kdc.port", ku_realm());
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_int_equal(fscanf(fp, "%u", &port), 1);
    fclose(fp);
    return port;
}

/* ---- a hand-built AS-REQ --------------------------------------------- */

typedef struct as_req {
    uint8_t buf[1024];
    base_der der;
} as_req;

/* field [n] around everything written since mark m. */
static void
wrap_field(base_der_w *w, size_t m, unsigned n)
{
    base_der_w_wrap(w, BASE_DER_CTX(n), base_der_w_len(w) - m);
}

static void
int_field(base_der_w *w, unsigned n, int64_t v)
{
    size_t m = base_der_w_len(w);

    base_der_w_int(w, v);
    wrap_field(w, m, n);
}

/* AS-REQ ::= [APPLICATION 10] KDC-REQ
 * KDC-REQ ::= SEQUENCE { pvno [1] 5, msg-type [2] 10,
 *     padata [3] SEQUENCE OF PA-DATA OPTIONAL, req-body [4] }
 * KDC-REQ-BODY ::= SEQUENCE { kdc-options [0], cname [1], realm [2],
 *     sname [3] krbtgt/REALM, till [5], nonce [7], etype [8] }
 * With bad_ts, padata holds one PA-ENC-TIMESTAMP whose EncryptedData
 * (etype 18) carries random bytes, which no key of alice's decrypts. */
static void
build_as_req(as_req *r, const char *client, const int32_t *etypes,
             size_t n_etypes, bool bad_ts)
{
    kerb_principal cname = {KERB_NT_PRINCIPAL, 1, {{0}}};
    kerb_principal sname = {KERB_NT_SRV_INST, 2, {{0}}};
    base_der_w w;
    size_t m0, mb, m1, m2;
    uint32_t nonce = (uint32_t)time(NULL) ^ (uint32_t)getpid();

    cname.comp[0] = base_der_view(client, strlen(client));
    sname.comp[0] = base_der_view("krbtgt", 6);
    sname.comp[1] = base_der_view(REALM, strlen(REALM));
    base_der_w_init(&w, r->buf, sizeof(r->buf));
    m0 = base_der_w_len(&w);

    /* req-body [4] */
    mb = base_der_w_len(&w);
    m1 = base_der_w_len(&w);
    for (size_t i = n_etypes; i > 0; i--)
        base_der_w_int(&w, etypes[i - 1]);
    base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - m1);
    wrap_field(&w, m1, 8);
    int_field(&w, 7, nonce & 0x7fffffff);
    m1 = base_der_w_len(&w);
    base_der_w_ktime(&w, (int64_t)time(NULL) + 3600);
    wrap_field(&w, m1, 5);
    m1 = base_der_w_len(&w);
    kerb_enc_principal(&w, &sname);
    wrap_field(&w, m1, 3);
    m1 = base_der_w_len(&w);
    base_der_w_prim(&w, BASE_DER_GENERAL_STRING, REALM, strlen(REALM));
    wrap_field(&w, m1, 2);
    m1 = base_der_w_len(&w);
    kerb_enc_principal(&w, &cname);
    wrap_field(&w, m1, 1);
    m1 = base_der_w_len(&w);
    base_der_w_flags32(&w, 0);
    wrap_field(&w, m1, 0);
    base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - mb);
    wrap_field(&w, mb, 4);

    if (bad_ts) {
        uint8_t junk[60];
        kerb_enc_data ed = {18, false, 0, base_der_view(junk, sizeof(junk))};
        size_t mp = base_der_w_len(&w), me;

        tu_fill(junk, sizeof(junk), (uint32_t)nonce);
        /* PA-DATA ::= SEQUENCE { padata-type [1], padata-value [2] } */
        me = base_der_w_len(&w);
        kerb_enc_enc_data(&w, &ed);
        base_der_w_wrap(&w, BASE_DER_OCTET_STRING, base_der_w_len(&w) - me);
        wrap_field(&w, me, 2);
        int_field(&w, 1, KERB_PA_ENC_TIMESTAMP);
        base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - mp);
        base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - mp);
        wrap_field(&w, mp, 3);
    }
    m2 = base_der_w_len(&w);
    base_der_w_int(&w, KERB_MSG_AS_REQ);
    wrap_field(&w, m2, 2);
    int_field(&w, 1, KERB_PVNO);
    base_der_w_wrap(&w, BASE_DER_SEQUENCE, base_der_w_len(&w) - m0);
    base_der_w_wrap(&w, BASE_DER_APP(KERB_MSG_AS_REQ),
                    base_der_w_len(&w) - m0);
    TU_OK(base_der_w_finish(&w, &r->der));
}

/* ---- checks ---------------------------------------------------------- */

static const int32_t aes[] = {18, 17};
static const int32_t des_only[] = {1};

/* Sends r with cfg and returns the reply (malloc'ed). */
static base_der
send_req(const as_req *r, const kerb_kdc_cfg *cfg)
{
    uint8_t *rep = NULL;
    size_t len = 0;

    TU_OK(kerb_kdc_send(REALM, r->der.p, r->der.len, cfg, &rep, &len));
    assert_non_null(rep);
    return base_der_view(rep, len);
}

/* The reply is a KRB-ERROR with the code want, from our realm. */
static void
expect_krb_error(base_der rep, int32_t want)
{
    kerb_error e;

    TU_OK(kerb_dec_error(rep, &e));
    if (e.code != want)
        fail_msg("KRB-ERROR code %d, expected %d", e.code, want);
    assert_true(base_der_eq_str(e.realm, REALM));
    free((void *)rep.p);
}

/* The reply is an AS-REP for alice@REALM:
 * AS-REP ::= [APPLICATION 11] SEQUENCE { pvno [0] 5, msg-type [1] 11,
 *     padata [2] OPTIONAL, crealm [3], cname [4], ticket [5],
 *     enc-part [6] } */
static void
expect_as_rep_for_alice(base_der rep)
{
    base_der in = rep, seq, v, name, comps, comp;
    int64_t n;
    bool present;

    TU_OK(base_der_get(&in, BASE_DER_APP(KERB_MSG_AS_REP), &v, NULL));
    TU_OK(base_der_end(&in));
    TU_OK(base_der_get(&v, BASE_DER_SEQUENCE, &seq, NULL));
    TU_OK(base_der_end(&v));
    TU_OK(base_der_get_field(&seq, 0, BASE_DER_INTEGER, &v));
    TU_OK(base_der_int(v, 0, 10, &n));
    assert_int_equal(n, KERB_PVNO);
    TU_OK(base_der_get_field(&seq, 1, BASE_DER_INTEGER, &v));
    TU_OK(base_der_int(v, 0, 100, &n));
    assert_int_equal(n, KERB_MSG_AS_REP);
    TU_OK(base_der_get_field_opt(&seq, 2, BASE_DER_SEQUENCE, &v, &present));
    TU_OK(base_der_get_field(&seq, 3, BASE_DER_GENERAL_STRING, &v));
    assert_true(base_der_eq_str(v, REALM));
    TU_OK(base_der_get_field(&seq, 4, BASE_DER_SEQUENCE, &name));
    TU_OK(base_der_get_field(&name, 0, BASE_DER_INTEGER, &v));
    TU_OK(base_der_get_field(&name, 1, BASE_DER_SEQUENCE, &comps));
    TU_OK(base_der_get(&comps, BASE_DER_GENERAL_STRING, &comp, NULL));
    assert_true(base_der_eq_str(comp, "alice"));
    TU_OK(base_der_end(&comps));
    free((void *)rep.p);
}

/* The four requests over the transport cfg selects. */
static void
run_matrix(const kerb_kdc_cfg *cfg)
{
    as_req r;

    build_as_req(&r, "alice", aes, 2, false);
    expect_as_rep_for_alice(send_req(&r, cfg));

    build_as_req(&r, "alice", aes, 2, true);
    expect_krb_error(send_req(&r, cfg), KERB_KDC_ERR_PREAUTH_FAILED);

    build_as_req(&r, "alice", des_only, 1, false);
    expect_krb_error(send_req(&r, cfg), KERB_KDC_ERR_ETYPE_NOSUPP);

    build_as_req(&r, "nobody-here", aes, 2, false);
    expect_krb_error(send_req(&r, cfg), KERB_KDC_ERR_C_PRINCIPAL_UNKNOWN);
}

static void
test_udp(void **state)
{
    kerb_kdc_cfg cfg;
    as_req r;

    (void)state;
    kerb_kdc_cfg_init(&cfg, NULL);
    /* Every request here is far below the default limit of 1465. */
    build_as_req(&r, "alice", aes, 2, true);
    assert_true(r.der.len < KERB_KDC_DEFAULT_UDP_LIMIT);
    run_matrix(&cfg);
}

static void
test_tcp(void **state)
{
    kerb_kdc_cfg cfg;

    (void)state;
    kerb_kdc_cfg_init(&cfg, NULL);
    cfg.udp_limit = 1;
    run_matrix(&cfg);
}

/* A dead address first (a port nobody listens on, for UDP and TCP), the
 * real KDC second: the answer comes from the second, well within
 * attempts x KDCs x timeout. */
static void
test_failover(void **state)
{
    char path[700], saved[1024];
    kerb_kdc_cfg cfg;
    struct timespec t0, t1;
    long long ms;
    as_req r;
    FILE *fp;
    int dead = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);

    (void)state;
    /* A bound, never-listening TCP socket keeps its port ours; nothing
     * is bound for UDP there. */
    sa.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(bind(dead, (struct sockaddr *)&sa, sl), 0);
    assert_int_equal(getsockname(dead, (struct sockaddr *)&sa, &sl), 0);
    snprintf(saved, sizeof(saved), "%s", getenv("KRB5_CONFIG"));
    snprintf(path, sizeof(path), "%s/kdc-transport-%ld.conf", tu_work_dir(),
             (long)getpid());
    fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp,
            "[libdefaults]\n    dns_lookup_kdc = false\n"
            "[realms]\n    %s = {\n        kdc = 127.0.0.1:%u\n"
            "        kdc = 127.0.0.1:%u\n    }\n",
            REALM, (unsigned)ntohs(sa.sin_port), realm_port());
    fclose(fp);
    setenv("KRB5_CONFIG", path, 1);

    cfg.timeout_ms = 500;
    cfg.attempts = 2;
    cfg.udp_limit = 0;
    build_as_req(&r, "nobody-here", aes, 2, false);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect_krb_error(send_req(&r, &cfg), KERB_KDC_ERR_C_PRINCIPAL_UNKNOWN);
    cfg.udp_limit = 1;
    expect_krb_error(send_req(&r, &cfg), KERB_KDC_ERR_C_PRINCIPAL_UNKNOWN);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms =
        (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    /* Two calls, each bounded by 2 rounds x 2 KDCs x 500 ms. */
    if (ms > 2 * 2000 + 4000)
        fail_msg("took %lld ms", ms);

    setenv("KRB5_CONFIG", saved, 1);
    unlink(path);
    close(dead);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp),
        cmocka_unit_test(test_tcp),
        cmocka_unit_test(test_failover),
    };

    ku_realm();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
