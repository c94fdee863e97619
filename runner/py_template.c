/* py_template.c — renders compiled templates (template.c) against Python
 * objects and adds _fabc.render() / _fabc.render_file().
 *
 * A compiled template lives in a PyCapsule ("fabc.template") holding the
 * C tree and an array of Python constants (node->aux indexes it). The
 * renderer walks the tree with the GIL held, appending UTF-8 to one
 * growable buffer; {% set %} blocks, macros and filter blocks capture the
 * tail of that buffer. Values are plain Python objects, so str() of a
 * value prints exactly as Jinja2 prints it.
 *
 * Scopes are a chain of dicts (struct frame): the render's root dict (a
 * copy of the context plus top-level sets), one dict per for loop, include
 * and macro call. A macro keeps a tuple of the dicts visible where it was
 * defined (its closure). Undefined names evaluate to an Undefined object
 * carrying Jinja2's hint ("'x' is undefined"); in strict mode any use of
 * one other than `is defined` / `default` fails, in lenient mode it
 * prints as "" and iterates as empty, as Jinja2's default Undefined.
 *
 * st->sub[FABC_SUB_TEMPLATE] holds a tuple of the objects listed in
 * enum tctx_slot (cache dict, heap types, helpers).
 */
#include "py_module.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "template.h"
#include "util.h"

#define CAPSULE_NAME "fabc.template"
#define MAX_DEPTH 600   /* nested evaluation (macros, includes, exprs) */
#define MAX_ARGS 8      /* filter / test / call arguments */
#define MAX_FILE (64L * 1024 * 1024)

enum tctx_slot {
    TC_CACHE,     /* dict: path -> (mtime_ns, size, capsule) */
    TC_UNDEFINED, /* heap type Undefined */
    TC_MACRO,     /* heap type Macro */
    TC_MARKUP,    /* str subclass for escaped / safe strings */
    TC_JSON_DUMPS,
    TC_GLOBALS,   /* dict: range, dict, namespace */
    TC_MAPPING,   /* collections.abc.Mapping */
    TC_NUMBER,    /* numbers.Number */
    TC_WORD_RE,   /* re.compile(r"\w+") */
    TC_NAMESPACE, /* types.SimpleNamespace */
    TC_GROUP,     /* namedtuple (grouper, list) printed as a tuple */
    TC_PFORMAT,   /* pprint.pformat */
    TC_MAX
};

/* ---- compiled templates --------------------------------------------- */

struct ctpl {
    struct fabc_tpl *tpl;
    PyObject **consts; /* owned references, indexed by node->aux */
    size_t nconsts;
    char *dir;         /* directory includes are resolved against */
};

static void ctpl_free(struct ctpl *ct)
{
    if (!ct)
        return;
    for (size_t i = 0; i < ct->nconsts; i++)
        Py_XDECREF(ct->consts[i]);
    PyMem_Free(ct->consts);
    fabc_tpl_free(ct->tpl);
    PyMem_Free(ct->dir);
    PyMem_Free(ct);
}

static void capsule_destructor(PyObject *cap)
{
    ctpl_free(PyCapsule_GetPointer(cap, CAPSULE_NAME));
}

/* ---- objects: Undefined, Macro -------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *hint; /* str: the message an error would show, or NULL
                       when it is still to be made from obj/name */
    PyObject *obj;  /* object lacking attribute/item `name` (lazy hint) */
    PyObject *name;
    int soft;       /* 1: lenient even in strict mode (Jinja2's
                       cond_expr_undefined) */
    int strict;     /* 1: operations raise TemplateError (strict mode) */
} UndefinedObject;

typedef struct {
    PyObject_HEAD
    PyObject *tplcap;  /* capsule of the template owning `node` */
    struct fabc_tpl_node *node;
    PyObject *closure; /* tuple of dicts, innermost first */
    PyObject *name;
} MacroObject;

static int undef_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(((UndefinedObject *)self)->hint);
    Py_VISIT(((UndefinedObject *)self)->obj);
    Py_VISIT(((UndefinedObject *)self)->name);
    return 0;
}

static int undef_clear(PyObject *self)
{
    Py_CLEAR(((UndefinedObject *)self)->hint);
    Py_CLEAR(((UndefinedObject *)self)->obj);
    Py_CLEAR(((UndefinedObject *)self)->name);
    return 0;
}

static void undef_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    undef_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *missing_hint(PyObject *obj, PyObject *name);

/* The hint of an Undefined (borrowed), made now if it was left lazy. */
static PyObject *undef_hint(UndefinedObject *u)
{
    if (!u->hint && u->obj && u->name)
        u->hint = missing_hint(u->obj, u->name);
    if (!u->hint) {
        PyErr_Clear();
        u->hint = PyUnicode_FromString("value is undefined");
    }
    return u->hint;
}

/* A strict Undefined raises TemplateError (with its hint) from every
 * operation that would print, iterate, measure or compare it, as
 * Jinja2's StrictUndefined; returns 1 with the exception set. */
static int undef_strict_raise(PyObject *self)
{
    UndefinedObject *u = (UndefinedObject *)self;
    struct fabc_state *st;
    PyObject *hint;

    if (!u->strict)
        return 0;
    st = PyType_GetModuleState(Py_TYPE(self));
    hint = undef_hint(u);
    if (!st || !st->TemplateError || !hint) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "undefined value");
        return 1;
    }
    PyErr_SetObject(st->TemplateError, hint);
    return 1;
}

/* Raise TemplateError with the hint whatever the mode: arithmetic,
 * ordering, calls and attribute access fail on every Undefined. */
static PyObject *undef_fail_py(PyObject *self)
{
    UndefinedObject *u = (UndefinedObject *)self;
    int strict = u->strict;

    u->strict = 1;
    undef_strict_raise(self);
    u->strict = strict;
    return NULL;
}

static PyObject *undef_call(PyObject *self, PyObject *args, PyObject *kw);

static PyObject *undef_binary(PyObject *a, PyObject *b)
{
    /* the Undefined may be either operand */
    if (PyType_GetSlot(Py_TYPE(a), Py_tp_call) == (void *)undef_call)
        return undef_fail_py(a);
    return undef_fail_py(b);
}

static PyObject *undef_unary(PyObject *a)
{
    return undef_fail_py(a);
}

static PyObject *undef_ternary(PyObject *a, PyObject *b, PyObject *c)
{
    (void)c;
    return undef_binary(a, b);
}

static PyObject *undef_call(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)args, (void)kw;
    return undef_fail_py(self);
}

static PyObject *undef_getitem(PyObject *self, PyObject *key)
{
    (void)key;
    return undef_fail_py(self);
}

static PyObject *undef_getattro(PyObject *self, PyObject *name)
{
    if (PyUnicode_Check(name) && PyUnicode_GET_LENGTH(name) > 1 &&
        PyUnicode_READ_CHAR(name, 0) == '_' &&
        PyUnicode_READ_CHAR(name, 1) == '_')
        return PyObject_GenericGetAttr(self, name);
    return undef_fail_py(self);
}

static PyObject *undef_str(PyObject *self)
{
    if (undef_strict_raise(self))
        return NULL;
    return PyUnicode_FromStringAndSize("", 0);
}

static PyObject *undef_repr(PyObject *self)
{
    (void)self;
    return PyUnicode_FromString("Undefined");
}

static int undef_bool(PyObject *self)
{
    if (undef_strict_raise(self))
        return -1;
    return 0;
}

static Py_ssize_t undef_len(PyObject *self)
{
    if (undef_strict_raise(self))
        return -1;
    return 0;
}

static PyObject *undef_iter(PyObject *self)
{
    PyObject *t, *it;

    if (undef_strict_raise(self))
        return NULL;
    t = PyTuple_New(0);
    if (!t)
        return NULL;
    it = PyObject_GetIter(t);
    Py_DECREF(t);
    return it;
}

static Py_hash_t undef_hash(PyObject *self)
{
    if (undef_strict_raise(self))
        return -1;
    return (Py_hash_t)(((uintptr_t)Py_TYPE(self)) >> 4);
}

static PyObject *undef_richcompare(PyObject *self, PyObject *other, int op)
{
    int same = Py_TYPE(self) == Py_TYPE(other);

    if (undef_strict_raise(self))
        return NULL;
    if (op == Py_EQ)
        return PyBool_FromLong(same);
    if (op == Py_NE)
        return PyBool_FromLong(!same);
    return undef_fail_py(self); /* ordering */
}

static PyType_Slot undef_slots[] = {
    { Py_tp_traverse, undef_traverse },
    { Py_tp_clear, undef_clear },
    { Py_tp_dealloc, undef_dealloc },
    { Py_tp_str, undef_str },
    { Py_tp_repr, undef_repr },
    { Py_nb_bool, undef_bool },
    { Py_mp_length, undef_len },
    { Py_sq_length, undef_len },
    { Py_tp_iter, undef_iter },
    { Py_tp_hash, undef_hash },
    { Py_tp_richcompare, undef_richcompare },
    { Py_nb_add, undef_binary },
    { Py_nb_subtract, undef_binary },
    { Py_nb_multiply, undef_binary },
    { Py_nb_true_divide, undef_binary },
    { Py_nb_floor_divide, undef_binary },
    { Py_nb_remainder, undef_binary },
    { Py_nb_power, undef_ternary },
    { Py_nb_negative, undef_unary },
    { Py_nb_positive, undef_unary },
    { Py_nb_absolute, undef_unary },
    { Py_nb_int, undef_unary },
    { Py_nb_float, undef_unary },
    { Py_mp_subscript, undef_getitem },
    { Py_tp_call, undef_call },
    { Py_tp_getattro, undef_getattro },
    { Py_tp_doc, (void *)"A template value that is not defined." },
    { 0, NULL }
};

static PyType_Spec undef_spec = {
    .name = "_fabc.Undefined",
    .basicsize = sizeof(UndefinedObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = undef_slots,
};

static int macro_traverse(PyObject *self, visitproc visit, void *arg)
{
    MacroObject *m = (MacroObject *)self;

    Py_VISIT(Py_TYPE(self));
    Py_VISIT(m->tplcap);
    Py_VISIT(m->closure);
    Py_VISIT(m->name);
    return 0;
}

static int macro_clear(PyObject *self)
{
    MacroObject *m = (MacroObject *)self;

    Py_CLEAR(m->closure);
    Py_CLEAR(m->name);
    /* tplcap is kept until dealloc: node points into it */
    return 0;
}

static void macro_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    MacroObject *m = (MacroObject *)self;

    PyObject_GC_UnTrack(self);
    macro_clear(self);
    Py_CLEAR(m->tplcap);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *macro_repr(PyObject *self)
{
    return PyUnicode_FromFormat("<Macro %R>", ((MacroObject *)self)->name);
}

static PyType_Slot macro_slots[] = {
    { Py_tp_traverse, macro_traverse },
    { Py_tp_clear, macro_clear },
    { Py_tp_dealloc, macro_dealloc },
    { Py_tp_repr, macro_repr },
    { Py_tp_doc, (void *)"A template macro (callable inside templates)." },
    { 0, NULL }
};

static PyType_Spec macro_spec = {
    .name = "_fabc.Macro",
    .basicsize = sizeof(MacroObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = macro_slots,
};

/* ---- render state --------------------------------------------------- */

struct frame {
    PyObject *vars;    /* dict, owned */
    PyObject *closure; /* tuple of dicts searched after vars; then stop */
    struct frame *parent;
};

struct loopst {
    PyObject *items;   /* list */
    Py_ssize_t i, n;
    int depth;
    PyObject *changed; /* last loop.changed() arguments (owned) or NULL */
    struct loopst *parent;
};

struct render {
    struct fabc_state *st;
    PyObject **tc;          /* items of the tctx tuple (borrowed) */
    int lenient;
    struct fabc_buf out;
    struct frame *frame;
    struct loopst *loop;
    PyObject *tplcap;       /* capsule of the current template */
    struct ctpl *ct;
    const char *basedir;    /* include search directory */
    int depth;
    unsigned long ticks;    /* loop iterations and macro calls so far */
    PyObject *pending_caller;
    struct fabc_err err;    /* template error (code TEMPLATE) */
    int pyline;             /* where a Python exception surfaced */
    char pyname[512];
};

static PyObject *tcx(struct render *r, enum tctx_slot s)
{
    return r->tc[s];
}

static int is_undef(struct render *r, PyObject *v)
{
    return Py_TYPE(v) == (PyTypeObject *)tcx(r, TC_UNDEFINED);
}

static PyObject *terr(struct render *r, const struct fabc_tpl_node *n,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static PyObject *terr(struct render *r, const struct fabc_tpl_node *n,
                      const char *fmt, ...)
{
    va_list ap;

    if (r->err.code != FABC_E_OK)
        return NULL;
    r->err.code = FABC_E_TEMPLATE;
    va_start(ap, fmt);
    vsnprintf(r->err.msg, sizeof(r->err.msg), fmt, ap);
    va_end(ap);
    fabc_err_pos(&r->err, r->ct->tpl->name, n ? n->line : 0, 0);
    return NULL;
}

/* Fail with the hint of an Undefined value. */
static PyObject *undef_fail(struct render *r, const struct fabc_tpl_node *n,
                            PyObject *u)
{
    PyObject *hint = undef_hint((UndefinedObject *)u);
    const char *s = hint ? PyUnicode_AsUTF8(hint) : NULL;

    if (!s) {
        PyErr_Clear();
        s = "value is undefined";
    }
    return terr(r, n, "%s", s);
}

/* New Undefined carrying `hint` (stolen). */
static PyObject *mk_undef(struct render *r, PyObject *hint)
{
    PyTypeObject *tp = (PyTypeObject *)tcx(r, TC_UNDEFINED);
    UndefinedObject *u;

    if (!hint)
        return NULL;
    u = (UndefinedObject *)tp->tp_alloc(tp, 0);
    if (!u) {
        Py_DECREF(hint);
        return NULL;
    }
    u->hint = hint;
    u->strict = !r->lenient;
    return (PyObject *)u;
}

/* Jinja2's object_type_repr() */
static PyObject *type_repr(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *mod, *rv;

    if (obj == Py_None)
        return PyUnicode_FromString("None");
    if (obj == Py_Ellipsis)
        return PyUnicode_FromString("Ellipsis");
    mod = PyObject_GetAttrString((PyObject *)tp, "__module__");
    if (!mod) {
        PyErr_Clear();
        return PyUnicode_FromFormat("%s object", tp->tp_name);
    }
    if (PyUnicode_Check(mod) &&
        PyUnicode_CompareWithASCIIString(mod, "builtins") == 0)
        rv = PyUnicode_FromFormat("%s object", _PyType_Name(tp));
    else
        rv = PyUnicode_FromFormat("%S.%s object", mod, _PyType_Name(tp));
    Py_DECREF(mod);
    return rv;
}

static PyObject *missing_hint(PyObject *obj, PyObject *name)
{
    PyObject *tr = type_repr(obj), *hint;

    if (!tr)
        return NULL;
    if (PyUnicode_Check(name))
        hint = PyUnicode_FromFormat("%R has no attribute %R", tr, name);
    else
        hint = PyUnicode_FromFormat("%U has no element %R", tr, name);
    Py_DECREF(tr);
    return hint;
}

/* Undefined for a missing attribute or item; the hint is made lazily. */
static PyObject *undef_missing_attr(struct render *r, PyObject *obj,
                                    PyObject *name)
{
    PyTypeObject *tp = (PyTypeObject *)tcx(r, TC_UNDEFINED);
    UndefinedObject *u = (UndefinedObject *)tp->tp_alloc(tp, 0);

    if (!u)
        return NULL;
    u->obj = Py_NewRef(obj);
    u->name = Py_NewRef(name);
    u->strict = !r->lenient;
    return (PyObject *)u;
}

/* ---- output --------------------------------------------------------- */

static int out_bytes(struct render *r, const char *s, size_t n)
{
    if (fabc_buf_append(&r->out, s, n) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int out_str(struct render *r, PyObject *s)
{
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);

    if (!p)
        return -1;
    return out_bytes(r, p, (size_t)n);
}

/* Append str(v). */
static int out_value(struct render *r, PyObject *v)
{
    PyObject *s;
    int rc;

    if (PyUnicode_Check(v))
        return out_str(r, v);
    if (PyLong_CheckExact(v)) {
        /* str(int) without a temporary object */
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);

        if (!overflow && !(x == -1 && PyErr_Occurred())) {
            char buf[24], *e = buf + sizeof(buf), *p = e;
            unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x
                                         : (unsigned long long)x;

            do {
                *--p = (char)('0' + u % 10);
                u /= 10;
            } while (u);
            if (x < 0)
                *--p = '-';
            return out_bytes(r, p, (size_t)(e - p));
        }
        PyErr_Clear();
    }
    s = PyObject_Str(v);
    if (!s)
        return -1;
    rc = out_str(r, s);
    Py_DECREF(s);
    return rc;
}

/* The buffer tail from `start` as a str; the tail is removed. */
static PyObject *capture(struct render *r, size_t start)
{
    PyObject *s = PyUnicode_DecodeUTF8(r->out.data ? r->out.data + start : "",
                                       (Py_ssize_t)(r->out.len - start),
                                       "strict");

    r->out.len = start;
    if (r->out.data)
        r->out.data[start] = '\0';
    return s;
}

/* ---- scopes --------------------------------------------------------- */

/* Borrowed value of `key`, or NULL without exception when not found. */
static PyObject *lookup(struct render *r, PyObject *key)
{
    PyObject *v;

    for (struct frame *f = r->frame; f; f = f->parent) {
        v = PyDict_GetItemWithError(f->vars, key);
        if (v || PyErr_Occurred())
            return v;
        if (f->closure) {
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(f->closure); i++) {
                v = PyDict_GetItemWithError(
                    PyTuple_GET_ITEM(f->closure, i), key);
                if (v || PyErr_Occurred())
                    return v;
            }
            break;
        }
    }
    return PyDict_GetItemWithError(tcx(r, TC_GLOBALS), key);
}

/* Tuple of the dicts visible now, innermost first. */
static PyObject *snapshot(struct render *r)
{
    PyObject *l = PyList_New(0), *t;

    if (!l)
        return NULL;
    for (struct frame *f = r->frame; f; f = f->parent) {
        if (PyList_Append(l, f->vars) < 0)
            goto fail;
        if (f->closure) {
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(f->closure); i++)
                if (PyList_Append(l, PyTuple_GET_ITEM(f->closure, i)) < 0)
                    goto fail;
            break;
        }
    }
    t = PyList_AsTuple(l);
    Py_DECREF(l);
    return t;
fail:
    Py_DECREF(l);
    return NULL;
}

/* ---- evaluation ----------------------------------------------------- */

static PyObject *eval(struct render *r, const struct fabc_tpl_node *n);
static int exec_node(struct render *r, const struct fabc_tpl_node *n);
static int exec_body(struct render *r, const struct fabc_tpl_node *n);

static PyObject *cst(struct render *r, const struct fabc_tpl_node *n)
{
    return r->ct->consts[n->aux];
}

/* Strict mode: fail on an Undefined value. Returns 0 or -1. */
static int strict_check(struct render *r, const struct fabc_tpl_node *n,
                        PyObject *v)
{
    if (!r->lenient && is_undef(r, v) && !((UndefinedObject *)v)->soft) {
        undef_fail(r, n, v);
        return -1;
    }
    return 0;
}

static int truth(struct render *r, const struct fabc_tpl_node *n,
                 PyObject *v)
{
    if (strict_check(r, n, v) < 0)
        return -1;
    return PyObject_IsTrue(v);
}

static int is_dict_attr(PyObject *name)
{
    static const char *const attrs[] = { "clear", "copy", "fromkeys", "get",
                                         "items", "keys", "pop", "popitem",
                                         "setdefault", "update", "values",
                                         NULL };
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);

    if (!s) {
        PyErr_Clear();
        return 1;
    }
    if (n >= 2 && s[0] == '_' && s[1] == '_')
        return 1;
    for (int i = 0; attrs[i]; i++)
        if (!strcmp(s, attrs[i]))
            return 1;
    return 0;
}

