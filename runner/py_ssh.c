/* py_ssh.c — the _fabc face of the SSH engine.
 *
 *   _fabc.ssh_submit(jobs, opts) -> list
 *
 * jobs is a list of (op, host_string, args) with op one of "exec",
 * "connect", "put", "get", "mkdir", "stat", "list", "chmod" and args a
 * dict (command, pty, timeout, label, show_out, show_err, prompt, answer,
 * local, remote, mode). opts is the connection settings dict remote.py
 * builds from env. All jobs run at once on the engine; the call returns,
 * in order, per job either the result or the exception instance (never
 * raised, except for bad arguments and Ctrl-C):
 *   exec    -> (stdout, stderr, exit_status, signal or None, elapsed)
 *   put/get -> bytes moved;  stat -> (size, mode);  list -> [(name, type)]
 *   mkdir/chmod/connect -> None
 *
 *   _fabc.ssh_disconnect_all()   close every cached session
 *   _fabc.ssh_session_count()    sessions currently cached
 */
#include "py_module.h"
#include "ssh.h"
#include "sshconfig.h"

#include <string.h>

struct copts {
    struct fabc_ssh_opts o;
    char *user, *password, *passphrase, *gateway, *known_hosts, *cfgpath;
    char **keys;
    size_t nkeys;
    int use_cfg;
};

static void copts_free(struct copts *c)
{
    fabc_free(c->user);
    if (c->password) {
        explicit_bzero(c->password, strlen(c->password));
        fabc_free(c->password);
    }
    if (c->passphrase) {
        explicit_bzero(c->passphrase, strlen(c->passphrase));
        fabc_free(c->passphrase);
    }
    fabc_free(c->gateway);
    fabc_free(c->known_hosts);
    fabc_free(c->cfgpath);
    for (size_t i = 0; i < c->nkeys; i++)
        fabc_free(c->keys[i]);
    fabc_free(c->keys);
}

/* Copy an optional str item of dict d into *out (NULL if absent/None). */
static int get_str(PyObject *d, const char *key, char **out)
{
    PyObject *v = PyDict_GetItemString(d, key); /* borrowed */
    const char *s;

    *out = NULL;
    if (!v || v == Py_None)
        return 0;
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str", key);
        return -1;
    }
    s = PyUnicode_AsUTF8(v);
    if (!s)
        return -1;
    *out = fabc_strdup(s);
    if (!*out) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int get_num(PyObject *d, const char *key, double dflt, double *out)
{
    PyObject *v = PyDict_GetItemString(d, key);

    *out = dflt;
    if (!v || v == Py_None)
        return 0;
    if (PyUnicode_Check(v)) {
        PyObject *f = PyFloat_FromString(v);

        if (!f)
            return -1;
        *out = PyFloat_AsDouble(f);
        Py_DECREF(f);
        return 0;
    }
    *out = PyFloat_AsDouble(v);
    if (*out == -1.0 && PyErr_Occurred())
        return -1;
    return 0;
}

static int get_bool(PyObject *d, const char *key, int *out)
{
    PyObject *v = PyDict_GetItemString(d, key);
    int r;

    *out = 0;
    if (!v)
        return 0;
    r = PyObject_IsTrue(v);
    if (r < 0)
        return -1;
    *out = r;
    return 0;
}

