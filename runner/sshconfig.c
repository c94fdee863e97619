/* sshconfig.c — ssh_config(5) subset, host strings, token expansion. */
#include "sshconfig.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct entry {
    char *key; /* lower case */
    char *value;
    int line;
};

struct block {
    char *patterns; /* NULL: before the first Host, matches all */
    struct entry *e;
    size_t n, cap;
};

struct fabc_sshconfig {
    char *name;
    struct block *b;
    size_t n, cap;
};

void fabc_sshhost_init(struct fabc_sshhost *h)
{
    memset(h, 0, sizeof(*h));
    h->port = -1;
    h->identities_only = -1;
    h->strict = -1;
    h->connect_timeout = -1;
    h->server_alive = -1;
    h->forward_agent = -1;
}

void fabc_sshhost_clear(struct fabc_sshhost *h)
{
    fabc_free(h->hostname);
    fabc_free(h->user);
    for (size_t i = 0; i < h->n_identity; i++)
        fabc_free(h->identity_files[i]);
    fabc_free(h->identity_files);
    fabc_free(h->proxy_jump);
    fabc_free(h->known_hosts);
    fabc_sshhost_init(h);
}

void fabc_sshconfig_free(struct fabc_sshconfig *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        struct block *b = &c->b[i];

        for (size_t j = 0; j < b->n; j++) {
            fabc_free(b->e[j].key);
            fabc_free(b->e[j].value);
        }
        fabc_free(b->e);
        fabc_free(b->patterns);
    }
    fabc_free(c->b);
    fabc_free(c->name);
    fabc_free(c);
}

static struct block *add_block(struct fabc_sshconfig *c, const char *pats)
{
    struct block *b;

    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8;
        struct block *nb = fabc_realloc(c->b, nc * sizeof(*nb));

        if (!nb)
            return NULL;
        c->b = nb;
        c->cap = nc;
    }
    b = &c->b[c->n];
    memset(b, 0, sizeof(*b));
    if (pats) {
        b->patterns = fabc_strdup(pats);
        if (!b->patterns)
            return NULL;
    }
    c->n++;
    return b;
}

static int add_entry(struct block *b, const char *key, const char *value,
                     int line)
{
    struct entry *e;

    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 8;
        struct entry *ne = fabc_realloc(b->e, nc * sizeof(*ne));

        if (!ne)
            return -1;
        b->e = ne;
        b->cap = nc;
    }
    e = &b->e[b->n];
    e->key = fabc_strdup(key);
    e->value = fabc_strdup(value);
    e->line = line;
    if (!e->key || !e->value) {
        fabc_free(e->key);
        fabc_free(e->value);
        return -1;
    }
    for (char *p = e->key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    b->n++;
    return 0;
}

/* Split one line into keyword and the rest (quotes removed from a
 * single quoted argument). Returns 0 for a blank/comment line, 1 with
 * key/val set, -1 for a keyword without value. Edits `line`. */
static int split_line(char *line, char **key, char **val)
{
    char *p = line, *k, *v, *end;

    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    k = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '=')
        p++;
    if (*p) {
        *p++ = '\0';
        while (*p == ' ' || *p == '\t' || *p == '=')
            p++;
    }
    v = p;
    end = v + strlen(v);
    while (end > v && (end[-1] == ' ' || end[-1] == '\t' ||
                       end[-1] == '\r'))
        *--end = '\0';
    if (end - v >= 2 && v[0] == '"' && end[-1] == '"' &&
        !memchr(v + 1, '"', (size_t)(end - v - 2))) {
        end[-1] = '\0';
        v++;
    }
    *key = k;
    *val = v;
    return *v ? 1 : -1;
}

struct fabc_sshconfig *fabc_sshconfig_parse(const char *text,
                                            const char *name,
                                            struct fabc_err *err)
{
    struct fabc_sshconfig *c = fabc_calloc(1, sizeof(*c));
    struct block *cur;
    const char *p = text;
    int lineno = 0;
    char *line = NULL;

