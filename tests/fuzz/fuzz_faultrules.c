/*
 * tests/fuzz/fuzz_faultrules.c - libFuzzer target for the rules parser of
 * the fault-injecting PKCS#11 module (tests/common/faultmod.c).
 *
 * Why: the rules come from environment variables, a file re-read while
 * tests run, and hsmssp_fault_set_rules(); a parser that crashes or
 * misreads a rule turns a fault test into a false pass or a false
 * failure.  hsmssp_fault_set_rules() (faultmod.h) parses a rule text on
 * its own, without a real module behind it, so faultmod.c is compiled
 * into this executable and the parser is reached through that function.
 *
 * Input: the rule text (cut at the first NUL, as a C string is).
 * Checked on every input:
 *  - the result is -1 (some item malformed) or a rule count no larger than
 *    the number of items (';'- or newline-separated pieces);
 *  - parsing is deterministic: the same text again gives the same result;
 *  - the call counters restart at zero whenever the rules change;
 *  - clearing the rules ("") leaves none.
 * Malformed rules are reported by faultmod on stderr: expected noise.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "faultmod.h"
#include "fuzzcommon.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Only the rules given here may count: the environment's rules are
     * read by C_GetFunctionList/C_Initialize, which this target never
     * calls, but unset them anyway so a stray variable changes nothing. */
    unsetenv("HSMSSP_FAULT_RULES");
    unsetenv("HSMSSP_FAULT_RULES_FILE");
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hsmssp_fault_stats st;
    size_t items = 1;
    char *text;
    int n, again;

    /* An exact-size copy plus the terminator: an over-read of the text by
     * the parser shows as an ASan report. */
    text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    for (const char *p = text; *p != '\0'; p++)
        if (*p == ';' || *p == '\n')
            items++;

    n = hsmssp_fault_set_rules(text);
    FUZZ_CHECK(n >= -1, "result %d", n);
    FUZZ_CHECK(n == -1 || (size_t)n <= items, "%d rules from %zu items", n,
               items);
    hsmssp_fault_get_stats(&st);
    FUZZ_CHECK(st.calls == 0, "%lu calls counted after a rules change",
               st.calls);
    FUZZ_CHECK(hsmssp_fault_call_count("C_Encrypt") == 0,
               "C_Encrypt counter not restarted");
    again = hsmssp_fault_set_rules(text);
    FUZZ_CHECK(again == n, "the same text gave %d then %d rules", n, again);
    n = hsmssp_fault_set_rules("");
    FUZZ_CHECK(n == 0, "%d rules left after clearing", n);
    free(text);
    return 0;
}
