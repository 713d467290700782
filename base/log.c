/*
 * base/log.c - the log callback and the HSMSSP_TRACE file.
 *
 * The callback and its level are process-wide, set by the application
 * (hsmssp_set_log_callback).  HSMSSP_TRACE is read once, at the first
 * event; its file is opened in append mode with O_CLOEXEC and each line is
 * written with one write(2) so that lines of concurrent processes do not
 * interleave.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static hsmssp_log_fn log_fn;
static void *log_ctx;
static hsmssp_log_level log_max = HSMSSP_LOG_WARNING;

static pthread_once_t trace_once = PTHREAD_ONCE_INIT;
static int trace_fd = -1;

static void
trace_open(void)
{
    const char *path = secure_getenv("HSMSSP_TRACE");
    if (path != NULL && *path != '\0')
        trace_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                        0600);
}

void
hsmssp_set_log_callback(hsmssp_log_fn fn, void *ctx,
                        hsmssp_log_level max_level)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_ctx = ctx;
    log_max = max_level;
    pthread_mutex_unlock(&log_lock);
}

bool
base_log_enabled(hsmssp_log_level level)
{
    bool on;

    pthread_once(&trace_once, trace_open);
    pthread_mutex_lock(&log_lock);
    on = (log_fn != NULL && level <= log_max) || trace_fd >= 0;
    pthread_mutex_unlock(&log_lock);
    return on;
}

static const char *const level_names[] = {"error", "warning", "info",
                                          "debug"};

void
base_log(hsmssp_log_level level, const char *subsystem, const char *fmt, ...)
{
    char line[768];
    hsmssp_log_fn fn;
    void *ctx;
    va_list ap;

    if (!base_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&log_lock);
    fn = (level <= log_max) ? log_fn : NULL;
    ctx = log_ctx;
    pthread_mutex_unlock(&log_lock);
    if (fn != NULL)
        fn(ctx, level, subsystem, line);

    if (trace_fd >= 0) {
        char out[896];
        struct timespec ts;
        int n;

        clock_gettime(CLOCK_REALTIME, &ts);
        n = snprintf(out, sizeof(out), "[%ld] %lld.%06ld %s %s: %s\n",
                     (long)getpid(), (long long)ts.tv_sec,
                     ts.tv_nsec / 1000, level_names[level & 3], subsystem,
                     line);
        if (n > 0) {
            size_t len = (size_t)n < sizeof(out) ? (size_t)n
                                                 : sizeof(out) - 1;
            ssize_t w;
            /* A cut record still ends its line, or the next event would
             * be glued to it. */
            out[len - 1] = '\n';
            w = write(trace_fd, out, len);
            (void)w;
        }
    }
}
