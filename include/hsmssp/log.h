/*
 * hsmssp/log.h - how hsmssp tells an operator what happened.
 *
 * Library code never writes to stdout or stderr.  Events (token faults,
 * policy refusals, recoveries, later authentication results) go to one
 * process-wide callback, and, when the environment variable HSMSSP_TRACE
 * names a file, are also appended there, one line each (the equivalent of
 * KRB5_TRACE).  No event ever carries a PIN, key bytes, a hash of a key,
 * a ticket or a password, at any level.
 */
#ifndef HSMSSP_LOG_H
#define HSMSSP_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef HSMSSP_API
#define HSMSSP_API __attribute__((visibility("default")))
#endif

typedef enum hsmssp_log_level {
    HSMSSP_LOG_ERROR = 0,
    HSMSSP_LOG_WARNING = 1,
    HSMSSP_LOG_INFO = 2,
    HSMSSP_LOG_DEBUG = 3
} hsmssp_log_level;

/* Receives one event: its level, the subsystem ("hsm", "base" ...) and a
 * line without a trailing newline.  May be called from any thread; must
 * not call back into hsmssp. */
typedef void (*hsmssp_log_fn)(void *ctx, hsmssp_log_level level,
                              const char *subsystem, const char *line);

/* Installs fn (NULL removes it) and the most verbose level it wants.
 * Thread-safe. */
HSMSSP_API void hsmssp_set_log_callback(hsmssp_log_fn fn, void *ctx,
                                        hsmssp_log_level max_level);

#ifdef __cplusplus
}
#endif
#endif
