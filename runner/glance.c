/* glance.c — Glance v2: list (filters, pagination), upload, tags,
 * properties, delete. */
#include "glance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int nomem(struct fabc_err *err)
{
    return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
}

/* Absolute URL for a path under the image API root ("v2/images..."). */
static char *image_url(struct fabc_keystone *ks, const char *path,
                       struct fabc_err *err)
{
    char *base = fabc_keystone_endpoint(ks, "image", err), *url = NULL;
    size_t bl;

    if (!base)
        return NULL;
    bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        base[--bl] = '\0';
    /* an endpoint registered with its version: drop it, paths carry it */
    if (bl >= 3 && !strcmp(base + bl - 3, "/v2"))
        base[bl - 3] = '\0';
    url = fabc_rest_join(base, path);
    if (!url)
        nomem(err);
    fabc_free(base);
    return url;
}

static int glance_call(struct fabc_keystone *ks, const char *method,
                       const char *path, const char *ctype, json_t *body,
                       const char *upload, json_t **reply,
                       struct fabc_err *err)
{
    struct fabc_rest_req req = {.method = method, .content_type = ctype,
                                .upload_path = upload};
    char *url = NULL;
    int ret = -1;

    if (reply)
        *reply = NULL;
    url = image_url(ks, path, err);
    if (!url)
        goto out;
    req.url = url;
    ret = fabc_keystone_json_call(ks, "image", "glance", &req, body, 0,
                                  reply, err);
out:
    fabc_free(url);
    return ret;
}

/* Turn 403/404/409 into messages that name the image. */
static void explain(struct fabc_err *err, const char *what, const char *id)
{
    if (!err || err->code != FABC_E_HTTP)
        return;
    if (err->status == 404)
        fabc_err_prefix(err, "glance: image %s not found", id);
    else if (err->status == 403)
        fabc_err_prefix(err, "glance: %s image %s refused (protected, or "
                             "not yours)", what, id);
    else if (err->status == 409)
        fabc_err_prefix(err, "glance: %s image %s: conflict (in use or in "
                             "the wrong state)", what, id);
    else
        fabc_err_prefix(err, "glance: %s image %s", what, id);
}

static int append_id(struct fabc_buf *b, const char *prefix, const char *id,
                     const char *suffix)
{
    return fabc_buf_puts(b, prefix) < 0 || fabc_rest_urlenc(b, id) < 0 ||
                   fabc_buf_puts(b, suffix) < 0
               ? -1
               : 0;
}

static void value_text(json_t *v, char *out, size_t size)
{
    char *d;

    if (json_is_string(v)) {
        snprintf(out, size, "%s", json_string_value(v));
        return;
    }
    d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(out, size, "%s", d ? d : "");
    free(d);
}

int fabc_glance_match_properties(json_t *image, json_t *props)
{
    const char *k;
    json_t *want;

    json_object_foreach(props, k, want) {
        json_t *have = json_object_get(image, k);
        char a[1024], b[1024];

        if (!have)
            return 0;
        value_text(have, a, sizeof(a));
        value_text(want, b, sizeof(b));
        if (strcmp(a, b))
            return 0;
    }
    return 1;
}

json_t *fabc_glance_list(struct fabc_keystone *ks,
                         const struct fabc_glance_filter *f,
                         struct fabc_err *err)
{
    json_t *all = json_array(), *ret = NULL, *reply = NULL;
    long max_pages = f->max_pages > 0 ? f->max_pages : 10000;
    struct fabc_buf p;
    char sep = '?';

