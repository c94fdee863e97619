/* local.h — run a local command: posix_spawn, stdout/stderr through
 * pipes (captured, and streamed line-atomically if asked), exit status or
 * signal, deadline, cancellation (Ctrl-C). Python-free. */
#ifndef FABC_LOCAL_H
#define FABC_LOCAL_H

#include <stdint.h>

#include "err.h"
#include "util.h"

struct fabc_local_opts {
    const char *shell;     /* e.g. "/bin/sh"; run as shell -c command */
    const char *command;
    const char *cwd;       /* NULL: inherit */
    char *const *env_set;  /* NULL-terminated "K=V" added/overriding */
    int stream;            /* print output lines as they come */
    const char *label;     /* prefix for streamed lines, NULL/"" none */
    int64_t timeout_ms;    /* <= 0: none */
    int stdin_null;        /* give the command /dev/null as stdin */
};

struct fabc_local_result {
    int exit_status;       /* -1 if killed by a signal */
    int term_signal;       /* 0 if it exited */
    struct fabc_buf out, err;
    int64_t elapsed_ms;
};

/* Run it and wait. Returns 0 when the command ran to an end (whatever its
 * exit status), -1 with err set when it could not be started
 * (FABC_E_OS), timed out (FABC_E_TIMEOUT, the process group killed) or
 * was cancelled (FABC_E_INTERRUPTED). The result buffers are filled in
 * every case; release them with fabc_local_result_free(). Blocks: call
 * without the GIL. */
int fabc_local_run(const struct fabc_local_opts *opts,
                   struct fabc_local_result *res, struct fabc_err *err);
void fabc_local_result_free(struct fabc_local_result *res);

#endif
