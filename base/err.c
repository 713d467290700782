/*
 * base/err.c - the tables generated from HSMSSP_ERR_LIST and the
 * thread-local record of the last error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"

struct err_entry {
    hsmssp_err code;
    hsmssp_err_category cat;
    const char *name;
    const char *message;
};

static const struct err_entry err_table[] = {
#define ERR_ROW_(name, num, cat, msg) {name, HSMSSP_CAT_##cat, #name, msg},
    HSMSSP_ERR_LIST(ERR_ROW_)
#undef ERR_ROW_
};

/* Lookup is linear: the list is short and errors are not a hot path. */
static const struct err_entry *
find(hsmssp_err err)
{
    for (size_t i = 0; i < BASE_ARRAY_LEN(err_table); i++)
        if (err_table[i].code == err)
            return &err_table[i];
    return NULL;
}

const char *
hsmssp_err_name(hsmssp_err err)
{
    const struct err_entry *e = find(err);
    return e ? e->name : "unknown";
}

const char *
hsmssp_err_message(hsmssp_err err)
{
    const struct err_entry *e = find(err);
    return e ? e->message : "unknown error";
}

hsmssp_err_category
hsmssp_err_category_of(hsmssp_err err)
{
    const struct err_entry *e = find(err);
    return e ? e->cat : HSMSSP_CAT_INTERNAL;
}

const char *
hsmssp_err_category_name(hsmssp_err_category cat)
{
    switch (cat) {
    case HSMSSP_CAT_USAGE:
        return "usage";
    case HSMSSP_CAT_TOKEN:
        return "token";
    case HSMSSP_CAT_PROTOCOL:
        return "protocol";
    case HSMSSP_CAT_POLICY:
        return "policy";
    case HSMSSP_CAT_INTERNAL:
        return "internal";
    }
    return "internal";
}

/* Per-thread record.  The detail line is bounded; longer details are cut. */
static _Thread_local struct {
    hsmssp_err code;
    char detail[512];
    char location[128];
} last;

hsmssp_err
base_err_raise(hsmssp_err err, const char *file, int line, const char *fmt,
               ...)
{
    const char *base = strrchr(file, '/');
    int n;

    last.code = err;
    snprintf(last.location, sizeof(last.location), "%s:%d",
             base ? base + 1 : file, line);
    n = snprintf(last.detail, sizeof(last.detail), "%s",
                 hsmssp_err_message(err));
    if (fmt != NULL && n > 0 && (size_t)n + 2 < sizeof(last.detail)) {
        va_list ap;
        last.detail[n++] = ':';
        last.detail[n++] = ' ';
        va_start(ap, fmt);
        vsnprintf(last.detail + n, sizeof(last.detail) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return err;
}

void
base_err_clear(void)
{
    last.code = HSMSSP_OK;
    last.detail[0] = '\0';
    last.location[0] = '\0';
}

hsmssp_err
hsmssp_last_error(void)
{
    return last.code;
}

const char *
hsmssp_last_error_detail(void)
{
    if (last.code == HSMSSP_OK)
        return "success";
    return last.detail;
}

const char *
hsmssp_last_error_location(void)
{
    return last.location;
}
