/* fuzz_rest.c — libFuzzer target for the cloud layer's parsers of
 * untrusted bytes (server replies) and user-written text (templates,
 * URLs): runner/rest.c, keystone.c, heat.c, glance.c.
 *
 * The whole input is, in turn:
 *  - an HTTP error body for fabc_rest_service_message (buffers of several
 *    sizes, each allocated to its exact size so ASan sees any overrun);
 *  - a body and a header line for the --debug redaction;
 *  - JSON for the Heat event formatter, Glance's property filter and
 *    Keystone's catalog lookup (a token reply's "catalog", or an array);
 *  - YAML for fabc_rest_yaml_parse (Heat templates, environments);
 *  - a string for URL encoding, Keystone's /v3 URL, the Heat file-path
 *    normaliser and template-reference test; split at its first newline
 *    for fabc_rest_join.
 *
 * Invariants checked (__builtin_trap() when violated):
 *  - service messages are NUL-terminated within size, nothing is written
 *    for size 0, an empty body gives "", and a shorter buffer's message is
 *    a prefix of a longer one's;
 *  - a redacted header whose name contains a secret word shows no byte of
 *    its value; a redacted JSON body re-parses, and every scalar under a
 *    secret key is "***"; a non-JSON body is "<N bytes>";
 *  - urlenc output is unreserved characters and %XX only and decodes back;
 *  - joins have exactly one slash at the seam; v3 URLs end in a version;
 *  - resolved paths are absolute and normalised;
 *  - a failed YAML parse is FABC_E_CONFIG with a line and column >= 1 (or
 *    FABC_E_NOMEM); a parsed one is freed without leaks (reference cycles
 *    would show up as leaks);
 *  - an object matches its own properties; catalog lookups either return
 *    a URL or fail with a message.
 * Seeds: tests/fuzz/seeds/fuzz_rest/ (Keystone, Heat, Glance and Nova
 * error bodies, HTML pages, token replies, templates).
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "err.h"
#include "glance.h"
#include "heat.h"
#include "keystone.h"
#include "rest.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const secret_words[] = {"password", "secret", "token",
                                           "authorization", "cookie"};

static int has_secret_word(const char *s, size_t n)
{
    for (size_t w = 0; w < sizeof(secret_words) / sizeof(*secret_words);
         w++) {
        size_t wl = strlen(secret_words[w]);

        for (size_t i = 0; i + wl <= n; i++)
            if (strncasecmp(s + i, secret_words[w], wl) == 0)
                return 1;
    }
    return 0;
}

/* ---- fabc_rest_service_message ---- */

static void check_service_message(const char *body, size_t len)
{
    static const size_t sizes[] = {1, 2, 7, 64, 512, 4096};
    char *prev = NULL;
    char canary = 'C';

    fabc_rest_service_message(body, len, &canary, 0);
    if (canary != 'C')
        __builtin_trap();
    for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
        size_t n = sizes[i];
        char *out = malloc(n);

        if (!out)
            break;
        memset(out, 'Z', n);
        fabc_rest_service_message(body, len, out, n);
        if (!memchr(out, '\0', n))
            __builtin_trap();
        if (len == 0 && out[0])
            __builtin_trap();
        if (prev && strncmp(prev, out, strlen(prev)) != 0)
            __builtin_trap();
        free(prev);
        prev = out;
    }
    free(prev);
}

/* ---- redaction ---- */

static void check_redacted_json(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_object(j)) {
        json_object_foreach(j, k, v) {
            if (!json_is_object(v) && !json_is_array(v) &&
                has_secret_word(k, strlen(k)) &&
                (!json_is_string(v) ||
                 strcmp(json_string_value(v), "***") != 0))
                __builtin_trap();
            check_redacted_json(v);
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
            check_redacted_json(v);
    }
}

static void check_redact(const char *data, size_t size)
{
    char *s = fabc_rest_redact_body(data, size);
    json_t *orig, *back;
    const char *colon;

    if (!s)
        return;
    orig = json_loadb(data, size, 0, NULL);
    if (!orig) {
        char want[64];

        snprintf(want, sizeof(want), "<%zu bytes>", size);
        if (strcmp(s, want) != 0)
            __builtin_trap();
    } else {
        back = json_loads(s, 0, NULL);
        if (!back)
            __builtin_trap();
        check_redacted_json(back);
        json_decref(back);
        json_decref(orig);
    }
    fabc_free(s);

    s = fabc_rest_redact_header(data, size);
    if (!s)
        return;
    colon = memchr(data, ':', size);
    if (colon && !memchr(data, '\0', (size_t)(colon - data)) &&
        has_secret_word(data, (size_t)(colon - data)) &&
        !((size_t)(colon - data) == 22 &&
          strncasecmp(data, "x-openstack-request-id", 22) == 0)) {
        size_t nl = (size_t)(colon - data);

        if (strlen(s) != nl + 5 || memcmp(s, data, nl) != 0 ||
            strcmp(s + nl, ": ***") != 0)
            __builtin_trap();
    }
    fabc_free(s);
}

