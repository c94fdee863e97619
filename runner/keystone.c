/* keystone.c — Keystone v3 tokens, catalog, clouds.yaml / OS_* loading. */
#include "keystone.h"

#include "out.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct fabc_keystone {
    pthread_mutex_t lock;
    json_t *cfg;
    struct fabc_rest *rest;
    char *auth_url;   /* ends in /v3 */
    char *token;      /* current token or NULL */
    json_t *catalog;  /* from the last token */
    char project_id[128];
    char project_name[256];
    char user_name[256];
    char region[128];
    char interface[32];
    unsigned generation; /* bumped at every new token */
};

static const char *cstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    if (json_is_string(v) && *json_string_value(v))
        return json_string_value(v);
    return NULL;
}

/* ------------------------------------------------------------ config */

int fabc_keystone_merge(json_t *dst, json_t *src)
{
    const char *k;
    json_t *v;

    if (!json_is_object(dst) || !json_is_object(src))
        return -1;
    json_object_foreach(src, k, v) {
        json_t *d = json_object_get(dst, k);

        if (json_is_object(d) && json_is_object(v)) {
            if (fabc_keystone_merge(d, v) < 0)
                return -1;
        } else if (json_object_set(dst, k, v) < 0) {
            return -1;
        }
    }
    return 0;
}

static int file_exists(const char *p) { return access(p, R_OK) == 0; }

char *fabc_keystone_find_file(int secure)
{
    const char *names[] = {secure ? "secure.yaml" : "clouds.yaml",
                           secure ? "secure.yml" : "clouds.yml"};
    const char *env = getenv(secure ? "OS_CLIENT_SECURE_FILE"
                                    : "OS_CLIENT_CONFIG_FILE");
    const char *home = getenv("HOME");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    char path[4096];

    if (env && *env && file_exists(env))
        return fabc_strdup(env);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s", names[i]);
        if (file_exists(path))
            return fabc_strdup(path);
        if (xdg && *xdg) {
            snprintf(path, sizeof(path), "%s/openstack/%s", xdg, names[i]);
            if (file_exists(path))
                return fabc_strdup(path);
        } else if (home && *home) {
            snprintf(path, sizeof(path), "%s/.config/openstack/%s", home,
                     names[i]);
            if (file_exists(path))
                return fabc_strdup(path);
        }
        snprintf(path, sizeof(path), "/etc/openstack/%s", names[i]);
        if (file_exists(path))
            return fabc_strdup(path);
    }
    return NULL;
}

static json_t *load_yaml_file(const char *path, struct fabc_err *err)
{
    char *text;
    size_t len = 0;
    json_t *j;

    text = fabc_rest_read_file(path, &len, err);
    if (!text)
        return NULL;
    j = fabc_rest_yaml_parse(text, len, path, err);
    fabc_free(text);
    return j;
}

static const struct {
    const char *env, *key; /* key in auth{} or, with '.', at top level */
} env_map[] = {
    {"OS_AUTH_URL", "auth_url"},
    {"OS_USERNAME", "username"},
    {"OS_USER_ID", "user_id"},
    {"OS_PASSWORD", "password"},
    {"OS_PROJECT_NAME", "project_name"},
    {"OS_TENANT_NAME", "project_name"},
    {"OS_PROJECT_ID", "project_id"},
    {"OS_TENANT_ID", "project_id"},
    {"OS_USER_DOMAIN_NAME", "user_domain_name"},
    {"OS_USER_DOMAIN_ID", "user_domain_id"},
    {"OS_PROJECT_DOMAIN_NAME", "project_domain_name"},
    {"OS_PROJECT_DOMAIN_ID", "project_domain_id"},
    {"OS_DOMAIN_NAME", "domain_name"},
    {"OS_DOMAIN_ID", "domain_id"},
    {"OS_APPLICATION_CREDENTIAL_ID", "application_credential_id"},
    {"OS_APPLICATION_CREDENTIAL_NAME", "application_credential_name"},
    {"OS_APPLICATION_CREDENTIAL_SECRET", "application_credential_secret"},
    {"OS_AUTH_TYPE", ".auth_type"},
    {"OS_REGION_NAME", ".region_name"},
    {"OS_INTERFACE", ".interface"},
    {"OS_ENDPOINT_TYPE", ".interface"},
    {"OS_CACERT", ".cacert"},
    {"OS_CERT", ".cert"},
    {"OS_KEY", ".key"},
    {"OS_INSECURE", ".insecure"},
};

