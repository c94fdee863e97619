/* err.c — struct fabc_err helpers. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void fabc_err_clear(struct fabc_err *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

int fabc_err_set(struct fabc_err *err, enum fabc_errcode code, long lib_code,
                 const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return -1;
    err->code = code;
    err->lib_code = lib_code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

void fabc_err_prefix(struct fabc_err *err, const char *fmt, ...)
{
    char head[512], old[sizeof(((struct fabc_err *)0)->msg)];
    va_list ap;

    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", head, old);
}

void fabc_err_host(struct fabc_err *err, const char *host)
{
    if (err && host)
        snprintf(err->host, sizeof(err->host), "%s", host);
}

void fabc_err_pos(struct fabc_err *err, const char *file, int line,
                  int column)
{
    if (!err)
        return;
    if (file)
        snprintf(err->file, sizeof(err->file), "%s", file);
    err->line = line;
    err->column = column;
}

const char *fabc_err_code_name(enum fabc_errcode code)
{
    switch (code) {
    case FABC_E_OK: return "ok";
    case FABC_E_CONNECT: return "connect";
    case FABC_E_HOSTKEY: return "hostkey";
    case FABC_E_AUTH: return "auth";
    case FABC_E_EXEC: return "exec";
    case FABC_E_SFTP: return "sftp";
    case FABC_E_HTTP: return "http";
    case FABC_E_TIMEOUT: return "timeout";
    case FABC_E_CONFIG: return "config";
    case FABC_E_TEMPLATE: return "template";
    case FABC_E_USAGE: return "usage";
    case FABC_E_OS: return "os";
    case FABC_E_NOMEM: return "nomem";
    case FABC_E_INTERRUPTED: return "interrupted";
    case FABC_E_GENERIC: return "error";
    }
    return "error";
}
