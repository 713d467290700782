/*
 * tests/fuzz/fuzz_tktfile.c - libFuzzer target for kerb_tktfile_decode()
 * (provider/kerberos/kerb_tktfile.c), the reader of the TGT files that
 * `hsmssp kinit` leaves for other processes.
 *
 * Why: the file is read by every process that uses the stored TGT, and
 * its ticket goes on to the KDC.  The files are the user's own (0600 in a
 * 0700 directory), but a corrupted or truncated file, or one written by
 * another version, must give a clean error, never a crash, an over-read,
 * a leak or a half-filled entry.
 *
 * Input: the file's bytes, as is.
 * Invariants:
 *  - the result is OK, BAD_TOKEN or LIMIT;
 *  - on failure the entry is all zero (nothing to free, nothing stale);
 *  - on success every string is terminated inside its array and within
 *    its bound, key-id and ticket lengths are within theirs, and
 *    re-encoding the entry gives exactly the input (one encoding per
 *    entry: the decoder is as strict as the encoder);
 *  - the accepted client gives a file name (kerb_tktfile_path) that is
 *    bounded, has no '/', does not start with '.', ends in ".tgt";
 *  - the key label of the entry fits KERB_TKTFILE_KEY_LABEL_MAX;
 *  - kerb_tktfile_key_id_endtime() on the raw input accepts only a
 *    32-byte ID with the scheme's prefix, and the endtime it reads makes
 *    an ID with the same first 16 bytes.
 *
 * Seeds (corpus/fuzz_tktfile/) are written by the unit test executable:
 *     tests/unit/provider/test_kerb_tktfile --write-seeds DIR
 * (files of several shapes from the encoder, and malformed neighbours);
 * the unit test also checks that the committed seeds are still those.
 */
#include <string.h>

#include "fuzzcommon.h"
#include "provider/kerberos/kerb_tktfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

static void
check_entry(const kerb_tktfile_entry *e, const uint8_t *data, size_t size)
{
    char *path = NULL, label[KERB_TKTFILE_KEY_LABEL_MAX];
    const char *name;
    uint8_t *enc = NULL;
    size_t len = 0, n;
    hsmssp_err ret;

    FUZZ_CHECK(memchr(e->client, 0, sizeof(e->client)) != NULL &&
                   memchr(e->server, 0, sizeof(e->server)) != NULL &&
                   memchr(e->token_label, 0, sizeof(e->token_label)) != NULL &&
                   memchr(e->token_serial, 0, sizeof(e->token_serial)) != NULL,
               "unterminated string");
    FUZZ_CHECK(e->client[0] != '\0' && e->server[0] != '\0',
               "empty principal");
    FUZZ_CHECK(e->key_id_len >= 1 && e->key_id_len <= KERB_TKTFILE_MAX_KEY_ID,
               "key-id of %zu bytes", e->key_id_len);
    FUZZ_CHECK(e->ticket != NULL && e->ticket_len >= 1 &&
                   e->ticket_len <= KERB_TKTFILE_MAX_TICKET,
               "ticket of %zu bytes", e->ticket_len);
    FUZZ_CHECK(e->endtime >= 0 && e->endtime <= KERB_TKTFILE_MAX_TIME &&
                   e->renew_till >= 0,
               "times");

    ret = kerb_tktfile_encode(e, &enc, &len);
    FUZZ_CHECK(ret == HSMSSP_OK, "accepted entry does not encode: %s",
               hsmssp_last_error_detail());
    FUZZ_CHECK(len == size && memcmp(enc, data, size) == 0,
               "re-encoding differs from the input (%zu vs %zu bytes)", len,
               size);
    free(enc);

    ret = kerb_tktfile_path("/d", e->client, &path);
    FUZZ_CHECK(ret == HSMSSP_OK, "no file name for an accepted client");
    name = path + 3;
    n = strlen(name);
    FUZZ_CHECK(n <= KERB_TKTFILE_MAX_NAME && strchr(name, '/') == NULL &&
                   name[0] != '.' && n > 4 &&
                   strcmp(name + n - 4, KERB_TKTFILE_SUFFIX) == 0,
               "bad file name '%s'", name);
    free(path);

    kerb_tktfile_key_label(e, label, sizeof(label));
    FUZZ_CHECK(strlen(label) < sizeof(label) - 1, "label cut");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kerb_tktfile_entry e;
    hsmssp_err ret;
    int64_t endtime = -1;

    memset(&e, 0x5a, sizeof(e));
    ret = kerb_tktfile_decode(data, size, &e);
    if (ret == HSMSSP_OK) {
        check_entry(&e, data, size);
        kerb_tktfile_entry_clear(&e);
    } else {
        FUZZ_CHECK(ret == HSMSSP_ERR_BAD_TOKEN || ret == HSMSSP_ERR_LIMIT,
                   "unexpected %s", hsmssp_err_name(ret));
        FUZZ_CHECK(all_zero(&e, sizeof(e)), "entry not cleared after %s",
                   hsmssp_err_name(ret));
    }

    /* The key-id parser on the same bytes. */
    if (kerb_tktfile_key_id_endtime(data, size, &endtime)) {
        uint8_t id[KERB_TKTFILE_KEY_ID_LEN];
        size_t len = 0;

        FUZZ_CHECK(size == KERB_TKTFILE_KEY_ID_LEN &&
                       memcmp(data, KERB_TKTFILE_ID_PREFIX,
                              KERB_TKTFILE_ID_PREFIX_LEN) == 0,
                   "accepted a key-id of %zu bytes", size);
        FUZZ_CHECK(kerb_tktfile_make_key_id(endtime, id, sizeof(id), &len) ==
                           HSMSSP_OK &&
                       len == sizeof(id) && memcmp(id, data, 16) == 0,
                   "endtime %lld does not rebuild the ID", (long long)endtime);
    } else {
        FUZZ_CHECK(endtime == 0, "endtime left at %lld", (long long)endtime);
    }
    return 0;
}