static int exc_matches_lookup(void)
{
    return PyErr_ExceptionMatches(PyExc_TypeError) ||
           PyErr_ExceptionMatches(PyExc_LookupError) ||
           PyErr_ExceptionMatches(PyExc_AttributeError);
}

/* Jinja2's Environment.getattr: obj.attr, else obj[attr], else Undefined.
 * dict_attr: 1 if `name` is an attribute of dict, 0 if not, -1 unknown. */
static PyObject *get_attr(struct render *r, PyObject *obj, PyObject *name,
                          int dict_attr)
{
    PyObject *v;

    if (PyDict_CheckExact(obj) &&
        !(dict_attr >= 0 ? dict_attr : is_dict_attr(name))) {
        v = PyDict_GetItemWithError(obj, name);
        if (v)
            return Py_NewRef(v);
        if (PyErr_Occurred())
            return NULL;
        return undef_missing_attr(r, obj, name);
    }
    v = PyObject_GetAttr(obj, name);
    if (v)
        return v;
    if (!PyErr_ExceptionMatches(PyExc_AttributeError))
        return NULL;
    PyErr_Clear();
    v = PyObject_GetItem(obj, name);
    if (v)
        return v;
    if (!exc_matches_lookup())
        return NULL;
    PyErr_Clear();
    return undef_missing_attr(r, obj, name);
}

/* Jinja2's Environment.getitem: obj[key], else getattr for str keys */
static PyObject *get_item(struct render *r, PyObject *obj, PyObject *key)
{
    PyObject *v;

    if (PyDict_CheckExact(obj)) {
        v = PyDict_GetItemWithError(obj, key);
        if (v)
            return Py_NewRef(v);
        if (PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_TypeError))
                return NULL;
            PyErr_Clear();
        }
    } else {
        v = PyObject_GetItem(obj, key);
        if (v)
            return v;
        if (!exc_matches_lookup())
            return NULL;
        PyErr_Clear();
    }
    if (PyUnicode_Check(key)) {
        v = PyObject_GetAttr(obj, key);
        if (v)
            return v;
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return NULL;
        PyErr_Clear();
    }
    return undef_missing_attr(r, obj, key);
}

/* Item or attribute along a dotted path ("a.b.0"), as make_attrgetter. */
static PyObject *get_path(struct render *r, PyObject *obj, PyObject *path)
{
    PyObject *parts = NULL, *cur = Py_NewRef(obj);

    if (is_undef(r, obj)) {
        Py_DECREF(cur);
        return undef_fail(r, NULL, obj); /* Undefined[...] fails */
    }
    if (!PyUnicode_Check(path) ||
        (PyUnicode_FindChar(path, '.', 0, PyUnicode_GET_LENGTH(path), 1) < 0
         && !(PyUnicode_GET_LENGTH(path) > 0 &&
              Py_UNICODE_ISDIGIT(PyUnicode_READ_CHAR(path, 0))))) {
        Py_DECREF(cur);
        return get_item(r, obj, path);
    }
    {
        PyObject *dot = PyUnicode_FromString(".");

        if (!dot)
            goto fail;
        parts = PyUnicode_Split(path, dot, -1);
        Py_DECREF(dot);
    }
    if (!parts)
        goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(parts); i++) {
        PyObject *p = PyList_GET_ITEM(parts, i), *key, *nx;
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(p, &n);
        int digits = s && n > 0;

        if (!s)
            goto fail;
        for (Py_ssize_t k = 0; k < n; k++)
            if (s[k] < '0' || s[k] > '9')
                digits = 0;
        if (is_undef(r, cur)) {
            undef_fail(r, NULL, cur); /* Undefined[...] fails */
            goto fail;
        }
        key = digits ? PyLong_FromUnicodeObject(p, 10) : Py_NewRef(p);
        if (!key)
            goto fail;
        nx = get_item(r, cur, key);
        Py_DECREF(key);
        if (!nx)
            goto fail;
        Py_DECREF(cur);
        cur = nx;
    }
    Py_DECREF(parts);
    return cur;
fail:
    Py_XDECREF(parts);
    Py_DECREF(cur);
    return NULL;
}

static PyObject *to_str(PyObject *v)
{
    if (PyUnicode_CheckExact(v))
        return Py_NewRef(v);
    return PyObject_Str(v);
}

/* ---- argument lists ------------------------------------------------- */

struct args {
    PyObject *pos[MAX_ARGS];
    int npos;
    const char *kwn[MAX_ARGS];
    PyObject *kwv[MAX_ARGS];
    int nkw;
};

static void args_free(struct args *a)
{
    for (int i = 0; i < a->npos; i++)
        Py_DECREF(a->pos[i]);
    for (int i = 0; i < a->nkw; i++)
        Py_DECREF(a->kwv[i]);
    a->npos = a->nkw = 0;
}

/* Evaluate kids[first..] of n into a. On failure a is left empty. */
static int eval_args(struct render *r, const struct fabc_tpl_node *n,
                     size_t first, struct args *a)
{
    a->npos = a->nkw = 0;
    for (size_t i = first; i < n->nkids; i++) {
        const struct fabc_tpl_node *k = n->kids[i];
        PyObject *v;

        if (a->npos >= MAX_ARGS || a->nkw >= MAX_ARGS) {
            terr(r, n, "too many arguments");
            goto fail;
        }
        v = eval(r, k->kind == FABC_TPL_KWARG ? k->kids[0] : k);
        if (!v)
            goto fail;
        if (k->kind == FABC_TPL_KWARG) {
            a->kwn[a->nkw] = k->str;
            a->kwv[a->nkw++] = v;
        } else {
            a->pos[a->npos++] = v;
        }
    }
    return 0;
fail:
    args_free(a);
    return -1;
}

/* Argument `idx` (positional) or `name` (keyword); borrowed or NULL. */
static PyObject *arg(const struct args *a, int idx, const char *name)
{
    if (idx >= 0 && idx < a->npos)
        return a->pos[idx];
    for (int i = 0; name && i < a->nkw; i++)
        if (!strcmp(a->kwn[i], name))
            return a->kwv[i];
    return NULL;
}

static int arg_bool(const struct args *a, int idx, const char *name, int dflt)
{
    PyObject *v = arg(a, idx, name);

    return v ? PyObject_IsTrue(v) : dflt;
}

static PyObject *args_tuple(const struct args *a, int from)
{
    PyObject *t = PyTuple_New(a->npos > from ? a->npos - from : 0);

    if (!t)
        return NULL;
    for (int i = from; i < a->npos; i++)
        PyTuple_SET_ITEM(t, i - from, Py_NewRef(a->pos[i]));
    return t;
}

static PyObject *args_kwdict(const struct args *a)
{
    PyObject *d = PyDict_New();

    if (!d)
        return NULL;
    for (int i = 0; i < a->nkw; i++)
        if (PyDict_SetItemString(d, a->kwn[i], a->kwv[i]) < 0) {
            Py_DECREF(d);
            return NULL;
        }
    return d;
}

/* ---- filters -------------------------------------------------------- */

struct filter_def {
    const char *name;
    PyObject *(*fn)(struct render *r, const struct fabc_tpl_node *n,
                    PyObject *v, const struct args *a);
};

static const struct filter_def filters[];
static int find_filter(const char *name);
static PyObject *apply_filter(struct render *r, const struct fabc_tpl_node *n,
                              int id, PyObject *v, const struct args *a);

struct test_def {
    const char *name;
    int (*fn)(struct render *r, const struct fabc_tpl_node *n, PyObject *v,
              const struct args *a);
    int nargs; /* arguments after the value */
};

static const struct test_def tests[];
static int find_test(const char *name);
static int apply_test(struct render *r, const struct fabc_tpl_node *n,
                      int id, PyObject *v, const struct args *a);

static PyObject *call_method0(PyObject *o, const char *name)
{
    return PyObject_CallMethod(o, name, NULL);
}

static PyObject *str_method0(PyObject *v, const char *name)
{
    PyObject *s = to_str(v), *rv;

    if (!s)
        return NULL;
    rv = call_method0(s, name);
    Py_DECREF(s);
    return rv;
}

static PyObject *f_upper(struct render *r, const struct fabc_tpl_node *n,
                         PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return str_method0(v, "upper");
}

static PyObject *f_lower(struct render *r, const struct fabc_tpl_node *n,
                         PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return str_method0(v, "lower");
}

static PyObject *f_capitalize(struct render *r,
                              const struct fabc_tpl_node *n, PyObject *v,
                              const struct args *a)
{
    (void)r, (void)n, (void)a;
    return str_method0(v, "capitalize");
}

static int title_sep(Py_UCS4 c)
{
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' ||
           Py_UNICODE_ISSPACE(c);
}

static PyObject *f_title(struct render *r, const struct fabc_tpl_node *n,
                         PyObject *v, const struct args *a)
{
    PyObject *s = to_str(v), *parts = NULL, *rv = NULL, *empty = NULL;
    Py_ssize_t len, i = 0;

    (void)r, (void)n, (void)a;
    if (!s)
        return NULL;
    parts = PyList_New(0);
    if (!parts)
        goto out;
    len = PyUnicode_GET_LENGTH(s);
    while (i < len) {
        Py_ssize_t j = i;
        PyObject *piece, *head, *tail, *h2, *t2;
        int sep = title_sep(PyUnicode_READ_CHAR(s, i));
        int rc;

        while (j < len && title_sep(PyUnicode_READ_CHAR(s, j)) == sep)
            j++;
        if (sep) {
            piece = PyUnicode_Substring(s, i, j);
        } else {
            head = PyUnicode_Substring(s, i, i + 1);
            tail = PyUnicode_Substring(s, i + 1, j);
            h2 = head ? call_method0(head, "upper") : NULL;
            t2 = tail ? call_method0(tail, "lower") : NULL;
            piece = h2 && t2 ? PyUnicode_Concat(h2, t2) : NULL;
            Py_XDECREF(head);
            Py_XDECREF(tail);
            Py_XDECREF(h2);
            Py_XDECREF(t2);
        }
        if (!piece)
            goto out;
        rc = PyList_Append(parts, piece);
        Py_DECREF(piece);
        if (rc < 0)
            goto out;
        i = j;
    }
    empty = PyUnicode_FromString("");
    if (empty)
        rv = PyUnicode_Join(empty, parts);
out:
    Py_XDECREF(empty);
    Py_XDECREF(parts);
    Py_DECREF(s);
    return rv;
}

static PyObject *f_trim(struct render *r, const struct fabc_tpl_node *n,
                        PyObject *v, const struct args *a)
{
    PyObject *s = to_str(v), *rv, *chars = arg(a, 0, "chars");

    (void)r, (void)n;
    if (!s)
        return NULL;
    rv = PyObject_CallMethod(s, "strip", "O", chars ? chars : Py_None);
    Py_DECREF(s);
    return rv;
}

static PyObject *f_replace(struct render *r, const struct fabc_tpl_node *n,
                           PyObject *v, const struct args *a)
{
    PyObject *old = arg(a, 0, "old"), *new = arg(a, 1, "new");
    PyObject *cnt = arg(a, 2, "count");
    PyObject *s = NULL, *so = NULL, *sn = NULL, *rv = NULL;
    Py_ssize_t c = -1;

    if (!old || !new)
        return terr(r, n, "replace() missing required argument");
    if (cnt && cnt != Py_None) {
        c = PyLong_AsSsize_t(cnt);
        if (c == -1 && PyErr_Occurred())
            return NULL;
    }
    s = to_str(v);
    so = to_str(old);
    sn = to_str(new);
    if (s && so && sn)
        rv = PyUnicode_Replace(s, so, sn, c);
    Py_XDECREF(s);
    Py_XDECREF(so);
    Py_XDECREF(sn);
    return rv;
}

static PyObject *list_of(PyObject *v)
{
    return PySequence_List(v);
}

/* map(getter) over v when attribute given; new list */
static PyObject *map_attr(struct render *r, PyObject *v, PyObject *attribute,
                          int ignore_case)
{
    PyObject *l = list_of(v);

    if (!l)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) {
        PyObject *x = PyList_GET_ITEM(l, i), *y;

        y = attribute ? get_path(r, x, attribute) : Py_NewRef(x);
        if (!y)
            goto fail;
        if (ignore_case && PyUnicode_Check(y)) {
            PyObject *z = call_method0(y, "lower");

            Py_DECREF(y);
            if (!z)
                goto fail;
            y = z;
        }
        PyList_SetItem(l, i, y);
    }
    return l;
fail:
    Py_DECREF(l);
    return NULL;
}

static PyObject *f_join(struct render *r, const struct fabc_tpl_node *n,
                        PyObject *v, const struct args *a)
{
    PyObject *d = arg(a, 0, "d"), *attribute = arg(a, 1, "attribute");
    PyObject *l, *sd = NULL, *rv = NULL;

    (void)n;
    if (attribute == Py_None)
        attribute = NULL;
    l = map_attr(r, v, attribute, 0);
    if (!l)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) {
        PyObject *s = PyObject_Str(PyList_GET_ITEM(l, i));

        if (!s)
            goto out;
        PyList_SetItem(l, i, s);
    }
    sd = d ? PyObject_Str(d) : PyUnicode_FromString("");
    if (sd)
        rv = PyUnicode_Join(sd, l);
out:
    Py_XDECREF(sd);
    Py_DECREF(l);
    return rv;
}

static PyObject *f_length(struct render *r, const struct fabc_tpl_node *n,
                          PyObject *v, const struct args *a)
{
    Py_ssize_t k = PyObject_Length(v);

    (void)r, (void)n, (void)a;
    if (k < 0)
        return NULL;
    return PyLong_FromSsize_t(k);
}

static PyObject *f_first(struct render *r, const struct fabc_tpl_node *n,
                         PyObject *v, const struct args *a)
{
    PyObject *it = PyObject_GetIter(v), *x;

    (void)n, (void)a;
    if (!it)
        return NULL;
    x = PyIter_Next(it);
    Py_DECREF(it);
    if (x || PyErr_Occurred())
        return x;
    return mk_undef(r,
                    PyUnicode_FromString("No first item, sequence was empty."));
}

static PyObject *f_last(struct render *r, const struct fabc_tpl_node *n,
                        PyObject *v, const struct args *a)
{
    PyObject *rev, *it, *x;

    (void)n, (void)a;
    if (is_undef(r, v))
        goto empty;
    rev = PyObject_CallMethod(v, "__reversed__", NULL);
    if (!rev) {
        /* sequences without __reversed__ (str, tuple, range) */
        PyObject *l;

        PyErr_Clear();
        if (!PySequence_Check(v) || PyDict_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "argument to reversed() must "
                                             "be a sequence");
            return NULL;
        }
        l = PySequence_List(v);
        if (!l)
            return NULL;
        if (PyList_GET_SIZE(l)) {
            x = Py_NewRef(PyList_GET_ITEM(l, PyList_GET_SIZE(l) - 1));
            Py_DECREF(l);
            return x;
        }
        Py_DECREF(l);
        goto empty;
    }
    it = PyObject_GetIter(rev);
    Py_DECREF(rev);
    if (!it)
        return NULL;
    x = PyIter_Next(it);
    Py_DECREF(it);
    if (x || PyErr_Occurred())
        return x;
empty:
    return mk_undef(r,
                    PyUnicode_FromString("No last item, sequence was empty."));
}

static PyObject *sort_key(struct render *r, PyObject *x, PyObject *attribute,
                          int ignore_case);

/* sort(attribute='a,b'): a list of keys, as Jinja2's multi attrgetter */
static PyObject *sort_key_multi(struct render *r, PyObject *x,
                                PyObject *attribute, int ignore_case)
{
    PyObject *comma = PyUnicode_FromString(","), *parts, *keys = NULL;

    if (!comma)
        return NULL;
    parts = PyUnicode_Split(attribute, comma, -1);
    Py_DECREF(comma);
    if (!parts)
        return NULL;
    keys = PyList_New(PyList_GET_SIZE(parts));
    for (Py_ssize_t i = 0; keys && i < PyList_GET_SIZE(parts); i++) {
        PyObject *k = sort_key(r, x, PyList_GET_ITEM(parts, i), ignore_case);

        if (!k)
            Py_CLEAR(keys);
        else
            PyList_SET_ITEM(keys, i, k);
    }
    Py_DECREF(parts);
    return keys;
}

