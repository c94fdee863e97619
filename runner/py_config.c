/* py_config.c — _fabc.config_load(path) and _fabc.config_loads(text):
 * the config loader's node tree (config.c) as plain Python objects, the
 * same objects yaml.safe_load builds: dict, list, str, int, float, bool,
 * None, datetime.date, datetime.datetime.
 *
 * The parse is pure C and runs with the GIL released; the conversion
 * holds it. Each node becomes exactly one Python object, so aliases give
 * the same object and alias cycles give cyclic containers, as in PyYAML.
 * datetime is imported only when a document holds a timestamp.
 */
#include "py_module.h"

#include "config.h"
#include "util.h"

struct conv {
    PyObject **objs;   /* one owned reference per node id, or NULL */
    size_t n;
    PyObject *dt;      /* the datetime module, once needed */
};

static PyObject *conv_node(struct conv *cv, const struct fabc_ynode *nd);

static PyObject *conv_timestamp(struct conv *cv, const struct fabc_ytime *t)
{
    PyObject *tz = NULL, *td = NULL, *res = NULL;

    if (!cv->dt) {
        cv->dt = PyImport_ImportModule("datetime");
        if (!cv->dt)
            goto out;
    }
    if (!t->has_time) {
        res = PyObject_CallMethod(cv->dt, "date", "iii", t->year, t->month,
                                  t->day);
        goto out;
    }
    if (t->has_tz) {
        td = PyObject_CallMethod(cv->dt, "timedelta", "ii", 0,
                                 t->tz_minutes * 60);
        if (!td)
            goto out;
        tz = PyObject_CallMethod(cv->dt, "timezone", "O", td);
        if (!tz)
            goto out;
    }
    res = PyObject_CallMethod(cv->dt, "datetime", "iiiiiiiO", t->year,
                              t->month, t->day, t->hour, t->minute,
                              t->second, t->usec, tz ? tz : Py_None);
out:
    Py_XDECREF(td);
    Py_XDECREF(tz);
    return res;
}

static PyObject *conv_scalar(struct conv *cv, const struct fabc_ynode *nd)
{
    switch (nd->type) {
    case FABC_Y_NULL:
        return Py_NewRef(Py_None);
    case FABC_Y_BOOL:
        return PyBool_FromLong(nd->b);
    case FABC_Y_INT:
        if (nd->big)
            return PyLong_FromString(nd->big, NULL, 10);
        return PyLong_FromLongLong((long long)nd->i);
    case FABC_Y_FLOAT:
        return PyFloat_FromDouble(nd->f);
    case FABC_Y_STR:
        return PyUnicode_DecodeUTF8(nd->text, (Py_ssize_t)nd->len,
                                    "strict");
    case FABC_Y_TIMESTAMP:
        return conv_timestamp(cv, &nd->ts);
    default:
        PyErr_SetString(PyExc_SystemError, "config: unexpected node type");
        return NULL;
    }
}

/* New reference to the object of nd (created on first use). */
static PyObject *conv_node(struct conv *cv, const struct fabc_ynode *nd)
{
    PyObject *obj = NULL, *k = NULL, *v = NULL;

    if (nd->id >= cv->n) {
        PyErr_SetString(PyExc_SystemError, "config: bad node id");
        return NULL;
    }
    if (cv->objs[nd->id])
        return Py_NewRef(cv->objs[nd->id]);
    if (nd->type != FABC_Y_MAP && nd->type != FABC_Y_SEQ) {
        obj = conv_scalar(cv, nd);
        if (obj)
            cv->objs[nd->id] = Py_NewRef(obj);
        return obj;
    }
    if (Py_EnterRecursiveCall(" while converting a config document"))
        return NULL;
    obj = nd->type == FABC_Y_MAP ? PyDict_New() : PyList_New(0);
    if (!obj)
        goto fail;
    /* registered before the children: an alias cycle finds it */
    cv->objs[nd->id] = Py_NewRef(obj);
    if (nd->type == FABC_Y_SEQ) {
        for (size_t i = 0; i < nd->n_items; i++) {
            v = conv_node(cv, nd->items[i]);
            if (!v || PyList_Append(obj, v) < 0)
                goto fail;
            Py_CLEAR(v);
        }
    } else {
        for (size_t i = 0; i < nd->n_pairs; i++) {
            k = conv_node(cv, nd->pairs[i].key);
            if (!k)
                goto fail;
            v = conv_node(cv, nd->pairs[i].value);
            if (!v || PyDict_SetItem(obj, k, v) < 0)
                goto fail;
            Py_CLEAR(k);
            Py_CLEAR(v);
        }
    }
    Py_LeaveRecursiveCall();
    return obj;
fail:
    Py_LeaveRecursiveCall();
    Py_XDECREF(k);
    Py_XDECREF(v);
    Py_XDECREF(obj);
    return NULL;
}