/* ---- strings and URLs ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void check_urlenc(const char *s)
{
    struct fabc_buf b;
    size_t o = 0, i;

    fabc_buf_init(&b);
    if (fabc_rest_urlenc(&b, s) < 0 || fabc_buf_append(&b, "", 0) < 0) {
        fabc_buf_free(&b);
        return;
    }
    for (i = 0; i < b.len; i++) {
        unsigned char c = (unsigned char)b.data[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= b.len)
                __builtin_trap();
            hi = hexval(b.data[i + 1]);
            lo = hexval(b.data[i + 2]);
            if (hi < 0 || lo < 0 || (unsigned char)s[o] != hi * 16 + lo)
                __builtin_trap();
            i += 2;
        } else if (!(isalnum(c) || c == '-' || c == '.' || c == '_' ||
                     c == '~') ||
                   (unsigned char)s[o] != c) {
            __builtin_trap();
        }
        o++;
    }
    if (s[o] != '\0')
        __builtin_trap();
    fabc_buf_free(&b);
}

static void check_join(const char *s)
{
    const char *nl = strchr(s, '\n');
    char *base, *r;
    const char *path;
    size_t bl;

    if (!nl)
        return;
    base = fabc_strndup(s, (size_t)(nl - s));
    if (!base)
        return;
    path = nl + 1;
    r = fabc_rest_join(base, path);
    if (r) {
        bl = strlen(base);
        while (bl && base[bl - 1] == '/')
            bl--;
        while (*path == '/')
            path++;
        if (strncmp(r, base, bl) != 0 || r[bl] != '/' ||
            strcmp(r + bl + 1, path) != 0)
            __builtin_trap();
        fabc_free(r);
    }
    fabc_free(base);
}

static void check_v3_url(const char *s)
{
    char *u = fabc_keystone_v3_url(s);
    const char *last;

    if (!u)
        return;
    last = strrchr(u, '/');
    if (!last || last[1] != 'v' || !isdigit((unsigned char)last[2]))
        __builtin_trap();
    fabc_free(u);
}

static void check_path(const char *s)
{
    char *p = fabc_heat_resolve_path("/srv/heat/templates", s);

    (void)fabc_heat_is_template_ref(s);
    if (!p)
        return;
    if (p[0] != '/' || strstr(p, "//") || strstr(p, "/./") ||
        strstr(p, "/../") ||
        (strlen(p) > 1 && p[strlen(p) - 1] == '/'))
        __builtin_trap();
    {
        size_t l = strlen(p);

        if ((l >= 2 && !strcmp(p + l - 2, "/.")) ||
            (l >= 3 && !strcmp(p + l - 3, "/..")))
            __builtin_trap();
    }
    fabc_free(p);
}

/* ---- JSON replies ---- */

static void check_catalog(json_t *catalog)
{
    static const char *const types[] = {"orchestration", "image",
                                        "identity"};
    static const char *const ifaces[] = {NULL, "internal", "publicURL"};
    static const char *const regions[] = {NULL, "RegionOne"};

    for (size_t t = 0; t < 3; t++)
        for (size_t i = 0; i < 3; i++)
            for (size_t r = 0; r < 2; r++) {
                struct fabc_err err;
                char *u;

                fabc_err_clear(&err);
                u = fabc_keystone_catalog_url(catalog, types[t], ifaces[i],
                                              regions[r], "p1", &err);
                if (u)
                    fabc_free(u);
                else if ((err.code != FABC_E_CONFIG &&
                          err.code != FABC_E_NOMEM) ||
                         !err.msg[0])
                    __builtin_trap();
            }
}

static void check_json(const char *data, size_t size)
{
    json_t *j = json_loadb(data, size, JSON_DECODE_ANY, NULL);
    json_t *empty, *cat;
    char small[8], big[1400];

    if (!j)
        return;
    fabc_heat_format_event(j, small, sizeof(small));
    fabc_heat_format_event(j, big, sizeof(big));
    if (!memchr(small, '\0', sizeof(small)) ||
        strncmp(small, big, strlen(small)) != 0)
        __builtin_trap();
    if (fabc_glance_match_properties(j, j) != 1)
        __builtin_trap();
    empty = json_object();
    if (empty && fabc_glance_match_properties(j, empty) != 1)
        __builtin_trap();
    if (empty && json_is_object(j) && json_object_size(j) &&
        fabc_glance_match_properties(empty, j) != 0)
        __builtin_trap();
    json_decref(empty);
    cat = json_is_array(j) ? j : json_object_get(j, "catalog");
    if (!cat)
        cat = json_object_get(json_object_get(j, "token"), "catalog");
    if (cat)
        check_catalog(cat);
    json_decref(j);
}

static void check_yaml(const char *data, size_t size)
{
    struct fabc_err err;
    json_t *j;

    fabc_err_clear(&err);
    j = fabc_rest_yaml_parse(data, size, "fuzz.yaml", &err);
    if (j) {
        json_decref(j);
        return;
    }
    if (err.code == FABC_E_NOMEM)
        return;
    if (err.code != FABC_E_CONFIG || !err.msg[0] || err.line < 1 ||
        err.column < 1 || strcmp(err.file, "fuzz.yaml") != 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char *s;

    check_service_message(body, size);
    check_redact(body, size);
    check_json(body, size);
    check_yaml(body, size);
    s = fabc_strndup(body, size);
    if (!s)
        return 0;
    check_urlenc(s);
    check_join(s);
    check_v3_url(s);
    check_path(s);
    fabc_free(s);
    return 0;
}
