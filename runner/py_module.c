/* py_module.c — the _fabc built-in module: exec slot, module state,
 * exception hierarchy, and the few core functions (output, cancel). */
#include "py_module.h"

#include "out.h"
#include "util.h"

/* Subsystem exec functions are weak: a subsystem that is not linked in
 * simply adds nothing. */
#pragma weak fabc_py_local_exec
#pragma weak fabc_py_config_exec
#pragma weak fabc_py_template_exec
#pragma weak fabc_py_ssh_exec
#pragma weak fabc_py_cloud_exec
#pragma weak fabc_py_http_exec

struct fabc_state *fabc_py_state(PyObject *module)
{
    return (struct fabc_state *)PyModule_GetState(module);
}

int fabc_py_check_signals(void)
{
    if (PyErr_CheckSignals() < 0)
        return -1;
    if (fabc_cancelled()) {
        PyErr_SetNone(PyExc_KeyboardInterrupt);
        return -1;
    }
    return 0;
}

static PyObject *mod_out_raw(PyObject *self, PyObject *args)
{
    int fd;
    const char *text;
    Py_ssize_t len;

    (void)self;
    if (!PyArg_ParseTuple(args, "is#:out_raw", &fd, &text, &len))
        return NULL;
    if (fd != 1 && fd != 2) {
        PyErr_SetString(PyExc_ValueError, "out_raw: fd must be 1 or 2");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    fabc_out_raw(fd, text, (size_t)len);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *mod_out_line(PyObject *self, PyObject *args)
{
    const char *host, *text;
    Py_ssize_t len;
    int stream;

    (void)self;
    if (!PyArg_ParseTuple(args, "zis#:out_line", &host, &stream, &text,
                          &len))
        return NULL;
    /* text may hold several lines: each gets the prefix */
    {
        const char *p = text, *end = text + len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            fabc_out_line(host, stream == 2 ? FABC_ERR : FABC_OUT, p, n);
            p += n + 1;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *mod_out_configure(PyObject *self, PyObject *args)
{
    int prefix, colour;

    (void)self;
    if (!PyArg_ParseTuple(args, "pp:out_configure", &prefix, &colour))
        return NULL;
    fabc_out_configure(prefix, colour);
    Py_RETURN_NONE;
}

static PyObject *mod_cancel(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    fabc_cancel_request();
    Py_RETURN_NONE;
}

static PyObject *mod_cancelled(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyBool_FromLong(fabc_cancelled());
}

static PyObject *mod_monotonic_ms(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyLong_FromLongLong((long long)fabc_now_ms());
}

static PyMethodDef core_methods[] = {
    {"out_raw", mod_out_raw, METH_VARARGS,
     "out_raw(fd, text)\n--\n\nWrite text to fd 1 or 2 atomically."},
    {"out_line", mod_out_line, METH_VARARGS,
     "out_line(host, stream, text)\n--\n\nWrite each line of text with a "
     "'[host] out: ' (stream 1) or '[host] err: ' (2) prefix."},
    {"out_configure", mod_out_configure, METH_VARARGS,
     "out_configure(prefix, colour)\n--\n\nOutput settings for the run."},
    {"cancel", mod_cancel, METH_NOARGS,
     "cancel()\n--\n\nCancel every wait of the run (as Ctrl-C does)."},
    {"cancelled", mod_cancelled, METH_NOARGS,
     "cancelled()\n--\n\nTrue once the run was cancelled."},
    {"monotonic_ms", mod_monotonic_ms, METH_NOARGS,
     "monotonic_ms()\n--\n\nMonotonic clock in milliseconds."},
    {NULL, NULL, 0, NULL}};

static int add_exc(PyObject *m, PyObject **slot, const char *name,
                   PyObject *bases, const char *doc)
{
    char qual[64];

    PyOS_snprintf(qual, sizeof(qual), "fabc.%s", name);
    *slot = PyErr_NewExceptionWithDoc(qual, doc, bases, NULL);
    if (!*slot)
        return -1;
    return PyModule_AddObjectRef(m, name, *slot);
}

static int add_exc1(PyObject *m, PyObject **slot, const char *name,
                    PyObject *base, PyObject *builtin, const char *doc)
{
    PyObject *bases;
    int rc;

    bases = builtin ? PyTuple_Pack(2, base, builtin) : PyTuple_Pack(1, base);
    if (!bases)
        return -1;
    rc = add_exc(m, slot, name, bases, doc);
    Py_DECREF(bases);
    return rc;
}

static int module_exec(PyObject *m)
{
    struct fabc_state *st = fabc_py_state(m);
    int (*subs[])(PyObject *, struct fabc_state *) = {
        fabc_py_local_exec, fabc_py_config_exec, fabc_py_template_exec,
        fabc_py_ssh_exec,   fabc_py_cloud_exec,  fabc_py_http_exec};

    if (add_exc1(m, &st->Error, "Error", PyExc_Exception, NULL,
                 "Base class of every fabc error.") < 0)
        return -1;
    if (add_exc1(m, &st->ConnectionError, "ConnectionError", st->Error,
                 PyExc_ConnectionError,
                 "A host could not be reached or the connection broke.") < 0
        || add_exc1(m, &st->AuthError, "AuthError", st->Error, NULL,
                    "Authentication was refused (SSH, sudo or Keystone).")
               < 0
        || add_exc1(m, &st->HostKeyError, "HostKeyError", st->Error, NULL,
                    "A host key is unknown or has changed.") < 0
        || add_exc1(m, &st->CommandError, "CommandError", st->Error, NULL,
                    "A command failed: .host, .command, .return_code, "
                    ".stdout, .stderr.") < 0
        || add_exc1(m, &st->TimeoutError, "TimeoutError", st->Error,
                    PyExc_TimeoutError, "A deadline passed.") < 0
        || add_exc1(m, &st->CloudError, "CloudError", st->Error, NULL,
                    "An OpenStack API call failed: .status, .method, .url,"
                    " .request_id.") < 0
        || add_exc1(m, &st->TemplateError, "TemplateError", st->Error, NULL,
                    "A template could not be compiled or rendered: .name, "
                    ".lineno.") < 0
        || add_exc1(m, &st->ConfigError, "ConfigError", st->Error, NULL,
                    "A config file could not be loaded: .file, .line, "
                    ".column.") < 0
        || add_exc1(m, &st->TaskError, "TaskError", st->Error, NULL,
                    "A task aborted or was called wrongly.") < 0
        || add_exc1(m, &st->TransferError, "TransferError", st->Error, NULL,
                    "A file transfer (put/get) failed.") < 0)
        return -1;
    if (PyModule_AddFunctions(m, core_methods) < 0)
        return -1;
    if (PyModule_AddStringConstant(m, "version", FABC_VERSION) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (subs[i] && subs[i](m, st) < 0)
            return -1;
    return 0;
}

static int module_traverse(PyObject *m, visitproc visit, void *arg)
{
    struct fabc_state *st = fabc_py_state(m);

    Py_VISIT(st->Error);
    Py_VISIT(st->ConnectionError);
    Py_VISIT(st->AuthError);
    Py_VISIT(st->HostKeyError);
    Py_VISIT(st->CommandError);
    Py_VISIT(st->TimeoutError);
    Py_VISIT(st->CloudError);
    Py_VISIT(st->TemplateError);
    Py_VISIT(st->ConfigError);
    Py_VISIT(st->TaskError);
    Py_VISIT(st->TransferError);
    for (int i = 0; i < FABC_SUB_MAX; i++)
        Py_VISIT(st->sub[i]);
    return 0;
}

static int module_clear(PyObject *m)
{
    struct fabc_state *st = fabc_py_state(m);

    Py_CLEAR(st->Error);
    Py_CLEAR(st->ConnectionError);
    Py_CLEAR(st->AuthError);
    Py_CLEAR(st->HostKeyError);
    Py_CLEAR(st->CommandError);
    Py_CLEAR(st->TimeoutError);
    Py_CLEAR(st->CloudError);
    Py_CLEAR(st->TemplateError);
    Py_CLEAR(st->ConfigError);
    Py_CLEAR(st->TaskError);
    Py_CLEAR(st->TransferError);
    for (int i = 0; i < FABC_SUB_MAX; i++)
        Py_CLEAR(st->sub[i]);
    return 0;
}

static void module_free(void *m)
{
    module_clear((PyObject *)m);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL}};

static struct PyModuleDef fabc_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_fabc",
    .m_doc = "fabc's native primitives (SSH, cloud, templates, config).",
    .m_size = sizeof(struct fabc_state),
    .m_methods = NULL,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyObject *fabc_py_module_init(void)
{
    return PyModuleDef_Init(&fabc_module);
}