/* key for sorting: attribute path and/or lower() */
static PyObject *sort_key(struct render *r, PyObject *x, PyObject *attribute,
                          int ignore_case)
{
    PyObject *y;

    if (attribute && PyUnicode_Check(attribute) &&
        PyUnicode_FindChar(attribute, ',', 0,
                           PyUnicode_GET_LENGTH(attribute), 1) >= 0)
        return sort_key_multi(r, x, attribute, ignore_case);
    y = attribute ? get_path(r, x, attribute) : Py_NewRef(x);

    if (y && ignore_case && PyUnicode_Check(y)) {
        PyObject *z = call_method0(y, "lower");

        Py_DECREF(y);
        y = z;
    }
    return y;
}

/* Stable sort of `l` (a list we own) by keys; keys list parallel.
 * plain: the keys are compared as they are (dictsort, groupby), so an
 * Undefined key fails as Python's sort would fail on it; otherwise they
 * are compared like Jinja2's attribute lists (sort), == first. */
static int sort_by_keys(PyObject *l, PyObject *keys, int reverse, int plain)
{
    Py_ssize_t n = PyList_GET_SIZE(l);
    PyObject *dec = PyList_New(n);
    int rc = -1;

    if (!dec)
        return -1;
    for (Py_ssize_t i = 0; plain && n > 1 && i < n; i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);

        /* Python's sort would order an Undefined key with <, which fails
         * in every mode; the tuples below would only test it with == */
        if (PyType_GetSlot(Py_TYPE(k), Py_tp_call) == (void *)undef_call) {
            undef_fail_py(k);
            goto out;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = Py_BuildValue("(OnO)", PyList_GET_ITEM(keys, i),
                                    reverse ? -i : i, PyList_GET_ITEM(l, i));

        if (!t)
            goto out;
        PyList_SET_ITEM(dec, i, t);
    }
    if (PyList_Sort(dec) < 0)
        goto out;
    if (reverse && PyList_Reverse(dec) < 0)
        goto out;
    for (Py_ssize_t i = 0; i < n; i++)
        PyList_SetItem(l, i, Py_NewRef(PyTuple_GET_ITEM(
                                  PyList_GET_ITEM(dec, i), 2)));
    rc = 0;
out:
    Py_DECREF(dec);
    return rc;
}

static PyObject *sorted_by(struct render *r, PyObject *v, PyObject *attribute,
                           int ignore_case, int reverse)
{
    PyObject *l = list_of(v), *keys = NULL;

    if (!l)
        return NULL;
    keys = PyList_New(PyList_GET_SIZE(l));
    if (!keys)
        goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) {
        PyObject *k = sort_key(r, PyList_GET_ITEM(l, i), attribute,
                               ignore_case);

        if (!k)
            goto fail;
        PyList_SET_ITEM(keys, i, k);
    }
    if (sort_by_keys(l, keys, reverse, 0) < 0)
        goto fail;
    Py_DECREF(keys);
    return l;
fail:
    Py_XDECREF(keys);
    Py_DECREF(l);
    return NULL;
}

static PyObject *f_sort(struct render *r, const struct fabc_tpl_node *n,
                        PyObject *v, const struct args *a)
{
    int reverse = arg_bool(a, 0, "reverse", 0);
    int cs = arg_bool(a, 1, "case_sensitive", 0);
    PyObject *attribute = arg(a, 2, "attribute");

    (void)n;
    if (reverse < 0 || cs < 0)
        return NULL;
    if (attribute == Py_None)
        attribute = NULL;
    return sorted_by(r, v, attribute, !cs, reverse);
}

static PyObject *f_unique(struct render *r, const struct fabc_tpl_node *n,
                          PyObject *v, const struct args *a)
{
    int cs = arg_bool(a, 0, "case_sensitive", 0);
    PyObject *attribute = arg(a, 1, "attribute");
    PyObject *l = NULL, *seen = NULL, *rv = NULL;

    (void)n;
    if (cs < 0)
        return NULL;
    if (attribute == Py_None)
        attribute = NULL;
    l = list_of(v);
    seen = PySet_New(NULL);
    rv = PyList_New(0);
    if (!l || !seen || !rv)
        goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) {
        PyObject *x = PyList_GET_ITEM(l, i);
        PyObject *k = sort_key(r, x, attribute, !cs);
        int has;

        if (!k)
            goto fail;
        has = PySet_Contains(seen, k);
        if (has == 0 && (PySet_Add(seen, k) < 0 || PyList_Append(rv, x) < 0))
            has = -1;
        Py_DECREF(k);
        if (has < 0)
            goto fail;
    }
    Py_DECREF(l);
    Py_DECREF(seen);
    return rv;
fail:
    Py_XDECREF(l);
    Py_XDECREF(seen);
    Py_XDECREF(rv);
    return NULL;
}

static PyObject *f_reverse(struct render *r, const struct fabc_tpl_node *n,
                           PyObject *v, const struct args *a)
{
    PyObject *l;

    (void)r, (void)n, (void)a;
    if (PyUnicode_Check(v)) {
        PyObject *sl, *rv;
        PyObject *m1 = PyLong_FromLong(-1);

        sl = m1 ? PySlice_New(Py_None, Py_None, m1) : NULL;
        Py_XDECREF(m1);
        if (!sl)
            return NULL;
        rv = PyObject_GetItem(v, sl);
        Py_DECREF(sl);
        return rv;
    }
    l = list_of(v);
    if (l && PyList_Reverse(l) < 0)
        Py_CLEAR(l);
    return l;
}

static PyObject *f_list(struct render *r, const struct fabc_tpl_node *n,
                        PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return list_of(v);
}

static PyObject *f_string(struct render *r, const struct fabc_tpl_node *n,
                          PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return PyObject_Str(v);
}

static PyObject *f_int(struct render *r, const struct fabc_tpl_node *n,
                       PyObject *v, const struct args *a)
{
    PyObject *dflt = arg(a, 0, "default"), *base = arg(a, 1, "base");
    PyObject *rv, *f;

    if (is_undef(r, v))
        return undef_fail(r, n, v); /* Undefined.__int__ fails */
    if (PyUnicode_Check(v)) {
        PyObject *b = base ? Py_NewRef(base) : PyLong_FromLong(10);

        if (!b)
            return NULL;
        rv = PyObject_CallFunction((PyObject *)&PyLong_Type, "OO", v, b);
        Py_DECREF(b);
    } else {
        rv = PyNumber_Long(v);
    }
    if (rv)
        return rv;
    if (!PyErr_ExceptionMatches(PyExc_TypeError) &&
        !PyErr_ExceptionMatches(PyExc_ValueError))
        return NULL;
    PyErr_Clear();
    f = PyNumber_Float(v);
    if (!f && PyUnicode_Check(v) &&
        PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear();
        f = PyFloat_FromString(v);
    }
    if (f) {
        rv = PyNumber_Long(f);
        Py_DECREF(f);
        if (rv)
            return rv;
    }
    if (!PyErr_ExceptionMatches(PyExc_TypeError) &&
        !PyErr_ExceptionMatches(PyExc_ValueError))
        return NULL;
    PyErr_Clear();
    return dflt ? Py_NewRef(dflt) : PyLong_FromLong(0);
}

static PyObject *f_float(struct render *r, const struct fabc_tpl_node *n,
                         PyObject *v, const struct args *a)
{
    PyObject *dflt = arg(a, 0, "default"), *rv;

    if (is_undef(r, v))
        return undef_fail(r, n, v); /* Undefined.__float__ fails */
    rv = PyNumber_Float(v);
    if (rv)
        return rv;
    if (!PyErr_ExceptionMatches(PyExc_TypeError) &&
        !PyErr_ExceptionMatches(PyExc_ValueError))
        return NULL;
    PyErr_Clear();
    return dflt ? Py_NewRef(dflt) : PyFloat_FromDouble(0.0);
}

static PyObject *f_abs(struct render *r, const struct fabc_tpl_node *n,
                       PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return PyNumber_Absolute(v);
}

static PyObject *f_round(struct render *r, const struct fabc_tpl_node *n,
                         PyObject *v, const struct args *a)
{
    PyObject *prec = arg(a, 0, "precision"), *method = arg(a, 1, "method");
    PyObject *p = prec ? Py_NewRef(prec) : PyLong_FromLong(0), *rv = NULL;
    const char *m = "common";

    if (!p)
        return NULL;
    if (method) {
        m = PyUnicode_Check(method) ? PyUnicode_AsUTF8(method) : NULL;
        if (!m || (strcmp(m, "common") && strcmp(m, "ceil") &&
                   strcmp(m, "floor"))) {
            PyErr_Clear();
            Py_DECREF(p);
            return terr(r, n, "method must be common, ceil or floor");
        }
    }
    if (!strcmp(m, "common")) {
        rv = PyObject_CallMethod(v, "__round__", "O", p);
    } else {
        PyObject *ten = PyLong_FromLong(10), *scale = NULL, *prod = NULL;
        double x;

        scale = ten ? PyNumber_Power(ten, p, Py_None) : NULL;
        prod = scale ? PyNumber_Multiply(v, scale) : NULL;
        if (prod) {
            x = PyFloat_AsDouble(prod);
            if (!(x == -1.0 && PyErr_Occurred())) {
                double s = PyFloat_AsDouble(scale);

                if (!(s == -1.0 && PyErr_Occurred()))
                    rv = PyFloat_FromDouble(
                        (m[0] == 'c' ? ceil(x) : floor(x)) / s);
            }
        }
        Py_XDECREF(ten);
        Py_XDECREF(scale);
        Py_XDECREF(prod);
    }
    Py_DECREF(p);
    return rv;
}

static PyObject *f_indent(struct render *r, const struct fabc_tpl_node *n,
                          PyObject *v, const struct args *a)
{
    PyObject *width = arg(a, 0, "width");
    int first = arg_bool(a, 1, "first", 0), blank = arg_bool(a, 2, "blank", 0);
    PyObject *ind = NULL, *s = NULL, *lines = NULL, *nl = NULL, *rv = NULL;
    PyObject *parts = NULL;

    if (first < 0 || blank < 0)
        return NULL;
    /* Jinja2 appends "\n" to the value itself: only strings work */
    if (is_undef(r, v))
        return undef_fail(r, n, v);
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError,
                     "unsupported operand type(s) for +=: '%s' and 'str'",
                     _PyType_Name(Py_TYPE(v)));
        return NULL;
    }
    if (width && PyUnicode_Check(width)) {
        ind = Py_NewRef(width);
    } else {
        Py_ssize_t w = 4;

        if (width) {
            w = PyLong_AsSsize_t(width);
            if (w == -1 && PyErr_Occurred())
                return NULL;
        }
        if (w < 0)
            w = 0;
        ind = PyUnicode_New(w, 127);
        if (!ind)
            return NULL;
        for (Py_ssize_t i = 0; i < w; i++)
            PyUnicode_WRITE(PyUnicode_1BYTE_KIND, PyUnicode_DATA(ind), i, ' ');
    }
    nl = PyUnicode_FromString("\n");
    s = to_str(v);
    if (!nl || !s)
        goto out;
    {
        PyObject *s2 = PyUnicode_Concat(s, nl);

        Py_DECREF(s);
        s = s2;
        if (!s)
            goto out;
    }
    lines = PyUnicode_Splitlines(s, 0);
    if (!lines)
        goto out;
    if (blank) {
        PyObject *sep = PyUnicode_Concat(nl, ind);

        if (!sep)
            goto out;
        rv = PyUnicode_Join(sep, lines);
        Py_DECREF(sep);
    } else {
        Py_ssize_t k = PyList_GET_SIZE(lines);

        parts = PyList_New(0);
        if (!parts)
            goto out;
        for (Py_ssize_t i = 1; i < k; i++) {
            PyObject *ln = PyList_GET_ITEM(lines, i), *x;
            int rc;

            x = PyUnicode_GET_LENGTH(ln) ? PyUnicode_Concat(ind, ln)
                                         : Py_NewRef(ln);
            if (!x)
                goto out;
            rc = PyList_Append(parts, x);
            Py_DECREF(x);
            if (rc < 0)
                goto out;
        }
        rv = k ? Py_NewRef(PyList_GET_ITEM(lines, 0))
               : PyUnicode_FromString("");
        if (rv && PyList_GET_SIZE(parts)) {
            PyObject *joined = PyUnicode_Join(nl, parts), *t;

            t = joined ? PyUnicode_Concat(nl, joined) : NULL;
            Py_XDECREF(joined);
            joined = t ? PyUnicode_Concat(rv, t) : NULL;
            Py_XDECREF(t);
            Py_SETREF(rv, joined);
        }
    }
    if (rv && first)
        Py_SETREF(rv, PyUnicode_Concat(ind, rv));
out:
    Py_XDECREF(parts);
    Py_XDECREF(lines);
    Py_XDECREF(s);
    Py_XDECREF(nl);
    Py_XDECREF(ind);
    return rv;
}

static PyObject *f_center(struct render *r, const struct fabc_tpl_node *n,
                          PyObject *v, const struct args *a)
{
    PyObject *w = arg(a, 0, "width"), *s = to_str(v), *rv;

    (void)r, (void)n;
    if (!s)
        return NULL;
    if (w)
        rv = PyObject_CallMethod(s, "center", "O", w);
    else
        rv = PyObject_CallMethod(s, "center", "i", 80);
    Py_DECREF(s);
    return rv;
}

static PyObject *f_wordcount(struct render *r, const struct fabc_tpl_node *n,
                             PyObject *v, const struct args *a)
{
    PyObject *s = to_str(v), *l, *rv = NULL;

    (void)n, (void)a;
    if (!s)
        return NULL;
    l = PyObject_CallMethod(tcx(r, TC_WORD_RE), "findall", "O", s);
    Py_DECREF(s);
    if (l) {
        rv = PyLong_FromSsize_t(PyObject_Length(l));
        Py_DECREF(l);
    }
    return rv;
}

static PyObject *f_truncate(struct render *r, const struct fabc_tpl_node *n,
                            PyObject *v, const struct args *a)
{
    PyObject *lo = arg(a, 0, "length"), *end = arg(a, 2, "end");
    PyObject *lw = arg(a, 3, "leeway"), *head = NULL, *rv = NULL;
    int killwords = arg_bool(a, 1, "killwords", 0);
    Py_ssize_t length = 255, leeway = 5, endlen, slen;

    if (killwords < 0)
        return NULL;
    if (lo) {
        length = PyLong_AsSsize_t(lo);
        if (length == -1 && PyErr_Occurred())
            return NULL;
    }
    if (lw && lw != Py_None) {
        leeway = PyLong_AsSsize_t(lw);
        if (leeway == -1 && PyErr_Occurred())
            return NULL;
    }
    end = end ? Py_NewRef(end) : PyUnicode_FromString("...");
    if (!end)
        return NULL;
    endlen = PyObject_Length(end);
    if (endlen < 0)
        goto out;
    if (length < endlen) {
        terr(r, n, "expected length >= %zd, got %zd", endlen, length);
        goto out;
    }
    if (leeway < 0) {
        terr(r, n, "expected leeway >= 0, got %zd", leeway);
        goto out;
    }
    slen = PyObject_Length(v);
    if (slen < 0)
        goto out;
    if (slen <= length + leeway) {
        rv = Py_NewRef(v);
        goto out;
    }
    head = PySequence_GetSlice(v, 0, length - endlen);
    if (!head)
        goto out;
    if (!killwords) {
        PyObject *parts = PyObject_CallMethod(head, "rsplit", "si", " ", 1);

        if (!parts)
            goto out;
        Py_SETREF(head, PySequence_GetItem(parts, 0));
        Py_DECREF(parts);
        if (!head)
            goto out;
    }
    rv = PyNumber_Add(head, end);
out:
    Py_XDECREF(head);
    Py_DECREF(end);
    return rv;
}

static PyObject *f_tojson(struct render *r, const struct fabc_tpl_node *n,
                          PyObject *v, const struct args *a)
{
    PyObject *indent = arg(a, 0, "indent"), *kw = NULL, *t = NULL;
    PyObject *s = NULL, *rv = NULL;
    static const char *const repl[][2] = { { "<", "\\u003c" },
                                           { ">", "\\u003e" },
                                           { "&", "\\u0026" },
                                           { "'", "\\u0027" } };

    (void)n;
    kw = Py_BuildValue("{sO}", "sort_keys", Py_True);
    if (!kw)
        goto out;
    if (indent && indent != Py_None &&
        PyDict_SetItemString(kw, "indent", indent) < 0)
        goto out;
    t = PyTuple_Pack(1, v);
    if (!t)
        goto out;
    s = PyObject_Call(tcx(r, TC_JSON_DUMPS), t, kw);
    if (!s)
        goto out;
    for (size_t i = 0; i < 4; i++) {
        PyObject *x = PyUnicode_FromString(repl[i][0]);
        PyObject *y = PyUnicode_FromString(repl[i][1]);

        if (x && y)
            Py_SETREF(s, PyUnicode_Replace(s, x, y, -1));
        else
            Py_CLEAR(s);
        Py_XDECREF(x);
        Py_XDECREF(y);
        if (!s)
            goto out;
    }
    rv = PyObject_CallOneArg(tcx(r, TC_MARKUP), s);
out:
    Py_XDECREF(kw);
    Py_XDECREF(t);
    Py_XDECREF(s);
    return rv;
}

static int is_mapping(struct render *r, PyObject *v)
{
    if (PyDict_Check(v))
        return 1;
    return PyObject_IsInstance(v, tcx(r, TC_MAPPING));
}

static PyObject *f_items(struct render *r, const struct fabc_tpl_node *n,
                         PyObject *v, const struct args *a)
{
    PyObject *it;
    int m;

    (void)a;
    if (is_undef(r, v))
        return PyList_New(0);
    m = is_mapping(r, v);
    if (m < 0)
        return NULL;
    if (!m)
        return terr(r, n, "Can only get item pairs from a mapping.");
    it = call_method0(v, "items");
    if (!it)
        return NULL;
    Py_SETREF(it, PySequence_List(it));
    return it;
}

