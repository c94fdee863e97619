/* embed.c — CPython initialisation, the bridge from the C command line to
 * the Python runner, signals and finalisation.
 *
 * The interpreter is configured as isolated (no PYTHON* variables, no user
 * site, no site import: start-up is a feature), with utf-8 mode, and with
 * sys.path set explicitly: the stdlib of the Python fabc was built against,
 * the runner's own package (build tree or installed prefix), and Debian's
 * dist-packages so task files may import what the system has. */
#include "py_module.h"

#include "embed.h"
#include "util.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct sigaction py_sigint;

/* SIGINT: wake every C wait (cancel flag + wake pipes), then let Python's
 * own handler schedule KeyboardInterrupt for the main thread. */
static void on_sigint(int sig)
{
    fabc_cancel_request();
    if (py_sigint.sa_handler != SIG_DFL && py_sigint.sa_handler != SIG_IGN
        && py_sigint.sa_handler)
        py_sigint.sa_handler(sig);
}

static int install_sigint(void)
{
    struct sigaction sa;

    if (sigaction(SIGINT, NULL, &py_sigint) < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_ONSTACK;
    return sigaction(SIGINT, &sa, NULL);
}

static int is_file(const char *path)
{
    struct stat stbuf;

    return stat(path, &stbuf) == 0 && S_ISREG(stbuf.st_mode);
}

/* The directory holding the `fabc` Python package: <bindir>/../runner in
 * the build tree, <prefix>/lib/fabc/python when installed. */
static int find_pydir(const char *argv0, char *out, size_t size)
{
    char exe[PATH_MAX], probe[PATH_MAX + 64], *slash;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    const char *rel[] = {"/../runner", "/../lib/fabc/python"};

    if (n <= 0) {
        if (!realpath(argv0, exe))
            return -1;
    } else {
        exe[n] = '\0';
    }
    slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
        snprintf(probe, sizeof(probe), "%s%s/fabc/__init__.py", exe, rel[i]);
        if (is_file(probe)) {
            snprintf(probe, sizeof(probe), "%s%s", exe, rel[i]);
            if (!realpath(probe, out))
                return -1;
            (void)size;
            return 0;
        }
    }
    snprintf(probe, sizeof(probe), "%s/lib/fabc/python/fabc/__init__.py",
             FABC_PREFIX);
    if (is_file(probe)) {
        snprintf(out, size, "%s/lib/fabc/python", FABC_PREFIX);
        return 0;
    }
    return -1;
}

static int add_path(PyConfig *config, const char *path)
{
    wchar_t *w = Py_DecodeLocale(path, NULL);
    PyStatus status;

    if (!w)
        return -1;
    status = PyWideStringList_Append(&config->module_search_paths, w);
    PyMem_RawFree(w);
    return PyStatus_Exception(status) ? -1 : 0;
}

/* ---- command line → Python dict ---------------------------------- */

static PyObject *str_or_none(const char *s)
{
    if (!s)
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(s);
}

static PyObject *strv_list(const struct fabc_strv *sv)
{
    PyObject *l = PyList_New((Py_ssize_t)sv->n);

    if (!l)
        return NULL;
    for (size_t i = 0; i < sv->n; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(sv->v[i]);
        if (!s) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, s);
    }
    return l;
}

