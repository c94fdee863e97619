/* py_cloud.c — the cloud connection type of _fabc (Keystone, Heat, Glance).
 *
 *   _fabc.cloud_connect(cloud=None) -> Cloud     (authenticates)
 *   Cloud.call(op, args_json) -> JSON text or None
 *   Cloud.auth_token, .project_id, .region, .source
 *   _fabc.cloud_set_debug(on), _fabc.cloud_request_count()
 *
 * The boundary is deliberately narrow: fabc/openstack.py passes each
 * operation's arguments as one JSON text and gets the service's JSON back,
 * so every argument is converted before the GIL is released and nothing
 * Python is touched while the request and the wait run.
 */
#include "py_module.h"

#include <string.h>

#include "glance.h"
#include "heat.h"
#include "keystone.h"
#include "rest.h"

typedef struct {
    PyObject_HEAD
    struct fabc_keystone *ks;
    char source[1200];
} CloudObject;

/* st->sub[FABC_SUB_CLOUD] is the Cloud type itself */

static void cloud_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    CloudObject *c = (CloudObject *)self;

    PyObject_GC_UnTrack(self);
    fabc_keystone_free(c->ks);
    c->ks = NULL;
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int cloud_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static struct fabc_state *cloud_state(PyObject *self)
{
    return PyType_GetModuleState(Py_TYPE(self));
}

/* ---- argument helpers over the args JSON object ---- */

static const char *astr(json_t *a, const char *k)
{
    json_t *v = json_object_get(a, k);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static long along(json_t *a, const char *k, long dflt)
{
    json_t *v = json_object_get(a, k);

    if (json_is_integer(v))
        return (long)json_integer_value(v);
    if (json_is_real(v))
        return (long)json_real_value(v);
    if (json_is_boolean(v))
        return json_is_true(v);
    return dflt;
}

static json_t *aobj(json_t *a, const char *k)
{
    json_t *v = json_object_get(a, k);

    return json_is_object(v) ? v : NULL;
}

/* Collect the strings of array a[k] into a NULL-terminated vector of
 * borrowed pointers (fabc_free the vector). */
static const char **astrv(json_t *a, const char *k, size_t *n)
{
    json_t *arr = json_object_get(a, k), *v;
    const char **vec;
    size_t i;

    *n = 0;
    vec = fabc_calloc(json_array_size(arr) + 1, sizeof(*vec));
    if (!vec)
        return NULL;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v))
            vec[(*n)++] = json_string_value(v);
    }
    return vec;
}

static void heat_opts(json_t *a, struct fabc_heat_opts *o,
                      const char **envs, size_t n_env)
{
    memset(o, 0, sizeof(*o));
    o->name = astr(a, "name");
    o->template_path = astr(a, "template");
    o->template_text = astr(a, "template_text");
    o->base_dir = astr(a, "base_dir");
    o->env_paths = envs;
    o->n_env = n_env;
    o->parameters = aobj(a, "parameters");
    o->clear_parameters = json_is_array(json_object_get(a, "clear_parameters"))
                              ? json_object_get(a, "clear_parameters")
                              : NULL;
    o->tags = astr(a, "tags");
    o->timeout_s = along(a, "timeout", 0);
    o->rollback = (int)along(a, "rollback", -1);
    o->existing = (int)along(a, "existing", 0);
    o->wait = (int)along(a, "wait", 1);
    o->quiet = (int)along(a, "quiet", 0);
}