static json_t *config_from_env(struct fabc_err *err)
{
    json_t *cfg = json_object(), *auth = json_object(), *ret = NULL;

    if (!cfg || !auth) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < sizeof(env_map) / sizeof(env_map[0]); i++) {
        const char *v = getenv(env_map[i].env);
        const char *key = env_map[i].key;
        json_t *dst = auth;

        if (!v || !*v)
            continue;
        if (*key == '.') {
            dst = cfg;
            key++;
        }
        if (json_object_get(dst, key))
            continue; /* the first of two aliases wins */
        if (json_object_set_new(dst, key, json_string(v)) < 0) {
            fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
            goto out;
        }
    }
    json_object_set(cfg, "auth", auth);
    ret = cfg;
    cfg = NULL;
out:
    json_decref(cfg);
    json_decref(auth);
    return ret;
}

json_t *fabc_keystone_load_config(const char *cloud, char *source,
                                  size_t size, struct fabc_err *err)
{
    char *path = NULL, *spath = NULL;
    json_t *all = NULL, *sec = NULL, *cfg = NULL, *ret = NULL, *c;
    const char *name = cloud && *cloud ? cloud : getenv("OS_CLOUD");

    if ((!name || !*name) && getenv("OS_AUTH_URL") &&
        *getenv("OS_AUTH_URL")) {
        ret = config_from_env(err);
        if (source && size)
            snprintf(source, size, "OS_* environment variables");
        goto out;
    }
    path = fabc_keystone_find_file(0);
    if (!name || !*name) {
        fabc_err_set(err, FABC_E_CONFIG, 0,
                     "no cloud credentials: set OS_AUTH_URL and the other "
                     "OS_* variables (source an openrc file), or OS_CLOUD "
                     "or connect(cloud=...) with a clouds.yaml%s%s",
                     path ? " such as " : "", path ? path : "");
        goto out;
    }
    if (!path) {
        fabc_err_set(err, FABC_E_CONFIG, 0,
                     "cloud '%s': no clouds.yaml found (OS_CLIENT_CONFIG_FILE"
                     ", ./clouds.yaml, ~/.config/openstack/clouds.yaml, "
                     "/etc/openstack/clouds.yaml)", name);
        goto out;
    }
    all = load_yaml_file(path, err);
    if (!all)
        goto out;
    c = json_object_get(json_object_get(all, "clouds"), name);
    if (!json_is_object(c)) {
        fabc_err_set(err, FABC_E_CONFIG, 0, "%s: no cloud named '%s'", path,
                     name);
        fabc_err_pos(err, path, 0, 0);
        goto out;
    }
    cfg = json_deep_copy(c);
    spath = fabc_keystone_find_file(1);
    if (spath) {
        json_t *sc;

        sec = load_yaml_file(spath, err);
        if (!sec)
            goto out;
        sc = json_object_get(json_object_get(sec, "clouds"), name);
        if (json_is_object(sc) && fabc_keystone_merge(cfg, sc) < 0) {
            fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
            goto out;
        }
    }
    if (!json_is_object(json_object_get(cfg, "auth")))
        json_object_set_new(cfg, "auth", json_object());
    if (source && size)
        snprintf(source, size, "%s (cloud '%s')", path, name);
    ret = cfg;
    cfg = NULL;
out:
    fabc_free(path);
    fabc_free(spath);
    json_decref(all);
    json_decref(sec);
    json_decref(cfg);
    return ret;
}

char *fabc_keystone_v3_url(const char *auth_url)
{
    size_t l = strlen(auth_url);
    const char *last;
    char *ret = NULL;
    struct fabc_buf b;

    fabc_buf_init(&b);
    while (l && auth_url[l - 1] == '/')
        l--;
    if (fabc_buf_append(&b, auth_url, l) < 0 || fabc_buf_append(&b, "", 0))
        goto out;
    last = strrchr(b.data, '/');
    if (!last || !(last[1] == 'v' && last[2] >= '0' && last[2] <= '9')) {
        if (fabc_buf_puts(&b, "/v3") < 0)
            goto out;
    }
    ret = fabc_buf_steal(&b, NULL);
out:
    fabc_buf_free(&b);
    return ret;
}

/* {"id": id} or {"name": name, "domain": {...}} */
static json_t *named(const char *id, const char *name, json_t *domain)
{
    if (id)
        return json_pack("{s:s}", "id", id);
    if (domain)
        return json_pack("{s:s,s:O}", "name", name, "domain", domain);
    return json_pack("{s:s}", "name", name);
}

