/* heat.c — Heat v1: files map, create/update/delete/preview/validate,
 * lookups and event-following waits. */
#include "heat.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "out.h"
#include "util.h"

#define WAIT_MIN_MS 250
#define WAIT_MAX_MS 3000
#define EVENT_PAGE 100

static const char *cstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int nomem(struct fabc_err *err)
{
    return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);

    return a >= b && !strcmp(s + a - b, suffix);
}

/* ------------------------------------------------------------ paths */

char *fabc_heat_resolve_path(const char *base, const char *path)
{
    struct fabc_buf in, out;
    char *ret = NULL;
    char cwd[PATH_MAX];

    fabc_buf_init(&in);
    fabc_buf_init(&out);
    if (!strncmp(path, "file://", 7))
        path += 7;
    if (path[0] != '/') {
        if (!base || !*base) {
            if (!getcwd(cwd, sizeof(cwd)))
                goto out;
            base = cwd;
        }
        /* cppcheck-suppress nullPointerRedundantCheck ; set just above */
        if (base[0] != '/') {
            if (!getcwd(cwd, sizeof(cwd)))
                goto out;
            if (fabc_buf_puts(&in, cwd) < 0 || fabc_buf_puts(&in, "/") < 0)
                goto out;
        }
        if (fabc_buf_puts(&in, base) < 0 || fabc_buf_puts(&in, "/") < 0)
            goto out;
    }
    if (fabc_buf_puts(&in, path) < 0)
        goto out;
    /* normalise: split on '/', drop "." and "", pop on ".." */
    for (const char *seg = in.data; *seg;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);

        if (n == 2 && !strncmp(seg, "..", 2)) {
            char *slash = out.len ? strrchr(out.data, '/') : NULL;

            if (slash) {
                out.len = (size_t)(slash - out.data);
                out.data[out.len] = '\0';
            }
        } else if (n && !(n == 1 && seg[0] == '.')) {
            if (fabc_buf_puts(&out, "/") < 0 ||
                fabc_buf_append(&out, seg, n) < 0)
                goto out;
        }
        seg += n;
        if (*seg == '/')
            seg++;
    }
    if (!out.len && fabc_buf_puts(&out, "/") < 0)
        goto out;
    ret = fabc_buf_steal(&out, NULL);
out:
    fabc_buf_free(&in);
    fabc_buf_free(&out);
    return ret;
}

int fabc_heat_is_template_ref(const char *type)
{
    if (strstr(type, "::"))
        return 0;
    if (strstr(type, "://") && strncmp(type, "file://", 7))
        return 0; /* http(s) templates are fetched by Heat itself */
    return ends_with(type, ".yaml") || ends_with(type, ".yml") ||
           ends_with(type, ".template") || ends_with(type, ".json");
}

static char *dir_of(const char *abs)
{
    const char *slash = strrchr(abs, '/');

    if (!slash || slash == abs)
        return fabc_strdup("/");
    return fabc_strndup(abs, (size_t)(slash - abs));
}

/* ------------------------------------------------------------ files map */

static int walk_template(json_t *node, const char *base, json_t *files,
                         int depth, struct fabc_err *err);

/* Read `ref` (relative to base) into files; *url receives its file:// URL
 * (fabc_free). nested: parse, walk and store as JSON text. */
static int add_file(const char *ref, const char *base, json_t *files,
                    int nested, int depth, char **url,
                    struct fabc_err *err)
{
    char *abs = NULL, *text = NULL, *dir = NULL, *dumped = NULL;
    json_t *tpl = NULL, *content = NULL;
    struct fabc_buf u;
    size_t len = 0;
    int ret = -1;