static PyObject *f_dictsort(struct render *r, const struct fabc_tpl_node *n,
                            PyObject *v, const struct args *a)
{
    int cs = arg_bool(a, 0, "case_sensitive", 0);
    PyObject *by = arg(a, 1, "by"), *items = NULL, *keys = NULL;
    int reverse = arg_bool(a, 2, "reverse", 0), pos = 0;

    if (cs < 0 || reverse < 0)
        return NULL;
    if (by) {
        const char *b = PyUnicode_Check(by) ? PyUnicode_AsUTF8(by) : NULL;

        if (b && !strcmp(b, "value"))
            pos = 1;
        else if (!b || strcmp(b, "key")) {
            PyErr_Clear();
            return terr(r, n,
                        "You can only sort by either \"key\" or \"value\"");
        }
    }
    items = call_method0(v, "items");
    if (!items)
        return NULL;
    Py_SETREF(items, PySequence_List(items));
    if (!items)
        return NULL;
    keys = PyList_New(PyList_GET_SIZE(items));
    if (!keys)
        goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *k = PySequence_GetItem(PyList_GET_ITEM(items, i), pos);

        if (k && !cs && PyUnicode_Check(k))
            Py_SETREF(k, call_method0(k, "lower"));
        if (!k)
            goto fail;
        PyList_SET_ITEM(keys, i, k);
    }
    if (sort_by_keys(items, keys, reverse, 1) < 0)
        goto fail;
    Py_DECREF(keys);
    return items;
fail:
    Py_XDECREF(keys);
    Py_DECREF(items);
    return NULL;
}

/* select/reject/selectattr/rejectattr; mode bit0: reject, bit1: attr */
static PyObject *select_impl(struct render *r, const struct fabc_tpl_node *n,
                             PyObject *v, const struct args *a, int mode)
{
    PyObject *l = list_of(v), *rv = NULL;
    int attr = mode & 2, first = attr ? 1 : 0, tid = -1;
    PyObject *attrname = attr ? arg(a, 0, NULL) : NULL;
    struct args ta = { 0 };

    if (!l)
        return NULL;
    if (attr && !attrname) {
        terr(r, n, "Missing parameter for attribute name");
        goto out;
    }
    if (a->npos > first) {
        PyObject *tn = a->pos[first];
        const char *name = PyUnicode_Check(tn) ? PyUnicode_AsUTF8(tn) : NULL;

        if (!name)
            goto out;
        tid = find_test(name);
        if (tid < 0) {
            terr(r, n, "No test named '%s'.", name);
            goto out;
        }
        for (int i = first + 1; i < a->npos; i++)
            ta.pos[ta.npos++] = a->pos[i];
        for (int i = 0; i < a->nkw; i++) {
            ta.kwn[ta.nkw] = a->kwn[i];
            ta.kwv[ta.nkw++] = a->kwv[i];
        }
    }
    rv = PyList_New(0);
    if (!rv)
        goto out;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) {
        PyObject *x = PyList_GET_ITEM(l, i), *y;
        int ok;

        y = attr ? get_path(r, x, attrname) : Py_NewRef(x);
        if (!y) {
            Py_CLEAR(rv);
            goto out;
        }
        if (tid >= 0)
            ok = apply_test(r, n, tid, y, &ta);
        else
            ok = truth(r, n, y);
        Py_DECREF(y);
        if (ok < 0 || (((mode & 1) ? !ok : ok) && PyList_Append(rv, x) < 0)) {
            Py_CLEAR(rv);
            goto out;
        }
    }
out:
    Py_DECREF(l);
    return rv;
}

static PyObject *f_select(struct render *r, const struct fabc_tpl_node *n,
                          PyObject *v, const struct args *a)
{
    return select_impl(r, n, v, a, 0);
}

static PyObject *f_reject(struct render *r, const struct fabc_tpl_node *n,
                          PyObject *v, const struct args *a)
{
    return select_impl(r, n, v, a, 1);
}

static PyObject *f_selectattr(struct render *r,
                              const struct fabc_tpl_node *n, PyObject *v,
                              const struct args *a)
{
    return select_impl(r, n, v, a, 2);
}

static PyObject *f_rejectattr(struct render *r,
                              const struct fabc_tpl_node *n, PyObject *v,
                              const struct args *a)
{
    return select_impl(r, n, v, a, 3);
}

static PyObject *f_map(struct render *r, const struct fabc_tpl_node *n,
                       PyObject *v, const struct args *a)
{
    PyObject *attribute = arg(a, -1, "attribute");
    PyObject *dflt = arg(a, -1, "default");
    PyObject *l = list_of(v);
    int fid = -1;
    struct args fa = { 0 };

    if (!l)
        return NULL;
    if (!attribute) {
        const char *name;

        if (a->npos < 1) {
            terr(r, n, "map requires a filter argument");
            goto fail;
        }
        name = PyUnicode_Check(a->pos[0]) ? PyUnicode_AsUTF8(a->pos[0])
                                          : NULL;
        if (!name)
            goto fail;
        fid = find_filter(name);
        if (fid < 0) {
            terr(r, n, "No filter named '%s'.", name);
            goto fail;
        }
        for (int i = 1; i < a->npos; i++)
            fa.pos[fa.npos++] = a->pos[i];
        for (int i = 0; i < a->nkw; i++) {
            fa.kwn[fa.nkw] = a->kwn[i];
            fa.kwv[fa.nkw++] = a->kwv[i];
        }
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) {
        PyObject *x = PyList_GET_ITEM(l, i), *y;

        if (fid >= 0) {
            y = apply_filter(r, n, fid, x, &fa);
        } else {
            y = get_path(r, x, attribute);
            if (y && dflt && dflt != Py_None && is_undef(r, y))
                Py_SETREF(y, Py_NewRef(dflt));
        }
        if (!y)
            goto fail;
        PyList_SetItem(l, i, y);
    }
    return l;
fail:
    Py_DECREF(l);
    return NULL;
}

static PyObject *f_batch(struct render *r, const struct fabc_tpl_node *n,
                         PyObject *v, const struct args *a)
{
    PyObject *lc = arg(a, 0, "linecount"), *fill = arg(a, 1, "fill_with");
    PyObject *l = NULL, *rv = NULL, *tmp = NULL;
    Py_ssize_t count;

    if (!lc)
        return terr(r, n, "batch() missing required argument 'linecount'");
    count = PyLong_AsSsize_t(lc);
    if (count == -1 && PyErr_Occurred())
        return NULL;
    l = list_of(v);
    rv = PyList_New(0);
    if (!l || !rv)
        goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) {
        if (tmp && PyList_GET_SIZE(tmp) == count) {
            if (PyList_Append(rv, tmp) < 0)
                goto fail;
            Py_CLEAR(tmp);
        }
        if (!tmp) {
            tmp = PyList_New(0);
            if (!tmp)
                goto fail;
        }
        if (PyList_Append(tmp, PyList_GET_ITEM(l, i)) < 0)
            goto fail;
    }
    if (tmp) {
        if (fill && fill != Py_None)
            while (PyList_GET_SIZE(tmp) < count)
                if (PyList_Append(tmp, fill) < 0)
                    goto fail;
        if (PyList_Append(rv, tmp) < 0)
            goto fail;
        Py_CLEAR(tmp);
    }
    Py_DECREF(l);
    return rv;
fail:
    Py_XDECREF(tmp);
    Py_XDECREF(l);
    Py_XDECREF(rv);
    return NULL;
}

static PyObject *f_slice(struct render *r, const struct fabc_tpl_node *n,
                         PyObject *v, const struct args *a)
{
    PyObject *sl = arg(a, 0, "slices"), *fill = arg(a, 1, "fill_with");
    PyObject *l = NULL, *rv = NULL;
    Py_ssize_t slices, length, per, extra, offset = 0;

    if (!sl)
        return terr(r, n, "slice() missing required argument 'slices'");
    slices = PyLong_AsSsize_t(sl);
    if (slices == -1 && PyErr_Occurred())
        return NULL;
    if (slices <= 0) {
        PyErr_SetString(PyExc_ZeroDivisionError,
                        "integer division or modulo by zero");
        return NULL;
    }
    l = list_of(v);
    rv = PyList_New(0);
    if (!l || !rv)
        goto fail;
    length = PyList_GET_SIZE(l);
    per = length / slices;
    extra = length % slices;
    for (Py_ssize_t k = 0; k < slices; k++) {
        Py_ssize_t start = offset + k * per, end;
        PyObject *tmp;
        int rc;

        if (k < extra)
            offset++;
        end = offset + (k + 1) * per;
        tmp = PyList_GetSlice(l, start, end);
        if (!tmp)
            goto fail;
        if (fill && fill != Py_None && k >= extra &&
            PyList_Append(tmp, fill) < 0) {
            Py_DECREF(tmp);
            goto fail;
        }
        rc = PyList_Append(rv, tmp);
        Py_DECREF(tmp);
        if (rc < 0)
            goto fail;
    }
    Py_DECREF(l);
    return rv;
fail:
    Py_XDECREF(l);
    Py_XDECREF(rv);
    return NULL;
}

static PyObject *minmax(struct render *r, PyObject *v, const struct args *a,
                        int want_max)
{
    int cs = arg_bool(a, 0, "case_sensitive", 0);
    PyObject *attribute = arg(a, 1, "attribute");
    PyObject *l, *best = NULL, *bestkey = NULL;

    if (cs < 0)
        return NULL;
    if (attribute == Py_None)
        attribute = NULL;
    l = list_of(v);
    if (!l)
        return NULL;
    if (!PyList_GET_SIZE(l)) {
        Py_DECREF(l);
        return mk_undef(r, PyUnicode_FromString(
                               "No aggregated item, sequence was empty."));
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) {
        PyObject *x = PyList_GET_ITEM(l, i);
        PyObject *k = sort_key(r, x, attribute, !cs);
        int better;

        if (!k)
            goto fail;
        if (!best) {
            best = x;
            bestkey = k;
            continue;
        }
        better = PyObject_RichCompareBool(k, bestkey, want_max ? Py_GT : Py_LT);
        if (better < 0) {
            Py_DECREF(k);
            goto fail;
        }
        if (better) {
            best = x;
            Py_SETREF(bestkey, k);
        } else {
            Py_DECREF(k);
        }
    }
    Py_INCREF(best);
    Py_XDECREF(bestkey);
    Py_DECREF(l);
    return best;
fail:
    Py_XDECREF(bestkey);
    Py_DECREF(l);
    return NULL;
}

static PyObject *f_min(struct render *r, const struct fabc_tpl_node *n,
                       PyObject *v, const struct args *a)
{
    (void)n;
    return minmax(r, v, a, 0);
}

static PyObject *f_max(struct render *r, const struct fabc_tpl_node *n,
                       PyObject *v, const struct args *a)
{
    (void)n;
    return minmax(r, v, a, 1);
}

static PyObject *f_sum(struct render *r, const struct fabc_tpl_node *n,
                       PyObject *v, const struct args *a)
{
    PyObject *attribute = arg(a, 0, "attribute"), *start = arg(a, 1, "start");
    PyObject *l, *acc;

    (void)n;
    if (attribute == Py_None)
        attribute = NULL;
    l = map_attr(r, v, attribute, 0);
    if (!l)
        return NULL;
    acc = start ? Py_NewRef(start) : PyLong_FromLong(0);
    for (Py_ssize_t i = 0; acc && i < PyList_GET_SIZE(l); i++)
        Py_SETREF(acc, PyNumber_Add(acc, PyList_GET_ITEM(l, i)));
    Py_DECREF(l);
    return acc;
}

static PyObject *f_format(struct render *r, const struct fabc_tpl_node *n,
                          PyObject *v, const struct args *a)
{
    PyObject *s, *params, *rv;

    if (a->npos && a->nkw)
        return terr(r, n, "can't handle positional and keyword arguments "
                          "at the same time");
    s = to_str(v);
    if (!s)
        return NULL;
    params = a->nkw ? args_kwdict(a) : args_tuple(a, 0);
    rv = params ? PyUnicode_Format(s, params) : NULL;
    Py_XDECREF(params);
    Py_DECREF(s);
    return rv;
}

static PyObject *f_escape(struct render *r, const struct fabc_tpl_node *n,
                          PyObject *v, const struct args *a)
{
    PyObject *s, *rv = NULL;
    struct fabc_buf b;
    Py_ssize_t len;
    const char *p;

    (void)n, (void)a;
    if (Py_TYPE(v) == (PyTypeObject *)tcx(r, TC_MARKUP))
        return Py_NewRef(v);
    s = to_str(v);
    if (!s)
        return NULL;
    p = PyUnicode_AsUTF8AndSize(s, &len);
    fabc_buf_init(&b);
    if (!p)
        goto out;
    if (fabc_buf_append(&b, "", 0) < 0) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        const char *e = NULL;
        int rc;

        switch (p[i]) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&#34;"; break;
        case '\'': e = "&#39;"; break;
        }
        rc = e ? fabc_buf_puts(&b, e) : fabc_buf_append(&b, p + i, 1);
        if (rc < 0) {
            PyErr_NoMemory();
            goto out;
        }
    }
    {
        PyObject *u = PyUnicode_DecodeUTF8(b.data, (Py_ssize_t)b.len,
                                           "strict");

        if (u) {
            rv = PyObject_CallOneArg(tcx(r, TC_MARKUP), u);
            Py_DECREF(u);
        }
    }
out:
    fabc_buf_free(&b);
    Py_DECREF(s);
    return rv;
}

static PyObject *f_safe(struct render *r, const struct fabc_tpl_node *n,
                        PyObject *v, const struct args *a)
{
    PyObject *s = to_str(v), *rv;

    (void)n, (void)a;
    if (!s)
        return NULL;
    rv = PyObject_CallOneArg(tcx(r, TC_MARKUP), s);
    Py_DECREF(s);
    return rv;
}

static int url_quote(struct fabc_buf *b, PyObject *v, int for_qs)
{
    PyObject *s = NULL;
    const char *p;
    Py_ssize_t len;
    int rc = -1;
    static const char hex[] = "0123456789ABCDEF";

    if (PyBytes_Check(v)) {
        p = PyBytes_AS_STRING(v);
        len = PyBytes_GET_SIZE(v);
    } else {
        s = PyObject_Str(v);
        if (!s)
            return -1;
        p = PyUnicode_AsUTF8AndSize(s, &len);
        if (!p)
            goto out;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        int ok;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
            c == '~' || (c == '/' && !for_qs))
            ok = fabc_buf_append(b, &c, 1);
        else if (c == ' ' && for_qs)
            ok = fabc_buf_append(b, "+", 1);
        else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };

            ok = fabc_buf_append(b, e, 3);
        }
        if (ok < 0) {
            PyErr_NoMemory();
            goto out;
        }
    }
    rc = 0;
out:
    Py_XDECREF(s);
    return rc;
}

static PyObject *f_urlencode(struct render *r, const struct fabc_tpl_node *n,
                             PyObject *v, const struct args *a)
{
    struct fabc_buf b;
    PyObject *rv = NULL, *items = NULL, *it;

    (void)r, (void)n, (void)a;
    fabc_buf_init(&b);
    if (fabc_buf_append(&b, "", 0) < 0)
        return PyErr_NoMemory();
    if (PyDict_Check(v)) {
        items = PyDict_Items(v);
    } else if (!PyUnicode_Check(v)) {
        it = PyObject_GetIter(v);
        if (it) {
            items = PySequence_List(it);
            Py_DECREF(it);
        } else if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
        }
    }
    if (PyErr_Occurred())
        goto out;
    if (!items) {
        /* a string, or anything not iterable: quote its str() */
        if (url_quote(&b, v, 0) == 0)
            rv = PyUnicode_DecodeUTF8(b.data, (Py_ssize_t)b.len, "strict");
        goto out;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *pair = PySequence_Tuple(PyList_GET_ITEM(items, i));
        int rc;

        if (!pair)
            goto out;
        if (PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_ValueError, "expected key/value pairs");
            Py_DECREF(pair);
            goto out;
        }
        rc = (i && fabc_buf_append(&b, "&", 1) < 0) ||
             url_quote(&b, PyTuple_GET_ITEM(pair, 0), 1) < 0 ||
             fabc_buf_append(&b, "=", 1) < 0 ||
             url_quote(&b, PyTuple_GET_ITEM(pair, 1), 1) < 0;
        Py_DECREF(pair);
        if (rc) {
            if (!PyErr_Occurred())
                PyErr_NoMemory();
            goto out;
        }
    }
    rv = PyUnicode_DecodeUTF8(b.data, (Py_ssize_t)b.len, "strict");
out:
    Py_XDECREF(items);
    fabc_buf_free(&b);
    return rv;
}

static PyObject *f_attr(struct render *r, const struct fabc_tpl_node *n,
                        PyObject *v, const struct args *a)
{
    PyObject *name = arg(a, 0, "name"), *rv;

    if (!name)
        return terr(r, n, "attr() missing required argument 'name'");
    rv = PyObject_GetAttr(v, name);
    if (rv || !PyErr_ExceptionMatches(PyExc_AttributeError))
        return rv;
    PyErr_Clear();
    return undef_missing_attr(r, v, name);
}

static PyObject *f_default(struct render *r, const struct fabc_tpl_node *n,
                           PyObject *v, const struct args *a)
{
    PyObject *d = arg(a, 0, "default_value");
    int boolean = arg_bool(a, 1, "boolean", 0), use;

    (void)n;
    if (boolean < 0)
        return NULL;
    use = is_undef(r, v);
    if (!use && boolean) {
        int t = PyObject_IsTrue(v);

        if (t < 0)
            return NULL;
        use = !t;
    }
    if (use)
        return d ? Py_NewRef(d) : PyUnicode_FromString("");
    return Py_NewRef(v);
}

/* groupby key of x: attribute path, default for Undefined, lower() */
static PyObject *group_key(struct render *r, PyObject *x, PyObject *attribute,
                           PyObject *dflt, int ignore_case)
{
    PyObject *k = get_path(r, x, attribute);

    if (k && dflt && dflt != Py_None && is_undef(r, k))
        Py_SETREF(k, Py_NewRef(dflt));
    if (k && ignore_case && PyUnicode_Check(k))
        Py_SETREF(k, call_method0(k, "lower"));
    return k;
}