    fabc_buf_init(&p);
    if (!all || fabc_buf_puts(&p, "v2/images") < 0) {
        nomem(err);
        goto out;
    }
    for (size_t i = 0; i < f->n_tags; i++) {
        if (fabc_buf_printf(&p, "%ctag=", sep) < 0 ||
            fabc_rest_urlenc(&p, f->tags[i]) < 0) {
            nomem(err);
            goto out;
        }
        sep = '&';
    }
    if (f->name) {
        if (fabc_buf_printf(&p, "%cname=", sep) < 0 ||
            fabc_rest_urlenc(&p, f->name) < 0) {
            nomem(err);
            goto out;
        }
        sep = '&';
    }
    if (f->status) {
        if (fabc_buf_printf(&p, "%cstatus=", sep) < 0 ||
            fabc_rest_urlenc(&p, f->status) < 0) {
            nomem(err);
            goto out;
        }
        sep = '&';
    }
    if (f->page_size > 0 &&
        fabc_buf_printf(&p, "%climit=%ld", sep, f->page_size) < 0) {
        nomem(err);
        goto out;
    }
    for (long page = 0; page < max_pages; page++) {
        json_t *imgs, *img;
        const char *next;
        size_t i;

        if (glance_call(ks, "GET", p.data, NULL, NULL, NULL, &reply, err) <
            0) {
            fabc_err_prefix(err, "glance: list images");
            goto out;
        }
        imgs = json_object_get(reply, "images");
        json_array_foreach(imgs, i, img) {
            if (!f->properties ||
                fabc_glance_match_properties(img, f->properties))
                json_array_append(all, img);
        }
        next = json_string_value(json_object_get(reply, "next"));
        if (!next || !*next || !json_array_size(imgs))
            break;
        fabc_buf_reset(&p);
        if (fabc_buf_puts(&p, next) < 0) {
            nomem(err);
            goto out;
        }
        json_decref(reply);
        reply = NULL;
    }
    ret = all;
    all = NULL;
out:
    fabc_buf_free(&p);
    json_decref(all);
    json_decref(reply);
    return ret;
}

json_t *fabc_glance_get(struct fabc_keystone *ks, const char *id, int *found,
                        struct fabc_err *err)
{
    struct fabc_buf p;
    json_t *reply = NULL;
    struct fabc_err e2;

    fabc_err_clear(&e2);
    fabc_buf_init(&p);
    *found = 1;
    if (append_id(&p, "v2/images/", id, "") < 0) {
        nomem(err);
        goto out;
    }
    if (glance_call(ks, "GET", p.data, NULL, NULL, NULL, &reply, &e2) < 0) {
        if (e2.code == FABC_E_HTTP && e2.status == 404)
            *found = 0;
        else if (err)
            *err = e2;
        reply = NULL;
    }
out:
    fabc_buf_free(&p);
    return reply;
}

json_t *fabc_glance_upload(struct fabc_keystone *ks,
                           const struct fabc_glance_upload *u,
                           struct fabc_err *err)
{
    json_t *body = NULL, *img = NULL, *ret = NULL;
    const char *id, *k;
    struct fabc_buf p;
    json_t *v;
    int found = 1;

    fabc_buf_init(&p);
    body = json_pack("{s:s,s:s,s:s,s:s}", "name", u->name, "disk_format",
                     u->disk_format ? u->disk_format : "qcow2",
                     "container_format",
                     u->container_format ? u->container_format : "bare",
                     "visibility", u->visibility ? u->visibility : "private");
    if (!body) {
        nomem(err);
        goto out;
    }
    json_object_set_new(body, "tags",
                        u->tags ? json_deep_copy(u->tags) : json_array());
    if (u->id)
        json_object_set_new(body, "id", json_string(u->id));
    json_object_foreach(u->properties, k, v) {
        char text[2048];

        /* image properties are strings in Glance */
        value_text(v, text, sizeof(text));
        json_object_set_new(body, k, json_string(text));
    }
    if (glance_call(ks, "POST", "v2/images", NULL, body, NULL, &img, err) <
        0) {
        if (u->id && err && err->code == FABC_E_HTTP && err->status == 409)
            fabc_err_prefix(err, "glance: create image '%s': id %s is "
                                 "taken (an image has, or had, that id)",
                            u->name, u->id);
        else
            fabc_err_prefix(err, "glance: create image '%s'", u->name);
        goto out;
    }
    id = json_string_value(json_object_get(img, "id"));
    if (!id) {
        fabc_err_set(err, FABC_E_HTTP, 201, "glance: no id for new image");
        goto out;
    }
    if (!u->path) {
        ret = img;
        img = NULL;
        goto out;
    }
    if (append_id(&p, "v2/images/", id, "/file") < 0) {
        nomem(err);
        goto out;
    }
    if (glance_call(ks, "PUT", p.data, "application/octet-stream", NULL,
                    u->path, NULL, err) < 0) {
        struct fabc_err ignored;

        fabc_err_prefix(err, "glance: upload %s to image %s", u->path, id);
        fabc_err_clear(&ignored);
        fabc_glance_delete(ks, id, &ignored);
        goto out;
    }
    ret = fabc_glance_get(ks, id, &found, err);
    if (!ret && !found)
        fabc_err_set(err, FABC_E_HTTP, 404,
                     "glance: image %s vanished after upload", id);
out:
    fabc_buf_free(&p);
    json_decref(body);
    json_decref(img);
    return ret;
}

