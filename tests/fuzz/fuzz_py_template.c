/* fuzz_py_template.c — libFuzzer target for the template engine end to
 * end: compile and render arbitrary template text with _fabc.render()
 * against a fixed context of dicts, lists, strings, numbers and None, in
 * strict and lenient mode (first input byte).
 *
 * Inputs that could legitimately ask for gigabytes (`*` repetition and
 * powers, long digit runs as sizes, range()) are skipped: Jinja2 renders
 * them too, they are not engine bugs. Templates that are merely slow
 * (nested loops, recursive macros: exponential by design) are stopped
 * after one second of CPU time: a SIGVTALRM handler raises TimeoutError,
 * which the engine's periodic signal check turns into a failed render. */
#include "py_module.h"

#include <stdint.h>
#include <string.h>
#include <sys/time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

/* CPython keeps interned strings and free lists until finalisation, which
 * LeakSanitizer reports after every input; leaks in the engine itself are
 * checked by the valgrind/ASan corpus runs instead. */
const char *__asan_default_options(void)
{
    return "detect_leaks=0";
}

static PyObject *render_fn, *ctx, *kw_strict, *kw_lenient;

static int setup(void)
{
    PyObject *m;

    if (PyImport_AppendInittab("_fabc", fabc_py_module_init) < 0)
        return -1;
    Py_InitializeEx(0);
    m = PyImport_ImportModule("_fabc");
    if (!m)
        return -1;
    render_fn = PyObject_GetAttrString(m, "render");
    Py_DECREF(m);
    ctx = PyRun_String(
        "{'name': 'web', 'n': 7, 'f': 2.5, 'none': None, 't': True,"
        " 'xs': [3, 1, 2], 's': 'Hello World', 'd': {'a': 1, 'b': [1, 2]},"
        " 'hosts': [{'name': 'a', 'ip': '10.0.0.1', 'port': 80},"
        "           {'name': 'b', 'ip': '10.0.0.2', 'port': 81}],"
        " 'pairs': [(1, 'x'), (2, 'y')], 'empty': ''}",
        Py_eval_input, PyEval_GetBuiltins(), NULL);
    kw_strict = Py_BuildValue("{ss}", "undefined", "strict");
    kw_lenient = Py_BuildValue("{ss}", "undefined", "lenient");
    if (!render_fn || !ctx || !kw_strict || !kw_lenient)
        return -1;
    {
        PyObject *g = PyDict_New(), *r;

        if (!g || PyDict_SetItemString(g, "__builtins__",
                                       PyEval_GetBuiltins()) < 0)
            return -1;
        r = PyRun_String("import signal\n"
                         "def _budget(*a):\n"
                         "    raise TimeoutError('fuzz CPU budget')\n"
                         "signal.signal(signal.SIGVTALRM, _budget)\n",
                         Py_file_input, g, g);
        Py_DECREF(g);
        if (!r)
            return -1;
        Py_DECREF(r);
    }
    return 0;
}

static void budget(double seconds)
{
    struct itimerval it;

    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = (time_t)seconds;
    it.it_value.tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) *
                                        1e6);
    setitimer(ITIMER_VIRTUAL, &it, NULL);
}

static int too_costly(const uint8_t *d, size_t n)
{
    size_t digits = 0;

    if (memmem(d, n, "range", 5) || memmem(d, n, "lipsum", 6))
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '*')
            return 1;
        digits = (d[i] >= '0' && d[i] <= '9') ? digits + 1 : 0;
        if (digits > 3)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    PyObject *text, *args, *rv;

    if (!ready) {
        if (setup() < 0) {
            PyErr_Print();
            __builtin_trap();
        }
        ready = 1;
    }
    if (size < 1 || size > 4096 || too_costly(data + 1, size - 1))
        return 0;
    text = PyUnicode_DecodeUTF8((const char *)data + 1,
                                (Py_ssize_t)size - 1, "replace");
    if (!text)
        __builtin_trap();
    args = PyTuple_Pack(2, text, ctx);
    Py_DECREF(text);
    if (!args)
        __builtin_trap();
    budget(1.0);
    rv = PyObject_Call(render_fn, args, (data[0] & 1) ? kw_lenient
                                                      : kw_strict);
    budget(0.0);
    Py_DECREF(args);
    if (rv) {
        if (!PyUnicode_Check(rv))
            __builtin_trap();
        Py_DECREF(rv);
    } else {
        if (!PyErr_Occurred())
            __builtin_trap(); /* NULL without an exception */
        PyErr_Clear();
    }
    /* a budget signal that landed after the render: run its handler now */
    if (PyErr_CheckSignals() < 0)
        PyErr_Clear();
    return 0;
}