static PyObject *f_groupby(struct render *r, const struct fabc_tpl_node *n,
                           PyObject *v, const struct args *a)
{
    PyObject *attribute = arg(a, 0, "attribute"), *dflt = arg(a, 1, "default");
    int cs = arg_bool(a, 2, "case_sensitive", 0);
    PyObject *l = NULL, *keys = NULL, *rv = NULL, *cur = NULL, *curkey = NULL;

    if (!attribute)
        return terr(r, n, "groupby() missing required argument 'attribute'");
    if (cs < 0)
        return NULL;
    l = list_of(v);
    keys = l ? PyList_New(PyList_GET_SIZE(l)) : NULL;
    if (!keys)
        goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) {
        PyObject *k = group_key(r, PyList_GET_ITEM(l, i), attribute, dflt,
                                !cs);

        if (!k)
            goto fail;
        PyList_SET_ITEM(keys, i, k);
    }
    if (sort_by_keys(l, keys, 0, 1) < 0)
        goto fail;
    rv = PyList_New(0);
    if (!rv)
        goto fail;
    for (Py_ssize_t i = 0; i <= PyList_GET_SIZE(l); i++) {
        PyObject *x = i < PyList_GET_SIZE(l) ? PyList_GET_ITEM(l, i) : NULL;
        PyObject *k = x ? group_key(r, x, attribute, dflt, !cs) : NULL;
        int same = 0;

        if (x && !k)
            goto fail;
        if (k && curkey) {
            same = PyObject_RichCompareBool(k, curkey, Py_EQ);
            if (same < 0) {
                Py_DECREF(k);
                goto fail;
            }
        }
        if (cur && !same) {
            /* close the group; its grouper is the first value's key */
            PyObject *g = group_key(r, PyList_GET_ITEM(cur, 0), attribute,
                                    dflt, 0), *tup;
            int rc;

            if (!g) {
                Py_XDECREF(k);
                goto fail;
            }
            tup = PyObject_CallFunction(tcx(r, TC_GROUP), "OO", g, cur);
            Py_DECREF(g);
            rc = tup ? PyList_Append(rv, tup) : -1;
            Py_XDECREF(tup);
            Py_CLEAR(cur);
            if (rc < 0) {
                Py_XDECREF(k);
                goto fail;
            }
        }
        if (!x)
            break;
        if (!cur) {
            cur = PyList_New(0);
            if (!cur) {
                Py_DECREF(k);
                goto fail;
            }
        }
        Py_XSETREF(curkey, k);
        if (PyList_Append(cur, x) < 0)
            goto fail;
    }
    Py_XDECREF(curkey);
    Py_DECREF(keys);
    Py_DECREF(l);
    return rv;
fail:
    Py_XDECREF(cur);
    Py_XDECREF(curkey);
    Py_XDECREF(rv);
    Py_XDECREF(keys);
    Py_XDECREF(l);
    return NULL;
}

static PyObject *f_pprint(struct render *r, const struct fabc_tpl_node *n,
                          PyObject *v, const struct args *a)
{
    (void)n, (void)a;
    return PyObject_CallOneArg(tcx(r, TC_PFORMAT), v);
}

static PyObject *f_wordwrap(struct render *r, const struct fabc_tpl_node *n,
                            PyObject *v, const struct args *a)
{
    (void)v, (void)a;
    return terr(r, n, "filter 'wordwrap' is not supported");
}

static const struct filter_def filters[] = {
    { "default", f_default },
    { "d", f_default },
    { "upper", f_upper },
    { "lower", f_lower },
    { "title", f_title },
    { "capitalize", f_capitalize },
    { "trim", f_trim },
    { "replace", f_replace },
    { "join", f_join },
    { "length", f_length },
    { "count", f_length },
    { "first", f_first },
    { "last", f_last },
    { "sort", f_sort },
    { "unique", f_unique },
    { "reverse", f_reverse },
    { "list", f_list },
    { "int", f_int },
    { "float", f_float },
    { "string", f_string },
    { "abs", f_abs },
    { "round", f_round },
    { "indent", f_indent },
    { "center", f_center },
    { "wordcount", f_wordcount },
    { "truncate", f_truncate },
    { "tojson", f_tojson },
    { "items", f_items },
    { "dictsort", f_dictsort },
    { "map", f_map },
    { "select", f_select },
    { "reject", f_reject },
    { "selectattr", f_selectattr },
    { "rejectattr", f_rejectattr },
    { "batch", f_batch },
    { "slice", f_slice },
    { "min", f_min },
    { "max", f_max },
    { "sum", f_sum },
    { "format", f_format },
    { "e", f_escape },
    { "escape", f_escape },
    { "safe", f_safe },
    { "urlencode", f_urlencode },
    { "attr", f_attr },
    { "groupby", f_groupby },
    { "pprint", f_pprint },
    { "wordwrap", f_wordwrap },
    { NULL, NULL }
};

static int find_filter(const char *name)
{
    for (int i = 0; filters[i].name; i++)
        if (!strcmp(filters[i].name, name))
            return i;
    return -1;
}

static PyObject *apply_filter(struct render *r, const struct fabc_tpl_node *n,
                              int id, PyObject *v, const struct args *a)
{
    if (filters[id].fn != f_default && filters[id].fn != f_items &&
        strict_check(r, n, v) < 0)
        return NULL;
    return filters[id].fn(r, n, v, a);
}

/* ---- tests ---------------------------------------------------------- */

static int mod_is(PyObject *v, PyObject *d, long want)
{
    PyObject *m = PyNumber_Remainder(v, d), *w;
    int rc;

    if (!m)
        return -1;
    w = PyLong_FromLong(want);
    rc = w ? PyObject_RichCompareBool(m, w, Py_EQ) : -1;
    Py_XDECREF(w);
    Py_DECREF(m);
    return rc;
}

static int t_odd(struct render *r, const struct fabc_tpl_node *n, PyObject *v,
                 const struct args *a)
{
    PyObject *two = PyLong_FromLong(2);
    int rc;

    (void)r, (void)n, (void)a;
    if (!two)
        return -1;
    rc = mod_is(v, two, 1);
    Py_DECREF(two);
    return rc;
}

static int t_even(struct render *r, const struct fabc_tpl_node *n,
                  PyObject *v, const struct args *a)
{
    PyObject *two = PyLong_FromLong(2);
    int rc;

    (void)r, (void)n, (void)a;
    if (!two)
        return -1;
    rc = mod_is(v, two, 0);
    Py_DECREF(two);
    return rc;
}

static int t_divisibleby(struct render *r, const struct fabc_tpl_node *n,
                         PyObject *v, const struct args *a)
{
    PyObject *d = arg(a, 0, "num");

    if (!d) {
        terr(r, n, "divisibleby() missing required argument 'num'");
        return -1;
    }
    return mod_is(v, d, 0);
}

static int t_defined(struct render *r, const struct fabc_tpl_node *n,
                     PyObject *v, const struct args *a)
{
    (void)n, (void)a;
    return !is_undef(r, v);
}

static int t_undefined(struct render *r, const struct fabc_tpl_node *n,
                       PyObject *v, const struct args *a)
{
    (void)n, (void)a;
    return is_undef(r, v);
}

static int t_none(struct render *r, const struct fabc_tpl_node *n,
                  PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return v == Py_None;
}

static int t_boolean(struct render *r, const struct fabc_tpl_node *n,
                     PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return v == Py_True || v == Py_False;
}

static int t_true(struct render *r, const struct fabc_tpl_node *n,
                  PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return v == Py_True;
}

static int t_false(struct render *r, const struct fabc_tpl_node *n,
                   PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return v == Py_False;
}

static int t_integer(struct render *r, const struct fabc_tpl_node *n,
                     PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return PyLong_Check(v) && !PyBool_Check(v);
}

static int t_float(struct render *r, const struct fabc_tpl_node *n,
                   PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return PyFloat_Check(v);
}

static int t_number(struct render *r, const struct fabc_tpl_node *n,
                    PyObject *v, const struct args *a)
{
    (void)n, (void)a;
    if (PyLong_Check(v) || PyFloat_Check(v) || PyComplex_Check(v))
        return 1;
    return PyObject_IsInstance(v, tcx(r, TC_NUMBER));
}

static int t_string(struct render *r, const struct fabc_tpl_node *n,
                    PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return PyUnicode_Check(v);
}

static int t_mapping(struct render *r, const struct fabc_tpl_node *n,
                     PyObject *v, const struct args *a)
{
    (void)n, (void)a;
    return is_mapping(r, v);
}

static int t_iterable(struct render *r, const struct fabc_tpl_node *n,
                      PyObject *v, const struct args *a)
{
    PyObject *it = PyObject_GetIter(v);

    (void)r, (void)n, (void)a;
    if (it) {
        Py_DECREF(it);
        return 1;
    }
    if (!PyErr_ExceptionMatches(PyExc_TypeError))
        return -1;
    PyErr_Clear();
    return 0;
}

static int t_sequence(struct render *r, const struct fabc_tpl_node *n,
                      PyObject *v, const struct args *a)
{
    PyObject *gi;

    (void)n, (void)a;
    if (is_undef(r, v))
        return !((UndefinedObject *)v)->strict;
    if (PyObject_Length(v) < 0) {
        PyErr_Clear();
        return 0;
    }
    gi = PyObject_GetAttrString(v, "__getitem__");
    if (!gi) {
        PyErr_Clear();
        return 0;
    }
    Py_DECREF(gi);
    return 1;
}

static int t_callable(struct render *r, const struct fabc_tpl_node *n,
                      PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return PyCallable_Check(v);
}

static int t_sameas(struct render *r, const struct fabc_tpl_node *n,
                    PyObject *v, const struct args *a)
{
    PyObject *o = arg(a, 0, "other");

    if (!o) {
        terr(r, n, "sameas() missing required argument 'other'");
        return -1;
    }
    return v == o;
}

static int t_strcase(PyObject *v, const char *method)
{
    PyObject *s = PyObject_Str(v), *b;
    int rc;

    if (!s)
        return -1;
    b = call_method0(s, method);
    Py_DECREF(s);
    if (!b)
        return -1;
    rc = PyObject_IsTrue(b);
    Py_DECREF(b);
    return rc;
}

static int t_lower(struct render *r, const struct fabc_tpl_node *n,
                   PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return t_strcase(v, "islower");
}

static int t_upper(struct render *r, const struct fabc_tpl_node *n,
                   PyObject *v, const struct args *a)
{
    (void)r, (void)n, (void)a;
    return t_strcase(v, "isupper");
}

static int t_escaped(struct render *r, const struct fabc_tpl_node *n,
                     PyObject *v, const struct args *a)
{
    (void)n, (void)a;
    return Py_TYPE(v) == (PyTypeObject *)tcx(r, TC_MARKUP) ||
           PyObject_HasAttrString(v, "__html__");
}

static int t_in(struct render *r, const struct fabc_tpl_node *n, PyObject *v,
                const struct args *a)
{
    PyObject *seq = arg(a, 0, "seq");

    if (!seq) {
        terr(r, n, "in() missing required argument 'seq'");
        return -1;
    }
    return PySequence_Contains(seq, v);
}

static int cmp_test(struct render *r, const struct fabc_tpl_node *n,
                    PyObject *v, const struct args *a, int op)
{
    PyObject *o = arg(a, 0, "b");

    if (!o) {
        terr(r, n, "comparison test missing its argument");
        return -1;
    }
    return PyObject_RichCompareBool(v, o, op);
}

#define CMP_TEST(fname, OP)                                                 \
    static int fname(struct render *r, const struct fabc_tpl_node *n,       \
                     PyObject *v, const struct args *a)                     \
    {                                                                       \
        return cmp_test(r, n, v, a, OP);                                    \
    }
CMP_TEST(t_eq, Py_EQ)
CMP_TEST(t_ne, Py_NE)
CMP_TEST(t_lt, Py_LT)
CMP_TEST(t_le, Py_LE)
CMP_TEST(t_gt, Py_GT)
CMP_TEST(t_ge, Py_GE)

static const struct test_def tests[] = {
    { "odd", t_odd, 0 },
    { "even", t_even, 0 },
    { "divisibleby", t_divisibleby, 1 },
    { "defined", t_defined, 0 },
    { "undefined", t_undefined, 0 },
    { "none", t_none, 0 },
    { "boolean", t_boolean, 0 },
    { "true", t_true, 0 },
    { "false", t_false, 0 },
    { "integer", t_integer, 0 },
    { "float", t_float, 0 },
    { "number", t_number, 0 },
    { "string", t_string, 0 },
    { "mapping", t_mapping, 0 },
    { "iterable", t_iterable, 0 },
    { "sequence", t_sequence, 0 },
    { "callable", t_callable, 0 },
    { "sameas", t_sameas, 1 },
    { "lower", t_lower, 0 },
    { "upper", t_upper, 0 },
    { "escaped", t_escaped, 0 },
    { "in", t_in, 1 },
    { "eq", t_eq, 1 },
    { "equalto", t_eq, 1 },
    { "==", t_eq, 1 },
    { "ne", t_ne, 1 },
    { "!=", t_ne, 1 },
    { "lt", t_lt, 1 },
    { "lessthan", t_lt, 1 },
    { "<", t_lt, 1 },
    { "le", t_le, 1 },
    { "<=", t_le, 1 },
    { "gt", t_gt, 1 },
    { "greaterthan", t_gt, 1 },
    { ">", t_gt, 1 },
    { "ge", t_ge, 1 },
    { ">=", t_ge, 1 },
    { NULL, NULL, 0 }
};

static int find_test(const char *name)
{
    for (int i = 0; tests[i].name; i++)
        if (!strcmp(tests[i].name, name))
            return i;
    return -1;
}

static int apply_test(struct render *r, const struct fabc_tpl_node *n,
                      int id, PyObject *v, const struct args *a)
{
    if (a->npos + a->nkw > tests[id].nargs) {
        PyErr_Format(PyExc_TypeError,
                     "test_%s() takes %d positional argument%s but %d were "
                     "given",
                     tests[id].name, tests[id].nargs + 1,
                     tests[id].nargs ? "s" : "", a->npos + a->nkw + 1);
        return -1;
    }
    /* type tests look at an Undefined without touching it (as Jinja2);
     * the rest fail through the strict Undefined's own operations */
    /* arithmetic and ordering fail on Undefined in every mode */
    if (is_undef(r, v) &&
        (tests[id].fn == t_odd || tests[id].fn == t_even ||
         tests[id].fn == t_divisibleby || tests[id].fn == t_lt ||
         tests[id].fn == t_le || tests[id].fn == t_gt ||
         tests[id].fn == t_ge)) {
        undef_fail(r, n, v);
        return -1;
    }
    return tests[id].fn(r, n, v, a);
}

/* ---- expression nodes ----------------------------------------------- */

static PyObject *eval_filter_chain(struct render *r,
                                   const struct fabc_tpl_node *n,
                                   PyObject *input)
{
    PyObject *base, *rv;
    struct args a;

    if (n->kids[0])
        base = input ? eval_filter_chain(r, n->kids[0], input)
                     : eval(r, n->kids[0]);
    else
        base = input ? Py_NewRef(input) : NULL;
    if (!base)
        return n->kids[0] || input ? NULL
                                   : terr(r, n, "filter without a value");
    if (eval_args(r, n, 1, &a) < 0) {
        Py_DECREF(base);
        return NULL;
    }
    rv = apply_filter(r, n, n->aux, base, &a);
    args_free(&a);
    Py_DECREF(base);
    return rv;
}

static PyObject *eval_test(struct render *r, const struct fabc_tpl_node *n)
{
    PyObject *v = eval(r, n->kids[0]);
    struct args a;
    int rc;

    if (!v)
        return NULL;
    if (eval_args(r, n, 1, &a) < 0) {
        Py_DECREF(v);
        return NULL;
    }
    rc = apply_test(r, n, n->aux, v, &a);
    args_free(&a);
    Py_DECREF(v);
    if (rc < 0)
        return NULL;
    return PyBool_FromLong(n->op ? !rc : rc);
}

static PyObject *binop(struct render *r, const struct fabc_tpl_node *n)
{
    PyObject *l = eval(r, n->kids[0]), *rt = NULL, *v = NULL;

    if (!l)
        return NULL;
    /* an Undefined operand raises from its own number slots */
    rt = eval(r, n->kids[1]);
    if (!rt)
        goto out;
    switch (n->op) {
    case FABC_TPL_OP_ADD: v = PyNumber_Add(l, rt); break;
    case FABC_TPL_OP_SUB: v = PyNumber_Subtract(l, rt); break;
    case FABC_TPL_OP_MUL: v = PyNumber_Multiply(l, rt); break;
    case FABC_TPL_OP_DIV: v = PyNumber_TrueDivide(l, rt); break;
    case FABC_TPL_OP_FLOORDIV: v = PyNumber_FloorDivide(l, rt); break;
    case FABC_TPL_OP_MOD: v = PyNumber_Remainder(l, rt); break;
    case FABC_TPL_OP_POW:
        v = PyNumber_Power(l, rt, Py_None);
        break;
    }
out:
    Py_DECREF(l);
    Py_XDECREF(rt);
    return v;
}

static PyObject *compare(struct render *r, const struct fabc_tpl_node *n)
{
    PyObject *left = eval(r, n->kids[0]), *res = NULL;

    if (!left)
        return NULL;
    for (size_t i = 1; i < n->nkids; i++) {
        const struct fabc_tpl_node *c = n->kids[i];
        PyObject *right = eval(r, c->kids[0]);
        int op = -1, rc;

        Py_CLEAR(res);
        if (!right)
            goto fail;
        if (!r->lenient || (c->op != FABC_TPL_CMP_EQ &&
                            c->op != FABC_TPL_CMP_NE &&
                            c->op != FABC_TPL_CMP_IN &&
                            c->op != FABC_TPL_CMP_NOTIN)) {
            if (is_undef(r, left) || is_undef(r, right)) {
                undef_fail(r, c, is_undef(r, left) ? left : right);
                Py_DECREF(right);
                goto fail;
            }
        }
        switch (c->op) {
        case FABC_TPL_CMP_EQ: op = Py_EQ; break;
        case FABC_TPL_CMP_NE: op = Py_NE; break;
        case FABC_TPL_CMP_LT: op = Py_LT; break;
        case FABC_TPL_CMP_LE: op = Py_LE; break;
        case FABC_TPL_CMP_GT: op = Py_GT; break;
        case FABC_TPL_CMP_GE: op = Py_GE; break;
        }
        if (op >= 0) {
            res = PyObject_RichCompare(left, right, op);
        } else {
            rc = PySequence_Contains(right, left);
            res = rc < 0 ? NULL
                         : PyBool_FromLong(c->op == FABC_TPL_CMP_IN ? rc : !rc);
        }
        Py_DECREF(left);
        left = right;
        if (!res)
            goto fail;
        if (i + 1 < n->nkids) {
            rc = PyObject_IsTrue(res);
            if (rc < 0)
                goto fail;
            if (!rc)
                break;
        }
    }
    Py_DECREF(left);
    return res;
fail:
    Py_XDECREF(res);
    Py_DECREF(left);
    return NULL;
}

