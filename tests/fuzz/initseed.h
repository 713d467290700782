/*
 * tests/fuzz/initseed.h - the seed writer of fuzz_init_reply
 * (initseed.c).  tests/kdc/test_init.c is built a second time, as
 * fuzz_init_seedgen, with HSMSSP_INIT_SEEDS defined and the KDC transport
 * wrapped at link time (-Wl,--wrap=kerb_kdc_send): every reply of the
 * realm's KDC is recorded on its way to the initiator, and the test hands
 * every acceptor reply it feeds to InitializeSecurityContextA to
 * initseed_reply().  When the suite is done, initseed_write() decrypts
 * what it can (the account's keytab and password keys open the AS-REPs,
 * their session keys the TGS-REPs, theirs the AP-REPs), overwrites the
 * key bytes inside the plaintexts with the fixed keys, and writes the
 * inputs (initreply.h) with some edge cases derived from them.
 *
 *   fuzz_init_seedgen OUTDIR     (HSMSSP_REALM_ENV names the realm)
 */
#ifndef HSMSSP_INITSEED_H
#define HSMSSP_INITSEED_H

#include <stddef.h>
#include <stdint.h>

#include "hsmssp/sspi.h"

/* Where the seeds go; call before anything is recorded. */
void initseed_begin(const char *dir);

/* The acceptor's reply tok (an AP-REP or a KRB-ERROR) for the waiting
 * initiator context ictx; origin names the acceptor ("hsmssp", "mit"). */
void initseed_reply(CtxtHandle *ictx, const uint8_t *tok, size_t len,
                    const char *origin);

/* Writes the seeds; 0 on success, after printing how many. */
int initseed_write(void);

#endif
