/*
 * tests/fuzz/seedgen.c - writes the seed corpus of the Kerberos decryption
 * fuzz targets (fuzz_krb_decrypt, fuzz_token_decrypt) into a directory.
 * Run by tests/fuzz/make-seeds.sh; the output is committed under
 * tests/fuzz/corpus/.
 *
 *   fuzz_seedgen OUTDIR
 *
 * Seeds follow fuzzcommon.h and use the targets' fixed keys and a fixed
 * confounder, so the output is the same at every run.  For each etype:
 *  - genuine ciphertexts (krbsw_encrypt) of 0, 1, 16 and 33 plaintext
 *    bytes, under different usages so every usage slot is seeded;
 *  - the 33-byte one truncated by one byte and cut to one byte below the
 *    enctype's overhead (BAD_CIPHERTEXT), and with one bit flipped in its
 *    checksum (INTEGRITY);
 *  - the selector alone (an empty ciphertext);
 *  - two synthesised-mode inputs, untouched and tampered.
 * Plus one empty file.  Starting from genuine ciphertexts matters: the
 * fuzzer can then mutate around the integrity check's success path, which
 * random bytes never reach.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "hsm/krbsw.h"
#include "swref.h"

static const char *sg_dir;
static unsigned sg_count;

/* Writes selector || body[0..len) to OUTDIR/name; exits on failure (a
 * tool, not library code). */
static void
put(const char *name, int has_sel, uint8_t sel, const uint8_t *body,
    size_t len)
{
    char path[4096];
    FILE *f;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", sg_dir, name) >=
        sizeof(path)) {
        fprintf(stderr, "seedgen: path too long\n");
        exit(1);
    }
    f = fopen(path, "wb");
    if (f == NULL || (has_sel && fputc(sel, f) == EOF) ||
        (len > 0 && fwrite(body, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "seedgen: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    sg_count++;
}

/* A readable plaintext pattern of len bytes. */
static void
plaintext(uint8_t *p, size_t len, size_t salt)
{
    static const char text[] = "hsmssp fuzz seed plaintext, RFC 3961 ";

    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)text[(i + salt) % (sizeof(text) - 1)];
}

static void
etype_seeds(size_t ei)
{
    static const size_t lens[] = {0, 1, 16, 33};
    int32_t etype = fuzz_etype_at(ei);
    const uint8_t *key = fuzz_sw_key(ei)->data;
    uint8_t conf[16], plain[64], ct[128], synth[2 + 8];
    size_t over = 0, n = 0, ui = 0;
    char name[96];
    hsmssp_err ret;

    fuzz_confounder(conf);
    if (krbsw_enc_len(etype, 0, &over) != HSMSSP_OK) {
        fprintf(stderr, "seedgen: etype %d unknown\n", (int)etype);
        exit(1);
    }
    for (size_t i = 0; i < BASE_ARRAY_LEN(lens); i++) {
        /* Usage slots 0..7 spread over the five etypes' four lengths. */
        ui = (ei * BASE_ARRAY_LEN(lens) + i) % FUZZ_N_USAGES;
        plaintext(plain, lens[i], ei);
        ret = krbsw_encrypt(etype, key, fuzz_usage_at(ui), conf, plain,
                            lens[i], ct, &n);
        if (ret != HSMSSP_OK) {
            fprintf(stderr, "seedgen: krbsw_encrypt %d: %s\n", (int)etype,
                    hsmssp_err_name(ret));
            exit(1);
        }
        snprintf(name, sizeof(name), "e%d-u%d-valid-p%zu", (int)etype,
                 (int)fuzz_usage_at(ui), lens[i]);
        put(name, 1, fuzz_selector(ei, ui, false), ct, n);
    }
    /* ct, n and ui still hold the 33-byte case. */
    snprintf(name, sizeof(name), "e%d-truncated-by-1", (int)etype);
    put(name, 1, fuzz_selector(ei, ui, false), ct, n - 1);
    snprintf(name, sizeof(name), "e%d-below-overhead", (int)etype);
    put(name, 1, fuzz_selector(ei, ui, false), ct, over - 1);
    /* The checksum is last for AES, first for RC4-HMAC. */
    ct[etype == 23 ? 0 : n - 1] ^= 0x01;
    snprintf(name, sizeof(name), "e%d-bad-checksum", (int)etype);
    put(name, 1, fuzz_selector(ei, ui, false), ct, n);
    snprintf(name, sizeof(name), "e%d-empty", (int)etype);
    put(name, 1, fuzz_selector(ei, 0, false), NULL, 0);

    /* Synthesised: tamper word 0 (none), then one that flips bit 1 of
     * byte 2. */
    plaintext(synth + 2, 8, ei);
    synth[0] = 0;
    synth[1] = 0;
    snprintf(name, sizeof(name), "e%d-synth", (int)etype);
    put(name, 1, fuzz_selector(ei, ei + 1, true), synth, sizeof(synth));
    synth[1] = (uint8_t)((2u << 3) | 1u);
    snprintf(name, sizeof(name), "e%d-synth-tampered", (int)etype);
    put(name, 1, fuzz_selector(ei, ei + 1, true), synth, sizeof(synth));
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    sg_dir = argv[1];
    fuzz_sw_init();
    put("empty", 0, 0, NULL, 0);
    for (size_t ei = 0; ei < FUZZ_N_ETYPES; ei++)
        etype_seeds(ei);
    printf("seedgen: %u seeds in %s\n", sg_count, sg_dir);
    return 0;
}