    fabc_buf_init(&u);
    *url = NULL;
    if (depth > 20) {
        fabc_err_set(err, FABC_E_CONFIG, 0,
                     "%s: templates nested more than 20 deep", ref);
        goto out;
    }
    abs = fabc_heat_resolve_path(base, ref);
    if (!abs || fabc_buf_puts(&u, "file://") < 0 ||
        fabc_buf_puts(&u, abs) < 0) {
        nomem(err);
        goto out;
    }
    if (!json_object_get(files, u.data)) {
        text = fabc_rest_read_file(abs, &len, err);
        if (!text) {
            fabc_err_prefix(err, "%s (referenced from %s)", ref, base);
            goto out;
        }
        if (!nested) {
            content = json_stringn(text, len);
            if (!content) {
                fabc_err_set(err, FABC_E_CONFIG, 0,
                             "%s: get_file content is not UTF-8 text", abs);
                goto out;
            }
        } else {
            tpl = fabc_rest_yaml_parse(text, len, abs, err);
            if (!tpl)
                goto out;
            /* placeholder first, so a template including itself ends */
            json_object_set_new(files, u.data, json_string(""));
            dir = dir_of(abs);
            if (!dir) {
                nomem(err);
                goto out;
            }
            if (walk_template(tpl, dir, files, depth + 1, err) < 0)
                goto out;
            dumped = json_dumps(tpl, JSON_COMPACT);
            content = dumped ? json_string(dumped) : NULL;
            if (!content) {
                nomem(err);
                goto out;
            }
        }
        json_object_set_new(files, u.data, content);
        content = NULL;
    }
    *url = fabc_buf_steal(&u, NULL);
    if (!*url) {
        nomem(err);
        goto out;
    }
    ret = 0;
out:
    fabc_buf_free(&u);
    fabc_free(abs);
    fabc_free(text);
    fabc_free(dir);
    free(dumped);
    json_decref(tpl);
    json_decref(content);
    return ret;
}

