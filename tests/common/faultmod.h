/*
 * tests/common/faultmod.h - the control surface of hsmssp_faultmod.so, the
 * fault-injecting PKCS#11 module used by tests/hsm/test_faults.c.
 *
 * The module exports C_GetFunctionList (PKCS#11 v2.40) and forwards every
 * one of the 68 v2.40 functions to a real module, except the calls that a
 * rule tells it to fail.  Configuration, read when C_GetFunctionList and
 * C_Initialize run:
 *
 *   HSMSSP_FAULT_TARGET      path of the real module (dlopen).  Missing or
 *                            unloadable: C_GetFunctionList fails with
 *                            CKR_GENERAL_ERROR, so the loader reports that
 *                            the module cannot be loaded.
 *   HSMSSP_FAULT_RULES       rules, e.g.
 *       "C_Login:1=CKR_PIN_LOCKED;C_Encrypt:3-=CKR_DEVICE_REMOVED;
 *        C_Sign:2=CKR_SESSION_HANDLE_INVALID;C_DeriveKey:*=0x5"
 *   HSMSSP_FAULT_RULES_FILE  a file of rules in the same syntax, re-read at
 *                            every call when its mtime, size or inode
 *                            changed (replace it with rename(2) to change
 *                            it atomically); a missing file holds no rules.
 *   HSMSSP_FAULT_EMULATE     "0" turns off the side effects below.
 *   HSMSSP_FAULT_DEBUG       "1" traces every call (and injection) to stderr.
 *
 * A rule "hide:MECH" (MECH a CKM_ name hsmssp uses, or a number) makes
 * the token lack that mechanism outright: C_GetMechanismList leaves it
 * out, and C_GetMechanismInfo and every call given a CK_MECHANISM of that
 * type (the *Init functions, C_DeriveKey, C_WrapKey, C_UnwrapKey,
 * C_GenerateKey*) answer CKR_MECHANISM_INVALID.  Hiding takes effect
 * for the probe when the rule is there before the token is opened.
 *
 * The rule "lag:C_DecryptUpdate" makes the token return decrypted data
 * one block late: each C_DecryptUpdate keeps the last 16 bytes of its
 * output back and gives them at the next update or at C_DecryptFinal, as
 * tokens do for padded mechanisms (and some for every block mode).
 *
 * Rule syntax: FUNCTION ":" WHEN "=" CODE, separated by ';' or newlines;
 * '#' starts a comment up to the end of the line.  FUNCTION is a PKCS#11
 * function name or "*" (every function).  WHEN counts the calls of that
 * function, 1-based: "N" the Nth call only, "N-" the Nth and every later
 * call, "N-M" calls N to M, "*" every call.  CODE is a CKR_ name, a hex
 * number with 0x, or a decimal number.  The first matching rule wins; a
 * failed call never reaches the real module.  Call counters restart from
 * zero whenever the set of rules changes.
 *
 * Emulation (on by default): real tokens lose state when these errors
 * happen, so the module makes the real module lose it too.  Injecting
 * CKR_DEVICE_REMOVED or CKR_TOKEN_NOT_PRESENT closes every real session
 * this module has seen opened (their session objects die and the login
 * is lost, as after a removal); injecting CKR_SESSION_HANDLE_INVALID on a
 * session call closes that real session; injecting CKR_USER_NOT_LOGGED_IN
 * on a session call logs the application out (C_Logout); injecting
 * CKR_CRYPTOKI_NOT_INITIALIZED finalises the real module (every session
 * and session object gone), and every later call but C_Initialize and
 * C_Finalize answers CKR_CRYPTOKI_NOT_INITIALIZED until the caller
 * initialises the module again, as when another component of the process
 * called C_Finalize.
 *
 * The functions below are exported for tests, which reach them with
 * dlopen(path, RTLD_NOW | RTLD_NOLOAD) + dlsym on the already loaded
 * module.  They are thread-safe.
 */
#ifndef HSMSSP_FAULTMOD_H
#define HSMSSP_FAULTMOD_H

/* Counters of the module as a whole. */
struct hsmssp_fault_stats {
    unsigned long calls;           /* calls since the rules last changed */
    unsigned long injected;        /* faults injected since the load */
    unsigned long open_sessions;   /* real sessions open right now */
    unsigned long session_objects; /* session objects created and alive */
    unsigned long token_objects;   /* CKA_TOKEN objects created, not
                                      destroyed, by handle: after a
                                      re-login the same object may be
                                      destroyed under a new handle */
    unsigned long emulated_closes; /* real sessions closed by emulation */
    int initialized;               /* real module initialised through us */
};

/* Fills *out. */
void hsmssp_fault_get_stats(struct hsmssp_fault_stats *out);
typedef void (*hsmssp_fault_get_stats_fn)(struct hsmssp_fault_stats *out);

/* Calls of one function ("C_Encrypt") since the rules last changed; 0 for
 * an unknown name. */
unsigned long hsmssp_fault_call_count(const char *function);
typedef unsigned long (*hsmssp_fault_call_count_fn)(const char *function);

/* Sets rules that apply in addition to those of HSMSSP_FAULT_RULES and of
 * the rules file, replacing the previous call's (NULL or "" for none),
 * and restarts the counters.  Returns the number of rules now in effect,
 * or -1 when one of them is malformed (the others still apply). */
int hsmssp_fault_set_rules(const char *rules);
typedef int (*hsmssp_fault_set_rules_fn)(const char *rules);

#endif