static json_t *domain_ref(const char *id, const char *name)
{
    if (id)
        return json_pack("{s:s}", "id", id);
    if (name)
        return json_pack("{s:s}", "name", name);
    return NULL;
}

json_t *fabc_keystone_auth_body(json_t *cfg, struct fabc_err *err)
{
    json_t *auth = json_object_get(cfg, "auth");
    const char *type = cstr(cfg, "auth_type");
    const char *ac_id = cstr(auth, "application_credential_id");
    const char *ac_name = cstr(auth, "application_credential_name");
    const char *ac_secret = cstr(auth, "application_credential_secret");
    const char *user = cstr(auth, "username"), *uid = cstr(auth, "user_id");
    const char *pw = cstr(auth, "password");
    const char *pid = cstr(auth, "project_id");
    const char *pname = cstr(auth, "project_name");
    const char *did = cstr(auth, "domain_id"), *dname = cstr(auth,
                                                            "domain_name");
    const char *udid = cstr(auth, "user_domain_id");
    const char *udname = cstr(auth, "user_domain_name");
    const char *pdid = cstr(auth, "project_domain_id");
    const char *pdname = cstr(auth, "project_domain_name");
    json_t *identity = NULL, *scope = NULL, *udom = NULL, *pdom = NULL;
    json_t *body = NULL, *ret = NULL, *u = NULL;
    int appcred = (type && strstr(type, "applicationcredential")) ||
                  ((ac_id || ac_name) && ac_secret);

    if (!cstr(auth, "auth_url")) {
        fabc_err_set(err, FABC_E_CONFIG, 0,
                     "no auth_url (OS_AUTH_URL or auth.auth_url)");
        goto out;
    }
    if (type && !appcred && strcmp(type, "password") &&
        strcmp(type, "v3password")) {
        fabc_err_set(err, FABC_E_CONFIG, 0,
                     "auth_type '%s' is not supported (password, "
                     "v3applicationcredential)", type);
        goto out;
    }
    /* the user's domain defaults to the project's, then to "default" */
    udom = domain_ref(udid ? udid : (udname ? NULL : pdid),
                      udname ? udname : (udid || pdid ? NULL : pdname));
    if (!udom && !udid && !udname && !pdid && !pdname)
        udom = json_pack("{s:s}", "id", "default");
    pdom = domain_ref(pdid ? pdid : (pdname ? NULL : udid),
                      pdname ? pdname : (pdid || udid ? NULL : udname));
    if (!pdom)
        pdom = json_pack("{s:s}", "id", "default");
    if (appcred) {
        if (!ac_secret || (!ac_id && !ac_name)) {
            fabc_err_set(err, FABC_E_CONFIG, 0,
                         "application credential needs "
                         "application_credential_secret and its id (or "
                         "name and user)");
            goto out;
        }
        if (ac_id) {
            u = json_pack("{s:s,s:s}", "id", ac_id, "secret", ac_secret);
        } else {
            if (!user && !uid) {
                fabc_err_set(err, FABC_E_CONFIG, 0,
                             "application credential by name needs "
                             "username or user_id");
                goto out;
            }
            u = json_pack("{s:s,s:o,s:s}", "name", ac_name, "user",
                          named(uid, user, udom), "secret", ac_secret);
        }
        identity = json_pack("{s:[s],s:o}", "methods",
                             "application_credential",
                             "application_credential", u);
        u = NULL;
        /* an application credential is already scoped */
    } else {
        if (!user && !uid) {
            fabc_err_set(err, FABC_E_CONFIG, 0,
                         "no username (OS_USERNAME or auth.username)");
            goto out;
        }
        if (!pw) {
            fabc_err_set(err, FABC_E_CONFIG, 0,
                         "no password (OS_PASSWORD or auth.password)");
            goto out;
        }
        u = named(uid, user, udom);
        json_object_set_new(u, "password", json_string(pw));
        identity = json_pack("{s:[s],s:{s:o}}", "methods", "password",
                             "password", "user", u);
        u = NULL;
        if (pid || pname)
            scope = json_pack("{s:o}", "project", named(pid, pname, pdom));
        else if (did || dname)
            scope = json_pack("{s:o}", "domain", domain_ref(did, dname));
    }
    if (!identity) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    body = scope ? json_pack("{s:{s:O,s:O}}", "auth", "identity", identity,
                             "scope", scope)
                 : json_pack("{s:{s:O}}", "auth", "identity", identity);
    if (!body) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    ret = body;
out:
    json_decref(identity);
    json_decref(scope);
    json_decref(udom);
    json_decref(pdom);
    json_decref(u);
    return ret;
}