static int walk_template(json_t *node, const char *base, json_t *files,
                         int depth, struct fabc_err *err)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_array(node)) {
        json_array_foreach(node, i, v) {
            if (walk_template(v, base, files, depth, err) < 0)
                return -1;
        }
        return 0;
    }
    if (!json_is_object(node))
        return 0;
    json_object_foreach(node, k, v) {
        int is_file = !strcmp(k, "get_file") && json_is_string(v) &&
                      (!strstr(json_string_value(v), "://") ||
                       !strncmp(json_string_value(v), "file://", 7));
        int is_nested = !strcmp(k, "type") && json_is_string(v) &&
                        fabc_heat_is_template_ref(json_string_value(v));

        if (is_file || is_nested) {
            char *url = NULL;

            if (add_file(json_string_value(v), base, files, is_nested, depth,
                         &url, err) < 0)
                return -1;
            json_object_set_new(node, k, json_string(url));
            fabc_free(url);
        } else if (walk_template(v, base, files, depth, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* resource_registry: every string value naming a template file */
static int walk_registry(json_t *reg, const char *base, json_t *files,
                         struct fabc_err *err)
{
    const char *k;
    json_t *v;

    json_object_foreach(reg, k, v) {
        if (json_is_object(v)) {
            if (walk_registry(v, base, files, err) < 0)
                return -1;
        } else if (json_is_string(v) && strcmp(k, "hooks") &&
                   fabc_heat_is_template_ref(json_string_value(v))) {
            char *url = NULL;

            if (add_file(json_string_value(v), base, files, 1, 0, &url,
                         err) < 0)
                return -1;
            json_object_set_new(reg, k, json_string(url));
            fabc_free(url);
        }
    }
    return 0;
}

int fabc_heat_process(const char *template_path, const char *template_text,
                      const char *base_dir, const char *const *env_paths,
                      size_t n_env, json_t **tmpl, json_t **env,
                      json_t **files, struct fabc_err *err)
{
    json_t *t = NULL, *e = NULL, *f = NULL, *one = NULL;
    char *text = NULL, *abs = NULL, *dir = NULL;
    size_t len = 0;
    int ret = -1;

    *tmpl = *env = *files = NULL;
    f = json_object();
    e = json_object();
    if (!f || !e) {
        nomem(err);
        goto out;
    }
    if (template_path) {
        abs = fabc_heat_resolve_path(NULL, template_path);
        if (!abs) {
            nomem(err);
            goto out;
        }
        text = fabc_rest_read_file(abs, &len, err);
        if (!text) {
            fabc_err_prefix(err, "heat template");
            goto out;
        }
        dir = dir_of(abs);
        t = fabc_rest_yaml_parse(text, len, template_path, err);
    } else if (template_text) {
        dir = base_dir ? fabc_strdup(base_dir) : NULL;
        t = fabc_rest_yaml_parse(template_text, strlen(template_text),
                                 "<template>", err);
    } else {
        fabc_err_set(err, FABC_E_USAGE, 0, "no template given");
        goto out;
    }
    if (!t)
        goto out;
    if (!json_is_object(t)) {
        fabc_err_set(err, FABC_E_CONFIG, 0,
                     "%s: a Heat template must be a mapping",
                     template_path ? template_path : "<template>");
        goto out;
    }
    if (walk_template(t, dir, f, 0, err) < 0)
        goto out;
    for (size_t i = 0; i < n_env; i++) {
        char *eabs = fabc_heat_resolve_path(NULL, env_paths[i]), *edir;
        json_t *reg;

        fabc_free(text);
        text = NULL;
        if (!eabs) {
            nomem(err);
            goto out;
        }
        text = fabc_rest_read_file(eabs, &len, err);
        edir = dir_of(eabs);
        fabc_free(eabs);
        if (!text || !edir) {
            fabc_free(edir);
            if (text)
                nomem(err);
            else
                fabc_err_prefix(err, "heat environment");
            goto out;
        }
        json_decref(one);
        one = fabc_rest_yaml_parse(text, len, env_paths[i], err);
        if (!one) {
            fabc_free(edir);
            goto out;
        }
        if (json_is_null(one)) {
            json_decref(one);
            one = json_object();
        }
        if (!json_is_object(one)) {
            fabc_free(edir);
            fabc_err_set(err, FABC_E_CONFIG, 0,
                         "%s: an environment must be a mapping",
                         env_paths[i]);
            goto out;
        }
        reg = json_object_get(one, "resource_registry");
        if (json_is_object(reg) && walk_registry(reg, edir, f, err) < 0) {
            fabc_free(edir);
            goto out;
        }
        fabc_free(edir);
        if (fabc_keystone_merge(e, one) < 0) {
            nomem(err);
            goto out;
        }
    }
    *tmpl = t;
    *env = e;
    *files = f;
    t = e = f = NULL;
    ret = 0;
out:
    json_decref(t);
    json_decref(e);
    json_decref(f);
    json_decref(one);
    fabc_free(text);
    fabc_free(abs);
    fabc_free(dir);
    return ret;
}

/* ------------------------------------------------------------ requests */

/* Make a request to Heat with an optional JSON body; *reply gets the JSON
 * reply when reply != NULL and the body is JSON. */
static int heat_call(struct fabc_keystone *ks, const char *method,
                     const char *path, json_t *body, json_t **reply,
                     int64_t deadline, struct fabc_err *err)
{
    struct fabc_rest_req req = {.method = method, .url = path,
                                .deadline_ms = deadline};

    return fabc_keystone_json_call(ks, "orchestration", "heat", &req, body,
                                   1, reply, err);
}

static int urlenc_path(struct fabc_buf *b, const char *name)
{
    return fabc_rest_urlenc(b, name);
}

/* "stacks/<name>/<id>" of a stack JSON (fabc_free) */
static char *stack_path(json_t *stack)
{
    const char *name = cstr(stack, "stack_name"), *id = cstr(stack, "id");
    struct fabc_buf b;

    if (!name || !id)
        return NULL;
    fabc_buf_init(&b);
    if (fabc_buf_puts(&b, "stacks/") < 0 || urlenc_path(&b, name) < 0 ||
        fabc_buf_puts(&b, "/") < 0 || urlenc_path(&b, id) < 0) {
        fabc_buf_free(&b);
        return NULL;
    }
    return fabc_buf_steal(&b, NULL);
}

static json_t *get_stack(struct fabc_keystone *ks, const char *name,
                         int64_t deadline, int *found, struct fabc_err *err)
{
    struct fabc_buf p;
    json_t *reply = NULL, *stack = NULL;
    struct fabc_err e2;

    fabc_err_clear(&e2);
    fabc_buf_init(&p);
    *found = 1;
    if (!strncmp(name, "stacks/", 7) ? fabc_buf_puts(&p, name) < 0
                                     : (fabc_buf_puts(&p, "stacks/") < 0 ||
                                        urlenc_path(&p, name) < 0)) {
        nomem(err);
        goto out;
    }
    if (heat_call(ks, "GET", p.data, NULL, &reply, deadline, &e2) < 0) {
        if (e2.code == FABC_E_HTTP && e2.status == 404) {
            *found = 0;
            goto out;
        }
        if (err)
            *err = e2;
        goto out;
    }
    stack = json_incref(json_object_get(reply, "stack"));
    if (!stack) {
        fabc_err_set(err, FABC_E_HTTP, 200, "heat GET %s: no stack in reply",
                     p.data);
        goto out;
    }
out:
    fabc_buf_free(&p);
    json_decref(reply);
    return stack;
}

json_t *fabc_heat_get(struct fabc_keystone *ks, const char *name,
                      int *found, struct fabc_err *err)
{
    json_t *s = get_stack(ks, name, 0, found, err);
    const char *st = cstr(s, "stack_status");

    if (s && st && !strcmp(st, "DELETE_COMPLETE")) {
        json_decref(s);
        s = NULL;
        *found = 0;
    }
    return s;
}

/* ------------------------------------------------------------ waits */

void fabc_heat_format_event(json_t *ev, char *out, size_t size)
{
    const char *t = cstr(ev, "event_time"), *r = cstr(ev, "resource_name");
    const char *s = cstr(ev, "resource_status");
    const char *why = cstr(ev, "resource_status_reason");

    snprintf(out, size, "%s %s: %s%s%s", t ? t : "-", r ? r : "-",
             s ? s : "-", why && *why ? " " : "", why ? why : "");
}

static int is_progress(const char *status)
{
    return status && ends_with(status, "_IN_PROGRESS");
}

struct waiter {
    const char *name;     /* stack name */
    const char *path;     /* stacks/name/id */
    char marker[128];
    json_t *complete;     /* resource names complete (set) */
    char failure[1024];   /* first failing resource and reason */
    int quiet;
};

static void progress(struct waiter *w, json_t *ev)
{
    char line[1400], head[1200];

    if (w->quiet)
        return;
    fabc_heat_format_event(ev, head, sizeof(head));
    snprintf(line, sizeof(line), "[%s] %s (%zu complete)", w->name, head,
             json_object_size(w->complete));
    fabc_out_line(NULL, FABC_OUT, line, strlen(line));
}

/* The newest event id of the stack now, into w->marker ("" if none). */
static int take_marker(struct fabc_keystone *ks, struct waiter *w,
                       int64_t deadline, struct fabc_err *err)
{
    struct fabc_buf p;
    json_t *reply = NULL, *evs;
    int ret = -1;

    fabc_buf_init(&p);
    w->marker[0] = '\0';
    if (fabc_buf_printf(&p, "%s/events?sort_dir=desc&limit=1", w->path) <
        0) {
        nomem(err);
        goto out;
    }
    if (heat_call(ks, "GET", p.data, NULL, &reply, deadline, err) < 0)
        goto out;
    evs = json_object_get(reply, "events");
    if (json_array_size(evs) && cstr(json_array_get(evs, 0), "id"))
        fabc_strlcpy(w->marker, cstr(json_array_get(evs, 0), "id"),
                     sizeof(w->marker));
    ret = 0;
out:
    fabc_buf_free(&p);
    json_decref(reply);
    return ret;
}

/* The pause before the next events poll: WAIT_MIN_MS after new events,
 * else growing by 8/5, capped at an eighth of the time waited so far (a
 * short operation is seen ending within a fraction of its own length)
 * and at WAIT_MAX_MS. */
static long next_delay(long delay, size_t n_events, int64_t waited_ms)
{
    long cap = waited_ms / 8;

    if (n_events)
        return WAIT_MIN_MS;
    if (cap < WAIT_MIN_MS)
        cap = WAIT_MIN_MS;
    if (cap > WAIT_MAX_MS)
        cap = WAIT_MAX_MS;
    delay = delay * 8 / 5;
    return delay > cap ? cap : delay;
}

/* A request failed during a wait: say which stack, and that Heat may
 * still be working on it. Ctrl-C and out-of-memory keep their text. */
static void lost_contact(const struct waiter *w, int64_t start,
                         struct fabc_err *err)
{
    if (!err || err->code == FABC_E_INTERRUPTED ||
        err->code == FABC_E_NOMEM)
        return;
    fabc_err_prefix(err, "heat: lost track of stack '%s' after %.1fs of "
                         "waiting (Heat may still be working on it)",
                    w->name, (double)(fabc_now_ms() - start) / 1000.0);
}

/* Follow events until the stack leaves *_IN_PROGRESS. Returns the final
 * stack (new ref); *gone = 1 when it disappeared (delete). */
static json_t *wait_stack(struct fabc_keystone *ks, struct waiter *w,
                          long timeout_s, int *gone, struct fabc_err *err)
{
    int64_t start = fabc_now_ms();
    int64_t deadline = start + (timeout_s > 0 ? timeout_s : 4 * 3600) * 1000;
    long delay = WAIT_MIN_MS;
    int empty = 0;
    json_t *stack = NULL, *ret = NULL;
    struct fabc_buf p;

    fabc_buf_init(&p);
    *gone = 0;
    for (long iter = 0; iter < 1000000L; iter++) {
        json_t *reply = NULL, *evs, *ev;
        struct fabc_err e2;
        int check = 0, found = 1;
        size_t i, n;

        fabc_err_clear(&e2);
        fabc_buf_reset(&p);
        if (fabc_buf_printf(&p, "%s/events?sort_dir=asc&limit=%d", w->path,
                            EVENT_PAGE) < 0 ||
            (w->marker[0] && (fabc_buf_puts(&p, "&marker=") < 0 ||
                              fabc_rest_urlenc(&p, w->marker) < 0))) {
            nomem(err);
            goto out;
        }
        if (heat_call(ks, "GET", p.data, NULL, &reply, deadline, &e2) <
            0) {
            if (e2.code == FABC_E_HTTP && e2.status == 404) {
                *gone = 1;
                break;
            }
            lost_contact(w, start, &e2);
            if (err)
                *err = e2;
            goto out;
        }
        evs = json_object_get(reply, "events");
        n = json_array_size(evs);
        json_array_foreach(evs, i, ev) {
            const char *rn = cstr(ev, "resource_name");
            const char *st = cstr(ev, "resource_status");
            const char *id = cstr(ev, "id");

            if (id)
                fabc_strlcpy(w->marker, id, sizeof(w->marker));
            if (rn && st && strcmp(rn, w->name)) {
                if (ends_with(st, "_COMPLETE"))
                    json_object_set_new(w->complete, rn, json_true());
                else if (ends_with(st, "_FAILED") && !w->failure[0])
                    snprintf(w->failure, sizeof(w->failure), "%s: %s", rn,
                             cstr(ev, "resource_status_reason")
                                 ? cstr(ev, "resource_status_reason")
                                 : st);
            }
            progress(w, ev);
            if (rn && st && !strcmp(rn, w->name) && !is_progress(st))
                check = 1;
        }
        json_decref(reply);
        if (n == 0 && ++empty >= 2) {
            check = 1;
            empty = 0;
        } else if (n) {
            empty = 0;
        }
        if (check) {
            json_decref(stack);
            stack = get_stack(ks, w->path, deadline, &found, err);
            if (!stack && found) {
                lost_contact(w, start, err);
                goto out;
            }
            if (!found) {
                *gone = 1;
                break;
            }
            if (!is_progress(cstr(stack, "stack_status")))
                break;
        }
        if (n >= EVENT_PAGE)
            continue; /* more events are waiting: no sleep */
        delay = next_delay(delay, n, fabc_now_ms() - start);
        if (fabc_now_ms() + delay > deadline) {
            fabc_err_set(err, FABC_E_TIMEOUT, 0,
                         "heat: timed out after %lds waiting for stack '%s'",
                         (long)((fabc_now_ms() - start) / 1000), w->name);
            goto out;
        }
        if (fabc_keystone_sleep(ks, delay, err) < 0)
            goto out;
    }
    ret = stack;
    stack = NULL;
out:
    fabc_buf_free(&p);
    json_decref(stack);
    return ret;
}

/* Fail if the stack ended badly for `action`. */
static int check_final(json_t *stack, const char *action, struct waiter *w,
                       const char *method, const char *url,
                       struct fabc_err *err)
{
    const char *st = cstr(stack, "stack_status");
    const char *why = cstr(stack, "stack_status_reason");
    size_t al = strlen(action);

    if (st && !strncmp(st, action, al) && !strcmp(st + al, "_COMPLETE"))
        return 0;
    fabc_err_set(err, FABC_E_HTTP, 0, "heat stack '%s' %s: %s%s%s",
                 w->name, st ? st : "unknown state",
                 w->failure[0] ? w->failure : (why ? why : ""),
                 w->failure[0] && why && *why ? " (stack: " : "",
                 w->failure[0] && why && *why ? why : "");
    if (w->failure[0] && why && *why) {
        size_t l = strlen(err->msg);

        snprintf(err->msg + l, sizeof(err->msg) - l, ")");
    }
    fabc_strlcpy(err->method, method, sizeof(err->method));
    fabc_strlcpy(err->url, url, sizeof(err->url));
    return -1;
}

/* ------------------------------------------------------------ bodies */

static json_t *build_body(const struct fabc_heat_opts *o, int with_name,
                          int need_template, struct fabc_err *err)
{
    json_t *body = json_object(), *tmpl = NULL, *env = NULL, *files = NULL;
    json_t *ret = NULL;

    if (!body) {
        nomem(err);
        goto out;
    }
    if (with_name)
        json_object_set_new(body, "stack_name", json_string(o->name));
    if (o->template_path || o->template_text) {
        if (fabc_heat_process(o->template_path, o->template_text,
                              o->base_dir, o->env_paths, o->n_env, &tmpl,
                              &env, &files, err) < 0)
            goto out;
        json_object_set(body, "template", tmpl);
        json_object_set(body, "files", files);
        json_object_set(body, "environment", env);
    } else if (need_template) {
        fabc_err_set(err, FABC_E_USAGE, 0, "heat: a template is required");
        goto out;
    } else if (o->n_env) {
        /* PATCH with new environment files but the old template */
        if (fabc_heat_process(NULL, "{}", o->base_dir, o->env_paths, o->n_env,
                              &tmpl, &env, &files, err) < 0)
            goto out;
        json_object_set(body, "files", files);
        json_object_set(body, "environment", env);
    }
    json_object_set_new(body, "parameters",
                        o->parameters ? json_deep_copy(o->parameters)
                                      : json_object());
    if (o->clear_parameters)
        json_object_set(body, "clear_parameters", o->clear_parameters);
    if (o->tags && *o->tags)
        json_object_set_new(body, "tags", json_string(o->tags));
    if (o->timeout_s > 0)
        json_object_set_new(body, "timeout_mins",
                            json_integer((o->timeout_s + 59) / 60));
    if (o->rollback >= 0)
        json_object_set_new(body, "disable_rollback",
                            json_boolean(!o->rollback));
    ret = body;
    body = NULL;
out:
    json_decref(body);
    json_decref(tmpl);
    json_decref(env);
    json_decref(files);
    return ret;
}

static json_t *finish_wait(struct fabc_keystone *ks, struct waiter *w,
                           const char *action, const char *method,
                           const char *url, long timeout_s,
                           struct fabc_err *err)
{
    int gone = 0;
    json_t *stack = wait_stack(ks, w, timeout_s, &gone, err);

    if (!stack) {
        if (gone)
            fabc_err_set(err, FABC_E_HTTP, 404,
                         "heat stack '%s' disappeared during %s", w->name,
                         action);
        return NULL;
    }
    if (check_final(stack, action, w, method, url, err) < 0) {
        json_decref(stack);
        return NULL;
    }
    return stack;
}

json_t *fabc_heat_create(struct fabc_keystone *ks,
                         const struct fabc_heat_opts *o, struct fabc_err *err)
{
    struct fabc_heat_opts c = *o;
    struct waiter w = {.name = o->name, .quiet = o->quiet};
    json_t *body = NULL, *reply = NULL, *ret = NULL, *st;
    char *path = NULL;

    if (c.rollback < 0)
        c.rollback = 0;
    body = build_body(&c, 1, 1, err);
    if (!body)
        goto out;
    if (heat_call(ks, "POST", "stacks", body, &reply, 0, err) < 0) {
        fabc_err_prefix(err, "heat create stack '%s'", o->name);
        goto out;
    }
    st = json_object_get(reply, "stack");
    if (!o->wait) {
        ret = json_incref(st);
        goto out;
    }
    json_object_set_new(st, "stack_name", json_string(o->name));
    path = stack_path(st);
    w.complete = json_object();
    if (!path || !w.complete) {
        nomem(err);
        goto out;
    }
    w.path = path;
    ret = finish_wait(ks, &w, "CREATE", "POST", "stacks", o->timeout_s, err);
out:
    json_decref(body);
    json_decref(reply);
    json_decref(w.complete);
    fabc_free(path);
    return ret;
}

static json_t *lookup(struct fabc_keystone *ks, const char *name,
                      char **path, struct fabc_err *err)
{
    int found = 1;
    json_t *s = get_stack(ks, name, 0, &found, err);
    const char *st = cstr(s, "stack_status");

    if (!s && !found)
        fabc_err_set(err, FABC_E_HTTP, 404, "heat: stack '%s' not found",
                     name);
    if (s && st && !strcmp(st, "DELETE_COMPLETE")) {
        json_decref(s);
        s = NULL;
        fabc_err_set(err, FABC_E_HTTP, 404, "heat: stack '%s' not found",
                     name);
        err->status = 404;
    } else if (!s && !found && err) {
        err->status = 404;
    }
    if (s) {
        *path = stack_path(s);
        if (!*path) {
            json_decref(s);
            s = NULL;
            nomem(err);
        }
    }
    return s;
}

json_t *fabc_heat_update(struct fabc_keystone *ks,
                         const struct fabc_heat_opts *o, struct fabc_err *err)
{
    struct waiter w = {.name = o->name, .quiet = o->quiet};
    const char *method = o->existing ? "PATCH" : "PUT";
    json_t *stack = NULL, *body = NULL, *ret = NULL;
    char *path = NULL;

    stack = lookup(ks, o->name, &path, err);
    if (!stack)
        goto out;
    w.name = cstr(stack, "stack_name");
    body = build_body(o, 0, !o->existing, err);
    if (!body)
        goto out;
    w.path = path;
    w.complete = json_object();
    if (!w.complete) {
        nomem(err);
        goto out;
    }
    if (o->wait && take_marker(ks, &w, 0, err) < 0)
        goto out;
    if (heat_call(ks, method, path, body, NULL, 0, err) < 0) {
        fabc_err_prefix(err, "heat update stack '%s'", w.name);
        goto out;
    }
    if (!o->wait) {
        ret = json_incref(stack);
        goto out;
    }
    ret = finish_wait(ks, &w, "UPDATE", method, path, o->timeout_s, err);
out:
    json_decref(stack);
    json_decref(body);
    json_decref(w.complete);
    fabc_free(path);
    return ret;
}

json_t *fabc_heat_preview(struct fabc_keystone *ks,
                          const struct fabc_heat_opts *o, int update,
                          struct fabc_err *err)
{
    json_t *stack = NULL, *body = NULL, *reply = NULL;
    char *path = NULL;
    struct fabc_buf p;
    struct fabc_heat_opts c = *o;

    fabc_buf_init(&p);
    if (update) {
        stack = lookup(ks, o->name, &path, err);
        if (!stack)
            goto out;
        if (fabc_buf_printf(&p, "%s/preview", path) < 0) {
            nomem(err);
            goto out;
        }
    } else {
        if (c.rollback < 0)
            c.rollback = 0;
        if (fabc_buf_puts(&p, "stacks/preview") < 0) {
            nomem(err);
            goto out;
        }
    }
    body = build_body(&c, !update, !(update && o->existing), err);
    if (!body)
        goto out;
    if (heat_call(ks, update ? (o->existing ? "PATCH" : "PUT") : "POST",
                  p.data, body, &reply, 0, err) < 0) {
        fabc_err_prefix(err, "heat preview %s of stack '%s'",
                        update ? "update" : "create", o->name);
        json_decref(reply);
        reply = NULL;
    }
out:
    fabc_buf_free(&p);
    json_decref(stack);
    json_decref(body);
    fabc_free(path);
    return reply;
}

json_t *fabc_heat_validate(struct fabc_keystone *ks,
                           const struct fabc_heat_opts *o,
                           struct fabc_err *err)
{
    json_t *body = NULL, *reply = NULL;
    struct fabc_heat_opts c = *o;

    c.rollback = -1;
    c.timeout_s = 0;
    c.tags = NULL;
    body = build_body(&c, 0, 1, err);
    if (!body)
        goto out;
    json_object_del(body, "parameters");
    if (o->parameters)
        json_object_set_new(body, "parameters",
                            json_deep_copy(o->parameters));
    if (heat_call(ks, "POST", "validate", body, &reply, 0, err) < 0) {
        fabc_err_prefix(err, "heat validate");
        json_decref(reply);
        reply = NULL;
    }
out:
    json_decref(body);
    return reply;
}

int fabc_heat_delete(struct fabc_keystone *ks, const char *name, int wait,
                     long timeout_s, int quiet, int *existed,
                     struct fabc_err *err)
{
    struct waiter w = {.name = name, .quiet = quiet};
    json_t *stack = NULL, *final = NULL;
    struct fabc_err e2;
    char *path = NULL;
    int ret = -1, gone = 0;

    fabc_err_clear(&e2);
    if (existed)
        *existed = 1;
    stack = lookup(ks, name, &path, &e2);
    if (!stack) {
        if (e2.code == FABC_E_HTTP && e2.status == 404) {
            if (existed)
                *existed = 0;
            ret = 0; /* already gone */
            goto out;
        }
        if (err)
            *err = e2;
        goto out;
    }
    w.name = cstr(stack, "stack_name");
    w.path = path;
    w.complete = json_object();
    if (!w.complete) {
        nomem(err);
        goto out;
    }
    if (wait && take_marker(ks, &w, 0, err) < 0)
        goto out;
    if (heat_call(ks, "DELETE", path, NULL, NULL, 0, err) < 0) {
        fabc_err_prefix(err, "heat delete stack '%s'", w.name);
        goto out;
    }
    if (!wait) {
        ret = 0;
        goto out;
    }
    final = wait_stack(ks, &w, timeout_s, &gone, err);
    if (!final && !gone)
        goto out;
    if (final && check_final(final, "DELETE", &w, "DELETE", path, err) < 0)
        goto out;
    ret = 0;
out:
    json_decref(stack);
    json_decref(final);
    json_decref(w.complete);
    fabc_free(path);
    return ret;
}

/* The "stacks/<name>/<id>" path of a stack: given as is when `name`
 * already is one (no request), else looked up. (fabc_free) or NULL. */
static char *stack_path_of(struct fabc_keystone *ks, const char *name,
                           struct fabc_err *err)
{
    const char *rest = name + 7;
    char *path = NULL;
    json_t *stack;

    if (!strncmp(name, "stacks/", 7) && strchr(rest, '/') &&
        !strchr(strchr(rest, '/') + 1, '/')) {
        path = fabc_strdup(name);
        if (!path)
            nomem(err);
        return path;
    }
    stack = lookup(ks, name, &path, err);
    json_decref(stack);
    return path;
}

static json_t *list_of(struct fabc_keystone *ks, const char *name,
                       const char *what, const char *query,
                       struct fabc_err *err)
{
    json_t *reply = NULL, *ret = NULL;
    char *path = NULL;
    struct fabc_buf p;

    fabc_buf_init(&p);
    path = stack_path_of(ks, name, err);
    if (!path)
        goto out;
    if (fabc_buf_printf(&p, "%s/%s%s", path, what, query) < 0) {
        nomem(err);
        goto out;
    }
    if (heat_call(ks, "GET", p.data, NULL, &reply, 0, err) < 0)
        goto out;
    ret = json_incref(json_object_get(reply, what));
    if (!ret)
        ret = json_array();
out:
    fabc_buf_free(&p);
    json_decref(reply);
    fabc_free(path);
    return ret;
}

json_t *fabc_heat_events(struct fabc_keystone *ks, const char *name,
                         struct fabc_err *err)
{
    return list_of(ks, name, "events", "?sort_dir=asc&limit=1000", err);
}

json_t *fabc_heat_resources(struct fabc_keystone *ks, const char *name,
                            struct fabc_err *err)
{
    return list_of(ks, name, "resources", "", err);
}

int fabc_heat_signal(struct fabc_keystone *ks, const char *name,
                     const char *resource, json_t *data,
                     struct fabc_err *err)
{
    char *path = NULL;
    struct fabc_buf p;
    int ret = -1;

    fabc_buf_init(&p);
    path = stack_path_of(ks, name, err);
    if (!path)
        goto out;
    if (fabc_buf_printf(&p, "%s/resources/", path) < 0 ||
        fabc_rest_urlenc(&p, resource) < 0 ||
        fabc_buf_puts(&p, "/signal") < 0) {
        nomem(err);
        goto out;
    }
    if (heat_call(ks, "POST", p.data, data, NULL, 0, err) < 0)
        goto out;
    ret = 0;
out:
    fabc_buf_free(&p);
    fabc_free(path);
    return ret;
}