static PyObject *concat(struct render *r, const struct fabc_tpl_node *n)
{
    PyObject *parts = PyList_New((Py_ssize_t)n->nkids), *empty, *rv = NULL;

    if (!parts)
        return NULL;
    for (size_t i = 0; i < n->nkids; i++) {
        PyObject *v = eval(r, n->kids[i]), *s;

        if (!v)
            goto out;
        if (strict_check(r, n->kids[i], v) < 0) {
            Py_DECREF(v);
            goto out;
        }
        s = to_str(v);
        Py_DECREF(v);
        if (!s)
            goto out;
        PyList_SET_ITEM(parts, (Py_ssize_t)i, s);
    }
    empty = PyUnicode_FromString("");
    if (empty) {
        rv = PyUnicode_Join(empty, parts);
        Py_DECREF(empty);
    }
out:
    Py_DECREF(parts);
    return rv;
}

enum loop_attr_code {
    LA_OTHER,
    LA_INDEX,
    LA_INDEX0,
    LA_REVINDEX,
    LA_REVINDEX0,
    LA_FIRST,
    LA_LAST,
    LA_LENGTH,
    LA_DEPTH,
    LA_DEPTH0,
    LA_PREVITEM,
    LA_NEXTITEM,
    LA_CYCLE,
    LA_CHANGED
};

static int loop_attr_code(const char *a)
{
    static const char *const names[] = { "", "index", "index0", "revindex",
                                         "revindex0", "first", "last",
                                         "length", "depth", "depth0",
                                         "previtem", "nextitem", "cycle", "changed",
                                         NULL };

    for (int i = 1; names[i]; i++)
        if (!strcmp(a, names[i]))
            return i;
    return LA_OTHER;
}

static PyObject *loop_attr(struct render *r, const struct fabc_tpl_node *n)
{
    struct loopst *lp = r->loop;

    if (!lp) {
        PyObject *v = lookup(r, cst(r, n->kids[0]));

        if (!v) {
            if (PyErr_Occurred())
                return NULL;
            return terr(r, n, "'loop' is undefined");
        }
        return get_attr(r, v, cst(r, n), -1);
    }
    switch (n->op) {
    case LA_INDEX: return PyLong_FromSsize_t(lp->i + 1);
    case LA_INDEX0: return PyLong_FromSsize_t(lp->i);
    case LA_REVINDEX: return PyLong_FromSsize_t(lp->n - lp->i);
    case LA_REVINDEX0: return PyLong_FromSsize_t(lp->n - lp->i - 1);
    case LA_FIRST: return PyBool_FromLong(lp->i == 0);
    case LA_LAST: return PyBool_FromLong(lp->i == lp->n - 1);
    case LA_LENGTH: return PyLong_FromSsize_t(lp->n);
    /* depth counts recursive loop calls, which fabc does not have */
    case LA_DEPTH: return PyLong_FromLong(1);
    case LA_DEPTH0: return PyLong_FromLong(0);
    case LA_PREVITEM:
        if (lp->i > 0)
            return Py_NewRef(PyList_GET_ITEM(lp->items, lp->i - 1));
        return mk_undef(r, PyUnicode_FromString("there is no previous item"));
    case LA_NEXTITEM:
        if (lp->i + 1 < lp->n)
            return Py_NewRef(PyList_GET_ITEM(lp->items, lp->i + 1));
        return mk_undef(r, PyUnicode_FromString("there is no next item"));
    default:
        return mk_undef(r, PyUnicode_FromFormat(
                               "'jinja2.runtime.LoopContext object' has no "
                               "attribute %R",
                               cst(r, n)));
    }
}

static PyObject *call_macro(struct render *r, const struct fabc_tpl_node *n,
                            MacroObject *m, const struct args *a,
                            PyObject *caller, int direct);

/* A call. With *direct set, a macro writes its output straight into the
 * render buffer and None is returned (*direct stays 1); any other call
 * clears *direct and returns its value. */
static PyObject *eval_call_ex(struct render *r, const struct fabc_tpl_node *n,
                              int *direct);

static PyObject *eval_call(struct render *r, const struct fabc_tpl_node *n)
{
    int direct = 0;

    return eval_call_ex(r, n, &direct);
}

static PyObject *eval_call_ex(struct render *r, const struct fabc_tpl_node *n,
                              int *direct)
{
    const struct fabc_tpl_node *cn = n->kids[0];
    PyObject *caller = r->pending_caller, *f = NULL, *rv = NULL;
    PyObject *t = NULL, *kw = NULL;
    struct args a = { 0 };

    r->pending_caller = NULL;
    if (*direct && !(cn->kind == FABC_TPL_NAME || cn->kind == FABC_TPL_GETATTR))
        *direct = 0;
    if (cn->kind == FABC_TPL_LOOPATTR && r->loop && cn->op == LA_CYCLE) {
        if (eval_args(r, n, 1, &a) < 0)
            goto out;
        if (!a.npos) {
            terr(r, n, "no items for cycling given");
            goto out;
        }
        rv = Py_NewRef(a.pos[r->loop->i % a.npos]);
        goto out;
    }
    if (cn->kind == FABC_TPL_LOOPATTR && r->loop && cn->op == LA_CHANGED) {
        int same = 0;

        if (eval_args(r, n, 1, &a) < 0)
            goto out;
        t = args_tuple(&a, 0);
        if (!t)
            goto out;
        if (r->loop->changed) {
            same = PyObject_RichCompareBool(t, r->loop->changed, Py_EQ);
            if (same < 0)
                goto out;
        }
        if (!same)
            Py_XSETREF(r->loop->changed, Py_NewRef(t));
        rv = PyBool_FromLong(!same);
        goto out;
    }
    f = eval(r, cn);
    if (!f)
        goto out;
    if (is_undef(r, f)) {
        undef_fail(r, n, f);
        goto out;
    }
    if (eval_args(r, n, 1, &a) < 0)
        goto out;
    if (Py_TYPE(f) != (PyTypeObject *)tcx(r, TC_MACRO))
        *direct = 0;
    if (Py_TYPE(f) == (PyTypeObject *)tcx(r, TC_MACRO)) {
        rv = call_macro(r, n, (MacroObject *)f, &a, caller, *direct);
        goto out;
    }
    t = args_tuple(&a, 0);
    kw = a.nkw ? args_kwdict(&a) : NULL;
    if (t && (kw || !a.nkw))
        rv = PyObject_Call(f, t, kw);
out:
    args_free(&a);
    Py_XDECREF(t);
    Py_XDECREF(kw);
    Py_XDECREF(f);
    return rv;
}

static PyObject *eval_slice(struct render *r, const struct fabc_tpl_node *n)
{
    PyObject *p[3] = { NULL, NULL, NULL }, *rv = NULL;

    for (int i = 0; i < 3; i++) {
        p[i] = n->kids[i] ? eval(r, n->kids[i]) : Py_NewRef(Py_None);
        if (!p[i])
            goto out;
    }
    rv = PySlice_New(p[0], p[1], p[2]);
out:
    for (int i = 0; i < 3; i++)
        Py_XDECREF(p[i]);
    return rv;
}

static PyObject *eval_inner(struct render *r, const struct fabc_tpl_node *n)
{
    PyObject *v, *w;
    int t;

    switch (n->kind) {
    case FABC_TPL_CONST:
        return Py_NewRef(cst(r, n));
    case FABC_TPL_NAME:
        v = lookup(r, cst(r, n));
        if (v)
            return Py_NewRef(v);
        if (PyErr_Occurred())
            return NULL;
        return mk_undef(r, PyUnicode_FromFormat("%R is undefined", cst(r, n)));
    case FABC_TPL_LOOPATTR:
        return loop_attr(r, n);
    case FABC_TPL_GETATTR:
        v = eval(r, n->kids[0]);
        if (!v)
            return NULL;
        if (is_undef(r, v)) {
            undef_fail(r, n, v);
            Py_DECREF(v);
            return NULL;
        }
        w = get_attr(r, v, cst(r, n), n->op);
        Py_DECREF(v);
        return w;
    case FABC_TPL_GETITEM: {
        PyObject *k;

        v = eval(r, n->kids[0]);
        if (!v)
            return NULL;
        if (is_undef(r, v)) {
            undef_fail(r, n, v);
            Py_DECREF(v);
            return NULL;
        }
        k = eval(r, n->kids[1]);
        if (!k) {
            Py_DECREF(v);
            return NULL;
        }
        /* slices bypass the attribute fallback, as in Jinja2 */
        w = n->kids[1]->kind == FABC_TPL_SLICE ? PyObject_GetItem(v, k)
                                               : get_item(r, v, k);
        Py_DECREF(k);
        Py_DECREF(v);
        return w;
    }
    case FABC_TPL_SLICE:
        return eval_slice(r, n);
    case FABC_TPL_LIST:
    case FABC_TPL_TUPLE:
        w = PyList_New((Py_ssize_t)n->nkids);
        if (!w)
            return NULL;
        for (size_t i = 0; i < n->nkids; i++) {
            v = eval(r, n->kids[i]);
            if (!v) {
                Py_DECREF(w);
                return NULL;
            }
            PyList_SET_ITEM(w, (Py_ssize_t)i, v);
        }
        if (n->kind == FABC_TPL_TUPLE)
            Py_SETREF(w, PyList_AsTuple(w));
        return w;
    case FABC_TPL_DICT:
        w = PyDict_New();
        if (!w)
            return NULL;
        for (size_t i = 0; i + 1 < n->nkids; i += 2) {
            PyObject *k = eval(r, n->kids[i]);
            int rc;

            v = k ? eval(r, n->kids[i + 1]) : NULL;
            rc = v ? PyDict_SetItem(w, k, v) : -1;
            Py_XDECREF(k);
            Py_XDECREF(v);
            if (rc < 0) {
                Py_DECREF(w);
                return NULL;
            }
        }
        return w;
    case FABC_TPL_BINOP:
        return binop(r, n);
    case FABC_TPL_NEG:
    case FABC_TPL_POS:
        v = eval(r, n->kids[0]);
        if (!v)
            return NULL;
        w = n->kind == FABC_TPL_NEG ? PyNumber_Negative(v)
                                    : PyNumber_Positive(v);
        Py_DECREF(v);
        return w;
    case FABC_TPL_NOT:
        v = eval(r, n->kids[0]);
        if (!v)
            return NULL;
        t = truth(r, n, v);
        Py_DECREF(v);
        return t < 0 ? NULL : PyBool_FromLong(!t);
    case FABC_TPL_AND:
    case FABC_TPL_OR:
        v = eval(r, n->kids[0]);
        if (!v)
            return NULL;
        t = truth(r, n, v);
        if (t < 0) {
            Py_DECREF(v);
            return NULL;
        }
        if ((n->kind == FABC_TPL_AND) ? !t : t)
            return v;
        Py_DECREF(v);
        return eval(r, n->kids[1]);
    case FABC_TPL_COMPARE:
        return compare(r, n);
    case FABC_TPL_CONDEXPR:
        v = eval(r, n->kids[1]);
        if (!v)
            return NULL;
        t = truth(r, n, v);
        Py_DECREF(v);
        if (t < 0)
            return NULL;
        if (t)
            return eval(r, n->kids[0]);
        if (n->kids[2])
            return eval(r, n->kids[2]);
        v = mk_undef(r, PyUnicode_FromFormat(
                            "the inline if-expression on line %d%s%s%s "
                            "evaluated to false and no else section was "
                            "defined.",
                            n->line,
                            strcmp(r->ct->tpl->name, "<string>") ? " in '"
                                                                  : "",
                            strcmp(r->ct->tpl->name, "<string>")
                                ? r->ct->tpl->name
                                : "",
                            strcmp(r->ct->tpl->name, "<string>") ? "'" : ""));
        if (v) {
            ((UndefinedObject *)v)->soft = 1;
            ((UndefinedObject *)v)->strict = 0;
        }
        return v;
    case FABC_TPL_CONCAT:
        return concat(r, n);
    case FABC_TPL_FILTER:
        return eval_filter_chain(r, n, NULL);
    case FABC_TPL_TEST:
        return eval_test(r, n);
    case FABC_TPL_CALL:
        return eval_call(r, n);
    default:
        return terr(r, n, "unexpected %s node in expression",
                    fabc_tpl_kind_name(n->kind));
    }
}

static PyObject *eval(struct render *r, const struct fabc_tpl_node *n)
{
    PyObject *v;

    if (++r->depth > MAX_DEPTH) {
        r->depth--;
        return terr(r, n, "maximum template recursion depth exceeded");
    }
    v = eval_inner(r, n);
    r->depth--;
    if (!v && r->err.code == FABC_E_TEMPLATE && r->err.line == 0)
        r->err.line = n->line;
    if (!v && r->err.code == FABC_E_OK && !r->pyline) {
        r->pyline = n->line;
        snprintf(r->pyname, sizeof(r->pyname), "%s", r->ct->tpl->name);
    }
    return v;
}

/* ---- statements ----------------------------------------------------- */

static int assign(struct render *r, const struct fabc_tpl_node *target,
                  PyObject *v)
{
    if (target->kind == FABC_TPL_NAME)
        return PyDict_SetItem(r->frame->vars, cst(r, target), v);
    if (target->kind == FABC_TPL_NSREF) {
        PyObject *ns = lookup(r, cst(r, target->kids[0]));

        if (!ns) {
            if (!PyErr_Occurred())
                terr(r, target, "%s is undefined", target->kids[0]->str);
            return -1;
        }
        if (Py_TYPE(ns) != (PyTypeObject *)tcx(r, TC_NAMESPACE)) {
            terr(r, target, "cannot assign attribute on non-namespace object");
            return -1;
        }
        return PyObject_SetAttr(ns, cst(r, target), v);
    }
    if (target->kind == FABC_TPL_TUPLE) {
        PyObject *seq;
        int rc = 0;

        if (strict_check(r, target, v) < 0)
            return -1;
        seq = PySequence_Tuple(v);
        if (!seq) {
            if (PyErr_ExceptionMatches(PyExc_TypeError) &&
                !PyObject_HasAttrString(v, "__iter__")) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError,
                             "cannot unpack non-iterable %s object",
                             _PyType_Name(Py_TYPE(v)));
            }
            return -1;
        }
        if (PyTuple_GET_SIZE(seq) != (Py_ssize_t)target->nkids) {
            if (PyTuple_GET_SIZE(seq) < (Py_ssize_t)target->nkids)
                PyErr_Format(PyExc_ValueError,
                             "not enough values to unpack (expected %zu, "
                             "got %zd)",
                             target->nkids, PyTuple_GET_SIZE(seq));
            else
                PyErr_Format(PyExc_ValueError,
                             "too many values to unpack (expected %zu)",
                             target->nkids);
            Py_DECREF(seq);
            return -1;
        }
        for (size_t i = 0; i < target->nkids && rc == 0; i++)
            rc = PyDict_SetItem(r->frame->vars, cst(r, target->kids[i]),
                                PyTuple_GET_ITEM(seq, (Py_ssize_t)i));
        Py_DECREF(seq);
        return rc;
    }
    terr(r, target, "cannot assign to %s", fabc_tpl_kind_name(target->kind));
    return -1;
}

static int exec_for(struct render *r, const struct fabc_tpl_node *n)
{
    const struct fabc_tpl_node *target = n->kids[0], *cond = n->kids[4];
    PyObject *seq = NULL, *items = NULL;
    struct frame fr = { NULL, NULL, r->frame };
    struct loopst lp = { NULL, 0, 0, 1, NULL, r->loop };
    int rc = -1;

    seq = eval(r, n->kids[1]);
    if (!seq)
        return -1;
    if (strict_check(r, n->kids[1], seq) < 0)
        goto out;
    if (PyDict_Check(seq) || !PyList_CheckExact(seq))
        items = PySequence_List(seq);
    else
        items = PyList_GetSlice(seq, 0, PyList_GET_SIZE(seq));
    if (!items)
        goto out;
    fr.vars = PyDict_New();
    if (!fr.vars)
        goto out;
    r->frame = &fr;
    if (cond) {
        PyObject *kept = PyList_New(0);

        if (!kept)
            goto out;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
            PyObject *x = PyList_GET_ITEM(items, i), *c;
            int t;

            if (assign(r, target, x) < 0) {
                Py_DECREF(kept);
                goto out;
            }
            c = eval(r, cond);
            t = c ? truth(r, cond, c) : -1;
            Py_XDECREF(c);
            if (t < 0 || (t && PyList_Append(kept, x) < 0)) {
                Py_DECREF(kept);
                goto out;
            }
        }
        Py_SETREF(items, kept);
    }
    if (r->loop)
        lp.depth = r->loop->depth + 1;
    lp.items = items;
    lp.n = PyList_GET_SIZE(items);
    r->loop = &lp;
    for (lp.i = 0; lp.i < lp.n; lp.i++) {
        /* every iteration starts with a fresh scope, as in Jinja2 */
        if (lp.i > 0)
            PyDict_Clear(fr.vars);
        /* long renders stay interruptible (Ctrl-C, fabc cancel) */
        if ((++r->ticks & 1023) == 0 && fabc_py_check_signals() < 0)
            goto out;
        if (assign(r, target, PyList_GET_ITEM(items, lp.i)) < 0)
            goto out;
        if (exec_body(r, n->kids[2]) < 0)
            goto out;
    }
    r->loop = lp.parent;
    if (lp.n == 0 && n->kids[3]) {
        /* the else block runs in the loop's scope, without `loop` */
        if (exec_body(r, n->kids[3]) < 0)
            goto out;
    }
    rc = 0;
out:
    r->loop = lp.parent;
    r->frame = fr.parent;
    Py_XDECREF(lp.changed);
    if (fr.vars)
        PyDict_Clear(fr.vars); /* break macro closure cycles */
    Py_XDECREF(fr.vars);
    Py_XDECREF(items);
    Py_XDECREF(seq);
    return rc;
}

static PyObject *new_macro(struct render *r, const struct fabc_tpl_node *n)
{
    PyTypeObject *tp = (PyTypeObject *)tcx(r, TC_MACRO);
    MacroObject *m = (MacroObject *)tp->tp_alloc(tp, 0);

    if (!m)
        return NULL;
    m->node = (struct fabc_tpl_node *)n;
    m->tplcap = Py_NewRef(r->tplcap);
    m->name = Py_NewRef(cst(r, n));
    m->closure = snapshot(r);
    if (!m->closure) {
        Py_DECREF(m);
        return NULL;
    }
    return (PyObject *)m;
}