static int replace_all(struct fabc_buf *b, const char *in, const char *pat,
                       const char *with)
{
    const char *p;

    for (int i = 0; i < 16 && (p = strstr(in, pat)); i++) {
        if (fabc_buf_append(b, in, (size_t)(p - in)) < 0 ||
            fabc_buf_puts(b, with) < 0)
            return -1;
        in = p + strlen(pat);
    }
    return fabc_buf_puts(b, in);
}

char *fabc_keystone_catalog_url(json_t *catalog, const char *type,
                                const char *interface, const char *region,
                                const char *project_id, struct fabc_err *err)
{
    const char *iface = interface && *interface ? interface : "public";
    struct fabc_buf a, b;
    size_t i, j;
    json_t *svc, *ep;
    char *ret = NULL;

    fabc_buf_init(&a);
    fabc_buf_init(&b);
    json_array_foreach(catalog, i, svc) {
        const char *t = cstr(svc, "type");

        if (!t || strcmp(t, type))
            continue;
        json_array_foreach(json_object_get(svc, "endpoints"), j, ep) {
            const char *ei = cstr(ep, "interface"), *url = cstr(ep, "url");
            const char *rid = cstr(ep, "region_id"), *rn = cstr(ep,
                                                                "region");
            size_t il = strlen(iface);

            /* "publicURL" style names are accepted too */
            if (!ei || !url || strncmp(ei, iface, strlen(ei)) ||
                (il > strlen(ei) && strcmp(iface + strlen(ei), "URL")))
                continue;
            if (region && *region && !(rid && !strcmp(rid, region)) &&
                !(rn && !strcmp(rn, region)))
                continue;
            if (replace_all(&a, url, "%(tenant_id)s",
                            project_id ? project_id : "") < 0 ||
                replace_all(&b, a.data, "$(project_id)s",
                            project_id ? project_id : "") < 0) {
                fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
                goto out;
            }
            fabc_buf_reset(&a);
            if (replace_all(&a, b.data, "%(project_id)s",
                            project_id ? project_id : "") < 0) {
                fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
                goto out;
            }
            ret = fabc_buf_steal(&a, NULL);
            goto out;
        }
    }
    fabc_err_set(err, FABC_E_CONFIG, 0,
                 "the service catalog has no '%s' endpoint with interface "
                 "'%s'%s%s", type, iface, region && *region ? " in region "
                                                           : "",
                 region && *region ? region : "");
out:
    fabc_buf_free(&a);
    fabc_buf_free(&b);
    return ret;
}

/* ------------------------------------------------------------ session */

static int truthy(json_t *v)
{
    const char *s;

    if (json_is_boolean(v))
        return json_is_true(v);
    if (!json_is_string(v))
        return 0;
    s = json_string_value(v);
    return !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
           !strcmp(s, "1") || !strcasecmp(s, "on");
}

/* false, or a string that says so ("false", "no", "0", "off"); a missing
 * value is not falsy. */
static int falsy(json_t *v)
{
    const char *s;

    if (json_is_boolean(v))
        return json_is_false(v);
    if (json_is_integer(v))
        return json_integer_value(v) == 0;
    if (!json_is_string(v))
        return 0;
    s = json_string_value(v);
    return !strcasecmp(s, "false") || !strcasecmp(s, "no") ||
           !strcmp(s, "0") || !strcasecmp(s, "off");
}

struct fabc_keystone *fabc_keystone_new(json_t *cfg, struct fabc_err *err)
{
    struct fabc_keystone *ks = fabc_calloc(1, sizeof(*ks));
    struct fabc_keystone *ret = NULL;
    struct fabc_rest_opts o = {.retries = -1, .service = "keystone"};
    json_t *verify = json_object_get(cfg, "verify");
    json_t *t = json_object_get(cfg, "api_timeout");
    const char *au, *s;