static int copts_from(PyObject *d, struct copts *c)
{
    double num;
    PyObject *keys;
    int b;

    memset(c, 0, sizeof(*c));
    c->o.strict = -1;
    if (!PyDict_Check(d)) {
        PyErr_SetString(PyExc_TypeError, "opts must be a dict");
        return -1;
    }
    if (get_str(d, "user", &c->user) < 0 ||
        get_str(d, "password", &c->password) < 0 ||
        get_str(d, "passphrase", &c->passphrase) < 0 ||
        get_str(d, "gateway", &c->gateway) < 0 ||
        get_str(d, "known_hosts", &c->known_hosts) < 0 ||
        get_str(d, "ssh_config_path", &c->cfgpath) < 0)
        return -1;
    c->o.user = c->user;
    c->o.password = c->password;
    c->o.passphrase = c->passphrase;
    c->o.gateway = c->gateway;
    c->o.known_hosts = c->known_hosts;
    if (get_num(d, "port", 22, &num) < 0)
        return -1;
    c->o.port = (int)num;
    if (get_num(d, "timeout", 0, &num) < 0)
        return -1;
    /* 0: ssh_config's ConnectTimeout, else 10 s */
    c->o.connect_timeout_ms = num > 0 ? (int)(num * 1000) : 0;
    if (get_num(d, "connection_attempts", 1, &num) < 0)
        return -1;
    c->o.attempts = (int)num;
    if (get_num(d, "keepalive", 0, &num) < 0)
        return -1;
    c->o.keepalive_s = (int)num;
    if (get_bool(d, "accept_new_hosts", &c->o.accept_new) < 0 ||
        get_bool(d, "forward_agent", &c->o.forward_agent) < 0 ||
        get_bool(d, "no_agent", &c->o.no_agent) < 0 ||
        get_bool(d, "use_ssh_config", &c->use_cfg) < 0)
        return -1;
    if (PyDict_GetItemString(d, "strict")) {
        if (get_bool(d, "strict", &b) < 0)
            return -1;
        c->o.strict = b ? FABC_STRICT_YES : FABC_STRICT_NO;
    }
    keys = PyDict_GetItemString(d, "key_filename");
    if (keys && keys != Py_None) {
        PyObject *seq;

        if (PyUnicode_Check(keys)) {
            seq = PyTuple_Pack(1, keys);
        } else {
            seq = PySequence_Fast(keys, "key_filename must be a list");
        }
        if (!seq)
            return -1;
        c->nkeys = 0;
        c->keys = fabc_calloc((size_t)PySequence_Fast_GET_SIZE(seq) + 1,
                              sizeof(char *));
        if (!c->keys) {
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
            const char *s =
                PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));

            if (!s || !(c->keys[c->nkeys] = fabc_strdup(s))) {
                Py_DECREF(seq);
                if (!PyErr_Occurred())
                    PyErr_NoMemory();
                return -1;
            }
            c->nkeys++;
        }
        Py_DECREF(seq);
        c->o.keys = (const char *const *)c->keys;
        c->o.nkeys = c->nkeys;
    }
    return 0;
}

static int op_of(const char *s, enum fabc_ssh_op *op)
{
    static const struct {
        const char *name;
        enum fabc_ssh_op op;
    } t[] = {{"exec", FABC_SSH_EXEC},   {"connect", FABC_SSH_CONNECT},
             {"put", FABC_SFTP_PUT},    {"get", FABC_SFTP_GET},
             {"mkdir", FABC_SFTP_MKDIR}, {"stat", FABC_SFTP_STAT},
             {"list", FABC_SFTP_LIST},  {"chmod", FABC_SFTP_CHMOD}};

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(s, t[i].name) == 0) {
            *op = t[i].op;
            return 0;
        }
    return -1;
}

/* Build one job from (op, host, args). NULL with an exception set, or
 * NULL with *err set (target resolution failed: reported per job). */
static struct fabc_ssh_job *job_from(PyObject *item, const struct copts *c,
                                     const struct fabc_sshconfig *cfg,
                                     struct fabc_err *err)
{
    const char *opname, *host;
    PyObject *args;
    enum fabc_ssh_op op;
    struct fabc_ssh_job *j = NULL;
    double num;

    if (!PyArg_ParseTuple(item, "ssO!", &opname, &host, &PyDict_Type,
                          &args))
        return NULL;
    if (op_of(opname, &op) < 0) {
        PyErr_Format(PyExc_ValueError, "unknown ssh operation '%s'", opname);
        return NULL;
    }
    j = fabc_ssh_job_new(op);
    if (!j) {
        PyErr_NoMemory();
        return NULL;
    }
    if (get_str(args, "command", &j->command) < 0 ||
        get_str(args, "label", &j->label) < 0 ||
        get_str(args, "prompt", &j->prompt) < 0 ||
        get_str(args, "answer", &j->answer) < 0 ||
        get_str(args, "local", &j->local) < 0 ||
        get_str(args, "remote", &j->remote) < 0 ||
        get_bool(args, "pty", &j->pty) < 0 ||
        get_bool(args, "show_out", &j->show_out) < 0 ||
        get_bool(args, "show_err", &j->show_err) < 0 ||
        get_num(args, "timeout", 0, &num) < 0)
        goto fail;
    j->timeout_ms = num > 0 ? (int64_t)(num * 1000) : 0;
    if (get_num(args, "mode", -1, &num) < 0)
        goto fail;
    j->mode = (long)num;
    if (op == FABC_SSH_EXEC && !j->command) {
        PyErr_SetString(PyExc_ValueError, "exec needs a command");
        goto fail;
    }
    if ((op == FABC_SFTP_PUT || op == FABC_SFTP_GET) &&
        (!j->local || !j->remote)) {
        PyErr_SetString(PyExc_ValueError, "put/get need local and remote");
        goto fail;
    }
    if (op != FABC_SSH_EXEC && op != FABC_SSH_CONNECT && !j->remote) {
        PyErr_SetString(PyExc_ValueError, "sftp operations need remote");
        goto fail;
    }
    j->target = fabc_ssh_target_new(host, &c->o, cfg, err);
    if (!j->target) {
        fabc_err_host(err, host);
        fabc_ssh_job_free(j);
        return NULL;
    }
    return j;
fail:
    fabc_ssh_job_free(j);
    return NULL;
}