/* Call a macro with evaluated arguments; returns its output (str). */
static PyObject *call_macro(struct render *r, const struct fabc_tpl_node *n,
                            MacroObject *m, const struct args *a,
                            PyObject *caller, int direct)
{
    const struct fabc_tpl_node *mn = m->node;
    struct ctpl *ct = PyCapsule_GetPointer(m->tplcap, CAPSULE_NAME);
    struct frame fr = { NULL, m->closure, NULL };
    struct frame *saved_frame = r->frame;
    struct loopst *saved_loop = r->loop;
    struct ctpl *saved_ct = r->ct;
    PyObject *saved_cap = r->tplcap;
    PyObject *varargs = NULL, *kwargs = NULL, *rv = NULL;
    size_t nparams = mn->nkids - 1, start = r->out.len;
    int used_kw[MAX_ARGS] = { 0 };

    if (!ct)
        return NULL;
    if ((++r->ticks & 1023) == 0 && fabc_py_check_signals() < 0)
        return NULL;
    fr.vars = PyDict_New();
    if (!fr.vars)
        return NULL;
    r->ct = ct;
    r->tplcap = m->tplcap;
    r->frame = &fr;
    r->loop = NULL;
    if ((size_t)a->npos > nparams && !(mn->op & 1)) {
        terr(r, n, "macro '%s' takes not more than %zu argument(s)", mn->str,
             nparams);
        goto out;
    }
    for (size_t i = 0; i < nparams; i++) {
        const struct fabc_tpl_node *p = mn->kids[i + 1];
        PyObject *v = NULL;
        int rc;

        if (i < (size_t)a->npos) {
            v = Py_NewRef(a->pos[i]);
        } else {
            for (int k = 0; k < a->nkw; k++)
                if (!strcmp(a->kwn[k], p->str)) {
                    v = Py_NewRef(a->kwv[k]);
                    used_kw[k] = 1;
                }
            if (!v && p->kids[0])
                v = eval(r, p->kids[0]);
            else if (!v)
                v = mk_undef(r, PyUnicode_FromFormat(
                                    "parameter %R was not provided",
                                    cst(r, p)));
            if (!v)
                goto out;
        }
        rc = PyDict_SetItem(fr.vars, cst(r, p), v);
        Py_DECREF(v);
        if (rc < 0)
            goto out;
    }
    varargs = PyTuple_New(a->npos > (int)nparams ? a->npos - (int)nparams : 0);
    kwargs = PyDict_New();
    if (!varargs || !kwargs)
        goto out;
    for (int i = (int)nparams; i < a->npos; i++)
        PyTuple_SET_ITEM(varargs, i - (int)nparams, Py_NewRef(a->pos[i]));
    for (int k = 0; k < a->nkw; k++) {
        if (used_kw[k])
            continue;
        if (!strcmp(a->kwn[k], "caller") && !caller) {
            caller = a->kwv[k];
            continue;
        }
        if (!(mn->op & 2)) {
            terr(r, n, "macro '%s' takes no keyword argument '%s'", mn->str,
                 a->kwn[k]);
            goto out;
        }
        if (PyDict_SetItemString(kwargs, a->kwn[k], a->kwv[k]) < 0)
            goto out;
    }
    if (((mn->op & 1) &&
         PyDict_SetItemString(fr.vars, "varargs", varargs) < 0) ||
        ((mn->op & 2) && PyDict_SetItemString(fr.vars, "kwargs", kwargs) < 0))
        goto out;
    if (caller) {
        if (PyDict_SetItemString(fr.vars, "caller", caller) < 0)
            goto out;
    } else if (mn->op & 4) {
        PyObject *u = mk_undef(r, PyUnicode_FromString("No caller defined"));

        if (!u || PyDict_SetItemString(fr.vars, "caller", u) < 0) {
            Py_XDECREF(u);
            goto out;
        }
        Py_DECREF(u);
    }
    if (exec_body(r, mn->kids[0]) < 0)
        goto out;
    rv = direct ? Py_NewRef(Py_None) : capture(r, start);
out:
    if (!rv && r->out.len > start)
        r->out.len = start;
    r->ct = saved_ct;
    r->tplcap = saved_cap;
    r->frame = saved_frame;
    r->loop = saved_loop;
    Py_XDECREF(varargs);
    Py_XDECREF(kwargs);
    PyDict_Clear(fr.vars); /* break macro closure cycles */
    Py_DECREF(fr.vars);
    return rv;
}

static PyObject *load_template(struct fabc_state *st, PyObject *path,
                               const char *name, struct fabc_err *err);

static int exec_include(struct render *r, const struct fabc_tpl_node *n)
{
    PyObject *name = eval(r, n->kids[0]), *path = NULL, *cap = NULL;
    struct frame fr = { NULL, NULL, NULL };
    struct frame *saved_frame = r->frame;
    struct ctpl *saved_ct = r->ct;
    PyObject *saved_cap = r->tplcap;
    struct fabc_err lerr;
    const char *nm;
    int rc = -1;

    if (!name)
        return -1;
    if (!PyUnicode_Check(name)) {
        terr(r, n, "include expects a template name (str)");
        goto out;
    }
    nm = PyUnicode_AsUTF8(name);
    if (!nm)
        goto out;
    if (nm[0] == '/' || strstr(nm, "..")) {
        terr(r, n, "template not found: %s", nm);
        goto out;
    }
    path = PyUnicode_FromFormat("%s/%s", r->basedir, nm);
    if (!path)
        goto out;
    fabc_err_clear(&lerr);
    cap = load_template(r->st, path, nm, &lerr);
    if (!cap) {
        if (PyErr_Occurred())
            goto out;
        if (lerr.code == FABC_E_OS && lerr.lib_code == ENOENT) {
            if (n->op & FABC_TPL_INC_IGNORE_MISSING)
                rc = 0;
            else
                terr(r, n, "template not found: %s", nm);
            goto out;
        }
        if (r->err.code == FABC_E_OK)
            r->err = lerr;
        goto out;
    }
    fr.vars = PyDict_New();
    if (!fr.vars)
        goto out;
    if (!(n->op & FABC_TPL_INC_WITHOUT_CONTEXT))
        fr.parent = r->frame;
    r->frame = &fr;
    r->tplcap = cap;
    r->ct = PyCapsule_GetPointer(cap, CAPSULE_NAME);
    if (r->ct)
        rc = exec_body(r, r->ct->tpl->root);
    r->frame = saved_frame;
    r->ct = saved_ct;
    r->tplcap = saved_cap;
out:
    if (fr.vars)
        PyDict_Clear(fr.vars); /* break macro closure cycles */
    Py_XDECREF(fr.vars);
    Py_XDECREF(cap);
    Py_XDECREF(path);
    Py_DECREF(name);
    return rc;
}

static int exec_node(struct render *r, const struct fabc_tpl_node *n)
{
    PyObject *v, *w;
    int rc, t;

    switch (n->kind) {
    case FABC_TPL_TEXT:
        return out_bytes(r, n->str, n->len);
    case FABC_TPL_OUTPUT:
        if (n->kids[0]->kind == FABC_TPL_CALL) {
            int direct = 1;

            if (++r->depth > MAX_DEPTH) {
                r->depth--;
                terr(r, n, "maximum template recursion depth exceeded");
                return -1;
            }
            v = eval_call_ex(r, n->kids[0], &direct);
            r->depth--;
            if (!v) {
                if (r->err.code == FABC_E_TEMPLATE && r->err.line == 0)
                    r->err.line = n->line;
                return -1;
            }
            if (direct) {
                Py_DECREF(v); /* the macro wrote its output already */
                return 0;
            }
        } else {
            v = eval(r, n->kids[0]);
        }
        if (!v)
            return -1;
        if (is_undef(r, v)) {
            rc = strict_check(r, n->kids[0], v);
            Py_DECREF(v);
            return rc;
        }
        rc = out_value(r, v);
        Py_DECREF(v);
        return rc;
    case FABC_TPL_IF:
        while (n && n->kind == FABC_TPL_IF) {
            v = eval(r, n->kids[0]);
            if (!v)
                return -1;
            t = truth(r, n->kids[0], v);
            Py_DECREF(v);
            if (t < 0)
                return -1;
            if (t)
                return exec_body(r, n->kids[1]);
            n = n->kids[2];
        }
        return n ? exec_body(r, n) : 0;
    case FABC_TPL_FOR:
        return exec_for(r, n);
    case FABC_TPL_SET:
        v = eval(r, n->kids[1]);
        if (!v)
            return -1;
        rc = assign(r, n->kids[0], v);
        Py_DECREF(v);
        return rc;
    case FABC_TPL_SETBLOCK: {
        size_t start = r->out.len;

        if (exec_body(r, n->kids[1]) < 0)
            return -1;
        v = capture(r, start);
        if (!v)
            return -1;
        if (n->kids[2]) {
            w = eval_filter_chain(r, n->kids[2], v);
            Py_DECREF(v);
            if (!w)
                return -1;
            v = w;
        }
        rc = assign(r, n->kids[0], v);
        Py_DECREF(v);
        return rc;
    }
    case FABC_TPL_FILTERBLOCK: {
        size_t start = r->out.len;

        if (exec_body(r, n->kids[1]) < 0)
            return -1;
        v = capture(r, start);
        if (!v)
            return -1;
        w = eval_filter_chain(r, n->kids[0], v);
        Py_DECREF(v);
        if (!w)
            return -1;
        rc = is_undef(r, w) ? strict_check(r, n, w) : out_value(r, w);
        Py_DECREF(w);
        return rc;
    }
    case FABC_TPL_MACRO:
        v = new_macro(r, n);
        if (!v)
            return -1;
        rc = PyDict_SetItem(r->frame->vars, cst(r, n), v);
        Py_DECREF(v);
        return rc;
    case FABC_TPL_CALLBLOCK:
        v = new_macro(r, n->kids[1]);
        if (!v)
            return -1;
        r->pending_caller = v;
        w = eval(r, n->kids[0]);
        r->pending_caller = NULL;
        Py_DECREF(v);
        if (!w)
            return -1;
        rc = out_value(r, w);
        Py_DECREF(w);
        return rc;
    case FABC_TPL_INCLUDE:
        return exec_include(r, n);
    case FABC_TPL_WITH: {
        struct frame fr = { NULL, NULL, r->frame };

        fr.vars = PyDict_New();
        if (!fr.vars)
            return -1;
        rc = 0;
        for (size_t i = 1; i < n->nkids && rc == 0; i++) {
            /* values see the outer scope, as in Jinja2 */
            v = eval(r, n->kids[i]->kids[1]);
            if (!v) {
                rc = -1;
                break;
            }
            r->frame = &fr;
            rc = assign(r, n->kids[i]->kids[0], v);
            r->frame = fr.parent;
            Py_DECREF(v);
        }
        if (rc == 0) {
            r->frame = &fr;
            rc = exec_body(r, n->kids[0]);
            r->frame = fr.parent;
        }
        PyDict_Clear(fr.vars); /* break macro closure cycles */
        Py_DECREF(fr.vars);
        return rc;
    }
    case FABC_TPL_BODY:
        return exec_body(r, n);
    default:
        terr(r, n, "unexpected %s node in statement",
             fabc_tpl_kind_name(n->kind));
        return -1;
    }
}

static int exec_body(struct render *r, const struct fabc_tpl_node *n)
{
    if (++r->depth > MAX_DEPTH) {
        r->depth--;
        terr(r, n, "maximum template recursion depth exceeded");
        return -1;
    }
    for (size_t i = 0; i < n->nkids; i++) {
        if (exec_node(r, n->kids[i]) < 0) {
            if (r->err.code == FABC_E_OK && !r->pyline) {
                r->pyline = n->kids[i]->line;
                snprintf(r->pyname, sizeof(r->pyname), "%s",
                         r->ct->tpl->name);
            }
            r->depth--;
            return -1;
        }
    }
    r->depth--;
    return 0;
}

/* ---- compiling ------------------------------------------------------ */

struct cwalk {
    struct ctpl *ct;
    size_t cap;
    struct fabc_err *err;
    const char *name;
    struct fabc_tpl_node *macro; /* innermost macro being walked */
};

static int add_const(struct cwalk *w, struct fabc_tpl_node *n, PyObject *v)
{
    if (!v)
        return -1;
    if (w->ct->nconsts == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        PyObject **nc = PyMem_Realloc(w->ct->consts, cap * sizeof(*nc));

        if (!nc) {
            Py_DECREF(v);
            PyErr_NoMemory();
            return -1;
        }
        w->ct->consts = nc;
        w->cap = cap;
    }
    n->aux = (int)w->ct->nconsts;
    w->ct->consts[w->ct->nconsts++] = v;
    return 0;
}

static PyObject *interned(const char *s, size_t len)
{
    PyObject *u = PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "strict");

    if (u)
        PyUnicode_InternInPlace(&u);
    return u;
}

static int walk(struct cwalk *w, struct fabc_tpl_node *n)
{
    struct fabc_tpl_node *saved = w->macro;
    int rc = 0;

    if (!n)
        return 0;
    switch (n->kind) {
    case FABC_TPL_CONST:
        switch (n->op) {
        case FABC_TPL_C_STR:
            rc = add_const(w, n, PyUnicode_DecodeUTF8(n->str,
                                                      (Py_ssize_t)n->len,
                                                      "strict"));
            break;
        case FABC_TPL_C_INT:
            rc = add_const(w, n, PyLong_FromString(n->str, NULL, 0));
            break;
        case FABC_TPL_C_FLOAT: {
            PyObject *s = PyUnicode_FromString(n->str);

            rc = add_const(w, n, s ? PyFloat_FromString(s) : NULL);
            Py_XDECREF(s);
            break;
        }
        case FABC_TPL_C_TRUE: rc = add_const(w, n, Py_NewRef(Py_True)); break;
        case FABC_TPL_C_FALSE:
            rc = add_const(w, n, Py_NewRef(Py_False));
            break;
        default: rc = add_const(w, n, Py_NewRef(Py_None)); break;
        }
        break;
    case FABC_TPL_NAME:
        if (w->macro && !strcmp(n->str, "varargs"))
            w->macro->op |= 1;
        if (w->macro && !strcmp(n->str, "kwargs"))
            w->macro->op |= 2;
        if (w->macro && !strcmp(n->str, "caller"))
            w->macro->op |= 4;
        /* fall through */
    case FABC_TPL_LOOPATTR:
    case FABC_TPL_GETATTR:
        if (n->kind == FABC_TPL_LOOPATTR)
            n->op = loop_attr_code(n->str);
        /* fall through */
    case FABC_TPL_PARAM:
    case FABC_TPL_NSREF:
    case FABC_TPL_MACRO:
        rc = add_const(w, n, interned(n->str, n->len));
        if (rc == 0 && n->kind == FABC_TPL_GETATTR)
            n->op = is_dict_attr(w->ct->consts[n->aux]);
        break;
    case FABC_TPL_FILTER:
        n->aux = find_filter(n->str);
        if (n->aux < 0) {
            fabc_err_set(w->err, FABC_E_TEMPLATE, 0, "No filter named '%s'.",
                         n->str);
            fabc_err_pos(w->err, w->name, n->line, 0);
            return -1;
        }
        break;
    case FABC_TPL_TEST:
        n->aux = find_test(n->str);
        if (n->aux < 0) {
            fabc_err_set(w->err, FABC_E_TEMPLATE, 0, "No test named '%s'.",
                         n->str);
            fabc_err_pos(w->err, w->name, n->line, 0);
            return -1;
        }
        break;
    case FABC_TPL_TEXT:
        /* validated as UTF-8 so output decodes */
        {
            PyObject *u = PyUnicode_DecodeUTF8(n->str, (Py_ssize_t)n->len,
                                               "strict");

            if (!u)
                return -1;
            Py_DECREF(u);
        }
        break;
    default:
        break;
    }
    if (rc < 0)
        return -1;
    if (n->kind == FABC_TPL_MACRO)
        w->macro = n;
    for (size_t i = 0; i < n->nkids; i++)
        if (walk(w, n->kids[i]) < 0) {
            w->macro = saved;
            return -1;
        }
    w->macro = saved;
    /* the loop variable `loop.x` needs the NAME const for fallback */
    return 0;
}

/* Compile source into a new capsule; NULL with err (TEMPLATE/NOMEM) or a
 * Python exception set. */
static PyObject *compile_capsule(const char *src, size_t len,
                                 const char *name, const char *dir,
                                 struct fabc_err *err)
{
    struct ctpl *ct = PyMem_Calloc(1, sizeof(*ct));
    struct cwalk w;
    PyObject *cap;

    if (!ct)
        return PyErr_NoMemory();
    ct->tpl = fabc_tpl_compile(src, len, name, err);
    if (!ct->tpl)
        goto fail;
    if (dir) {
        size_t dl = strlen(dir);

        ct->dir = PyMem_Malloc(dl + 1);
        if (!ct->dir) {
            PyErr_NoMemory();
            goto fail;
        }
        memcpy(ct->dir, dir, dl + 1);
    }
    memset(&w, 0, sizeof(w));
    w.ct = ct;
    w.err = err;
    w.name = name;
    if (walk(&w, ct->tpl->root) < 0) {
        if (PyErr_Occurred() &&
            PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            PyErr_Clear();
            fabc_err_set(err, FABC_E_TEMPLATE, 0,
                         "template is not valid UTF-8");
            fabc_err_pos(err, name, 0, 0);
        }
        goto fail;
    }
    cap = PyCapsule_New(ct, CAPSULE_NAME, capsule_destructor);
    if (!cap)
        goto fail;
    return cap;
fail:
    ctpl_free(ct);
    return NULL;
}

/* Read and compile `path` (str) through the cache. Returns a new
 * reference to the capsule; NULL with err set (FABC_E_OS with errno in
 * lib_code, FABC_E_TEMPLATE) or a Python exception. */
