/* heat.h — Heat v1 orchestration calls (Python-free).
 *
 * Templates and environment files are read and sent the way the OpenStack
 * client sends them: every `get_file` path and every nested template
 * (a resource `type` ending in .yaml/.yml/.template, also in an
 * environment's resource_registry) is resolved relative to the file that
 * names it, read, put in the request's `files` map under its file:// URL,
 * and the reference is rewritten to that URL. Environments are merged in
 * order.
 *
 * Waits follow the stack's events with a marker: polls start at 0.25 s
 * and back off to 3 s while nothing happens, one progress line per event
 * with a running count of resources complete, and end on the stack's own
 * terminal state. A *_FAILED end (or a rollback) is an error carrying the
 * failing resource's reason. Everything here may run without the GIL.
 */
#ifndef FABC_HEAT_H
#define FABC_HEAT_H

#include <jansson.h>

#include "err.h"
#include "keystone.h"

/* Process a template (path, or text with `base_dir` for relative
 * references) and environment files into *tmpl, *env and *files (new
 * references). 0, or -1 with err (file:line:column for YAML errors). */
int fabc_heat_process(const char *template_path, const char *template_text,
                      const char *base_dir, const char *const *env_paths,
                      size_t n_env, json_t **tmpl, json_t **env,
                      json_t **files, struct fabc_err *err);

struct fabc_heat_opts {
    const char *name;               /* stack name or id */
    const char *template_path;      /* a file, or */
    const char *template_text;      /* the template itself (YAML/JSON) */
    const char *base_dir;           /* for template_text, NULL: cwd */
    const char *const *env_paths;   /* environment files, in order */
    size_t n_env;
    json_t *parameters;             /* object or NULL (borrowed) */
    json_t *clear_parameters;       /* array of names or NULL (PATCH) */
    const char *tags;               /* "a,b" or NULL */
    long timeout_s;                 /* stack timeout and wait limit, 0 */
    int rollback;                   /* 1 on, 0 off, -1 keep (update) */
    int existing;                   /* update: PATCH keeping template */
    int wait;                       /* follow events to the end */
    int quiet;                      /* no progress lines */
};

/* Create; returns the stack (GET after the wait, or the create reply when
 * not waiting). New reference or NULL with err. */
json_t *fabc_heat_create(struct fabc_keystone *ks,
                         const struct fabc_heat_opts *o,
                         struct fabc_err *err);

/* Update (PUT, or PATCH when o->existing). Same contract. */
json_t *fabc_heat_update(struct fabc_keystone *ks,
                         const struct fabc_heat_opts *o,
                         struct fabc_err *err);

/* Preview a create (stack does not exist) or an update: the reply of
 * POST stacks/preview ({"stack": ...}) or PUT/PATCH .../preview
 * ({"resource_changes": ...}). */
json_t *fabc_heat_preview(struct fabc_keystone *ks,
                          const struct fabc_heat_opts *o, int update,
                          struct fabc_err *err);

/* POST /validate. The reply ({"Parameters": ..., "Description": ...}). */
json_t *fabc_heat_validate(struct fabc_keystone *ks,
                           const struct fabc_heat_opts *o,
                           struct fabc_err *err);

/* Delete by name or id; waits when `wait`. A missing stack is not an
 * error: then *existed (may be NULL) is 0. 0/-1. */
int fabc_heat_delete(struct fabc_keystone *ks, const char *name, int wait,
                     long timeout_s, int quiet, int *existed,
                     struct fabc_err *err);

/* The stack ({"stack_name", "id", "stack_status", "outputs", ...}) or
 * NULL: *found is 0 when it does not exist (or is DELETE_COMPLETE), 1 and
 * err set on failure. */
json_t *fabc_heat_get(struct fabc_keystone *ks, const char *name,
                      int *found, struct fabc_err *err);

/* Events (oldest first) or resources of a stack: a JSON array. */
json_t *fabc_heat_events(struct fabc_keystone *ks, const char *name,
                         struct fabc_err *err);
json_t *fabc_heat_resources(struct fabc_keystone *ks, const char *name,
                            struct fabc_err *err);

/* Send a resource signal, e.g. {"unset_hook": "pre-update"} to clear a
 * hook. 0/-1. */
int fabc_heat_signal(struct fabc_keystone *ks, const char *name,
                     const char *resource, json_t *data,
                     struct fabc_err *err);

/* ---- helpers, exposed for unit tests ---- */

/* path resolved against base (a directory) and normalised ("." and ".."
 * removed); absolute paths stay. (fabc_free) or NULL. */
char *fabc_heat_resolve_path(const char *base, const char *path);

/* 1 if `type` names a template file (.yaml, .yml, .template, .json
 * without "::"), else 0. */
int fabc_heat_is_template_ref(const char *type);

/* "<time> <resource>: <STATUS> <reason>" for one event JSON. */
void fabc_heat_format_event(json_t *ev, char *out, size_t size);

#endif