/* The exception for err as an instance (not raised). */
static PyObject *exc_value(struct fabc_state *st, const struct fabc_err *e)
{
    PyObject *t, *v, *tb;

    fabc_py_raise(st, e);
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb && v)
        PyException_SetTraceback(v, tb);
    Py_XDECREF(t);
    Py_XDECREF(tb);
    return v;
}

static PyObject *decode(const struct fabc_buf *b)
{
    return PyUnicode_DecodeUTF8(b->data ? b->data : "", (Py_ssize_t)b->len,
                                "replace");
}

static PyObject *job_result(struct fabc_state *st, struct fabc_ssh_job *j)
{
    if (j->err.code != FABC_E_OK)
        return exc_value(st, &j->err);
    switch (j->op) {
    case FABC_SSH_EXEC: {
        PyObject *o = decode(&j->out), *e = decode(&j->errout), *r;

        if (!o || !e) {
            Py_XDECREF(o);
            Py_XDECREF(e);
            return NULL;
        }
        r = Py_BuildValue("(NNiNd)", o, e, j->exit_status,
                          j->exit_signal[0]
                              ? PyUnicode_FromString(j->exit_signal)
                              : Py_NewRef(Py_None),
                          (double)(j->ended_ms - j->started_ms) / 1000.0);
        return r;
    }
    case FABC_SFTP_PUT:
    case FABC_SFTP_GET:
        return PyLong_FromUnsignedLongLong(j->bytes);
    case FABC_SFTP_STAT:
        return Py_BuildValue("(Lk)", j->st_size, j->st_mode);
    case FABC_SFTP_LIST: {
        PyObject *l = PyList_New(0);
        size_t off = 0;

        if (!l)
            return NULL;
        while (off < j->listing.len) {
            const char *ent = j->listing.data + off;
            size_t n = strlen(ent + 1);
            PyObject *t = Py_BuildValue("(s#s#)", ent + 1, (Py_ssize_t)n,
                                        ent, (Py_ssize_t)1);

            if (!t || PyList_Append(l, t) < 0) {
                Py_XDECREF(t);
                Py_DECREF(l);
                return NULL;
            }
            Py_DECREF(t);
            off += n + 2;
        }
        return l;
    }
    default:
        Py_RETURN_NONE;
    }
}