/* Run one operation (no GIL). *out: the result (new ref, NULL = None). */
static int dispatch(struct fabc_keystone *ks, const char *op, json_t *a,
                    json_t **out, struct fabc_err *err)
{
    struct fabc_heat_opts ho;
    const char **envs = NULL, **tags = NULL;
    size_t n_env = 0, n_tags = 0;
    int ret = -1, found = 1;
    const char *name = astr(a, "name"), *id = astr(a, "id");

    *out = NULL;
    envs = astrv(a, "environment", &n_env);
    tags = astrv(a, "tags_list", &n_tags);
    if (!envs || !tags) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    heat_opts(a, &ho, envs, n_env);
    if (!strncmp(op, "heat.", 5) && strcmp(op, "heat.validate") && !name) {
        fabc_err_set(err, FABC_E_USAGE, 0, "%s: a stack name is required",
                     op);
        goto out;
    }
    if (!strncmp(op, "glance.", 7) && strcmp(op, "glance.list") &&
        strcmp(op, "glance.upload") && !id) {
        fabc_err_set(err, FABC_E_USAGE, 0, "%s: an image id is required",
                     op);
        goto out;
    }
    if (!strcmp(op, "heat.create")) {
        *out = fabc_heat_create(ks, &ho, err);
    } else if (!strcmp(op, "heat.update")) {
        *out = fabc_heat_update(ks, &ho, err);
    } else if (!strcmp(op, "heat.preview")) {
        *out = fabc_heat_preview(ks, &ho, (int)along(a, "update", 0), err);
    } else if (!strcmp(op, "heat.validate")) {
        *out = fabc_heat_validate(ks, &ho, err);
    } else if (!strcmp(op, "heat.delete")) {
        int existed = 0;

        ret = fabc_heat_delete(ks, name, ho.wait, ho.timeout_s, ho.quiet,
                               &existed, err);
        if (ret == 0)
            *out = json_boolean(existed);
        goto out;
    } else if (!strcmp(op, "heat.get")) {
        *out = fabc_heat_get(ks, name, &found, err);
        ret = *out || !found ? 0 : -1;
        goto out;
    } else if (!strcmp(op, "heat.events")) {
        *out = fabc_heat_events(ks, name, err);
    } else if (!strcmp(op, "heat.resources")) {
        *out = fabc_heat_resources(ks, name, err);
    } else if (!strcmp(op, "heat.signal")) {
        ret = fabc_heat_signal(ks, name, astr(a, "resource") ? astr(a,
                                                                   "resource")
                                                             : "",
                               json_object_get(a, "data"), err);
        goto out;
    } else if (!strcmp(op, "glance.list")) {
        struct fabc_glance_filter f = {
            .tags = tags, .n_tags = n_tags, .name = astr(a, "filter_name"),
            .status = astr(a, "status"),
            .properties = aobj(a, "properties"),
            .page_size = along(a, "limit", 0)};

        *out = fabc_glance_list(ks, &f, err);
    } else if (!strcmp(op, "glance.get")) {
        *out = fabc_glance_get(ks, id, &found, err);
        ret = *out || !found ? 0 : -1;
        goto out;
    } else if (!strcmp(op, "glance.upload")) {
        struct fabc_glance_upload u = {
            .name = astr(a, "image_name"), .id = id, .path = astr(a, "path"),
            .disk_format = astr(a, "disk_format"),
            .container_format = astr(a, "container_format"),
            .visibility = astr(a, "visibility"),
            .tags = json_object_get(a, "tags_list"),
            .properties = aobj(a, "properties")};

        if (!u.name) {
            fabc_err_set(err, FABC_E_USAGE, 0, "glance.upload: no name");
            goto out;
        }
        *out = fabc_glance_upload(ks, &u, err);
    } else if (!strcmp(op, "glance.delete")) {
        ret = fabc_glance_delete(ks, id, err);
        goto out;
    } else if (!strcmp(op, "glance.add_tag") ||
               !strcmp(op, "glance.remove_tag")) {
        const char *tag = astr(a, "tag");

        if (!tag) {
            fabc_err_set(err, FABC_E_USAGE, 0, "%s: no tag", op);
            goto out;
        }
        ret = op[7] == 'a' ? fabc_glance_add_tag(ks, id, tag, err)
                           : fabc_glance_remove_tag(ks, id, tag, err);
        goto out;
    } else if (!strcmp(op, "glance.set_properties")) {
        *out = fabc_glance_set_properties(ks, id, aobj(a, "properties"),
                                          err);
    } else if (!strcmp(op, "endpoint")) {
        char *url = fabc_keystone_endpoint(ks, astr(a, "type") ? astr(a,
                                                                     "type")
                                                               : "",
                                           err);

        if (url)
            *out = json_string(url);
        fabc_free(url);
    } else {
        fabc_err_set(err, FABC_E_USAGE, 0, "unknown cloud operation '%s'",
                     op);
        goto out;
    }
    ret = *out ? 0 : -1;
out:
    fabc_free(envs);
    fabc_free(tags);
    return ret;
}

