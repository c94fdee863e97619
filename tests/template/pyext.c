/* pyext.c — test-only CPython extension `_fabc_tpl_test` exposing the
 * template renderer (runner/py_template.c) without the rest of fabc, so
 * the conformance corpus and the benchmark can run under /usr/bin/python3
 * before and independently of bin/fabc. It provides minimal stand-ins for
 * fabc_py_state() and fabc_py_raise() (py_module.c / py_err.c in fabc).
 *
 * Build: tests/template/build_ext.sh (writes tests/template/build/). */
#include "py_module.h"

#include <string.h>

struct fabc_state *fabc_py_state(PyObject *module)
{
    return (struct fabc_state *)PyModule_GetState(module);
}

int fabc_py_check_signals(void)
{
    return PyErr_CheckSignals();
}

PyObject *fabc_py_raise(struct fabc_state *st, const struct fabc_err *err)
{
    PyObject *exc, *cls = st->Error;

    if (err->code == FABC_E_NOMEM)
        return PyErr_NoMemory();
    if (err->code == FABC_E_TEMPLATE)
        cls = st->TemplateError;
    exc = PyObject_CallFunction(cls, "s", err->msg);
    if (!exc)
        return NULL;
    {
        PyObject *f = PyUnicode_FromString(err->file);
        PyObject *l = PyLong_FromLong(err->line);
        int rc = f && l && PyObject_SetAttrString(exc, "file", f) == 0 &&
                 PyObject_SetAttrString(exc, "line", l) == 0;

        Py_XDECREF(f);
        Py_XDECREF(l);
        if (!rc) {
            Py_DECREF(exc);
            return NULL;
        }
    }
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

static int ext_exec(PyObject *m)
{
    struct fabc_state *st = fabc_py_state(m);

    memset(st, 0, sizeof(*st));
    st->Error = PyErr_NewException("_fabc_tpl_test.Error", NULL, NULL);
    if (!st->Error || PyModule_AddObjectRef(m, "Error", st->Error) < 0)
        return -1;
    st->TemplateError = PyErr_NewException("_fabc_tpl_test.TemplateError",
                                           st->Error, NULL);
    if (!st->TemplateError ||
        PyModule_AddObjectRef(m, "TemplateError", st->TemplateError) < 0)
        return -1;
    return fabc_py_template_exec(m, st);
}

static int ext_traverse(PyObject *m, visitproc visit, void *arg)
{
    struct fabc_state *st = fabc_py_state(m);

    if (!st)
        return 0;
    Py_VISIT(st->Error);
    Py_VISIT(st->TemplateError);
    for (int i = 0; i < FABC_SUB_MAX; i++)
        Py_VISIT(st->sub[i]);
    return 0;
}

static int ext_clear(PyObject *m)
{
    struct fabc_state *st = fabc_py_state(m);

    if (!st)
        return 0;
    Py_CLEAR(st->Error);
    Py_CLEAR(st->TemplateError);
    for (int i = 0; i < FABC_SUB_MAX; i++)
        Py_CLEAR(st->sub[i]);
    return 0;
}

static void ext_free(void *m)
{
    ext_clear((PyObject *)m);
}

static PyModuleDef_Slot ext_slots[] = {
    { Py_mod_exec, ext_exec },
    { 0, NULL }
};

static struct PyModuleDef ext_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_fabc_tpl_test",
    .m_size = sizeof(struct fabc_state),
    .m_slots = ext_slots,
    .m_traverse = ext_traverse,
    .m_clear = ext_clear,
    .m_free = ext_free,
};

PyMODINIT_FUNC PyInit__fabc_tpl_test(void);

PyMODINIT_FUNC PyInit__fabc_tpl_test(void)
{
    return PyModuleDef_Init(&ext_def);
}