    if (!ks) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    pthread_mutex_init(&ks->lock, NULL);
    ks->cfg = json_deep_copy(cfg);
    if (!ks->cfg) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    au = cstr(json_object_get(cfg, "auth"), "auth_url");
    if (!au) {
        fabc_err_set(err, FABC_E_CONFIG, 0,
                     "no auth_url (OS_AUTH_URL or auth.auth_url)");
        goto out;
    }
    ks->auth_url = fabc_keystone_v3_url(au);
    if (!ks->auth_url) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    fabc_strlcpy(ks->region, (s = cstr(cfg, "region_name")) ? s : "",
                 sizeof(ks->region));
    fabc_strlcpy(ks->interface, (s = cstr(cfg, "interface")) ? s : "public",
                 sizeof(ks->interface));
    o.tls.insecure = truthy(json_object_get(cfg, "insecure")) ||
                     falsy(verify);
    o.tls.cacert = cstr(cfg, "cacert");
    o.tls.cert = cstr(cfg, "cert");
    o.tls.key = cstr(cfg, "key");
    if (json_is_integer(t) && json_integer_value(t) > 0)
        o.timeout_ms = (long)json_integer_value(t) * 1000;
    else if (json_is_real(t) && json_real_value(t) > 0)
        o.timeout_ms = (long)(json_real_value(t) * 1000);
    ks->rest = fabc_rest_new(&o, err);
    if (!ks->rest)
        goto out;
    if (fabc_keystone_auth(ks, err) < 0)
        goto out;
    ret = ks;
    ks = NULL;
out:
    fabc_keystone_free(ks);
    return ret;
}

void fabc_keystone_free(struct fabc_keystone *ks)
{
    if (!ks)
        return;
    fabc_rest_free(ks->rest);
    json_decref(ks->cfg);
    json_decref(ks->catalog);
    fabc_free(ks->auth_url);
    fabc_free(ks->token);
    pthread_mutex_destroy(&ks->lock);
    fabc_free(ks);
}

/* Authenticate; ks->lock held by the caller. */
static int auth_locked(struct fabc_keystone *ks, struct fabc_err *err)
{
    struct fabc_rest_resp resp;
    struct fabc_rest_req req = {.method = "POST", .label = "keystone"};
    json_t *body = NULL, *reply = NULL, *tok, *proj;
    char *text = NULL, *url = NULL;
    const char *who = cstr(json_object_get(ks->cfg, "auth"), "username");
    int ret = -1;

    fabc_rest_resp_init(&resp);
    body = fabc_keystone_auth_body(ks->cfg, err);
    if (!body)
        goto out;
    text = json_dumps(body, JSON_COMPACT);
    url = fabc_rest_join(ks->auth_url, "auth/tokens");
    if (!text || !url) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    req.url = url;
    req.body = text;
    req.body_len = strlen(text);
    if (fabc_rest_do(ks->rest, &req, &resp, err) < 0) {
        if (err && err->code == FABC_E_HTTP &&
            (err->status == 401 || err->status == 403)) {
            char svc[512];

            fabc_rest_service_message(resp.body.data, resp.body.len, svc,
                                      sizeof(svc));
            fabc_err_set(err, FABC_E_AUTH, err->status,
                         "keystone %s: authentication failed%s%s%s: HTTP %d"
                         "%s%s", ks->auth_url, who ? " for user '" : "",
                         who ? who : "", who ? "'" : "", err->status,
                         svc[0] ? ": " : "", svc);
        }
        goto out;
    }
    if (!resp.subject_token || !*resp.subject_token) {
        fabc_err_set(err, FABC_E_AUTH, resp.status,
                     "keystone %s: no X-Subject-Token in the reply",
                     ks->auth_url);
        goto out;
    }
    reply = fabc_rest_json(&resp, "keystone token", err);
    if (!reply)
        goto out;
    tok = json_object_get(reply, "token");
    proj = json_object_get(tok, "project");
    fabc_free(ks->token);
    ks->token = resp.subject_token;
    resp.subject_token = NULL;
    json_decref(ks->catalog);
    ks->catalog = json_incref(json_object_get(tok, "catalog"));
    if (!ks->catalog)
        ks->catalog = json_array();
    fabc_strlcpy(ks->project_id, cstr(proj, "id") ? cstr(proj, "id") : "",
                 sizeof(ks->project_id));
    fabc_strlcpy(ks->project_name,
                 cstr(proj, "name") ? cstr(proj, "name") : "",
                 sizeof(ks->project_name));
    ks->generation++;
    ret = 0;
out:
    fabc_rest_resp_free(&resp);
    json_decref(body);
    json_decref(reply);
    free(text);
    fabc_free(url);
    return ret;
}

int fabc_keystone_auth(struct fabc_keystone *ks, struct fabc_err *err)
{
    int rc;

    pthread_mutex_lock(&ks->lock);
    rc = auth_locked(ks, err);
    pthread_mutex_unlock(&ks->lock);
    return rc;
}