static PyObject *load_template(struct fabc_state *st, PyObject *path,
                               const char *name, struct fabc_err *err)
{
    PyObject *cache = PyTuple_GET_ITEM(st->sub[FABC_SUB_TEMPLATE], TC_CACHE);
    PyObject *ent, *cap = NULL, *key = NULL;
    const char *p = PyUnicode_AsUTF8(path);
    struct stat sb;
    char *buf = NULL, *dir = NULL, *slash;
    long long mt;
    int fd = -1;
    ssize_t got;
    size_t have = 0;

    if (!p)
        return NULL;
    if (stat(p, &sb) < 0) {
        fabc_err_set(err, FABC_E_OS, errno, "template %s: %s", p,
                     strerror(errno));
        return NULL;
    }
    mt = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
    ent = PyDict_GetItemWithError(cache, path);
    if (ent && PyTuple_Check(ent) && PyTuple_GET_SIZE(ent) == 3 &&
        PyLong_AsLongLong(PyTuple_GET_ITEM(ent, 0)) == mt &&
        PyLong_AsLongLong(PyTuple_GET_ITEM(ent, 1)) == (long long)sb.st_size)
        return Py_NewRef(PyTuple_GET_ITEM(ent, 2));
    if (PyErr_Occurred())
        return NULL;
    if (!S_ISREG(sb.st_mode) || sb.st_size > MAX_FILE) {
        fabc_err_set(err, FABC_E_TEMPLATE, 0,
                     "template %s: not a regular file of at most 64 MiB", p);
        return NULL;
    }
    buf = PyMem_Malloc((size_t)sb.st_size + 1);
    if (!buf)
        return PyErr_NoMemory();
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fabc_err_set(err, FABC_E_OS, errno, "template %s: %s", p,
                     strerror(errno));
        goto out;
    }
    while (have < (size_t)sb.st_size) {
        got = read(fd, buf + have, (size_t)sb.st_size - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            fabc_err_set(err, FABC_E_OS, errno, "template %s: read: %s", p,
                         strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        have += (size_t)got;
    }
    dir = PyMem_Malloc(strlen(p) + 2);
    if (!dir) {
        PyErr_NoMemory();
        goto out;
    }
    memcpy(dir, p, strlen(p) + 1);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        memcpy(dir, ".", 2);
    cap = compile_capsule(buf, have, name, dir, err);
    if (!cap)
        goto out;
    key = Py_BuildValue("(LLO)", mt, (long long)sb.st_size, cap);
    if (!key || PyDict_SetItem(cache, path, key) < 0)
        Py_CLEAR(cap);
out:
    Py_XDECREF(key);
    if (fd >= 0)
        close(fd);
    PyMem_Free(dir);
    PyMem_Free(buf);
    return cap;
}

/* ---- entry ---------------------------------------------------------- */

/* Raise TemplateError for err with name/lineno attributes. */
static PyObject *raise_template_error(struct fabc_state *st,
                                      struct fabc_err *err, PyObject *cause)
{
    PyObject *type, *val, *tb;

    if (err->code == FABC_E_TEMPLATE) {
        if (err->line > 0)
            fabc_err_prefix(err, "%.400s:%d", err->file, err->line);
        else
            fabc_err_prefix(err, "%.400s", err->file);
    }
    fabc_py_raise(st, err);
    if (err->code != FABC_E_TEMPLATE)
        return NULL;
    PyErr_Fetch(&type, &val, &tb);
    PyErr_NormalizeException(&type, &val, &tb);
    if (val) {
        PyObject *nm = PyUnicode_DecodeUTF8(err->file,
                                            (Py_ssize_t)strlen(err->file),
                                            "replace");
        PyObject *ln = PyLong_FromLong(err->line);

        if (!nm || !ln || PyObject_SetAttrString(val, "name", nm) < 0 ||
            PyObject_SetAttrString(val, "lineno", ln) < 0)
            PyErr_Clear();
        Py_XDECREF(nm);
        Py_XDECREF(ln);
        if (cause) {
            PyException_SetCause(val, Py_NewRef(cause));
            PyException_SetContext(val, Py_NewRef(cause));
        }
    }
    PyErr_Restore(type, val, tb);
    return NULL;
}

/* Render capsule `cap` against mapping `ctx` (may be NULL) and `vars`. */
static PyObject *render_cap(struct fabc_state *st, PyObject *cap,
                            PyObject *ctx, PyObject *vars, int lenient)
{
    struct render r;
    struct frame root = { NULL, NULL, NULL };
    PyObject *rv = NULL;
    struct ctpl *ct = PyCapsule_GetPointer(cap, CAPSULE_NAME);

    if (!ct)
        return NULL;
    memset(&r, 0, sizeof(r));
    r.st = st;
    r.tc = &PyTuple_GET_ITEM(st->sub[FABC_SUB_TEMPLATE], 0);
    r.lenient = lenient;
    r.ct = ct;
    r.tplcap = cap;
    r.basedir = ct->dir ? ct->dir : ".";
    fabc_buf_init(&r.out);
    root.vars = PyDict_New();
    if (!root.vars)
        goto out;
    if (ctx && ctx != Py_None && PyDict_Update(root.vars, ctx) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            goto out;
        PyErr_Clear();
        if (PyDict_MergeFromSeq2(root.vars, ctx, 1) < 0)
            goto out;
    }
    if (vars && PyDict_Update(root.vars, vars) < 0)
        goto out;
    r.frame = &root;
    if (fabc_buf_append(&r.out, "", 0) < 0) {
        PyErr_NoMemory();
        goto out;
    }
    if (exec_body(&r, ct->tpl->root) < 0) {
        if (r.err.code != FABC_E_OK) {
            PyErr_Clear();
            raise_template_error(st, &r.err, NULL);
        } else if (PyErr_Occurred() &&
                   !PyErr_ExceptionMatches(PyExc_MemoryError) &&
                   !PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
            PyObject *type, *val, *tb, *s;
            struct fabc_err e;

            PyErr_Fetch(&type, &val, &tb);
            PyErr_NormalizeException(&type, &val, &tb);
            if (tb && val)
                PyException_SetTraceback(val, tb);
            s = val ? PyObject_Str(val) : NULL;
            fabc_err_clear(&e);
            if (val && PyObject_TypeCheck(val,
                                          (PyTypeObject *)st->TemplateError))
                /* raised by a strict Undefined: its hint is the message */
                fabc_err_set(&e, FABC_E_TEMPLATE, 0, "%s",
                             s && PyUnicode_AsUTF8(s) ? PyUnicode_AsUTF8(s)
                                                      : "?");
            else
                fabc_err_set(&e, FABC_E_TEMPLATE, 0, "%s: %s",
                             _PyType_Name((PyTypeObject *)type),
                             s && PyUnicode_AsUTF8(s) ? PyUnicode_AsUTF8(s)
                                                      : "?");
            PyErr_Clear();
            fabc_err_pos(&e, r.pyname[0] ? r.pyname : ct->tpl->name,
                         r.pyline, 0);
            Py_XDECREF(s);
            raise_template_error(st, &e, val);
            Py_XDECREF(type);
            Py_XDECREF(val);
            Py_XDECREF(tb);
        }
        goto out;
    }
    rv = PyUnicode_DecodeUTF8(r.out.data, (Py_ssize_t)r.out.len, "strict");
out:
    if (root.vars)
        PyDict_Clear(root.vars); /* break macro closure cycles */
    Py_XDECREF(root.vars);
    fabc_buf_free(&r.out);
    return rv;
}

/* Read the options template_name/undefined from kwargs; -1 on bad values.
 * (`name` stays an ordinary template variable: configs use it a lot.) */
static int take_options(PyObject *kw, const char **name, int *lenient,
                        int allow_name)
{
    PyObject *v;

    if (!kw)
        return 0;
    if (allow_name) {
        v = PyDict_GetItemString(kw, "template_name");
        if (v) {
            if (!PyUnicode_Check(v)) {
                PyErr_SetString(PyExc_TypeError,
                                "render: template_name must be str");
                return -1;
            }
            *name = PyUnicode_AsUTF8(v);
            if (!*name)
                return -1;
        }
    }
    v = PyDict_GetItemString(kw, "undefined");
    if (v) {
        const char *u = PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;

        if (u && !strcmp(u, "strict"))
            *lenient = 0;
        else if (u && !strcmp(u, "lenient"))
            *lenient = 1;
        else {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError,
                            "undefined must be 'strict' or 'lenient'");
            return -1;
        }
    }
    return 0;
}

/* The template variables among the keyword arguments: all but the
 * options (template_name, undefined) and a `context=` given by keyword. */
static PyObject *vars_without(PyObject *kw, int drop_name)
{
    static const char *const opts[] = { "template_name", "undefined",
                                        "context", NULL };
    PyObject *d;

    if (!kw)
        return NULL;
    d = PyDict_Copy(kw);
    if (!d)
        return NULL;
    for (int i = drop_name ? 0 : 1; opts[i]; i++)
        if (PyDict_DelItemString(d, opts[i]) < 0)
            PyErr_Clear(); /* absent */
    return d;
}

/* context given as `context=` instead of positionally (borrowed). */
static PyObject *kw_context(PyObject *kw, PyObject *ctx)
{
    PyObject *v = kw ? PyDict_GetItemString(kw, "context") : NULL;

    return v && ctx == Py_None ? v : ctx;
}

static PyObject *py_render(PyObject *self, PyObject *args, PyObject *kw)
{
    struct fabc_state *st = fabc_py_state(self);
    PyObject *text, *ctx = Py_None, *cap = NULL, *vars = NULL, *rv = NULL;
    const char *name = "<string>", *src;
    Py_ssize_t len;
    int lenient = 0;
    struct fabc_err err;
    char *cwd = NULL;

    if (!PyArg_ParseTuple(args, "U|O:render", &text, &ctx))
        return NULL;
    ctx = kw_context(kw, ctx);
    if (take_options(kw, &name, &lenient, 1) < 0)
        return NULL;
    src = PyUnicode_AsUTF8AndSize(text, &len);
    if (!src)
        return NULL;
    fabc_err_clear(&err);
    cwd = getcwd(NULL, 0);
    cap = compile_capsule(src, (size_t)len, name, cwd ? cwd : ".", &err);
    free(cwd);
    if (!cap) {
        if (!PyErr_Occurred())
            raise_template_error(st, &err, NULL);
        return NULL;
    }
    if (kw) {
        vars = vars_without(kw, 1);
        if (!vars)
            goto out;
    }
    rv = render_cap(st, cap, ctx, vars, lenient);
out:
    Py_XDECREF(vars);
    Py_DECREF(cap);
    return rv;
}

static PyObject *py_render_file(PyObject *self, PyObject *args, PyObject *kw)
{
    struct fabc_state *st = fabc_py_state(self);
    PyObject *pathobj, *ctx = Py_None, *path = NULL, *cap = NULL;
    PyObject *vars = NULL, *rv = NULL, *key = NULL;
    const char *name = NULL;
    int lenient = 0;
    struct fabc_err err;

    if (!PyArg_ParseTuple(args, "O|O:render_file", &pathobj, &ctx))
        return NULL;
    ctx = kw_context(kw, ctx);
    if (!PyUnicode_FSDecoder(pathobj, &path))
        return NULL;
    if (take_options(kw, &name, &lenient, 0) < 0)
        goto out;
    name = PyUnicode_AsUTF8(path);
    if (!name)
        goto out;
    if (name[0] != '/') {
        /* cache and include directory by absolute path */
        char *cwd = getcwd(NULL, 0);
        PyObject *abs;

        if (!cwd) {
            PyErr_SetFromErrno(PyExc_OSError);
            goto out;
        }
        abs = PyUnicode_FromFormat("%s/%U", cwd, path);
        free(cwd);
        if (!abs)
            goto out;
        key = abs;
    } else {
        key = Py_NewRef(path);
    }
    fabc_err_clear(&err);
    cap = load_template(st, key, name, &err);
    if (!cap) {
        if (!PyErr_Occurred()) {
            if (err.code == FABC_E_OS) {
                errno = (int)err.lib_code;
                PyErr_SetFromErrnoWithFilenameObject(
                    err.lib_code == ENOENT ? PyExc_FileNotFoundError
                                           : PyExc_OSError,
                    path);
            } else {
                raise_template_error(st, &err, NULL);
            }
        }
        goto out;
    }
    if (kw) {
        vars = vars_without(kw, 0);
        if (!vars)
            goto out;
    }
    rv = render_cap(st, cap, ctx, vars, lenient);
out:
    Py_XDECREF(vars);
    Py_XDECREF(cap);
    Py_XDECREF(key);
    Py_XDECREF(path);
    return rv;
}

static PyMethodDef template_methods[] = {
    { "render", (PyCFunction)(void (*)(void))py_render,
      METH_VARARGS | METH_KEYWORDS,
      "render(text, context=None, *, name='<string>', "
      "undefined='strict', **vars) -> str\n\n"
      "Render a Jinja2 template string; TemplateError on failure." },
    { "render_file", (PyCFunction)(void (*)(void))py_render_file,
      METH_VARARGS | METH_KEYWORDS,
      "render_file(path, context=None, *, undefined='strict', **vars) "
      "-> str\n\n"
      "Render a template file (compiled once per path and mtime)." },
    { NULL, NULL, 0, NULL }
};

static PyObject *import_attr(const char *mod, const char *attr)
{
    PyObject *m = PyImport_ImportModule(mod), *a;

    if (!m)
        return NULL;
    a = PyObject_GetAttrString(m, attr);
    Py_DECREF(m);
    return a;
}

static PyObject *markup_repr(PyObject *self)
{
    PyObject *s = PyUnicode_Type.tp_repr(self), *rv;

    if (!s)
        return NULL;
    rv = PyUnicode_FromFormat("Markup(%U)", s);
    Py_DECREF(s);
    return rv;
}

/* Markup: a str subclass marking escaped text (no instance fields, so no
 * GC slots of its own). */
static PyType_Slot markup_slots[] = {
    { Py_tp_repr, markup_repr },
    { Py_tp_doc, (void *)"Text that is already escaped (|e, |safe, |tojson)." },
    { 0, NULL }
};

static PyType_Spec markup_spec = {
    .name = "_fabc.Markup",
    .basicsize = 0,
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_UNICODE_SUBCLASS,
    .slots = markup_slots,
};

static PyObject *make_markup(PyObject *m)
{
    return PyType_FromModuleAndSpec(m, &markup_spec,
                                    (PyObject *)&PyUnicode_Type);
}

/* collections.namedtuple("_GroupTuple", "grouper list") whose str() and
 * repr() are a plain tuple's, as Jinja2's groupby items. */
static PyObject *make_group_tuple(void)
{
    PyObject *nt = import_attr("collections", "namedtuple"), *cls = NULL;
    PyObject *trepr = NULL;

    if (!nt)
        return NULL;
    cls = PyObject_CallFunction(nt, "ss", "_GroupTuple", "grouper list");
    trepr = PyObject_GetAttrString((PyObject *)&PyTuple_Type, "__repr__");
    if (!cls || !trepr || PyObject_SetAttrString(cls, "__repr__", trepr) < 0 ||
        PyObject_SetAttrString(cls, "__str__", trepr) < 0)
        Py_CLEAR(cls);
    Py_XDECREF(trepr);
    Py_DECREF(nt);
    return cls;
}

int fabc_py_template_exec(PyObject *m, struct fabc_state *st)
{
    PyObject *t = PyTuple_New(TC_MAX), *builtins, *glob, *re;
    PyObject *v;
    int rc = -1;

    if (!t)
        return -1;
    v = PyDict_New();
    if (!v)
        goto out;
    PyTuple_SET_ITEM(t, TC_CACHE, v);
    v = PyType_FromModuleAndSpec(m, &undef_spec, NULL);
    if (!v)
        goto out;
    PyTuple_SET_ITEM(t, TC_UNDEFINED, v);
    v = PyType_FromModuleAndSpec(m, &macro_spec, NULL);
    if (!v)
        goto out;
    PyTuple_SET_ITEM(t, TC_MACRO, v);
    v = make_markup(m);
    if (!v)
        goto out;
    PyTuple_SET_ITEM(t, TC_MARKUP, v);
    v = import_attr("json", "dumps");
    if (!v)
        goto out;
    PyTuple_SET_ITEM(t, TC_JSON_DUMPS, v);
    v = import_attr("collections.abc", "Mapping");
    if (!v)
        goto out;
    PyTuple_SET_ITEM(t, TC_MAPPING, v);
    v = import_attr("numbers", "Number");
    if (!v)
        goto out;
    PyTuple_SET_ITEM(t, TC_NUMBER, v);
    re = PyImport_ImportModule("re");
    if (!re)
        goto out;
    v = PyObject_CallMethod(re, "compile", "s", "\\w+");
    Py_DECREF(re);
    if (!v)
        goto out;
    PyTuple_SET_ITEM(t, TC_WORD_RE, v);
    v = import_attr("types", "SimpleNamespace");
    if (!v)
        goto out;
    PyTuple_SET_ITEM(t, TC_NAMESPACE, v);
    v = make_group_tuple();
    if (!v)
        goto out;
    PyTuple_SET_ITEM(t, TC_GROUP, v);
    v = import_attr("pprint", "pformat");
    if (!v)
        goto out;
    PyTuple_SET_ITEM(t, TC_PFORMAT, v);
    glob = PyDict_New();
    if (!glob)
        goto out;
    PyTuple_SET_ITEM(t, TC_GLOBALS, glob);
    builtins = PyImport_ImportModule("builtins");
    if (!builtins)
        goto out;
    v = PyObject_GetAttrString(builtins, "range");
    if (!v || PyDict_SetItemString(glob, "range", v) < 0) {
        Py_XDECREF(v);
        Py_DECREF(builtins);
        goto out;
    }
    Py_DECREF(v);
    v = PyObject_GetAttrString(builtins, "dict");
    Py_DECREF(builtins);
    if (!v || PyDict_SetItemString(glob, "dict", v) < 0) {
        Py_XDECREF(v);
        goto out;
    }
    Py_DECREF(v);
    if (PyDict_SetItemString(glob, "namespace",
                             PyTuple_GET_ITEM(t, TC_NAMESPACE)) < 0)
        goto out;
    if (PyModule_AddFunctions(m, template_methods) < 0)
        goto out;
    if (PyModule_AddObjectRef(m, "Undefined",
                              PyTuple_GET_ITEM(t, TC_UNDEFINED)) < 0 ||
        PyModule_AddObjectRef(m, "Markup", PyTuple_GET_ITEM(t, TC_MARKUP)) <
            0)
        goto out;
    Py_XSETREF(st->sub[FABC_SUB_TEMPLATE], t);
    t = NULL;
    rc = 0;
out:
    Py_XDECREF(t);
    return rc;
}