static PyObject *cloud_call(PyObject *self, PyObject *args)
{
    CloudObject *c = (CloudObject *)self;
    struct fabc_state *st = cloud_state(self);
    const char *op, *text;
    Py_ssize_t len;
    json_t *a = NULL, *result = NULL;
    json_error_t je;
    struct fabc_err err;
    char *dumped = NULL;
    PyObject *ret = NULL;
    int rc;

    if (!PyArg_ParseTuple(args, "ss#:call", &op, &text, &len))
        return NULL;
    a = json_loadb(text, (size_t)len, 0, &je);
    if (!json_is_object(a)) {
        PyErr_Format(PyExc_ValueError, "call: arguments are not a JSON "
                                       "object: %s", je.text);
        goto out;
    }
    fabc_err_clear(&err);
    Py_BEGIN_ALLOW_THREADS
    rc = dispatch(c->ks, op, a, &result, &err);
    if (rc == 0 && result)
        dumped = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY);
    Py_END_ALLOW_THREADS
    if (fabc_py_check_signals() < 0)
        goto out;
    if (rc < 0) {
        fabc_py_raise(st, &err);
        goto out;
    }
    if (!result) {
        ret = Py_NewRef(Py_None);
        goto out;
    }
    if (!dumped) {
        PyErr_NoMemory();
        goto out;
    }
    ret = PyUnicode_FromString(dumped);
out:
    free(dumped);
    json_decref(a);
    json_decref(result);
    return ret;
}

static PyObject *cloud_get_token(PyObject *self, void *closure)
{
    CloudObject *c = (CloudObject *)self;
    struct fabc_err err;
    char *tok;
    PyObject *ret;

    (void)closure;
    fabc_err_clear(&err);
    Py_BEGIN_ALLOW_THREADS
    tok = fabc_keystone_token(c->ks, &err);
    Py_END_ALLOW_THREADS
    if (!tok)
        return fabc_py_raise(cloud_state(self), &err);
    ret = PyUnicode_FromString(tok);
    memset(tok, 0, strlen(tok));
    fabc_free(tok);
    return ret;
}

static PyObject *cloud_get_project(PyObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(
        fabc_keystone_project_id(((CloudObject *)self)->ks));
}

static PyObject *cloud_get_project_name(PyObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(
        fabc_keystone_project_name(((CloudObject *)self)->ks));
}

static PyObject *cloud_get_region(PyObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(
        fabc_keystone_region(((CloudObject *)self)->ks));
}

static PyObject *cloud_get_source(PyObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(((CloudObject *)self)->source);
}

static PyObject *cloud_reauth(PyObject *self, PyObject *noargs)
{
    CloudObject *c = (CloudObject *)self;
    struct fabc_err err;
    int rc;

    (void)noargs;
    fabc_err_clear(&err);
    Py_BEGIN_ALLOW_THREADS
    rc = fabc_keystone_auth(c->ks, &err);
    Py_END_ALLOW_THREADS
    if (fabc_py_check_signals() < 0)
        return NULL;
    if (rc < 0)
        return fabc_py_raise(cloud_state(self), &err);
    Py_RETURN_NONE;
}