/* The Python value of a whole document (new reference). */
static PyObject *convert(const struct fabc_config *cfg)
{
    struct conv cv = {NULL, 0, NULL};
    PyObject *res = NULL;

    cv.n = cfg->n_nodes;
    cv.objs = PyMem_Calloc(cv.n ? cv.n : 1, sizeof(PyObject *));
    if (!cv.objs) {
        PyErr_NoMemory();
        goto out;
    }
    res = conv_node(&cv, cfg->root);
out:
    if (cv.objs) {
        /* containers of a cycle keep each other alive: the GC frees them
         * once the caller drops the result */
        for (size_t i = 0; i < cv.n; i++)
            Py_XDECREF(cv.objs[i]);
        PyMem_Free(cv.objs);
    }
    Py_XDECREF(cv.dt);
    return res;
}

static PyObject *cfg_load(PyObject *self, PyObject *args)
{
    struct fabc_state *st = fabc_py_state(self);
    struct fabc_config *cfg = NULL;
    struct fabc_err err;
    PyObject *path = NULL, *res = NULL;
    const char *cpath;

    if (!PyArg_ParseTuple(args, "O&:config_load", PyUnicode_FSConverter,
                          &path))
        return NULL;
    cpath = PyBytes_AS_STRING(path);
    fabc_err_clear(&err);
    Py_BEGIN_ALLOW_THREADS
    cfg = fabc_config_load_file(cpath, &err);
    Py_END_ALLOW_THREADS
    if (!cfg) {
        fabc_py_raise(st, &err);
        goto out;
    }
    res = convert(cfg);
out:
    fabc_config_free(cfg);
    Py_XDECREF(path);
    return res;
}

static PyObject *cfg_loads(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"text", "name", NULL};
    struct fabc_state *st = fabc_py_state(self);
    struct fabc_config *cfg = NULL;
    struct fabc_err err;
    PyObject *text, *res = NULL;
    const char *name = "<string>", *data;
    Py_ssize_t len;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|s:config_loads", kwlist,
                                     &text, &name))
        return NULL;
    /* str or bytes: both immutable, alive for the call, so their buffer
     * can be read with the GIL released */
    if (PyUnicode_Check(text)) {
        data = PyUnicode_AsUTF8AndSize(text, &len);
        if (!data)
            return NULL;
    } else if (PyBytes_Check(text)) {
        data = PyBytes_AS_STRING(text);
        len = PyBytes_GET_SIZE(text);
    } else {
        PyErr_Format(PyExc_TypeError,
                     "config_loads: text must be str or bytes, not %.100s",
                     Py_TYPE(text)->tp_name);
        return NULL;
    }
    fabc_err_clear(&err);
    Py_BEGIN_ALLOW_THREADS
    cfg = fabc_config_load_buffer(name, data, (size_t)len, &err);
    Py_END_ALLOW_THREADS
    if (!cfg)
        return fabc_py_raise(st, &err);
    res = convert(cfg);
    fabc_config_free(cfg);
    return res;
}

static PyMethodDef config_methods[] = {
    {"config_load", cfg_load, METH_VARARGS,
     "config_load(path)\n--\n\nLoad the YAML file at path as yaml.safe_load"
     " would (one document; dict/list/str/int/float/bool/None/date/"
     "datetime). Raises fabc.ConfigError with .file, .line, .column."},
    {"config_loads", (PyCFunction)(void (*)(void))cfg_loads,
     METH_VARARGS | METH_KEYWORDS,
     "config_loads(text, name='<string>')\n--\n\nLoad YAML text (str or "
     "bytes) as config_load does; name is used in errors."},
    {NULL, NULL, 0, NULL}};

int fabc_py_config_exec(PyObject *m, struct fabc_state *st)
{
    (void)st;
    return PyModule_AddFunctions(m, config_methods);
}