    if (!c || !(c->name = fabc_strdup(name ? name : "ssh_config")))
        goto nomem;
    cur = add_block(c, NULL);
    if (!cur)
        goto nomem;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *key, *val;
        int r;

        lineno++;
        line = fabc_strndup(p, len);
        if (!line)
            goto nomem;
        p += len + (nl ? 1 : 0);
        r = split_line(line, &key, &val);
        if (r < 0) {
            fabc_err_set(err, FABC_E_CONFIG, 0,
                         "%s:%d: '%s' needs a value", c->name, lineno, key);
            fabc_err_pos(err, c->name, lineno, 1);
            goto fail;
        }
        if (r > 0) {
            if (strcasecmp(key, "Host") == 0) {
                cur = add_block(c, val);
                if (!cur)
                    goto nomem;
            } else if (strcasecmp(key, "Match") == 0) {
                /* Unsupported: its options apply to no host. */
                cur = add_block(c, "!*");
                if (!cur)
                    goto nomem;
            } else if (add_entry(cur, key, val, lineno) < 0) {
                goto nomem;
            }
        }
        fabc_free(line);
        line = NULL;
    }
    return c;
nomem:
    fabc_err_set(err, FABC_E_NOMEM, 0, "ssh_config: out of memory");
fail:
    fabc_free(line);
    fabc_sshconfig_free(c);
    return NULL;
}

struct fabc_sshconfig *fabc_sshconfig_load(const char *path, int missing_ok,
                                           struct fabc_err *err)
{
    FILE *f = fopen(path, "r");
    struct fabc_buf b;
    struct fabc_sshconfig *c = NULL;
    char chunk[4096];
    size_t n;

    fabc_buf_init(&b);
    if (!f) {
        if (errno == ENOENT && missing_ok)
            return fabc_sshconfig_parse("", path, err);
        fabc_err_set(err, FABC_E_CONFIG, errno, "ssh_config %s: %s", path,
                     strerror(errno));
        fabc_err_pos(err, path, 0, 0);
        goto out;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (fabc_buf_append(&b, chunk, n) < 0) {
            fabc_err_set(err, FABC_E_NOMEM, 0, "ssh_config: out of memory");
            goto out;
        }
    }
    if (ferror(f)) {
        fabc_err_set(err, FABC_E_CONFIG, errno, "ssh_config %s: read: %s",
                     path, strerror(errno));
        goto out;
    }
    c = fabc_sshconfig_parse(b.data ? b.data : "", path, err);
out:
    if (f)
        fclose(f);
    fabc_buf_free(&b);
    return c;
}