static PyObject *ssh_submit(PyObject *self, PyObject *args)
{
    struct fabc_state *st = fabc_py_state(self);
    PyObject *jobs_in, *opts, *seq = NULL, *ret = NULL;
    struct copts c;
    struct fabc_sshconfig *cfg = NULL;
    struct fabc_ssh_job **jobs = NULL;
    struct fabc_err *prefail = NULL; /* per-job resolution errors */
    struct fabc_ssh_batch *batch = NULL;
    struct fabc_err err;
    Py_ssize_t n = 0;
    size_t nsub = 0;
    int rc, done = 0, interrupted = 0;

    memset(&c, 0, sizeof(c));
    fabc_err_clear(&err);
    if (!PyArg_ParseTuple(args, "OO!:ssh_submit", &jobs_in, &PyDict_Type,
                          &opts))
        return NULL;
    if (copts_from(opts, &c) < 0)
        goto out;
    if (c.o.forward_agent) {
        fabc_err_set(&err, FABC_E_USAGE, 0,
                     "agent forwarding (-A / env.forward_agent) is not "
                     "supported: libssh2 1.10 cannot accept the "
                     "auth-agent channels the server opens back; run "
                     "without -A (see docs/ssh.md)");
        fabc_py_raise(st, &err);
        goto out;
    }
    if (c.use_cfg && c.cfgpath) {
        int missing_ok = 1;
        PyObject *explicit_cfg = PyDict_GetItemString(opts,
                                                      "ssh_config_explicit");

        if (explicit_cfg && PyObject_IsTrue(explicit_cfg) == 1)
            missing_ok = 0;
        cfg = fabc_sshconfig_load(c.cfgpath, missing_ok, &err);
        if (!cfg) {
            fabc_py_raise(st, &err);
            goto out;
        }
    }
    seq = PySequence_Fast(jobs_in, "jobs must be a list");
    if (!seq)
        goto out;
    n = PySequence_Fast_GET_SIZE(seq);
    jobs = fabc_calloc((size_t)n + 1, sizeof(*jobs));
    prefail = fabc_calloc((size_t)n + 1, sizeof(*prefail));
    if (!jobs || !prefail) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        fabc_err_clear(&prefail[i]);
        jobs[i] = job_from(PySequence_Fast_GET_ITEM(seq, i), &c, cfg,
                           &prefail[i]);
        if (!jobs[i] && PyErr_Occurred())
            goto out;
    }
    /* resolve host names here, GIL released, not in the engine thread */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!jobs[i])
            continue;
        if (fabc_ssh_target_resolve(jobs[i]->target, &prefail[i]) < 0) {
            fabc_ssh_job_free(jobs[i]);
            jobs[i] = NULL;
        }
    }
    Py_END_ALLOW_THREADS
    batch = fabc_ssh_batch_new(&err);
    if (!batch) {
        fabc_py_raise(st, &err);
        goto out;
    }
    /* submit the jobs that resolved, compacted at the front */
    {
        struct fabc_ssh_job **sub = fabc_calloc((size_t)n + 1, sizeof(*sub));

        if (!sub) {
            PyErr_NoMemory();
            goto out;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            if (jobs[i])
                sub[nsub++] = jobs[i];
        Py_BEGIN_ALLOW_THREADS
        rc = nsub ? fabc_ssh_submit(batch, sub, nsub, &err) : 0;
        Py_END_ALLOW_THREADS
        fabc_free(sub);
    }
    if (rc < 0) {
        nsub = 0;
        fabc_py_raise(st, &err);
        goto out;
    }
    while (nsub && !done) {
        Py_BEGIN_ALLOW_THREADS
        done = fabc_ssh_batch_wait(batch, 1000);
        Py_END_ALLOW_THREADS
        if (!done && !interrupted && fabc_py_check_signals() < 0) {
            interrupted = 1;
            fabc_ssh_batch_cancel(batch);
        }
    }
    if (interrupted || fabc_py_check_signals() < 0)
        goto out; /* KeyboardInterrupt (or the handler's exception) set */
    ret = PyList_New(n);
    if (!ret)
        goto out;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *r = jobs[i] ? job_result(st, jobs[i])
                              : exc_value(st, &prefail[i]);
        if (!r) {
            Py_CLEAR(ret);
            goto out;
        }
        PyList_SET_ITEM(ret, i, r);
    }
out:
    for (Py_ssize_t i = 0; jobs && i < n; i++)
        fabc_ssh_job_free(jobs[i]);
    fabc_free(jobs);
    fabc_free(prefail);
    fabc_ssh_batch_free(batch);
    fabc_sshconfig_free(cfg);
    copts_free(&c);
    Py_XDECREF(seq);
    return ret;
}

static PyObject *ssh_disconnect_all(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_BEGIN_ALLOW_THREADS
    fabc_ssh_shutdown();
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *ssh_session_count(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyLong_FromLong(fabc_ssh_session_count());
}

static PyObject *ssh_parse_host(PyObject *self, PyObject *arg)
{
    struct fabc_state *st = fabc_py_state(self);
    const char *s = PyUnicode_AsUTF8(arg);
    char *user = NULL, *host = NULL;
    int port = 0;
    struct fabc_err err;
    PyObject *r;

    if (!s)
        return NULL;
    fabc_err_clear(&err);
    if (fabc_ssh_parse_host(s, &user, &host, &port, &err) < 0)
        return fabc_py_raise(st, &err);
    r = Py_BuildValue("(zsi)", user, host, port);
    fabc_free(user);
    fabc_free(host);
    return r;
}

static PyMethodDef ssh_methods[] = {
    {"ssh_submit", ssh_submit, METH_VARARGS,
     "ssh_submit(jobs, opts) -> list of results or exception instances"},
    {"ssh_disconnect_all", ssh_disconnect_all, METH_NOARGS,
     "Close every cached SSH session."},
    {"ssh_session_count", ssh_session_count, METH_NOARGS,
     "Number of cached SSH sessions."},
    {"ssh_parse_host", ssh_parse_host, METH_O,
     "ssh_parse_host('[user@]host[:port]') -> (user, host, port)"},
    {NULL, NULL, 0, NULL}};

int fabc_py_ssh_exec(PyObject *m, struct fabc_state *st)
{
    if (PyModule_AddFunctions(m, ssh_methods) < 0)
        return -1;
    /* No Python-visible types yet: keep the slot a (visited) tuple. */
    st->sub[FABC_SUB_SSH] = PyTuple_New(0);
    return st->sub[FABC_SUB_SSH] ? 0 : -1;
}