char *fabc_keystone_token(struct fabc_keystone *ks, struct fabc_err *err)
{
    char *t = NULL;

    pthread_mutex_lock(&ks->lock);
    if (ks->token || auth_locked(ks, err) == 0) {
        t = fabc_strdup(ks->token);
        if (!t)
            fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
    }
    pthread_mutex_unlock(&ks->lock);
    return t;
}

const char *fabc_keystone_project_id(const struct fabc_keystone *ks)
{
    return ks->project_id;
}

const char *fabc_keystone_project_name(const struct fabc_keystone *ks)
{
    return ks->project_name;
}

const char *fabc_keystone_region(const struct fabc_keystone *ks)
{
    return ks->region;
}

char *fabc_keystone_endpoint(struct fabc_keystone *ks, const char *type,
                             struct fabc_err *err)
{
    char *url;

    if (!strcmp(type, "identity"))
        return fabc_strdup(ks->auth_url);
    pthread_mutex_lock(&ks->lock);
    url = fabc_keystone_catalog_url(ks->catalog, type, ks->interface,
                                    ks->region, ks->project_id, err);
    pthread_mutex_unlock(&ks->lock);
    return url;
}

int fabc_keystone_request(struct fabc_keystone *ks, const char *type,
                          const struct fabc_rest_req *req,
                          struct fabc_rest_resp *resp, struct fabc_err *err)
{
    struct fabc_rest_req r = *req;
    char *base = NULL, *url = NULL, *token = NULL;
    unsigned gen;
    int ret = -1;

    if (strncmp(req->url, "http://", 7) && strncmp(req->url, "https://", 8)) {
        base = fabc_keystone_endpoint(ks, type, err);
        if (!base)
            goto out;
        url = fabc_rest_join(base, req->url);
        if (!url) {
            fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
            goto out;
        }
        r.url = url;
    }
    if (!r.label)
        r.label = !strcmp(type, "orchestration") ? "heat"
                  : !strcmp(type, "image")       ? "glance"
                                                 : type;
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&ks->lock);
        if (!ks->token && auth_locked(ks, err) < 0) {
            pthread_mutex_unlock(&ks->lock);
            goto out;
        }
        fabc_free(token);
        token = fabc_strdup(ks->token);
        gen = ks->generation;
        pthread_mutex_unlock(&ks->lock);
        if (!token) {
            fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
            goto out;
        }
        r.token = token;
        ret = fabc_rest_do(ks->rest, &r, resp, err);
        if (ret == 0 || attempt == 1 || !err || err->code != FABC_E_HTTP ||
            err->status != 401)
            break;
        /* the token expired or was revoked: renew once (unless another
         * thread already did) and retry */
        if (fabc_rest_debug()) {
            static const char msg[] = "DEBUG: keystone token rejected "
                                      "(401): re-authenticating\n";

            fabc_out_raw(2, msg, sizeof(msg) - 1);
        }
        pthread_mutex_lock(&ks->lock);
        if (ks->generation == gen && auth_locked(ks, err) < 0) {
            pthread_mutex_unlock(&ks->lock);
            ret = -1;
            goto out;
        }
        pthread_mutex_unlock(&ks->lock);
    }
out:
    fabc_free(base);
    fabc_free(url);
    fabc_free(token);
    return ret;
}

int fabc_keystone_sleep(struct fabc_keystone *ks, long ms,
                        struct fabc_err *err)
{
    return fabc_rest_sleep(ks->rest, ms, err);
}

int fabc_keystone_json_call(struct fabc_keystone *ks, const char *type,
                            const char *label, struct fabc_rest_req *req,
                            json_t *body, int json_only, json_t **reply,
                            struct fabc_err *err)
{
    struct fabc_rest_resp resp;
    char *text = NULL;
    int ret = -1;

    fabc_rest_resp_init(&resp);
    if (reply)
        *reply = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text) {
            fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
            goto out;
        }
        req->body = text;
        req->body_len = strlen(text);
    }
    if (fabc_keystone_request(ks, type, req, &resp, err) < 0)
        goto out;
    if (reply && resp.body.len &&
        (!json_only ||
         (resp.content_type && strstr(resp.content_type, "json")))) {
        *reply = fabc_rest_json(&resp, label, err);
        if (!*reply)
            goto out;
    }
    ret = 0;
out:
    req->body = NULL;
    req->body_len = 0;
    fabc_rest_resp_free(&resp);
    free(text);
    return ret;
}