int fabc_ssh_glob(const char *pat, const char *s)
{
    /* Iterative matcher with one backtrack point per '*'. */
    const char *star = NULL, *mark = NULL;

    while (*s) {
        if (*pat == '*') {
            star = pat++;
            mark = s;
        } else if (*pat == '?' ||
                   tolower((unsigned char)*pat) ==
                       tolower((unsigned char)*s)) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++mark;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

int fabc_ssh_match_list(const char *list, const char *host)
{
    int matched = 0;
    const char *p = list;
    char pat[512];

    while (*p) {
        size_t len;
        int neg = 0;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        len = strcspn(p, " \t,");
        if (*p == '!') {
            neg = 1;
            p++;
            len--;
        }
        if (len < sizeof(pat)) {
            memcpy(pat, p, len);
            pat[len] = '\0';
            if (fabc_ssh_glob(pat, host)) {
                if (neg)
                    return 0;
                matched = 1;
            }
        }
        p += len;
    }
    return matched;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_yesno(const char *v)
{
    if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0)
        return 1;
    if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0)
        return 0;
    return -1;
}

static int apply(struct fabc_sshhost *h, const char *cfgname,
                 const struct entry *e, struct fabc_err *err)
{
    const char *k = e->key, *v = e->value;
    int iv;

    if (strcmp(k, "hostname") == 0) {
        if (!h->hostname && !(h->hostname = fabc_strdup(v)))
            goto nomem;
    } else if (strcmp(k, "user") == 0) {
        if (!h->user && !(h->user = fabc_strdup(v)))
            goto nomem;
    } else if (strcmp(k, "port") == 0) {
        if (h->port < 0) {
            if (parse_int(v, 1, 65535, &iv) < 0)
                goto bad;
            h->port = iv;
        }
    } else if (strcmp(k, "identityfile") == 0) {
        char **n = fabc_realloc(h->identity_files,
                                (h->n_identity + 1) * sizeof(*n));
        if (!n)
            goto nomem;
        h->identity_files = n;
        n[h->n_identity] = fabc_strdup(v);
        if (!n[h->n_identity])
            goto nomem;
        h->n_identity++;
    } else if (strcmp(k, "identitiesonly") == 0) {
        if (h->identities_only < 0) {
            if ((iv = parse_yesno(v)) < 0)
                goto bad;
            h->identities_only = iv;
        }
    } else if (strcmp(k, "forwardagent") == 0) {
        if (h->forward_agent < 0) {
            if ((iv = parse_yesno(v)) < 0)
                goto bad;
            h->forward_agent = iv;
        }
    } else if (strcmp(k, "proxyjump") == 0) {
        if (!h->proxy_jump && !(h->proxy_jump = fabc_strdup(v)))
            goto nomem;
    } else if (strcmp(k, "stricthostkeychecking") == 0) {
        if (h->strict < 0) {
            if (strcasecmp(v, "accept-new") == 0)
                h->strict = FABC_STRICT_ACCEPT_NEW;
            else if (strcasecmp(v, "ask") == 0)
                h->strict = FABC_STRICT_YES;
            else if (strcasecmp(v, "off") == 0)
                h->strict = FABC_STRICT_NO;
            else if ((iv = parse_yesno(v)) >= 0)
                h->strict = iv ? FABC_STRICT_YES : FABC_STRICT_NO;
            else
                goto bad;
        }
    } else if (strcmp(k, "userknownhostsfile") == 0) {
        if (!h->known_hosts) {
            size_t len = strcspn(v, " \t");

            h->known_hosts = fabc_strndup(v, len);
            if (!h->known_hosts)
                goto nomem;
        }
    } else if (strcmp(k, "connecttimeout") == 0) {
        if (h->connect_timeout < 0) {
            if (parse_int(v, 0, 86400, &iv) < 0)
                goto bad;
            h->connect_timeout = iv;
        }
    } else if (strcmp(k, "serveraliveinterval") == 0) {
        if (h->server_alive < 0) {
            if (parse_int(v, 0, 86400, &iv) < 0)
                goto bad;
            h->server_alive = iv;
        }
    }
    return 0;
bad:
    fabc_err_set(err, FABC_E_CONFIG, 0, "%s:%d: bad value for %s: '%s'",
                 cfgname, e->line, k, v);
    fabc_err_pos(err, cfgname, e->line, 1);
    return -1;
nomem:
    return fabc_err_set(err, FABC_E_NOMEM, 0, "ssh_config: out of memory");
}

int fabc_sshconfig_lookup(const struct fabc_sshconfig *c, const char *host,
                          struct fabc_sshhost *out, struct fabc_err *err)
{
    for (size_t i = 0; c && i < c->n; i++) {
        const struct block *b = &c->b[i];

        if (b->patterns && !fabc_ssh_match_list(b->patterns, host))
            continue;
        for (size_t j = 0; j < b->n; j++)
            if (apply(out, c->name, &b->e[j], err) < 0)
                return -1;
    }
    return 0;
}

const char *fabc_ssh_local_user(void)
{
    static char name[256];
    struct passwd *pw;
    const char *u;

    if (name[0])
        return name;
    pw = getpwuid(getuid());
    u = pw ? pw->pw_name : getenv("USER");
    fabc_strlcpy(name, u ? u : "root", sizeof(name));
    return name;
}

const char *fabc_ssh_local_home(void)
{
    static char home[PATH_MAX];
    const char *h;

    if (home[0])
        return home;
    h = getenv("HOME");
    if (!h || !*h) {
        struct passwd *pw = getpwuid(getuid());

        h = pw ? pw->pw_dir : "/";
    }
    fabc_strlcpy(home, h, sizeof(home));
    return home;
}

char *fabc_ssh_expand(const char *in, const char *host, int port,
                      const char *ruser, const char *alias,
                      struct fabc_err *err)
{
    struct fabc_buf b;
    const char *p = in;
    int rc = 0;

    fabc_buf_init(&b);
    if (p[0] == '~' && (p[1] == '/' || p[1] == '\0')) {
        rc |= fabc_buf_puts(&b, fabc_ssh_local_home());
        p++;
    }
    for (; *p && rc == 0; p++) {
        if (*p != '%') {
            rc |= fabc_buf_append(&b, p, 1);
            continue;
        }
        p++;
        switch (*p) {
        case '%':
            rc |= fabc_buf_append(&b, "%", 1);
            break;
        case 'h':
            rc |= fabc_buf_puts(&b, host ? host : "");
            break;
        case 'n':
            rc |= fabc_buf_puts(&b, alias ? alias : (host ? host : ""));
            break;
        case 'p':
            rc |= fabc_buf_printf(&b, "%d", port > 0 ? port : 22);
            break;
        case 'r':
            rc |= fabc_buf_puts(&b, ruser ? ruser : fabc_ssh_local_user());
            break;
        case 'u':
            rc |= fabc_buf_puts(&b, fabc_ssh_local_user());
            break;
        case 'd':
            rc |= fabc_buf_puts(&b, fabc_ssh_local_home());
            break;
        default:
            fabc_err_set(err, FABC_E_CONFIG, 0,
                         "unknown token %%%c in '%s'", *p ? *p : ' ', in);
            fabc_buf_free(&b);
            return NULL;
        }
    }
    if (rc || fabc_buf_append(&b, NULL, 0) < 0) {
        fabc_buf_free(&b);
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        return NULL;
    }
    return fabc_buf_steal(&b, NULL);
}

int fabc_ssh_parse_host(const char *s, char **user, char **host, int *port,
                        struct fabc_err *err)
{
    const char *at = strrchr(s, '@');
    const char *h = at ? at + 1 : s;
    const char *hend, *portstr = NULL;
    char *u = NULL, *hh = NULL;
    int p = 0;

    *user = NULL;
    *host = NULL;
    *port = 0;
    if (at && at == s)
        return fabc_err_set(err, FABC_E_USAGE, 0,
                            "bad host string '%s': empty user", s);
    if (*h == '[') {
        const char *close = strchr(h, ']');

        if (!close)
            return fabc_err_set(err, FABC_E_USAGE, 0,
                                "bad host string '%s': missing ']'", s);
        hend = close;
        h++;
        if (close[1] == ':')
            portstr = close + 2;
        else if (close[1] != '\0')
            return fabc_err_set(err, FABC_E_USAGE, 0,
                                "bad host string '%s'", s);
    } else {
        const char *c1 = strchr(h, ':');

        if (c1 && strchr(c1 + 1, ':')) {
            hend = h + strlen(h); /* bare IPv6 address */
        } else if (c1) {
            hend = c1;
            portstr = c1 + 1;
        } else {
            hend = h + strlen(h);
        }
    }
    if (hend == h)
        return fabc_err_set(err, FABC_E_USAGE, 0,
                            "bad host string '%s': empty host", s);
    if (portstr && parse_int(portstr, 1, 65535, &p) < 0)
        return fabc_err_set(err, FABC_E_USAGE, 0,
                            "bad host string '%s': bad port", s);
    if (at && !(u = fabc_strndup(s, (size_t)(at - s))))
        goto nomem;
    hh = fabc_strndup(h, (size_t)(hend - h));
    if (!hh)
        goto nomem;
    *user = u;
    *host = hh;
    *port = p;
    return 0;
nomem:
    fabc_free(u);
    return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
}