static PyMethodDef cloud_methods[] = {
    {"call", cloud_call, METH_VARARGS,
     "call(op, args_json) -> JSON text or None\n\nRun one Heat/Glance "
     "operation (see fabc/openstack.py) without the GIL."},
    {"reauth", cloud_reauth, METH_NOARGS,
     "Authenticate again now (a new token)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef cloud_getset[] = {
    {"auth_token", cloud_get_token, NULL,
     "the current Keystone token (a secret: never print it)", NULL},
    {"project_id", cloud_get_project, NULL, "the scoped project id", NULL},
    {"project_name", cloud_get_project_name, NULL, "the project name",
     NULL},
    {"region", cloud_get_region, NULL, "the region, '' if any", NULL},
    {"source", cloud_get_source, NULL,
     "where the credentials came from", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyType_Slot cloud_slots[] = {
    {Py_tp_dealloc, cloud_dealloc},
    {Py_tp_traverse, cloud_traverse},
    {Py_tp_methods, cloud_methods},
    {Py_tp_getset, cloud_getset},
    {Py_tp_doc, "An authenticated OpenStack connection (Keystone v3)."},
    {0, NULL}};

static PyType_Spec cloud_spec = {
    .name = "_fabc.Cloud",
    .basicsize = sizeof(CloudObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = cloud_slots};

static PyObject *py_cloud_connect(PyObject *self, PyObject *args,
                                  PyObject *kw)
{
    static char *kwlist[] = {"cloud", NULL};
    struct fabc_state *st = fabc_py_state(self);
    const char *cloud = NULL;
    struct fabc_keystone *ks = NULL;
    struct fabc_err err;
    char source[1200] = "";
    json_t *cfg = NULL;
    CloudObject *c;
    PyObject *ret = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|z:cloud_connect", kwlist,
                                     &cloud))
        return NULL;
    fabc_err_clear(&err);
    Py_BEGIN_ALLOW_THREADS
    cfg = fabc_keystone_load_config(cloud, source, sizeof(source), &err);
    if (cfg)
        ks = fabc_keystone_new(cfg, &err);
    Py_END_ALLOW_THREADS
    json_decref(cfg);
    if (fabc_py_check_signals() < 0)
        goto out;
    if (!ks) {
        fabc_py_raise(st, &err);
        goto out;
    }
    c = PyObject_GC_New(CloudObject, (PyTypeObject *)st->sub[FABC_SUB_CLOUD]);
    if (!c)
        goto out;
    c->ks = ks;
    ks = NULL;
    fabc_strlcpy(c->source, source, sizeof(c->source));
    PyObject_GC_Track((PyObject *)c);
    ret = (PyObject *)c;
out:
    fabc_keystone_free(ks);
    return ret;
}

static PyObject *py_cloud_set_debug(PyObject *self, PyObject *arg)
{
    int on = PyObject_IsTrue(arg);

    (void)self;
    if (on < 0)
        return NULL;
    fabc_rest_set_debug(on);
    Py_RETURN_NONE;
}

static PyObject *py_cloud_request_count(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyLong_FromLong(fabc_rest_request_count());
}

static PyMethodDef cloud_functions[] = {
    {"cloud_connect", (PyCFunction)(void (*)(void))py_cloud_connect,
     METH_VARARGS | METH_KEYWORDS,
     "cloud_connect(cloud=None) -> Cloud\n\nAuthenticate from OS_* "
     "variables or clouds.yaml (OS_CLOUD / cloud). Raises AuthError, "
     "ConfigError, CloudError."},
    {"cloud_set_debug", py_cloud_set_debug, METH_O,
     "Log every HTTP request (secrets redacted) to stderr."},
    {"cloud_request_count", py_cloud_request_count, METH_NOARGS,
     "Number of HTTP requests made by this process."},
    {NULL, NULL, 0, NULL}};

int fabc_py_cloud_exec(PyObject *m, struct fabc_state *st)
{
    PyObject *tp;

    tp = PyType_FromModuleAndSpec(m, &cloud_spec, NULL);
    if (!tp)
        return -1;
    if (PyModule_AddObjectRef(m, "Cloud", tp) < 0) {
        Py_DECREF(tp);
        return -1;
    }
    Py_XSETREF(st->sub[FABC_SUB_CLOUD], tp);
    return PyModule_AddFunctions(m, cloud_functions);
}
