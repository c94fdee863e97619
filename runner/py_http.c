/* py_http.c — HTTP checks for tasks (libcurl multi, GIL released).
 *
 *   _fabc.http_check_many(urls, expect=0, timeout=10.0, insecure=False,
 *                         cacert=None, cert=None, key=None)
 *       -> list, one item per url: (status, body bytes, headers text,
 *          elapsed) or the exception object for that url
 *
 * cacert (the CA bundle that replaces the system's), cert and key (a
 * client certificate and its key) are paths: str, bytes or os.PathLike.
 *
 * fabc/http.py builds get() and check_many() with Response objects on it.
 */
#include "py_module.h"

#include <string.h>

#include "rest.h"

/* The exception fabc_py_raise would raise for err, as an object. */
static PyObject *exception_for(struct fabc_state *st,
                               const struct fabc_err *err)
{
    PyObject *type = NULL, *value = NULL, *tb = NULL;

    fabc_py_raise(st, err);
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* A C copy (fabc_free) of path argument `o` into *out; None leaves *out
 * NULL. 0, or -1 with TypeError (not a path) or ValueError (empty, or a
 * NUL byte) set. */
static int copy_path(PyObject *o, const char *name, char **out)
{
    PyObject *fs = NULL, *bytes = NULL;
    int ret = -1;

    if (o == Py_None)
        return 0;
    fs = PyOS_FSPath(o);
    if (!fs) {
        if (PyErr_ExceptionMatches(PyExc_TypeError))
            PyErr_Format(PyExc_TypeError,
                         "http_check_many: %s must be str, bytes or "
                         "os.PathLike, not %.100s", name,
                         Py_TYPE(o)->tp_name);
        goto out;
    }
    if (!PyUnicode_FSConverter(fs, &bytes))
        goto out;
    if (PyBytes_GET_SIZE(bytes) == 0) {
        PyErr_Format(PyExc_ValueError, "http_check_many: %s is empty",
                     name);
        goto out;
    }
    *out = fabc_strdup(PyBytes_AS_STRING(bytes));
    if (!*out) {
        PyErr_NoMemory();
        goto out;
    }
    ret = 0;
out:
    Py_XDECREF(fs);
    Py_XDECREF(bytes);
    return ret;
}

static PyObject *py_http_check_many(PyObject *self, PyObject *args,
                                    PyObject *kw)
{
    static char *kwlist[] = {"urls", "expect", "timeout", "insecure",
                             "cacert", "cert", "key", NULL};
    struct fabc_state *st = fabc_py_state(self);
    PyObject *urls, *seq = NULL, *list = NULL, *ret = NULL;
    PyObject *cacert_o = Py_None, *cert_o = Py_None, *key_o = Py_None;
    struct fabc_rest_check *items = NULL;
    char *cacert = NULL, *cert = NULL, *key = NULL;
    struct fabc_rest_tls tls = {0};
    long expect = 0;
    double timeout = 10.0;
    int insecure = 0, rc;
    struct fabc_err err;
    Py_ssize_t n = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|ldpOOO:http_check_many",
                                     kwlist, &urls, &expect, &timeout,
                                     &insecure, &cacert_o, &cert_o, &key_o))
        return NULL;
    if (copy_path(cacert_o, "cacert", &cacert) < 0 ||
        copy_path(cert_o, "cert", &cert) < 0 ||
        copy_path(key_o, "key", &key) < 0)
        goto out;
    tls.insecure = insecure;
    tls.cacert = cacert;
    tls.cert = cert;
    tls.key = key;
    seq = PySequence_Fast(urls, "http_check_many: urls must be a sequence");
    if (!seq)
        goto out;
    n = PySequence_Fast_GET_SIZE(seq);
    items = fabc_calloc((size_t)n + 1, sizeof(*items));
    if (!items) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *u = PySequence_Fast_GET_ITEM(seq, i);
        const char *utf8;

        if (!PyUnicode_Check(u)) {
            PyErr_SetString(PyExc_TypeError,
                            "http_check_many: every url must be a str");
            goto out;
        }
        /* a C copy: the list may change while the GIL is released */
        utf8 = PyUnicode_AsUTF8(u);
        if (!utf8)
            goto out;
        items[i].url = fabc_strdup(utf8);
        if (!items[i].url) {
            PyErr_NoMemory();
            goto out;
        }
    }
    fabc_err_clear(&err);
    Py_BEGIN_ALLOW_THREADS
    rc = fabc_rest_check_many(items, (size_t)n, expect,
                              (long)(timeout * 1000.0), &tls, &err);
    Py_END_ALLOW_THREADS
    if (fabc_py_check_signals() < 0)
        goto out;
    if (rc < 0) {
        fabc_py_raise(st, &err);
        goto out;
    }
    list = PyList_New(n);
    if (!list)
        goto out;
    for (Py_ssize_t i = 0; i < n; i++) {
        struct fabc_rest_check *it = &items[i];
        PyObject *v;

        if (it->err.code != FABC_E_OK)
            v = exception_for(st, &it->err);
        else
            v = Py_BuildValue("(ly#s#d)", it->status,
                              it->body.data ? it->body.data : "",
                              (Py_ssize_t)it->body.len,
                              it->headers.data ? it->headers.data : "",
                              (Py_ssize_t)it->headers.len, it->elapsed);
        if (!v)
            goto out;
        PyList_SET_ITEM(list, i, v);
    }
    ret = list;
    list = NULL;
out:
    if (items) {
        fabc_rest_check_free(items, (size_t)n);
        for (Py_ssize_t i = 0; i < n; i++)
            fabc_free((char *)items[i].url);
    }
    fabc_free(items);
    fabc_free(cacert);
    fabc_free(cert);
    fabc_free(key);
    Py_XDECREF(seq);
    Py_XDECREF(list);
    return ret;
}

static PyMethodDef http_functions[] = {
    {"http_check_many", (PyCFunction)(void (*)(void))py_http_check_many,
     METH_VARARGS | METH_KEYWORDS,
     "http_check_many(urls, expect=0, timeout=10.0, insecure=False, "
     "cacert=None, cert=None, key=None) -> list\n\nGET every url "
     "concurrently; each item is (status, body, headers, elapsed) or the "
     "exception for that url. cacert, cert and key are paths (str or "
     "os.PathLike)."},
    {NULL, NULL, 0, NULL}};

int fabc_py_http_exec(PyObject *m, struct fabc_state *st)
{
    (void)st;
    return PyModule_AddFunctions(m, http_functions);
}
