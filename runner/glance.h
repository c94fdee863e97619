/* glance.h — Glance v2 image calls (Python-free).
 *
 * Lists use the server-side filters (tag, repeated and ANDed; name;
 * status) and follow `next` links page by page; property filters are
 * applied on the client, as the OpenStack client does. Upload creates the
 * image record then streams the file with PUT .../file (the queued record
 * is deleted again if the upload fails). Errors name the image: 404 not
 * found, 403 (protected), 409 (conflict, e.g. still in use).
 */
#ifndef FABC_GLANCE_H
#define FABC_GLANCE_H

#include <jansson.h>

#include "err.h"
#include "keystone.h"

struct fabc_glance_filter {
    const char *const *tags; /* every tag must be present */
    size_t n_tags;
    const char *name;
    const char *status;
    json_t *properties;      /* object: key -> value (compared as text) */
    long page_size;          /* `limit` per request, 0: server default */
    long max_pages;          /* 0: 10000 */
};

/* Every matching image: a JSON array (new reference) or NULL with err. */
json_t *fabc_glance_list(struct fabc_keystone *ks,
                         const struct fabc_glance_filter *f,
                         struct fabc_err *err);

/* The image or NULL: *found = 0 when it does not exist. */
json_t *fabc_glance_get(struct fabc_keystone *ks, const char *id, int *found,
                        struct fabc_err *err);

struct fabc_glance_upload {
    const char *name;
    const char *id;               /* the new image's id, NULL: Glance's */
    const char *path;             /* file to stream, NULL: record only */
    const char *disk_format;      /* NULL: qcow2 */
    const char *container_format; /* NULL: bare */
    const char *visibility;       /* NULL: private */
    json_t *tags;                 /* array of strings or NULL */
    json_t *properties;           /* object or NULL (values as text) */
};

/* Create + upload; returns the image after upload (new ref) or NULL. */
json_t *fabc_glance_upload(struct fabc_keystone *ks,
                           const struct fabc_glance_upload *u,
                           struct fabc_err *err);

int fabc_glance_delete(struct fabc_keystone *ks, const char *id,
                       struct fabc_err *err);
int fabc_glance_add_tag(struct fabc_keystone *ks, const char *id,
                        const char *tag, struct fabc_err *err);
int fabc_glance_remove_tag(struct fabc_keystone *ks, const char *id,
                           const char *tag, struct fabc_err *err);
/* Set (add or replace) properties with a JSON patch; returns the image.
 * Custom properties are sent as strings; Glance's typed fields protected,
 * min_disk, min_ram, os_hidden keep their JSON type. */
json_t *fabc_glance_set_properties(struct fabc_keystone *ks, const char *id,
                                   json_t *properties, struct fabc_err *err);

/* 1 if image matches every key of props (string compare of values). */
int fabc_glance_match_properties(json_t *image, json_t *props);

#endif
