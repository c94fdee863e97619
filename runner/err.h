/* err.h — the one error record every fallible fabc function fills.
 *
 * Functions return 0/-1 (or a pointer/NULL) and describe the failure in a
 * caller-supplied struct fabc_err: a code, the foreign library's own code,
 * where it happened and a message "what failed, where, and the library's
 * words". Messages never contain passwords or tokens.
 *
 * The struct is plain C, fixed size, so it can be filled on any thread
 * without the GIL. py_err.c is the only place turning it into an exception.
 */
#ifndef FABC_ERR_H
#define FABC_ERR_H

#include <stddef.h>

enum fabc_errcode {
    FABC_E_OK = 0,
    FABC_E_CONNECT,     /* fabc.ConnectionError */
    FABC_E_HOSTKEY,     /* fabc.HostKeyError */
    FABC_E_AUTH,        /* fabc.AuthError */
    FABC_E_EXEC,        /* fabc.CommandError */
    FABC_E_SFTP,        /* fabc.Error (file transfer) */
    FABC_E_HTTP,        /* fabc.CloudError */
    FABC_E_TIMEOUT,     /* fabc.TimeoutError */
    FABC_E_CONFIG,      /* fabc.ConfigError */
    FABC_E_TEMPLATE,    /* fabc.TemplateError */
    FABC_E_USAGE,       /* ValueError: bad argument from the caller */
    FABC_E_OS,          /* OSError: lib_code is errno */
    FABC_E_NOMEM,       /* MemoryError */
    FABC_E_INTERRUPTED, /* KeyboardInterrupt */
    FABC_E_GENERIC      /* fabc.Error */
};

struct fabc_err {
    enum fabc_errcode code;
    long lib_code;        /* libssh2 rc, CURLcode, errno, ... */
    int status;           /* HTTP status or command exit status, else 0 */
    int line, column;     /* 1-based position in `file`, 0 if none */
    char host[256];       /* host the failure belongs to, "" if none */
    char file[1024];      /* file (config, template, task), "" if none */
    char method[16];      /* HTTP method for FABC_E_HTTP */
    char url[1024];       /* HTTP URL for FABC_E_HTTP (no credentials) */
    char request_id[128]; /* x-openstack-request-id, "" if none */
    char msg[2048];       /* the human message */
};

/* Reset to FABC_E_OK with every field empty. */
void fabc_err_clear(struct fabc_err *err);

/* Set code, library code and a printf-style message; other fields are left
 * as they are. Always returns -1 so callers can `return fabc_err_set(...)`.
 * `err` may be NULL (then nothing is recorded). */
int fabc_err_set(struct fabc_err *err, enum fabc_errcode code, long lib_code,
                 const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prepend "prefix: " to the message already recorded. */
void fabc_err_prefix(struct fabc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record the host / file position the failure belongs to. */
void fabc_err_host(struct fabc_err *err, const char *host);
void fabc_err_pos(struct fabc_err *err, const char *file, int line,
                  int column);

/* Name of a code as shown to users ("connect", "auth", ...). */
const char *fabc_err_code_name(enum fabc_errcode code);

#endif