int fabc_glance_delete(struct fabc_keystone *ks, const char *id,
                       struct fabc_err *err)
{
    struct fabc_buf p;
    int ret = -1;

    fabc_buf_init(&p);
    if (append_id(&p, "v2/images/", id, "") < 0) {
        nomem(err);
        goto out;
    }
    if (glance_call(ks, "DELETE", p.data, NULL, NULL, NULL, NULL, err) < 0) {
        explain(err, "delete", id);
        goto out;
    }
    ret = 0;
out:
    fabc_buf_free(&p);
    return ret;
}

static int tag_call(struct fabc_keystone *ks, const char *method,
                    const char *id, const char *tag, struct fabc_err *err)
{
    struct fabc_buf p;
    int ret = -1;

    fabc_buf_init(&p);
    if (append_id(&p, "v2/images/", id, "/tags/") < 0 ||
        fabc_rest_urlenc(&p, tag) < 0) {
        nomem(err);
        goto out;
    }
    if (glance_call(ks, method, p.data, NULL, NULL, NULL, NULL, err) < 0) {
        explain(err, !strcmp(method, "PUT") ? "tag" : "untag", id);
        goto out;
    }
    ret = 0;
out:
    fabc_buf_free(&p);
    return ret;
}

int fabc_glance_add_tag(struct fabc_keystone *ks, const char *id,
                        const char *tag, struct fabc_err *err)
{
    return tag_call(ks, "PUT", id, tag, err);
}

int fabc_glance_remove_tag(struct fabc_keystone *ks, const char *id,
                           const char *tag, struct fabc_err *err)
{
    return tag_call(ks, "DELETE", id, tag, err);
}

static int typed_field(const char *k)
{
    return !strcmp(k, "protected") || !strcmp(k, "min_disk") ||
           !strcmp(k, "min_ram") || !strcmp(k, "os_hidden");
}

json_t *fabc_glance_set_properties(struct fabc_keystone *ks, const char *id,
                                   json_t *properties, struct fabc_err *err)
{
    json_t *patch = json_array(), *img = NULL, *cur = NULL;
    struct fabc_buf p;
    const char *k;
    json_t *v;
    int found = 1;

    fabc_buf_init(&p);
    if (!patch || append_id(&p, "v2/images/", id, "") < 0) {
        nomem(err);
        goto out;
    }
    cur = fabc_glance_get(ks, id, &found, err);
    if (!cur) {
        if (!found)
            fabc_err_set(err, FABC_E_HTTP, 404, "glance: image %s not found",
                         id);
        goto out;
    }
    json_object_foreach(properties, k, v) {
        char text[2048], path[512];
        json_t *val;

        /* Glance's own typed fields keep their JSON type; custom
         * properties are strings */
        if (!json_is_string(v) && typed_field(k)) {
            val = json_incref(v);
        } else {
            value_text(v, text, sizeof(text));
            val = json_string(text);
        }
        snprintf(path, sizeof(path), "/%s", k);
        json_array_append_new(patch,
                              json_pack("{s:s,s:s,s:o}", "op",
                                        json_object_get(cur, k) ? "replace"
                                                                : "add",
                                        "path", path, "value", val));
    }
    if (glance_call(ks, "PATCH", p.data,
                    "application/openstack-images-v2.1-json-patch", patch,
                    NULL, &img, err) < 0) {
        explain(err, "update", id);
        json_decref(img);
        img = NULL;
    }
out:
    fabc_buf_free(&p);
    json_decref(patch);
    json_decref(cur);
    return img;
}
