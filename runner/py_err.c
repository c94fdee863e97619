/* py_err.c — the only converter from struct fabc_err to Python
 * exceptions (the _pysqlite_seterror pattern). */
#include "py_module.h"

static PyObject *class_for(struct fabc_state *st, enum fabc_errcode code)
{
    switch (code) {
    case FABC_E_CONNECT: return st->ConnectionError;
    case FABC_E_HOSTKEY: return st->HostKeyError;
    case FABC_E_AUTH: return st->AuthError;
    case FABC_E_EXEC: return st->CommandError;
    case FABC_E_SFTP: return st->TransferError;
    case FABC_E_HTTP: return st->CloudError;
    case FABC_E_TIMEOUT: return st->TimeoutError;
    case FABC_E_CONFIG: return st->ConfigError;
    case FABC_E_TEMPLATE: return st->TemplateError;
    case FABC_E_USAGE: return PyExc_ValueError;
    case FABC_E_OS: return PyExc_OSError;
    case FABC_E_INTERRUPTED: return PyExc_KeyboardInterrupt;
    case FABC_E_OK:
    case FABC_E_NOMEM:
    case FABC_E_GENERIC: break;
    }
    return st->Error;
}

static int set_str(PyObject *exc, const char *name, const char *value)
{
    PyObject *v;
    int rc;

    if (value && *value)
        v = PyUnicode_DecodeUTF8(value, (Py_ssize_t)strlen(value),
                                 "replace");
    else
        v = Py_NewRef(Py_None);
    if (!v)
        return -1;
    rc = PyObject_SetAttrString(exc, name, v);
    Py_DECREF(v);
    return rc;
}

static int set_long(PyObject *exc, const char *name, long value)
{
    PyObject *v = PyLong_FromLong(value);
    int rc;

    if (!v)
        return -1;
    rc = PyObject_SetAttrString(exc, name, v);
    Py_DECREF(v);
    return rc;
}

PyObject *fabc_py_raise(struct fabc_state *st, const struct fabc_err *err)
{
    PyObject *cls, *msg = NULL, *exc = NULL;

    if (err->code == FABC_E_NOMEM)
        return PyErr_NoMemory();
    if (err->code == FABC_E_INTERRUPTED) {
        PyErr_SetNone(PyExc_KeyboardInterrupt);
        return NULL;
    }
    cls = class_for(st, err->code);
    msg = PyUnicode_DecodeUTF8(err->msg, (Py_ssize_t)strlen(err->msg),
                               "replace");
    if (!msg)
        goto out;
    if (err->code == FABC_E_OS)
        exc = PyObject_CallFunction(cls, "lO", err->lib_code, msg);
    else
        exc = PyObject_CallOneArg(cls, msg);
    if (!exc)
        goto out;
    if (set_str(exc, "host", err->host) < 0
        || set_str(exc, "code_name", fabc_err_code_name(err->code)) < 0
        || set_long(exc, "lib_code", err->lib_code) < 0
        || set_long(exc, "status", err->status) < 0
        || set_str(exc, "file", err->file) < 0
        || set_long(exc, "line", err->line) < 0
        || set_long(exc, "column", err->column) < 0
        || set_str(exc, "method", err->method) < 0
        || set_str(exc, "url", err->url) < 0
        || set_str(exc, "request_id", err->request_id) < 0)
        goto out;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
out:
    Py_XDECREF(msg);
    Py_XDECREF(exc);
    return NULL;
}