/* [(key or None, value or None), ...] */
static PyObject *args_list(const struct fabc_arg *args, size_t n)
{
    PyObject *l = PyList_New((Py_ssize_t)n);

    if (!l)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *k = str_or_none(args[i].key);
        PyObject *v = k ? str_or_none(args[i].value) : NULL;
        PyObject *t = v ? PyTuple_Pack(2, k, v) : NULL;

        Py_XDECREF(k);
        Py_XDECREF(v);
        if (!t) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

/* Steal `v` into d[key]; returns -1 if v is NULL or on failure. */
static int put(PyObject *d, const char *key, PyObject *v)
{
    int rc;

    if (!v)
        return -1;
    rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

static PyObject *opt_num(double v)
{
    if (v < 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(v);
}

static PyObject *opt_long(long v)
{
    if (v < 0)
        Py_RETURN_NONE;
    return PyLong_FromLong(v);
}

static PyObject *spec_dict(const struct fabc_task_spec *s)
{
    PyObject *d = PyDict_New();

    if (!d)
        return NULL;
    if (put(d, "name", PyUnicode_DecodeFSDefault(s->name)) < 0
        || put(d, "args", args_list(s->args, s->nargs)) < 0
        || put(d, "hosts", strv_list(&s->hosts)) < 0
        || put(d, "roles", strv_list(&s->roles)) < 0
        || put(d, "exclude_hosts", strv_list(&s->exclude_hosts)) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *cli_dict(const struct fabc_cli *c)
{
    PyObject *d = PyDict_New(), *specs = NULL;

    if (!d)
        return NULL;
    specs = PyList_New((Py_ssize_t)c->nspecs);
    if (!specs)
        goto fail;
    for (size_t i = 0; i < c->nspecs; i++) {
        PyObject *sd = spec_dict(&c->specs[i]);
        if (!sd)
            goto fail;
        PyList_SET_ITEM(specs, (Py_ssize_t)i, sd);
    }
    if (PyDict_SetItemString(d, "specs", specs) < 0)
        goto fail;
    Py_CLEAR(specs);
    if (put(d, "list", PyBool_FromLong(c->list)) < 0
        || put(d, "shortlist", PyBool_FromLong(c->shortlist)) < 0
        || put(d, "display", str_or_none(c->display)) < 0
        || put(d, "tasks_path", str_or_none(c->tasks_path)) < 0
        || put(d, "config_path", str_or_none(c->config_path)) < 0
        || put(d, "hosts", strv_list(&c->hosts)) < 0
        || put(d, "roles", strv_list(&c->roles)) < 0
        || put(d, "exclude_hosts", strv_list(&c->exclude_hosts)) < 0
        || put(d, "user", str_or_none(c->user)) < 0
        || put(d, "identities", strv_list(&c->identities)) < 0
        || put(d, "forward_agent", PyBool_FromLong(c->forward_agent)) < 0
        || put(d, "gateway", str_or_none(c->gateway)) < 0
        || put(d, "parallel", PyBool_FromLong(c->parallel)) < 0
        || put(d, "pool_size", opt_long(c->pool_size)) < 0
        || put(d, "warn_only", PyBool_FromLong(c->warn_only)) < 0
        || put(d, "timeout", opt_num(c->timeout)) < 0
        || put(d, "command_timeout", opt_num(c->command_timeout)) < 0
        || put(d, "connection_attempts", opt_long(c->connection_attempts))
               < 0
        || put(d, "skip_bad_hosts", PyBool_FromLong(c->skip_bad_hosts)) < 0
        || put(d, "ssh_config", str_or_none(c->ssh_config)) < 0
        || put(d, "known_hosts", str_or_none(c->known_hosts)) < 0
        || put(d, "accept_new_hosts", PyBool_FromLong(c->accept_new_hosts))
               < 0
        || put(d, "set", args_list(c->set, c->nset)) < 0
        || put(d, "json", str_or_none(c->json)) < 0
        || put(d, "dry_run", PyBool_FromLong(c->dry_run)) < 0
        || put(d, "yes", PyBool_FromLong(c->yes)) < 0
        || put(d, "hide", strv_list(&c->hide)) < 0
        || put(d, "show", strv_list(&c->show)) < 0
        || put(d, "no_colour", PyBool_FromLong(c->no_colour)) < 0
        || put(d, "verbosity", PyLong_FromLong(c->verbosity)) < 0
        || put(d, "command", str_or_none(c->command)) < 0)
        goto fail;
    return d;
fail:
    Py_XDECREF(specs);
    Py_DECREF(d);
    return NULL;
}

/* Import fabc._runner and call main(opts); returns the exit status. */
static int run_main(const struct fabc_cli *cli)
{
    PyObject *mod = NULL, *opts = NULL, *res = NULL;
    int rc = FABC_EXIT_FAILED;

    mod = PyImport_ImportModule("fabc._runner");
    if (!mod)
        goto out;
    opts = cli_dict(cli);
    if (!opts)
        goto out;
    res = PyObject_CallMethod(mod, "main", "O", opts);
    if (!res)
        goto out;
    rc = (int)PyLong_AsLong(res);
    if (rc == -1 && PyErr_Occurred())
        rc = FABC_EXIT_FAILED;
out:
    if (PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
            PyErr_Clear();
            fputs("\nStopped.\n", stderr);
            rc = FABC_EXIT_INTERRUPTED;
        } else {
            fputs("fabc: internal error in the Python runner:\n", stderr);
            PyErr_Print();
            rc = FABC_EXIT_FAILED;
        }
    }
    Py_XDECREF(res);
    Py_XDECREF(opts);
    Py_XDECREF(mod);
    return rc;
}

int fabc_embed_run(const struct fabc_cli *cli, const char *argv0)
{
    PyPreConfig preconfig;
    PyConfig config;
    PyStatus status;
    char pydir[PATH_MAX];
    int rc = FABC_EXIT_FAILED;

    if (find_pydir(argv0, pydir, sizeof(pydir)) < 0) {
        fprintf(stderr, "fabc: cannot find the fabc Python package (looked "
                        "beside the executable and in %s/lib/fabc/python)\n",
                FABC_PREFIX);
        return FABC_EXIT_LOAD;
    }
    if (PyImport_AppendInittab("_fabc", fabc_py_module_init) < 0) {
        fputs("fabc: cannot register the _fabc module\n", stderr);
        return FABC_EXIT_FAILED;
    }
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1;
    /* The isolated config ignores PYTHON* variables; honour
     * PYTHONMALLOC=malloc explicitly for valgrind, and always use malloc
     * under AddressSanitizer so it sees every allocation. */
#if defined(__SANITIZE_ADDRESS__)
    preconfig.allocator = PYMEM_ALLOCATOR_MALLOC;
#else
    {
        const char *pm = getenv("PYTHONMALLOC");
        if (pm && !strcmp(pm, "malloc"))
            preconfig.allocator = PYMEM_ALLOCATOR_MALLOC;
    }
#endif
    status = Py_PreInitialize(&preconfig);
    if (PyStatus_Exception(status))
        goto fail_status;

    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;
    config.install_signal_handlers = 1;
    config.buffered_stdio = 0;
    config.write_bytecode = 1;
    config.parse_argv = 0;
    status = PyConfig_SetBytesString(&config, &config.program_name,
                                     argv0 ? argv0 : "fabc");
    if (PyStatus_Exception(status))
        goto fail_config;
    status = PyConfig_SetBytesString(&config, &config.home, FABC_PY_PREFIX);
    if (PyStatus_Exception(status))
        goto fail_config;
    {
        char *argv1[] = {(char *)(argv0 ? argv0 : "fabc")};
        status = PyConfig_SetBytesArgv(&config, 1, argv1);
        if (PyStatus_Exception(status))
            goto fail_config;
    }
    config.module_search_paths_set = 1;
    if (add_path(&config, FABC_PY_STDLIB) < 0
        || add_path(&config, FABC_PY_STDLIB "/lib-dynload") < 0
        || add_path(&config, pydir) < 0
        || add_path(&config, "/usr/local/lib/python3.11/dist-packages") < 0
        || add_path(&config, "/usr/lib/python3/dist-packages") < 0) {
        fputs("fabc: out of memory setting sys.path\n", stderr);
        PyConfig_Clear(&config);
        return FABC_EXIT_FAILED;
    }
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status))
        goto fail_config;
    PyConfig_Clear(&config);

    if (install_sigint() < 0)
        perror("fabc: sigaction(SIGINT)");
    rc = run_main(cli);
    if (Py_FinalizeEx() < 0 && rc == 0)
        rc = 120;
    return rc;

fail_config:
    PyConfig_Clear(&config);
fail_status:
    if (PyStatus_IsExit(status))
        return status.exitcode;
    fprintf(stderr, "fabc: cannot start the Python interpreter: %s%s%s\n",
            status.func ? status.func : "", status.func ? ": " : "",
            status.err_msg ? status.err_msg : "unknown error");
    return FABC_EXIT_FAILED;
}
