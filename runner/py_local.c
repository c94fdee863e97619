/* py_local.c — _fabc.local(): the Python face of local.c. */
#include "py_module.h"

#include "local.h"

/* Attach captured output to the pending exception (nothing is lost). */
static void attach_output(const struct fabc_local_result *res)
{
    PyObject *type, *value, *tb, *o, *e;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value) {
        o = PyUnicode_DecodeUTF8(res->out.data ? res->out.data : "",
                                 (Py_ssize_t)res->out.len, "replace");
        e = PyUnicode_DecodeUTF8(res->err.data ? res->err.data : "",
                                 (Py_ssize_t)res->err.len, "replace");
        if (o && e) {
            PyObject_SetAttrString(value, "stdout", o);
            PyObject_SetAttrString(value, "stderr", e);
        }
        Py_XDECREF(o);
        Py_XDECREF(e);
        if (PyErr_Occurred())
            PyErr_Clear();
    }
    PyErr_Restore(type, value, tb);
}

/* Convert a dict of str → str into a NULL-terminated "K=V" array. */
static char **env_array(PyObject *d)
{
    Py_ssize_t pos = 0, i = 0, n;
    PyObject *k, *v;
    char **arr;

    n = PyDict_Size(d);
    arr = PyMem_Calloc((size_t)n + 1, sizeof(*arr));
    if (!arr) {
        PyErr_NoMemory();
        return NULL;
    }
    while (PyDict_Next(d, &pos, &k, &v)) {
        PyObject *kv = PyUnicode_FromFormat("%S=%S", k, v);
        const char *s;
        if (!kv)
            goto fail;
        s = PyUnicode_AsUTF8(kv);
        if (!s) {
            Py_DECREF(kv);
            goto fail;
        }
        arr[i] = PyMem_Malloc(strlen(s) + 1);
        if (!arr[i]) {
            Py_DECREF(kv);
            PyErr_NoMemory();
            goto fail;
        }
        memcpy(arr[i++], s, strlen(s) + 1);
        Py_DECREF(kv);
    }
    return arr;
fail:
    for (Py_ssize_t j = 0; j < i; j++)
        PyMem_Free(arr[j]);
    PyMem_Free(arr);
    return NULL;
}

static void env_array_free(char **arr)
{
    if (!arr)
        return;
    for (char **p = arr; *p; p++)
        PyMem_Free(*p);
    PyMem_Free(arr);
}

static PyObject *py_local(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"command", "shell", "cwd", "env", "stream",
                             "label", "timeout", "stdin_null", NULL};
    struct fabc_state *st = fabc_py_state(self);
    const char *command, *shell = "/bin/sh", *cwd = NULL, *label = NULL;
    PyObject *envd = Py_None, *timeout = Py_None, *ret = NULL;
    int stream = 0, stdin_null = 0, rc;
    struct fabc_local_opts o;
    struct fabc_local_result res;
    struct fabc_err err;
    char **env_set = NULL;
    double t = 0;

    memset(&res, 0, sizeof(res));
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|szOpzOp:local", kwlist,
                                     &command, &shell, &cwd, &envd, &stream,
                                     &label, &timeout, &stdin_null))
        return NULL;
    if (envd != Py_None) {
        if (!PyDict_Check(envd)) {
            PyErr_SetString(PyExc_TypeError, "local: env must be a dict");
            return NULL;
        }
        env_set = env_array(envd);
        if (!env_set)
            return NULL;
    }
    if (timeout != Py_None) {
        t = PyFloat_AsDouble(timeout);
        if (t == -1 && PyErr_Occurred())
            goto out;
    }
    memset(&o, 0, sizeof(o));
    o.shell = shell;
    o.command = command;
    o.cwd = cwd;
    o.env_set = env_set;
    o.stream = stream;
    o.label = label;
    o.timeout_ms = t > 0 ? (int64_t)(t * 1000.0) : 0;
    o.stdin_null = stdin_null;
    fabc_err_clear(&err);

    Py_BEGIN_ALLOW_THREADS
    rc = fabc_local_run(&o, &res, &err);
    Py_END_ALLOW_THREADS

    if (rc < 0) {
        fabc_err_host(&err, "localhost");
        fabc_py_raise(st, &err);
        attach_output(&res);
        goto out;
    }
    if (fabc_py_check_signals() < 0)
        goto out;
    ret = Py_BuildValue(
        "(iis#s#d)", res.exit_status, res.term_signal,
        res.out.data ? res.out.data : "", (Py_ssize_t)res.out.len,
        res.err.data ? res.err.data : "", (Py_ssize_t)res.err.len,
        (double)res.elapsed_ms / 1000.0);
    if (!ret && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        ret = Py_BuildValue(
            "(iiNNd)", res.exit_status, res.term_signal,
            PyUnicode_DecodeUTF8(res.out.data ? res.out.data : "",
                                 (Py_ssize_t)res.out.len, "replace"),
            PyUnicode_DecodeUTF8(res.err.data ? res.err.data : "",
                                 (Py_ssize_t)res.err.len, "replace"),
            (double)res.elapsed_ms / 1000.0);
    }
out:
    fabc_local_result_free(&res);
    env_array_free(env_set);
    return ret;
}

static PyMethodDef local_methods[] = {
    {"local", (PyCFunction)(void (*)(void))py_local,
     METH_VARARGS | METH_KEYWORDS,
     "local(command, shell='/bin/sh', cwd=None, env=None, stream=False, "
     "label=None, timeout=None, stdin_null=False)\n--\n\n"
     "Run `shell -c command`; return (exit_status, signal, stdout, stderr, "
     "elapsed). Raises TimeoutError (process group killed), OSError, "
     "KeyboardInterrupt."},
    {NULL, NULL, 0, NULL}};

int fabc_py_local_exec(PyObject *m, struct fabc_state *st)
{
    (void)st;
    return PyModule_AddFunctions(m, local_methods);
}
