/* ssh.c — the SSH engine: one thread, one poll loop, libssh2 sessions as
 * explicit non-blocking state machines; known_hosts; target resolution. */
#include "ssh.h"
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* base64                                                               */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *fabc_b64_encode(const unsigned char *in, size_t n, int pad)
{
    char *out = fabc_malloc(4 * ((n + 2) / 3) + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        size_t left = n - i;

        if (left > 1)
            v |= (unsigned)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        out[o++] = b64chars[(v >> 18) & 63];
        out[o++] = b64chars[(v >> 12) & 63];
        if (left > 1)
            out[o++] = b64chars[(v >> 6) & 63];
        else if (pad)
            out[o++] = '=';
        if (left > 2)
            out[o++] = b64chars[v & 63];
        else if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

static int b64val(int c)
{
    const char *p;

    if (c == 0)
        return -1;
    p = strchr(b64chars, c);
    return p ? (int)(p - b64chars) : -1;
}

long fabc_b64_decode(const char *in, size_t n, unsigned char *out,
                     size_t outsize)
{
    unsigned v = 0;
    int bits = 0;
    size_t o = 0;

    while (n > 0 && in[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++) {
        int d = b64val((unsigned char)in[i]);

        if (d < 0)
            return -1;
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outsize)
                return -1;
            out[o++] = (unsigned char)((v >> bits) & 0xff);
        }
    }
    return (long)o;
}

/* ------------------------------------------------------------------ */
/* known_hosts                                                          */

void fabc_kh_name(char *out, size_t size, const char *host, int port)
{
    if (port <= 0 || port == 22)
        snprintf(out, size, "%s", host);
    else
        snprintf(out, size, "[%s]:%d", host, port);
}

static int hashed_match(const char *field, size_t len, const char *name)
{
    /* |1|base64(salt)|base64(HMAC-SHA1(salt, name)) */
    const char *salt = field + 3, *bar;
    unsigned char sbuf[64], hbuf[64], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    long sl, hl;

    bar = memchr(salt, '|', len - 3);
    if (!bar)
        return 0;
    sl = fabc_b64_decode(salt, (size_t)(bar - salt), sbuf, sizeof(sbuf));
    hl = fabc_b64_decode(bar + 1, (size_t)(field + len - bar - 1), hbuf,
                         sizeof(hbuf));
    if (sl <= 0 || hl != 20)
        return 0;
    if (!HMAC(EVP_sha1(), sbuf, (int)sl, (const unsigned char *)name,
              strlen(name), mac, &maclen) ||
        maclen != 20)
        return 0;
    return memcmp(mac, hbuf, 20) == 0;
}

int fabc_kh_field_match(const char *field, const char *name)
{
    size_t flen = strlen(field);
    char pat[512];
    const char *p = field;
    int matched = 0;

    if (flen > 3 && strncmp(field, "|1|", 3) == 0)
        return hashed_match(field, flen, name);
    while (*p) {
        size_t len = strcspn(p, ",");
        int neg = 0;
        const char *q = p;

        if (*q == '!') {
            neg = 1;
            q++;
        }
        if ((size_t)(p + len - q) < sizeof(pat)) {
            memcpy(pat, q, (size_t)(p + len - q));
            pat[p + len - q] = '\0';
            if (fabc_ssh_glob(pat, name)) {
                if (neg)
                    return 0;
                matched = 1;
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return matched;
}

static void add_type(char *types, size_t size, const char *t, size_t tlen)
{
    size_t cur;
    const char *p = types;

    if (!types || size == 0)
        return;
    cur = strlen(types);
    while (*p) { /* already listed? */
        size_t l = strcspn(p, ",");

        if (l == tlen && strncmp(p, t, tlen) == 0)
            return;
        p += l + (p[l] == ',');
    }
    if (cur + tlen + 2 > size)
        return;
    if (cur)
        types[cur++] = ',';
    memcpy(types + cur, t, tlen);
    types[cur + tlen] = '\0';
}

int fabc_kh_check_text(const char *text, const char *name,
                       const char *keytype, const unsigned char *key,
                       size_t keylen, int *line, char *types,
                       size_t types_size, struct fabc_err *err)
{
    const char *p = text;
    int lineno = 0, result = FABC_KH_NOTFOUND, mismatch_line = 0;
    unsigned char *kbuf = fabc_malloc(16384);

    if (!kbuf)
        return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
    if (types && types_size)
        types[0] = '\0';
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *s = p, *end = p + len;
        char field[2048];
        const char *f1, *f2, *f3;
        size_t l1, l2, l3;
        long kl;

        lineno++;
        p += len + (nl ? 1 : 0);
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        if (s == end || *s == '#')
            continue;
        if (*s == '@') /* @cert-authority / @revoked: not supported */
            continue;
        f1 = s;
        while (s < end && *s != ' ' && *s != '\t')
            s++;
        l1 = (size_t)(s - f1);
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        f2 = s;
        while (s < end && *s != ' ' && *s != '\t')
            s++;
        l2 = (size_t)(s - f2);
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        f3 = s;
        while (s < end && *s != ' ' && *s != '\t' && *s != '\r')
            s++;
        l3 = (size_t)(s - f3);
        if (!l1 || !l2 || !l3 || l1 >= sizeof(field))
            continue;
        memcpy(field, f1, l1);
        field[l1] = '\0';
        if (!fabc_kh_field_match(field, name))
            continue;
        add_type(types, types_size, f2, l2);
        if (strlen(keytype) != l2 || strncmp(keytype, f2, l2) != 0) {
            if (result == FABC_KH_NOTFOUND)
                result = FABC_KH_OTHERTYPE;
            continue;
        }
        kl = fabc_b64_decode(f3, l3, kbuf, 16384);
        if (kl == (long)keylen && memcmp(kbuf, key, keylen) == 0) {
            result = FABC_KH_MATCH;
            mismatch_line = lineno;
            break;
        }
        if (!mismatch_line) {
            mismatch_line = lineno;
        }
        result = FABC_KH_MISMATCH;
    }
    fabc_free(kbuf);
    if (line)
        *line = mismatch_line;
    return result;
}

static char *slurp(const char *path, int *missing, struct fabc_err *err)
{
    FILE *f = fopen(path, "r");
    struct fabc_buf b;
    char chunk[8192];
    size_t n;

    *missing = 0;
    fabc_buf_init(&b);
    if (!f) {
        if (errno == ENOENT) {
            *missing = 1;
            return fabc_strdup("");
        }
        fabc_err_set(err, FABC_E_OS, errno, "%s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (fabc_buf_append(&b, chunk, n) < 0) {
            fclose(f);
            fabc_buf_free(&b);
            fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
            return NULL;
        }
    }
    fclose(f);
    return fabc_buf_steal(&b, NULL);
}

int fabc_kh_check_file(const char *path, const char *name,
                       const char *keytype, const unsigned char *key,
                       size_t keylen, int *line, char *types,
                       size_t types_size, struct fabc_err *err)
{
    int missing, r;
    char *text = slurp(path, &missing, err);

    if (!text)
        return -1;
    r = fabc_kh_check_text(text, name, keytype, key, keylen, line, types,
                           types_size, err);
    fabc_free(text);
    return r;
}

int fabc_kh_add(const char *path, const char *name, const char *keytype,
                const unsigned char *key, size_t keylen,
                struct fabc_err *err)
{
    char *b64 = fabc_b64_encode(key, keylen, 1);
    int fd = -1, rc = -1;
    struct fabc_buf line;

    fabc_buf_init(&line);
    if (!b64 || fabc_buf_printf(&line, "%s %s %s\n", name, keytype, b64)) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, line.data, line.len) != (ssize_t)line.len) {
        fabc_err_set(err, FABC_E_HOSTKEY, errno,
                     "cannot record host key in %s: %s", path,
                     strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    fabc_free(b64);
    fabc_buf_free(&line);
    return rc;
}

/* ------------------------------------------------------------------ */
/* targets                                                              */

void fabc_ssh_target_free(struct fabc_ssh_target *t)
{
    if (!t)
        return;
    fabc_ssh_target_free(t->jump);
    fabc_free(t->user);
    fabc_free(t->host);
    fabc_free(t->alias);
    for (size_t i = 0; i < t->nkeys; i++)
        fabc_free(t->keys[i]);
    fabc_free(t->keys);
    if (t->password) {
        explicit_bzero(t->password, strlen(t->password));
        fabc_free(t->password);
    }
    if (t->passphrase) {
        explicit_bzero(t->passphrase, strlen(t->passphrase));
        fabc_free(t->passphrase);
    }
    fabc_free(t->known_hosts);
    fabc_free(t);
}

static int dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = fabc_strdup(src);
    return *dst ? 0 : -1;
}

struct fabc_ssh_target *fabc_ssh_target_dup(const struct fabc_ssh_target *t,
                                            struct fabc_err *err)
{
    struct fabc_ssh_target *d = fabc_calloc(1, sizeof(*d));

    if (!d)
        goto nomem;
    *d = *t;
    d->user = d->host = d->alias = d->password = d->passphrase = NULL;
    d->known_hosts = NULL;
    d->keys = NULL;
    d->nkeys = 0;
    d->jump = NULL;
    if (dup_str(&d->user, t->user) || dup_str(&d->host, t->host) ||
        dup_str(&d->alias, t->alias) || dup_str(&d->password, t->password) ||
        dup_str(&d->passphrase, t->passphrase) ||
        dup_str(&d->known_hosts, t->known_hosts))
        goto nomem;
    if (t->nkeys) {
        d->keys = fabc_calloc(t->nkeys, sizeof(char *));
        if (!d->keys)
            goto nomem;
        for (size_t i = 0; i < t->nkeys; i++) {
            if (dup_str(&d->keys[i], t->keys[i]))
                goto nomem;
            d->nkeys = i + 1;
        }
    }
    if (t->jump) {
        d->jump = fabc_ssh_target_dup(t->jump, err);
        if (!d->jump)
            goto fail;
    }
    return d;
nomem:
    fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
fail:
    fabc_ssh_target_free(d);
    return NULL;
}

static int add_key(struct fabc_ssh_target *t, char *path)
{
    char **n = fabc_realloc(t->keys, (t->nkeys + 1) * sizeof(*n));

    if (!n) {
        fabc_free(path);
        return -1;
    }
    t->keys = n;
    t->keys[t->nkeys++] = path;
    return 0;
}

static struct fabc_ssh_target *resolve(const char *hs,
                                       const struct fabc_ssh_opts *o,
                                       const struct fabc_sshconfig *cfg,
                                       int depth, int jumps,
                                       struct fabc_err *err);

/* Append " via <t->jump's key>" to t's key. Sessions are shared by key,
 * so a key that does not fit is an error rather than cut short (two long
 * chains would share the first 1023 bytes, and so a session). */
static int key_via(struct fabc_ssh_target *t, const char *hs,
                   struct fabc_err *err)
{
    size_t l = strlen(t->key);
    int n = snprintf(t->key + l, sizeof(t->key) - l, " via %s",
                     t->jump->key);

    if (n < 0 || (size_t)n >= sizeof(t->key) - l)
        return fabc_err_set(err, FABC_E_CONFIG, 0,
                            "ProxyJump chain too long at '%s' (more than "
                            "%zu bytes of user@host:port names)",
                            hs, sizeof(t->key) - 1);
    return 0;
}

/* Build the jump chain "a,b,c" (connect to a, then b through a, ...):
 * returns the last element with ->jump set to the previous. */
static struct fabc_ssh_target *resolve_chain(const char *chain,
                                             const struct fabc_ssh_opts *o,
                                             const struct fabc_sshconfig *cfg,
                                             int depth, struct fabc_err *err)
{
    struct fabc_ssh_target *prev = NULL, *t = NULL;
    const char *p = chain;
    char hs[512];

    while (*p) {
        size_t len = strcspn(p, ",");

        while (len && *p == ' ') {
            p++;
            len--;
        }
        if (len == 0 || len >= sizeof(hs)) {
            fabc_err_set(err, FABC_E_CONFIG, 0, "bad ProxyJump '%s'", chain);
            goto fail;
        }
        memcpy(hs, p, len);
        hs[len] = '\0';
        if (strncmp(hs, "ssh://", 6) == 0)
            memmove(hs, hs + 6, strlen(hs + 6) + 1);
        /* The first hop may have its own ProxyJump; later hops go
         * through the previous one. */
        t = resolve(hs, o, cfg, depth + 1, prev ? 0 : 1, err);
        if (!t)
            goto fail;
        if (prev) {
            /* a later hop has no jump of its own (resolved with jumps 0) */
            t->jump = prev;
            prev = t;
            if (key_via(prev, hs, err) < 0)
                goto fail;
        } else {
            prev = t; /* the first hop keeps its own ProxyJump, if any */
        }
        t = NULL;
        p += len;
        if (*p == ',')
            p++;
    }
    return prev;
fail:
    fabc_ssh_target_free(prev);
    return NULL;
}

static struct fabc_ssh_target *resolve(const char *hs,
                                       const struct fabc_ssh_opts *o,
                                       const struct fabc_sshconfig *cfg,
                                       int depth, int jumps,
                                       struct fabc_err *err)
{
    struct fabc_ssh_target *t = NULL;
    struct fabc_sshhost h;
    char *user = NULL, *host = NULL;
    int port = 0;

    fabc_sshhost_init(&h);
    if (depth > 8) {
        fabc_err_set(err, FABC_E_CONFIG, 0,
                     "ProxyJump chain too long at '%s'", hs);
        goto fail;
    }
    if (fabc_ssh_parse_host(hs, &user, &host, &port, err) < 0)
        goto fail;
    if (fabc_sshconfig_lookup(cfg, host, &h, err) < 0)
        goto fail;
    t = fabc_calloc(1, sizeof(*t));
    if (!t)
        goto nomem;
    t->alias = host;
    host = NULL;
    if (user)
        t->user = user;
    else if (h.user)
        t->user = fabc_strdup(h.user);
    else if (o->user && *o->user)
        t->user = fabc_strdup(o->user);
    else
        t->user = fabc_strdup(fabc_ssh_local_user());
    user = NULL;
    if (!t->user)
        goto nomem;
    t->port = port ? port : h.port > 0 ? h.port : o->port > 0 ? o->port : 22;
    if (h.hostname) {
        t->host = fabc_ssh_expand(h.hostname, t->alias, t->port, t->user,
                                  t->alias, err);
        if (!t->host)
            goto fail;
    } else if (!(t->host = fabc_strdup(t->alias))) {
        goto nomem;
    }
    /* keys: -i first, then ssh_config IdentityFile, then defaults */
    for (size_t i = 0; i < o->nkeys; i++) {
        char *k = fabc_ssh_expand(o->keys[i], t->host, t->port, t->user,
                                  t->alias, err);
        if (!k || add_key(t, k) < 0)
            goto fail_or_nomem;
    }
    for (size_t i = 0; i < h.n_identity; i++) {
        char *k = fabc_ssh_expand(h.identity_files[i], t->host, t->port,
                                  t->user, t->alias, err);
        if (!k || add_key(t, k) < 0)
            goto fail_or_nomem;
    }
    if (t->nkeys == 0) {
        static const char *const defaults[] = {
            "~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"};
        for (size_t i = 0; i < 3; i++) {
            char *k = fabc_ssh_expand(defaults[i], t->host, t->port,
                                      t->user, t->alias, err);
            if (!k || add_key(t, k) < 0)
                goto fail_or_nomem;
        }
    }
    t->identities_only = h.identities_only > 0;
    t->use_agent = !o->no_agent && !t->identities_only;
    if (dup_str(&t->password, o->password) ||
        dup_str(&t->passphrase, o->passphrase))
        goto nomem;
    if (o->known_hosts && *o->known_hosts)
        t->known_hosts = fabc_ssh_expand(o->known_hosts, t->host, t->port,
                                         t->user, t->alias, err);
    else if (h.known_hosts)
        t->known_hosts = fabc_ssh_expand(h.known_hosts, t->host, t->port,
                                         t->user, t->alias, err);
    else
        t->known_hosts = fabc_ssh_expand("~/.ssh/known_hosts", t->host,
                                         t->port, t->user, t->alias, err);
    if (!t->known_hosts)
        goto fail;
    if (o->strict >= 0)
        t->strict = o->strict;
    else if (h.strict >= 0)
        t->strict = h.strict;
    else
        t->strict = FABC_STRICT_YES;
    if (o->accept_new && t->strict == FABC_STRICT_YES)
        t->strict = FABC_STRICT_ACCEPT_NEW;
    t->connect_timeout_ms = o->connect_timeout_ms > 0
                                ? o->connect_timeout_ms
                            : h.connect_timeout > 0
                                ? h.connect_timeout * 1000
                                : 10000;
    t->keepalive_s = o->keepalive_s > 0   ? o->keepalive_s
                     : h.server_alive > 0 ? h.server_alive
                                          : 0;
    t->attempts = o->attempts > 0 ? o->attempts : 1;
    t->forward_agent = o->forward_agent || h.forward_agent > 0;
    if (t->port == 22)
        snprintf(t->label, sizeof(t->label), "%s@%s", t->user, t->alias);
    else
        snprintf(t->label, sizeof(t->label), "%s@%s:%d", t->user, t->alias,
                 t->port);
    if (snprintf(t->key, sizeof(t->key), "%s@%s:%d", t->user, t->host,
                 t->port) >= (int)sizeof(t->key)) {
        fabc_err_set(err, FABC_E_CONFIG, 0,
                     "ssh %s: user and host name too long (more than %zu "
                     "bytes)", hs, sizeof(t->key) - 1);
        goto fail;
    }
    if (jumps == 2 && o->gateway && *o->gateway) {
        t->jump = resolve(o->gateway, o, cfg, depth + 1, 1, err);
        if (!t->jump)
            goto fail;
    } else if (jumps >= 1 && h.proxy_jump &&
               strcmp(h.proxy_jump, "none") != 0) {
        t->jump = resolve_chain(h.proxy_jump, o, cfg, depth, err);
        if (!t->jump)
            goto fail;
    }
    if (t->jump && key_via(t, hs, err) < 0)
        goto fail;
    fabc_sshhost_clear(&h);
    return t;
fail_or_nomem:
    if (err && err->code == FABC_E_OK)
        goto nomem;
    goto fail;
nomem:
    fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
fail:
    fabc_free(user);
    fabc_free(host);
    fabc_sshhost_clear(&h);
    fabc_ssh_target_free(t);
    return NULL;
}

int fabc_ssh_target_resolve(struct fabc_ssh_target *t, struct fabc_err *err)
{
    struct addrinfo hints, *ai = NULL;
    char port[16];
    int rc;

    while (t->jump)
        t = t->jump;
    if (t->addrlen)
        return 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", t->port);
    rc = getaddrinfo(t->host, port, &hints, &ai);
    if (rc != 0 || !ai || ai->ai_addrlen > sizeof(t->addr)) {
        fabc_err_set(err, FABC_E_CONNECT, rc,
                     "ssh %s: cannot resolve %s: %s", t->label, t->host,
                     rc ? gai_strerror(rc) : "no address");
        fabc_err_host(err, t->label);
        if (ai)
            freeaddrinfo(ai);
        return -1;
    }
    memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
    t->addrlen = (socklen_t)ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

struct fabc_ssh_target *fabc_ssh_target_new(const char *hs,
                                            const struct fabc_ssh_opts *o,
                                            const struct fabc_sshconfig *cfg,
                                            struct fabc_err *err)
{
    return resolve(hs, o, cfg, 0, 2, err);
}

/* ------------------------------------------------------------------ */
/* engine                                                               */

enum sstate {
    SS_WAIT_JUMP,
    SS_BACKOFF,
    SS_CONNECT,
    SS_CONNECTING,
    SS_HANDSHAKE,
    SS_HOSTKEY,
    SS_AUTH_LIST,
    SS_AUTH_AGENT,
    SS_AUTH_KEY,
    SS_AUTH_PASSWORD,
    SS_READY,
    SS_DEAD
};

enum fstate { F_OPENING, F_OPEN, F_FAILED, F_CLOSING };

enum jstate {
    J_START = 0,
    J_PTY,
    J_EXEC,
    J_IO,
    J_CLOSE,
    J_WAIT,
    J_FREE,
    J_SFTP_INIT,
    J_SFTP
};

struct sess;

struct fwd {
    struct sess *owner; /* the jump session */
    struct sess *user;  /* the session carried; NULL once gone */
    LIBSSH2_CHANNEL *ch;
    int sp;             /* our end of the socketpair */
    int user_fd;        /* the user's end until handed over */
    int state;
    char host[256];
    int port;
    char c2s[32768];
    size_t c2s_len, c2s_off;
    char s2c[32768];
    size_t s2c_len, s2c_off;
    int chan_eof, sock_eof, eof_sent;
    int opening; /* a direct-tcpip open is in progress in libssh2 */
    struct fabc_err err;
    struct fwd *next;
};

struct sess {
    struct fabc_ssh_target *t;
    int state;
    int fd;
    LIBSSH2_SESSION *s;
    LIBSSH2_SFTP *sftp;
    LIBSSH2_AGENT *agent;
    struct libssh2_agent_publickey *ident;
    struct sess *jump;
    struct fwd *fwd;
    struct fwd *fwds;
    int refs;
    struct fabc_ssh_job *qh, *qt, *cur;
    int64_t deadline;
    int attempt;
    size_t key_idx;
    char methods[256];
    char autherr[512];
    int kick;
    short revents;
    int watched;
    short events;
    int64_t next_keepalive;
    int jobs_done;
    /* libssh2 keeps one channel-open state per session: whoever started
     * an open (a job or a forward) finishes it before anyone else opens */
    const void *opener;
    struct fabc_err err;
    struct sess *next;
};

struct fabc_ssh_batch {
    pthread_mutex_t mu;
    int efd;
    size_t remaining;
    atomic_int cancelled;
};

static struct {
    pthread_mutex_t mu;
    int started;
    pthread_t th;
    int stop;
    struct fabc_loop *loop;
    struct fabc_ssh_job *inh, *int_;
    struct sess *sessions;
    atomic_int nsess;
    atomic_int cancel_gen;
} E = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct fabc_ssh_job *fabc_ssh_job_new(enum fabc_ssh_op op)
{
    struct fabc_ssh_job *j = fabc_calloc(1, sizeof(*j));

    if (!j)
        return NULL;
    j->op = op;
    j->exit_status = -1;
    j->mode = -1;
    j->lfd = -1;
    fabc_buf_init(&j->out);
    fabc_buf_init(&j->errout);
    fabc_buf_init(&j->listing);
    fabc_linebuf_init(&j->lb_out);
    fabc_linebuf_init(&j->lb_err);
    return j;
}

void fabc_ssh_job_free(struct fabc_ssh_job *j)
{
    if (!j)
        return;
    fabc_ssh_target_free(j->target);
    fabc_free(j->command);
    fabc_free(j->label);
    fabc_free(j->prompt);
    if (j->answer) {
        explicit_bzero(j->answer, strlen(j->answer));
        fabc_free(j->answer);
    }
    fabc_free(j->local);
    fabc_free(j->remote);
    fabc_buf_free(&j->out);
    fabc_buf_free(&j->errout);
    fabc_buf_free(&j->listing);
    fabc_free(j->iobuf);
    if (j->lfd >= 0)
        close(j->lfd);
    fabc_linebuf_free(&j->lb_out);
    fabc_linebuf_free(&j->lb_err);
    fabc_free(j);
}

struct fabc_ssh_batch *fabc_ssh_batch_new(struct fabc_err *err)
{
    struct fabc_ssh_batch *b = fabc_calloc(1, sizeof(*b));

    if (!b) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        return NULL;
    }
    b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (b->efd < 0) {
        fabc_err_set(err, FABC_E_OS, errno, "eventfd: %s", strerror(errno));
        fabc_free(b);
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    return b;
}

void fabc_ssh_batch_free(struct fabc_ssh_batch *b)
{
    if (!b)
        return;
    close(b->efd);
    pthread_mutex_destroy(&b->mu);
    fabc_free(b);
}

int fabc_ssh_batch_wait(struct fabc_ssh_batch *b, int timeout_ms)
{
    struct pollfd p = {.fd = b->efd, .events = POLLIN};
    size_t left;
    uint64_t v;

    pthread_mutex_lock(&b->mu);
    left = b->remaining;
    pthread_mutex_unlock(&b->mu);
    if (left == 0)
        return 1;
    if (poll(&p, 1, timeout_ms) > 0) {
        ssize_t r = read(b->efd, &v, sizeof(v));
        (void)r;
    }
    pthread_mutex_lock(&b->mu);
    left = b->remaining;
    pthread_mutex_unlock(&b->mu);
    return left == 0;
}

void fabc_ssh_batch_cancel(struct fabc_ssh_batch *b)
{
    atomic_store(&b->cancelled, 1);
    atomic_fetch_add(&E.cancel_gen, 1);
    pthread_mutex_lock(&E.mu);
    if (E.loop)
        fabc_loop_wake(E.loop);
    pthread_mutex_unlock(&E.mu);
}

int fabc_ssh_session_count(void)
{
    return atomic_load(&E.nsess);
}

/* ---- job completion ---- */

static void job_done(struct fabc_ssh_job *j)
{
    struct fabc_ssh_batch *b = j->batch;
    uint64_t one = 1;

    if (j->label && j->show_out)
        fabc_linebuf_flush(&j->lb_out, j->label, FABC_OUT);
    if (j->label && j->show_err)
        fabc_linebuf_flush(&j->lb_err, j->label, FABC_ERR);
    if (j->chan || j->fh || j->lfd >= 0)
        fabc_sftp_abandon(j);
    j->chan = NULL;
    j->ended_ms = fabc_now_ms();
    if (!j->started_ms)
        j->started_ms = j->ended_ms;
    pthread_mutex_lock(&b->mu);
    if (--b->remaining == 0) {
        ssize_t r = write(b->efd, &one, sizeof(one));
        (void)r;
    }
    pthread_mutex_unlock(&b->mu);
}

static void job_fail(struct fabc_ssh_job *j, const struct fabc_err *e)
{
    if (j->err.code == FABC_E_OK) {
        j->err = *e;
        if (!j->err.host[0] && j->target)
            fabc_err_host(&j->err, j->target->label);
    }
    j->chan = NULL; /* freed with the session or already */
    job_done(j);
}

static void fail_code(struct fabc_ssh_job *j, enum fabc_errcode code,
                      const char *msg)
{
    struct fabc_err e;

    fabc_err_clear(&e);
    fabc_err_set(&e, code, 0, "%s", msg);
    job_fail(j, &e);
}

/* ---- sessions ---- */

static LIBSSH2_SEND_FUNC(send_nosig)
{
    ssize_t r;

    (void)abstract;
    r = send(socket, buffer, length, flags | MSG_NOSIGNAL);
    return r < 0 ? -errno : r;
}

static LIBSSH2_RECV_FUNC(recv_plain)
{
    ssize_t r;

    (void)abstract;
    r = recv(socket, buffer, length, flags);
    return r < 0 ? -errno : r;
}

static const char *lib_msg(LIBSSH2_SESSION *s)
{
    char *m = NULL;

    if (!s)
        return "";
    libssh2_session_last_error(s, &m, NULL, 0);
    return m ? m : "";
}

static int is_fatal_rc(int rc)
{
    switch (rc) {
    case LIBSSH2_ERROR_SOCKET_NONE:
    case LIBSSH2_ERROR_BANNER_RECV:
    case LIBSSH2_ERROR_BANNER_SEND:
    case LIBSSH2_ERROR_SOCKET_SEND:
    case LIBSSH2_ERROR_SOCKET_RECV:
    case LIBSSH2_ERROR_SOCKET_DISCONNECT:
    case LIBSSH2_ERROR_SOCKET_TIMEOUT:
    case LIBSSH2_ERROR_TIMEOUT:
    case LIBSSH2_ERROR_PROTO:
    case LIBSSH2_ERROR_KEX_FAILURE:
    case LIBSSH2_ERROR_DECRYPT:
        return 1;
    default:
        return 0;
    }
}

static void on_sess_fd(void *arg, int fd, short re)
{
    struct sess *s = arg;

    (void)fd;
    s->kick = 1;
    s->revents |= re;
}

static void on_fwd_fd(void *arg, int fd, short re)
{
    struct fwd *f = arg;

    (void)fd;
    (void)re;
    if (f->owner)
        f->owner->kick = 1;
}

static void kick_dependents(struct sess *j)
{
    for (struct sess *s = E.sessions; s; s = s->next)
        if (s->jump == j)
            s->kick = 1;
}

static void fwd_close(struct fwd *f)
{
    if (f->sp >= 0) {
        fabc_loop_unwatch(E.loop, f->sp);
        close(f->sp);
        f->sp = -1;
    }
    if (f->user_fd >= 0) {
        close(f->user_fd);
        f->user_fd = -1;
    }
}

/* Release everything a session holds except the struct; the session
 * becomes SS_DEAD. Jobs are the caller's business. */
static void sess_teardown(struct sess *s)
{
    if (s->fd >= 0)
        fabc_loop_unwatch(E.loop, s->fd);
    s->watched = 0;
    for (struct fwd *f = s->fwds; f; f = f->next) {
        fwd_close(f);
        f->ch = NULL;
        if (f->state != F_CLOSING) {
            fabc_err_set(&f->err, FABC_E_CONNECT, 0,
                         "jump host %s: connection lost", s->t->label);
            f->state = F_FAILED;
        }
        if (f->user)
            f->user->kick = 1;
    }
    if (s->fd >= 0)
        shutdown(s->fd, SHUT_RDWR);
    if (s->sftp) {
        for (int i = 0; i < 4 && libssh2_sftp_shutdown(s->sftp) ==
                                     LIBSSH2_ERROR_EAGAIN;
             i++)
            ;
        s->sftp = NULL;
    }
    if (s->agent) {
        libssh2_agent_disconnect(s->agent);
        libssh2_agent_free(s->agent);
        s->agent = NULL;
    }
    if (s->s) {
        for (int i = 0;
             i < 4 && libssh2_session_free(s->s) == LIBSSH2_ERROR_EAGAIN; i++)
            ;
        s->s = NULL;
    }
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->fwd) {
        s->fwd->user = NULL;
        if (s->fwd->state == F_OPEN || s->fwd->state == F_OPENING)
            s->fwd->state = F_CLOSING;
        if (s->fwd->owner)
            s->fwd->owner->kick = 1;
        s->fwd = NULL;
    }
    if (s->state != SS_DEAD)
        atomic_fetch_sub(&E.nsess, 1);
    s->state = SS_DEAD;
    kick_dependents(s);
}

/* Fail the session: every job (current and queued) gets err. */
static void sess_fail(struct sess *s, const struct fabc_err *err)
{
    struct fabc_ssh_job *j;

    s->err = *err;
    if (!s->err.host[0])
        fabc_err_host(&s->err, s->t->label);
    if (s->cur) {
        j = s->cur;
        s->cur = NULL;
        job_fail(j, &s->err);
    }
    while ((j = s->qh)) {
        s->qh = j->next;
        job_fail(j, &s->err);
    }
    s->qt = NULL;
    sess_teardown(s);
}

static int sess_failf(struct sess *s, enum fabc_errcode code, long lib,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int sess_failf(struct sess *s, enum fabc_errcode code, long lib,
                      const char *fmt, ...)
{
    struct fabc_err e;
    va_list ap;
    char msg[1536];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fabc_err_clear(&e);
    fabc_err_set(&e, code, lib, "ssh %s: %s", s->t->label, msg);
    sess_fail(s, &e);
    return 1;
}

/* Connection-phase failure: retry with backoff while attempts remain. */
static int sess_retry_or_fail(struct sess *s, enum fabc_errcode code,
                              long lib, const char *msg)
{
    if (s->attempt < s->t->attempts && !s->jump) {
        int64_t backoff = 500LL << (s->attempt - 1);

        if (backoff > 8000)
            backoff = 8000;
        if (s->fd >= 0)
            fabc_loop_unwatch(E.loop, s->fd);
        s->watched = 0;
        if (s->s) {
            libssh2_session_free(s->s);
            s->s = NULL;
        }
        if (s->fd >= 0) {
            close(s->fd);
            s->fd = -1;
        }
        s->state = SS_BACKOFF;
        s->deadline = fabc_now_ms() + backoff;
        return 1;
    }
    if (s->t->attempts > 1)
        return sess_failf(s, code, lib, "%s (after %d attempts)", msg,
                          s->attempt);
    return sess_failf(s, code, lib, "%s", msg);
}

static struct sess *sess_find_or_new(const struct fabc_ssh_target *t,
                                     struct fabc_err *err);

static struct sess *sess_new(const struct fabc_ssh_target *t,
                             struct fabc_err *err)
{
    struct sess *s = fabc_calloc(1, sizeof(*s));

    if (!s) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        return NULL;
    }
    s->fd = -1;
    s->t = fabc_ssh_target_dup(t, err);
    if (!s->t) {
        fabc_free(s);
        return NULL;
    }
    if (t->jump) {
        s->jump = sess_find_or_new(t->jump, err);
        if (!s->jump) {
            fabc_ssh_target_free(s->t);
            fabc_free(s);
            return NULL;
        }
        s->jump->refs++;
        s->state = SS_WAIT_JUMP;
    } else {
        s->state = SS_CONNECT;
    }
    s->kick = 1;
    s->next = E.sessions;
    E.sessions = s;
    atomic_fetch_add(&E.nsess, 1);
    return s;
}

static struct sess *sess_find_or_new(const struct fabc_ssh_target *t,
                                     struct fabc_err *err)
{
    for (struct sess *s = E.sessions; s; s = s->next)
        if (s->state != SS_DEAD && strcmp(s->t->key, t->key) == 0)
            return s;
    return sess_new(t, err);
}

static void sess_enqueue(struct sess *s, struct fabc_ssh_job *j)
{
    j->next = NULL;
    if (s->qt)
        s->qt->next = j;
    else
        s->qh = j;
    s->qt = j;
    s->kick = 1;
}

static void dispatch(struct fabc_ssh_job *j)
{
    struct fabc_err e;
    struct sess *s;

    fabc_err_clear(&e);
    if (fabc_cancelled() || (j->batch && atomic_load(&j->batch->cancelled))) {
        fail_code(j, FABC_E_INTERRUPTED, "interrupted");
        return;
    }
    s = sess_find_or_new(j->target, &e);
    if (!s) {
        job_fail(j, &e);
        return;
    }
    sess_enqueue(s, j);
}

/* ---- host key ---- */

static const char *hostkey_type_name(int type)
{
    switch (type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA:
        return "ssh-rsa";
    case LIBSSH2_HOSTKEY_TYPE_DSS:
        return "ssh-dss";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
        return "ecdsa-sha2-nistp256";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
        return "ecdsa-sha2-nistp384";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
        return "ecdsa-sha2-nistp521";
    case LIBSSH2_HOSTKEY_TYPE_ED25519:
        return "ssh-ed25519";
    default:
        return "unknown";
    }
}

/* libssh2_session_method_pref() with only the names this libssh2
 * supports (1.10 removes unknown names with an overlapping memcpy). */
static void set_pref(LIBSSH2_SESSION *ls, int method, const char *want)
{
    const char **algs = NULL;
    int n = libssh2_session_supported_algs(ls, method, &algs);
    char out[1024];
    size_t o = 0;
    const char *p = want;

    if (n <= 0)
        return;
    out[0] = '\0';
    while (*p) {
        size_t l = strcspn(p, ",");

        for (int i = 0; i < n; i++) {
            if (strlen(algs[i]) == l && strncmp(algs[i], p, l) == 0 &&
                o + l + 2 < sizeof(out)) {
                if (o)
                    out[o++] = ',';
                memcpy(out + o, p, l);
                o += l;
                out[o] = '\0';
                break;
            }
        }
        p += l + (p[l] == ',');
    }
    libssh2_free(ls, (void *)algs);
    if (o)
        libssh2_session_method_pref(ls, method, out);
}

/* Prefer the host key types known_hosts has for this host, as OpenSSH
 * does, so a known host is verified with the key on record. */
static void set_hostkey_pref(struct sess *s)
{
    char name[300], types[256], pref[512];
    struct fabc_err e;
    const char *p;
    size_t o = 0;
    static const char *const all =
        "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
        "ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa";

    fabc_err_clear(&e);
    fabc_kh_name(name, sizeof(name), s->t->host, s->t->port);
    if (fabc_kh_check_file(s->t->known_hosts, name, "-", NULL, 0, NULL,
                           types, sizeof(types), &e) < 0 ||
        !types[0])
        return;
    pref[0] = '\0';
    for (p = types; *p;) {
        size_t l = strcspn(p, ",");
        const char *add = NULL;
        char one[64];

        if (l < sizeof(one)) {
            memcpy(one, p, l);
            one[l] = '\0';
            add = strcmp(one, "ssh-rsa") == 0
                      ? "rsa-sha2-512,rsa-sha2-256,ssh-rsa"
                      : one;
            o += (size_t)snprintf(pref + o, sizeof(pref) - o, "%s%s",
                                  o ? "," : "", add);
            if (o >= sizeof(pref))
                return;
        }
        p += l + (p[l] == ',');
    }
    snprintf(pref + o, sizeof(pref) - o, ",%s", all);
    set_pref(s->s, LIBSSH2_METHOD_HOSTKEY, pref);
}

static int check_hostkey(struct sess *s)
{
    size_t klen = 0;
    int ktype = 0, line = 0, r;
    const char *key = libssh2_session_hostkey(s->s, &klen, &ktype);
    const char *tname = hostkey_type_name(ktype);
    const unsigned char *sha;
    char name[300], fp[80] = "SHA256:?";
    struct fabc_err e;

    if (!key)
        return sess_failf(s, FABC_E_HOSTKEY, 0, "no host key received");
    sha = (const unsigned char *)libssh2_hostkey_hash(
        s->s, LIBSSH2_HOSTKEY_HASH_SHA256);
    if (sha) {
        char *b = fabc_b64_encode(sha, 32, 0);

        if (b) {
            snprintf(fp, sizeof(fp), "SHA256:%s", b);
            fabc_free(b);
        }
    }
    if (s->t->strict == FABC_STRICT_NO)
        return 0;
    fabc_kh_name(name, sizeof(name), s->t->host, s->t->port);
    fabc_err_clear(&e);
    r = fabc_kh_check_file(s->t->known_hosts, name, tname,
                           (const unsigned char *)key, klen, &line, NULL, 0,
                           &e);
    if (r < 0) {
        sess_fail(s, &e);
        return 1;
    }
    if (r == FABC_KH_MATCH)
        return 0;
    if (r == FABC_KH_MISMATCH) {
        struct fabc_err he;

        fabc_err_clear(&he);
        fabc_err_set(&he, FABC_E_HOSTKEY, 0,
                     "ssh %s: HOST KEY CHANGED for %s: the server offers %s "
                     "key %s, which does not match the key recorded in "
                     "%s:%d (possible man-in-the-middle attack). If the "
                     "change is expected, remove that line "
                     "(ssh-keygen -R '%s' -f %s)",
                     s->t->label, name, tname, fp, s->t->known_hosts, line,
                     name, s->t->known_hosts);
        fabc_err_pos(&he, s->t->known_hosts, line, 0);
        sess_fail(s, &he);
        return 1;
    }
    if (s->t->strict == FABC_STRICT_ACCEPT_NEW && r == FABC_KH_NOTFOUND) {
        fabc_err_clear(&e);
        if (fabc_kh_add(s->t->known_hosts, name, tname,
                        (const unsigned char *)key, klen, &e) < 0) {
            sess_fail(s, &e);
            return 1;
        }
        return 0;
    }
    return sess_failf(
        s, FABC_E_HOSTKEY, 0,
        "unknown host key for %s: %s %s is not in %s%s; to trust it, run "
        "again with --accept-new-hosts (or add it: ssh-keyscan -p %d %s "
        ">> %s)",
        name, tname, fp, s->t->known_hosts,
        r == FABC_KH_OTHERTYPE ? " (only keys of other types are recorded)"
                               : "",
        s->t->port, s->t->host, s->t->known_hosts);
}

/* ---- forwards (jump hosts) ---- */

/* May `who` start or continue a channel open on s? */
static int may_open(struct sess *s, const void *who)
{
    if (s->opener && s->opener != who)
        return 0;
    s->opener = who;
    return 1;
}

static void open_done(struct sess *s, const void *who)
{
    if (s->opener == who)
        s->opener = NULL;
}

/* One step of the direct-tcpip open of f on js: 0 while libssh2 still
 * waits (call again), 1 once it ended (f->ch, or NULL on failure). */
static int fwd_open_step(struct sess *js, struct fwd *f)
{
    f->opening = 1;
    f->ch = libssh2_channel_direct_tcpip_ex(js->s, f->host, f->port,
                                            "127.0.0.1", 22);
    if (!f->ch && libssh2_session_last_errno(js->s) == LIBSSH2_ERROR_EAGAIN)
        return 0;
    f->opening = 0;
    open_done(js, f);
    return 1;
}

static int fwd_pump(struct sess *js, struct fwd *f)
{
    int progress = 0;
    ssize_t n;

    if (f->state == F_CLOSING && f->opening) {
        /* nobody wants it any more, but libssh2 must finish the open it
         * started before another channel can be opened on js */
        if (!fwd_open_step(js, f))
            return 0;
        progress = 1;
    }
    if (f->state == F_CLOSING) {
        if (f->ch) {
            int rc = libssh2_channel_free(f->ch);

            if (rc == LIBSSH2_ERROR_EAGAIN)
                return 0;
            f->ch = NULL;
        }
        fwd_close(f);
        f->state = F_FAILED;
        return 1;
    }
    if (f->state == F_OPENING) {
        int sp[2];

        if (!may_open(js, f))
            return 0; /* another open is in progress on js */
        if (!fwd_open_step(js, f))
            return 0;
        if (!f->ch) {
            int rc = libssh2_session_last_errno(js->s);

            fabc_err_set(&f->err, FABC_E_CONNECT, rc,
                         "jump host %s cannot reach %s:%d: %s", js->t->label,
                         f->host, f->port, lib_msg(js->s));
            f->state = F_FAILED;
            if (f->user)
                f->user->kick = 1;
            return 1;
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       0, sp) < 0) {
            fabc_err_set(&f->err, FABC_E_OS, errno, "socketpair: %s",
                         strerror(errno));
            f->state = F_CLOSING;
            if (f->user)
                f->user->kick = 1;
            return 1;
        }
        f->sp = sp[0];
        f->user_fd = sp[1];
        f->state = F_OPEN;
        if (f->user)
            f->user->kick = 1;
        progress = 1;
    }
    if (f->state != F_OPEN)
        return progress;
    /* channel -> socket */
    for (int guard = 0; guard < 64; guard++) {
        if (f->c2s_off < f->c2s_len) {
            n = send(f->sp, f->c2s + f->c2s_off, f->c2s_len - f->c2s_off,
                     MSG_NOSIGNAL);
            if (n < 0)
                break; /* EAGAIN or the user went away */
            f->c2s_off += (size_t)n;
            progress = 1;
            continue;
        }
        if (f->chan_eof)
            break;
        n = libssh2_channel_read(f->ch, f->c2s, sizeof(f->c2s));
        if (n == LIBSSH2_ERROR_EAGAIN)
            break;
        if (n < 0 || (n == 0 && libssh2_channel_eof(f->ch))) {
            f->chan_eof = 1;
            shutdown(f->sp, SHUT_WR);
            progress = 1;
            break;
        }
        if (n == 0)
            break;
        f->c2s_len = (size_t)n;
        f->c2s_off = 0;
        progress = 1;
    }
    /* socket -> channel */
    for (int guard = 0; guard < 64; guard++) {
        if (f->s2c_off < f->s2c_len) {
            n = libssh2_channel_write(f->ch, f->s2c + f->s2c_off,
                                      f->s2c_len - f->s2c_off);
            if (n == LIBSSH2_ERROR_EAGAIN)
                break;
            if (n < 0) {
                f->sock_eof = 1;
                break;
            }
            f->s2c_off += (size_t)n;
            progress = 1;
            continue;
        }
        if (f->sock_eof) {
            if (!f->eof_sent &&
                libssh2_channel_send_eof(f->ch) != LIBSSH2_ERROR_EAGAIN)
                f->eof_sent = 1;
            break;
        }
        n = recv(f->sp, f->s2c, sizeof(f->s2c), 0);
        if (n < 0)
            break;
        if (n == 0) {
            f->sock_eof = 1;
            progress = 1;
            continue;
        }
        f->s2c_len = (size_t)n;
        f->s2c_off = 0;
        progress = 1;
    }
    return progress;
}

static int pump_fwds(struct sess *js)
{
    int any = 0, progress;
    struct fwd **pp;

    for (int pass = 0; pass < 8; pass++) {
        progress = 0;
        for (struct fwd *f = js->fwds; f; f = f->next)
            progress |= fwd_pump(js, f);
        for (struct fwd *f = js->fwds; f; f = f->next)
            if (f->state == F_OPEN && f->ch && !f->chan_eof &&
                f->c2s_off >= f->c2s_len &&
                libssh2_poll_channel_read(f->ch, 0))
                progress = 1;
        any |= progress;
        if (!progress)
            break;
    }
    /* drop forwards nobody uses any more */
    pp = &js->fwds;
    while (*pp) {
        struct fwd *f = *pp;

        if (f->state == F_FAILED && !f->user) {
            *pp = f->next;
            fwd_close(f);
            fabc_free(f);
            continue;
        }
        pp = &f->next;
    }
    return any;
}

/* ---- exec jobs ---- */

/* Length of the longest suffix of buf[0..len) that is a proper prefix of
 * the prompt (held back from display until we know). */
static size_t partial_prompt(const char *buf, size_t len, const char *pr)
{
    size_t pl = strlen(pr);

    for (size_t k = pl - 1; k > 0; k--)
        if (k <= len && memcmp(buf + len - k, pr, k) == 0)
            return k;
    return 0;
}

/* Remove complete prompts from b (from offset `from`); count them. */
static int cut_prompts(struct fabc_buf *b, size_t from, const char *pr)
{
    size_t pl = strlen(pr);
    int n = 0;

    while (b->len >= pl && from <= b->len - pl) {
        char *hit = memmem(b->data + from, b->len - from, pr, pl);

        if (!hit)
            break;
        memmove(hit, hit + pl, (size_t)(b->data + b->len - hit - pl));
        b->len -= pl;
        b->data[b->len] = '\0';
        from = (size_t)(hit - b->data);
        n++;
    }
    return n;
}

static void job_show(struct fabc_ssh_job *j, int stream)
{
    struct fabc_buf *b = stream ? &j->errout : &j->out;
    size_t *disp = stream ? &j->disp_err : &j->disp_out;
    size_t hold = 0, upto;
    int show = stream ? j->show_err : j->show_out;

    if (j->prompt && *j->prompt)
        hold = partial_prompt(b->data ? b->data : "", b->len, j->prompt);
    upto = b->len - hold;
    if (upto <= *disp)
        return;
    if (show && j->label)
        fabc_linebuf_feed(stream ? &j->lb_err : &j->lb_out, j->label,
                          stream ? FABC_ERR : FABC_OUT, b->data + *disp,
                          upto - *disp);
    *disp = upto;
}

/* Read what a stream has; returns 1 progress, 0 EAGAIN/nothing, -1 error
 * (rc in *rcp). */
static int read_stream(struct fabc_ssh_job *j, int stream, int *rcp)
{
    char buf[32768];
    int progress = 0;
    struct fabc_buf *b = stream ? &j->errout : &j->out;

    for (int guard = 0; guard < 256; guard++) {
        ssize_t n = libssh2_channel_read_ex(j->chan, stream, buf,
                                            sizeof(buf));
        if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
            break;
        if (n < 0) {
            *rcp = (int)n;
            return -1;
        }
        {
            size_t from = b->len > strlen(j->prompt ? j->prompt : "")
                              ? b->len - strlen(j->prompt ? j->prompt : "")
                              : 0;

            if (fabc_buf_append(b, buf, (size_t)n) < 0) {
                *rcp = 0;
                return -1;
            }
            if (j->prompt && *j->prompt) {
                int hits = cut_prompts(b, from, j->prompt);

                /* prompts start past what was shown: a partial one
                 * at the end is held back by job_show */
                j->prompts_seen += hits;
            }
        }
        progress = 1;
    }
    return progress;
}

#define STEP_FATAL (-2) /* the session is unusable: tear it down */

/* Has the peer closed or reset s's connection? libssh2 sometimes reports
 * that as a channel failure, hiding the socket error. */
static int sock_dead(const struct sess *s)
{
    char c;
    ssize_t n;

    if (s->fd < 0)
        return 1;
    n = recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                      errno != EINTR);
}

static int job_errf(struct fabc_ssh_job *j, int ret, enum fabc_errcode code,
                    long lib, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int job_errf(struct fabc_ssh_job *j, int ret, enum fabc_errcode code,
                    long lib, const char *fmt, ...)
{
    va_list ap;
    char msg[1536];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fabc_err_set(&j->err, code, lib, "ssh %s: %s", j->target->label, msg);
    fabc_err_host(&j->err, j->target->label);
    return ret;
}

static int exec_step(struct sess *s, struct fabc_ssh_job *j)
{
    int rc;

    for (;;) {
        switch (j->state) {
        case J_START:
            if (!may_open(s, j))
                return FABC_STEP_AGAIN; /* a forward is opening */
            j->chan = libssh2_channel_open_session(s->s);
            if (!j->chan) {
                rc = libssh2_session_last_errno(s->s);
                if (rc == LIBSSH2_ERROR_EAGAIN)
                    return FABC_STEP_AGAIN;
                open_done(s, j);
                return job_errf(j, STEP_FATAL, FABC_E_CONNECT, rc,
                                "cannot open a session channel: %s",
                                lib_msg(s->s));
            }
            open_done(s, j);
            j->state = j->pty ? J_PTY : J_EXEC;
            break;
        case J_PTY:
            rc = libssh2_channel_request_pty_ex(j->chan, "xterm", 5, NULL, 0,
                                                80, 24, 0, 0);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            if (rc < 0)
                return job_errf(j, is_fatal_rc(rc) ? STEP_FATAL
                                                   : FABC_STEP_ERROR,
                                FABC_E_EXEC, rc, "pty request failed: %s",
                                lib_msg(s->s));
            j->state = J_EXEC;
            break;
        case J_EXEC:
            rc = libssh2_channel_exec(j->chan, j->command);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            if (rc < 0)
                return job_errf(j, is_fatal_rc(rc) ? STEP_FATAL
                                                   : FABC_STEP_ERROR,
                                FABC_E_EXEC, rc, "exec request failed: %s",
                                lib_msg(s->s));
            j->state = J_IO;
            break;
        case J_IO: {
            int r0, r1, progress = 0;

            rc = 0;
            r0 = read_stream(j, 0, &rc);
            if (r0 >= 0)
                r1 = read_stream(j, 1, &rc);
            else
                r1 = -1;
            if (r0 < 0 || r1 < 0)
                return job_errf(
                    j, STEP_FATAL, FABC_E_CONNECT, rc,
                    "connection lost while running the command: %s",
                    rc ? lib_msg(s->s) : "out of memory");
            progress = r0 || r1;
            /* reading one stream may have queued data of the other */
            if (libssh2_poll_channel_read(j->chan, 0) ||
                libssh2_poll_channel_read(j->chan, 1))
                progress = 1;
            job_show(j, 0);
            job_show(j, 1);
            if (j->prompts_seen > (j->answer ? 1 : 0) && !j->auth_failed) {
                /* asked again (wrong password) or no password to give */
                j->auth_failed = 1;
                j->answer_off = j->answer ? strlen(j->answer) + 1 : 0;
            }
            if (j->auth_failed && j->pty && j->blanked < j->prompts_seen) {
                /* on a terminal EOF does not end sudo's read: interrupt
                 * it, and answer every further prompt with an empty line
                 * (sudo gives up after its last try) */
                const char *k = j->eof_sent ? "\n" : "\003\n";
                ssize_t w = libssh2_channel_write(j->chan, k, strlen(k));

                if (w == LIBSSH2_ERROR_EAGAIN)
                    return FABC_STEP_AGAIN;
                if (w < 0)
                    return job_errf(j, STEP_FATAL, FABC_E_CONNECT, w,
                                    "connection lost: %s", lib_msg(s->s));
                j->eof_sent = 1;
                j->blanked = j->prompts_seen;
                progress = 1;
            } else if (j->auth_failed && !j->pty && !j->eof_sent) {
                /* end sudo's password read */
                rc = libssh2_channel_send_eof(j->chan);
                if (rc == LIBSSH2_ERROR_EAGAIN)
                    return FABC_STEP_AGAIN;
                j->eof_sent = 1;
            } else if (j->prompts_seen == 1 && j->answer &&
                       j->answer_off <= strlen(j->answer)) {
                size_t al = strlen(j->answer);
                ssize_t n;

                if (j->answer_off < al)
                    n = libssh2_channel_write(j->chan,
                                              j->answer + j->answer_off,
                                              al - j->answer_off);
                else
                    n = libssh2_channel_write(j->chan, "\n", 1);
                if (n == LIBSSH2_ERROR_EAGAIN)
                    return FABC_STEP_AGAIN;
                if (n < 0)
                    return job_errf(j, STEP_FATAL, FABC_E_CONNECT, n,
                                    "connection lost: %s", lib_msg(s->s));
                j->answer_off += (size_t)n;
                progress = 1;
            }
            if (libssh2_channel_eof(j->chan)) {
                j->state = J_CLOSE;
                break;
            }
            if (!progress)
                return FABC_STEP_AGAIN;
            break;
        }
        case J_CLOSE:
            rc = libssh2_channel_close(j->chan);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            j->state = J_WAIT;
            break;
        case J_WAIT: {
            char *sig = NULL;
            size_t siglen = 0;

            rc = libssh2_channel_wait_closed(j->chan);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            j->exit_status = libssh2_channel_get_exit_status(j->chan);
            if (libssh2_channel_get_exit_signal(j->chan, &sig, &siglen, NULL,
                                                NULL, NULL, NULL) == 0 &&
                sig) {
                snprintf(j->exit_signal, sizeof(j->exit_signal), "%.*s",
                         (int)siglen, sig);
                libssh2_free(s->s, sig);
                /* SSH sends exit-signal instead of exit-status */
                if (j->exit_signal[0])
                    j->exit_status = -1;
            }
            j->state = J_FREE;
            break;
        }
        case J_FREE:
            rc = libssh2_channel_free(j->chan);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            j->chan = NULL;
            if (j->auth_failed)
                return job_errf(
                    j, FABC_STEP_ERROR, FABC_E_AUTH, 0,
                    "sudo: %s",
                    j->answer ? "incorrect sudo password (the prompt came "
                                "again); check env.sudo_password"
                              : "a password is required; set "
                                "env.sudo_password (or --set "
                                "sudo_password=...)");
            return FABC_STEP_DONE;
        default:
            return job_errf(j, FABC_STEP_ERROR, FABC_E_GENERIC, 0,
                            "bad job state %d", j->state);
        }
    }
}

static int job_step(struct sess *s, struct fabc_ssh_job *j)
{
    int rc;

    switch (j->op) {
    case FABC_SSH_CONNECT:
        return FABC_STEP_DONE;
    case FABC_SSH_EXEC:
        return exec_step(s, j);
    default:
        break;
    }
    if (!s->sftp) {
        if (!may_open(s, j))
            return FABC_STEP_AGAIN; /* a forward is opening */
        s->sftp = libssh2_sftp_init(s->s);
        if (!s->sftp) {
            rc = libssh2_session_last_errno(s->s);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            open_done(s, j);
            return job_errf(j, is_fatal_rc(rc) || sock_dead(s)
                                   ? STEP_FATAL
                                   : FABC_STEP_ERROR,
                            FABC_E_SFTP, rc, "cannot start SFTP: %s",
                            lib_msg(s->s));
        }
    }
    open_done(s, j);
    rc = fabc_sftp_step(j, s->s, s->sftp);
    if (rc == FABC_STEP_ERROR &&
        is_fatal_rc((int)libssh2_session_last_errno(s->s)) &&
        j->err.lib_code != LIBSSH2_ERROR_SFTP_PROTOCOL)
        return STEP_FATAL;
    return rc;
}

/* ---- the session state machine ---- */

static int has_method(const char *methods, const char *m)
{
    size_t ml = strlen(m);
    const char *p = methods;

    while (*p) {
        size_t l = strcspn(p, ",");

        if (l == ml && strncmp(p, m, ml) == 0)
            return 1;
        p += l + (p[l] == ',');
    }
    return 0;
}

static void sess_ready(struct sess *s)
{
    s->state = SS_READY;
    s->deadline = 0;
    if (s->t->keepalive_s > 0) {
        libssh2_keepalive_config(s->s, 1, (unsigned)s->t->keepalive_s);
        s->next_keepalive = fabc_now_ms() + s->t->keepalive_s * 1000LL;
    }
    kick_dependents(s);
}

/* Is the private key at path an RSA key? (.pub beside it, PEM header, or
 * the key type inside an OpenSSH-format key.) */
static int key_is_rsa(const char *path)
{
    char buf[4096], pub[4096];
    FILE *f;
    size_t n;
    int rsa = 0;

    snprintf(pub, sizeof(pub), "%s.pub", path);
    f = fopen(pub, "r");
    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return strncmp(buf, "ssh-rsa ", 8) == 0;
    }
    f = fopen(path, "r");
    if (!f)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (strstr(buf, "BEGIN RSA PRIVATE KEY"))
        rsa = 1;
    else if (strstr(buf, "BEGIN OPENSSH PRIVATE KEY")) {
        /* "ssh-rsa" appears base64-encoded after the header fields */
        rsa = strstr(buf, "AAAAB3NzaC1yc2E") != NULL ||
              strstr(buf, "AAAAdzc2gtcnNh") != NULL ||
              strstr(buf, "AAAAHc3NoLXJzYQ") != NULL;
    }
    return rsa;
}

static void note_auth(struct sess *s, const char *what)
{
    size_t l = strlen(s->autherr);

    snprintf(s->autherr + l, sizeof(s->autherr) - l, "%s%s",
             l ? "; " : "", what);
}

/* One step; returns 1 if something changed (call again), 0 if blocked. */
static int sess_step(struct sess *s)
{
    int64_t now = fabc_now_ms();
    int rc;

    if (s->state != SS_READY && s->state != SS_DEAD &&
        s->state != SS_BACKOFF && s->state != SS_WAIT_JUMP &&
        s->state != SS_CONNECT && s->deadline && now >= s->deadline) {
        const char *phase = s->state == SS_CONNECTING ? "TCP connect"
                            : s->state == SS_HANDSHAKE
                                ? "the SSH banner and key exchange"
                                : "authentication";
        char msg[256];

        snprintf(msg, sizeof(msg), "timed out after %d ms waiting for %s",
                 s->t->connect_timeout_ms, phase);
        return sess_retry_or_fail(s, FABC_E_CONNECT, LIBSSH2_ERROR_TIMEOUT,
                                  msg);
    }
    switch (s->state) {
    case SS_WAIT_JUMP: {
        struct sess *j = s->jump;

        if (!s->fwd) {
            struct fwd *f;

            if (j->state == SS_DEAD) {
                struct fabc_err e = j->err;

                if (e.code == FABC_E_OK)
                    fabc_err_set(&e, FABC_E_CONNECT, 0, "connection lost");
                fabc_err_prefix(&e, "ssh %s: via jump host %s",
                                s->t->label, j->t->label);
                fabc_err_host(&e, s->t->label);
                sess_fail(s, &e);
                return 1;
            }
            if (j->state != SS_READY)
                return 0;
            f = fabc_calloc(1, sizeof(*f));
            if (!f)
                return sess_failf(s, FABC_E_NOMEM, 0, "out of memory");
            f->owner = j;
            f->user = s;
            f->sp = f->user_fd = -1;
            f->state = F_OPENING;
            snprintf(f->host, sizeof(f->host), "%s", s->t->host);
            f->port = s->t->port;
            f->next = j->fwds;
            j->fwds = f;
            s->fwd = f;
            j->kick = 1;
            s->deadline = now + s->t->connect_timeout_ms;
            return 0;
        }
        if (s->fwd->state == F_OPEN) {
            s->fd = s->fwd->user_fd;
            s->fwd->user_fd = -1;
            s->state = SS_HANDSHAKE;
            return 1;
        }
        if (s->fwd->state == F_FAILED || s->fwd->state == F_CLOSING) {
            struct fabc_err e = s->fwd->err;

            fabc_err_host(&e, s->t->label);
            if (e.code == FABC_E_OK)
                fabc_err_set(&e, FABC_E_CONNECT, 0, "ssh %s: forward failed",
                             s->t->label);
            sess_fail(s, &e);
            return 1;
        }
        if (s->deadline && now >= s->deadline)
            return sess_failf(s, FABC_E_CONNECT, 0,
                              "timed out opening a channel through %s",
                              j->t->label);
        return 0;
    }
    case SS_BACKOFF:
        if (now < s->deadline)
            return 0;
        s->deadline = 0; /* SS_CONNECT sets the connect deadline */
        s->state = SS_CONNECT;
        return 1;
    case SS_CONNECT: {
        struct fabc_err re;
        int fd, one = 1;

        s->attempt++;
        s->deadline = now + s->t->connect_timeout_ms;
        fabc_err_clear(&re);
        /* normally resolved by the submitting thread already */
        if (!s->t->addrlen && fabc_ssh_target_resolve(s->t, &re) < 0)
            return sess_retry_or_fail(s, FABC_E_CONNECT, re.lib_code,
                                      re.msg);
        fd = socket(s->t->addr.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return sess_failf(s, FABC_E_OS, errno, "socket: %s",
                              strerror(errno));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        s->fd = fd;
        rc = connect(fd, (struct sockaddr *)&s->t->addr, s->t->addrlen);
        if (rc == 0) {
            s->state = SS_HANDSHAKE;
            return 1;
        }
        if (errno == EINPROGRESS) {
            s->state = SS_CONNECTING;
            s->revents = 0;
            return 0;
        }
        {
            char msg[512];

            snprintf(msg, sizeof(msg), "connect to %s port %d: %s",
                     s->t->host, s->t->port, strerror(errno));
            return sess_retry_or_fail(s, FABC_E_CONNECT, errno, msg);
        }
    }
    case SS_CONNECTING: {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        if (!(s->revents & (POLLOUT | POLLERR | POLLHUP)))
            return 0;
        s->revents = 0;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            soerr = errno;
        if (soerr) {
            char msg[512];

            snprintf(msg, sizeof(msg), "connect to %s port %d: %s",
                     s->t->host, s->t->port, strerror(soerr));
            return sess_retry_or_fail(s, FABC_E_CONNECT, soerr, msg);
        }
        s->state = SS_HANDSHAKE;
        return 1;
    }
    case SS_HANDSHAKE:
        if (!s->s) {
            s->s = libssh2_session_init_ex(NULL, NULL, NULL, s);
            if (!s->s)
                return sess_failf(s, FABC_E_NOMEM, 0,
                                  "cannot create an SSH session");
            libssh2_session_callback_set(s->s, LIBSSH2_CALLBACK_SEND,
                                         (void *)send_nosig);
            libssh2_session_callback_set(s->s, LIBSSH2_CALLBACK_RECV,
                                         (void *)recv_plain);
            libssh2_session_set_blocking(s->s, 0);
            set_pref(s->s, LIBSSH2_METHOD_CRYPT_CS,
                     "aes128-ctr,aes256-ctr,aes192-ctr,aes128-cbc,"
                     "aes256-cbc");
            set_pref(s->s, LIBSSH2_METHOD_CRYPT_SC,
                     "aes128-ctr,aes256-ctr,aes192-ctr,aes128-cbc,"
                     "aes256-cbc");
            set_hostkey_pref(s);
        }
        rc = libssh2_session_handshake(s->s, (libssh2_socket_t)s->fd);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return 0;
        if (rc < 0) {
            char msg[768];

            snprintf(msg, sizeof(msg), "SSH handshake failed: %s",
                     lib_msg(s->s));
            return sess_retry_or_fail(s, FABC_E_CONNECT, rc, msg);
        }
        s->state = SS_HOSTKEY;
        return 1;
    case SS_HOSTKEY:
        if (check_hostkey(s))
            return 1;
        s->state = SS_AUTH_LIST;
        return 1;
    case SS_AUTH_LIST: {
        const char *list = libssh2_userauth_list(
            s->s, s->t->user, (unsigned)strlen(s->t->user));

        if (!list) {
            rc = libssh2_session_last_errno(s->s);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return 0;
            if (libssh2_userauth_authenticated(s->s)) {
                sess_ready(s);
                return 1;
            }
            return sess_failf(s, FABC_E_AUTH, rc,
                              "cannot list auth methods for '%s': %s",
                              s->t->user, lib_msg(s->s));
        }
        snprintf(s->methods, sizeof(s->methods), "%s", list);
        s->key_idx = 0;
        if (s->t->use_agent && getenv("SSH_AUTH_SOCK") &&
            has_method(s->methods, "publickey"))
            s->state = SS_AUTH_AGENT;
        else
            s->state = SS_AUTH_KEY;
        return 1;
    }
    case SS_AUTH_AGENT:
        if (!s->agent) {
            s->agent = libssh2_agent_init(s->s);
            if (!s->agent || libssh2_agent_connect(s->agent) != 0 ||
                libssh2_agent_list_identities(s->agent) != 0 ||
                libssh2_agent_get_identity(s->agent, &s->ident, NULL) != 0) {
                note_auth(s, "ssh-agent: no usable identity");
                s->state = SS_AUTH_KEY;
                return 1;
            }
        }
        rc = libssh2_agent_userauth(s->agent, s->t->user, s->ident);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return 0;
        if (rc == 0) {
            sess_ready(s);
            return 1;
        }
        if (is_fatal_rc(rc))
            return sess_failf(s, FABC_E_CONNECT, rc,
                              "connection lost during auth: %s",
                              lib_msg(s->s));
        if (libssh2_agent_get_identity(s->agent, &s->ident, s->ident) != 0) {
            note_auth(s, "ssh-agent keys refused");
            s->state = SS_AUTH_KEY;
        }
        return 1;
    case SS_AUTH_KEY:
        while (s->key_idx < s->t->nkeys &&
               has_method(s->methods, "publickey")) {
            const char *k = s->t->keys[s->key_idx];

            if (access(k, R_OK) != 0) {
                s->key_idx++;
                continue;
            }
            rc = libssh2_userauth_publickey_fromfile_ex(
                s->s, s->t->user, (unsigned)strlen(s->t->user), NULL, k,
                s->t->passphrase ? s->t->passphrase : "");
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return 0;
            if (rc == 0) {
                sess_ready(s);
                return 1;
            }
            if (is_fatal_rc(rc))
                return sess_failf(s, FABC_E_CONNECT, rc,
                                  "connection lost during auth: %s",
                                  lib_msg(s->s));
            {
                char what[1200];

                snprintf(what, sizeof(what), "key %s: %s%s", k,
                         rc == LIBSSH2_ERROR_FILE
                             ? "cannot read it (encrypted? wrong "
                               "passphrase?)"
                             : lib_msg(s->s),
                         rc != LIBSSH2_ERROR_FILE && key_is_rsa(k)
                             ? " (libssh2 1.10 signs RSA keys with "
                               "ssh-rsa/SHA-1, which OpenSSH 8.8+ refuses "
                               "by default: use an ed25519 or ecdsa key, "
                               "or allow PubkeyAcceptedAlgorithms +ssh-rsa "
                               "on the server)"
                             : "");
                note_auth(s, what);
            }
            s->key_idx++;
        }
        s->state = SS_AUTH_PASSWORD;
        return 1;
    case SS_AUTH_PASSWORD:
        if (s->t->password && has_method(s->methods, "password")) {
            rc = libssh2_userauth_password_ex(
                s->s, s->t->user, (unsigned)strlen(s->t->user),
                s->t->password, (unsigned)strlen(s->t->password), NULL);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return 0;
            if (rc == 0) {
                sess_ready(s);
                return 1;
            }
            if (is_fatal_rc(rc))
                return sess_failf(s, FABC_E_CONNECT, rc,
                                  "connection lost during auth: %s",
                                  lib_msg(s->s));
            note_auth(s, "password rejected");
        } else if (s->t->password) {
            note_auth(s, "server does not accept passwords");
        }
        return sess_failf(s, FABC_E_AUTH, LIBSSH2_ERROR_AUTHENTICATION_FAILED,
                          "authentication failed for user '%s' (server "
                          "offers: %s)%s%s",
                          s->t->user, s->methods, s->autherr[0] ? ": " : "",
                          s->autherr);
    case SS_READY: {
        int progress = 0;

        if (s->fwds)
            progress |= pump_fwds(s);
        if (!s->cur && s->qh) {
            s->cur = s->qh;
            s->qh = s->cur->next;
            if (!s->qh)
                s->qt = NULL;
            s->cur->next = NULL;
            s->cur->started_ms = now;
            s->cur->deadline =
                s->cur->timeout_ms > 0 ? now + s->cur->timeout_ms : 0;
            progress = 1;
        }
        if (s->cur) {
            struct fabc_ssh_job *j = s->cur;

            if (j->deadline && now >= j->deadline) {
                s->cur = NULL;
                fabc_err_set(&j->err, FABC_E_TIMEOUT, 0,
                             "ssh %s: command timed out after %.3g s; the "
                             "channel was closed",
                             s->t->label, (double)j->timeout_ms / 1000.0);
                fabc_err_host(&j->err, s->t->label);
                job_fail(j, &j->err);
                /* The remote command cannot be stopped cleanly over the
                 * channel with libssh2 1.10: drop the connection, which
                 * ends the remote session. Queued jobs get a new one. */
                {
                    struct fabc_ssh_job *q = s->qh;

                    s->qh = s->qt = NULL;
                    sess_teardown(s);
                    while (q) {
                        struct fabc_ssh_job *nx = q->next;

                        dispatch(q);
                        q = nx;
                    }
                }
                return 1;
            }
            rc = job_step(s, j);
            if (rc == FABC_STEP_AGAIN)
                return progress;
            open_done(s, j);
            s->cur = NULL;
            if (rc == FABC_STEP_DONE) {
                s->jobs_done++;
                job_done(j);
                return 1;
            }
            if (rc == STEP_FATAL) {
                struct fabc_ssh_job *q = s->qh;

                s->qh = s->qt = NULL;
                if (s->jobs_done > 0 && j->state == J_START) {
                    /* a cached connection went away while idle: retry
                     * the job on a fresh one */
                    fabc_err_clear(&j->err);
                    sess_teardown(s);
                    dispatch(j);
                } else {
                    struct fabc_err e = j->err;

                    job_done(j);
                    sess_teardown(s);
                    s->err = e;
                }
                while (q) {
                    struct fabc_ssh_job *nx = q->next;

                    dispatch(q);
                    q = nx;
                }
                return 1;
            }
            s->jobs_done++;
            job_done(j);
            return 1;
        }
        if (s->t->keepalive_s > 0 && now >= s->next_keepalive) {
            int secs = 0;

            rc = libssh2_keepalive_send(s->s, &secs);
            if (rc < 0 && rc != LIBSSH2_ERROR_EAGAIN) {
                sess_teardown(s);
                return 1;
            }
            s->next_keepalive = now + (secs > 0 ? secs : 1) * 1000LL;
        }
        return progress;
    }
    case SS_DEAD:
    default:
        return 0;
    }
}

/* ---- the loop ---- */

static void sess_watch(struct sess *s)
{
    short ev = 0;
    struct fabc_err e;

    fabc_err_clear(&e);
    if (s->state == SS_DEAD || s->fd < 0)
        return;
    if (s->state == SS_CONNECTING) {
        ev = POLLOUT;
    } else if (s->state >= SS_HANDSHAKE && s->s) {
        int dir = libssh2_session_block_directions(s->s);
        int active = s->state != SS_READY || s->cur || s->fwds;

        if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
            ev |= POLLIN;
        if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
            ev |= POLLOUT;
        if (active && !ev)
            ev = POLLIN;
        if (!active)
            ev = 0;
    }
    if (ev) {
        if (!s->watched || s->events != ev) {
            if (fabc_loop_watch(E.loop, s->fd, ev, on_sess_fd, s, &e) == 0) {
                s->watched = 1;
                s->events = ev;
            }
        }
    } else if (s->watched) {
        fabc_loop_unwatch(E.loop, s->fd);
        s->watched = 0;
    }
    for (struct fwd *f = s->fwds; f; f = f->next) {
        short fe = 0;

        if (f->sp < 0 || f->state != F_OPEN)
            continue;
        if (f->c2s_off < f->c2s_len)
            fe |= POLLOUT;
        if (f->s2c_off >= f->s2c_len && !f->sock_eof)
            fe |= POLLIN;
        if (fe)
            fabc_loop_watch(E.loop, f->sp, fe, on_fwd_fd, f, &e);
        else
            fabc_loop_unwatch(E.loop, f->sp);
    }
}

static void sess_drive(struct sess *s)
{
    s->kick = 0;
    for (int guard = 0; guard < 10000; guard++)
        if (!sess_step(s))
            break;
    s->revents = 0;
    sess_watch(s);
}

static int64_t sess_deadline(const struct sess *s)
{
    int64_t d = 0;

    if (s->state == SS_DEAD)
        return 0;
    if (s->state != SS_READY)
        d = s->deadline;
    if (s->cur && s->cur->deadline && (!d || s->cur->deadline < d))
        d = s->cur->deadline;
    if (s->state == SS_READY && s->t->keepalive_s > 0 &&
        (!d || s->next_keepalive < d))
        d = s->next_keepalive;
    return d;
}

static void fail_all(enum fabc_errcode code, const char *msg, int all)
{
    for (struct sess *s = E.sessions; s; s = s->next) {
        int hit = all;

        if (s->state == SS_DEAD)
            continue;
        if (!hit) {
            if (s->cur && atomic_load(&s->cur->batch->cancelled))
                hit = 1;
            for (struct fabc_ssh_job *q = s->qh; q && !hit; q = q->next)
                if (atomic_load(&q->batch->cancelled))
                    hit = 1;
        }
        if (hit) {
            struct fabc_err e;

            fabc_err_clear(&e);
            fabc_err_set(&e, code, 0, "ssh %s: %s", s->t->label, msg);
            sess_fail(s, &e);
        }
    }
}

/* Free dead sessions nobody depends on. */
static void reap(void)
{
    struct sess **pp = &E.sessions;
    int again = 1;

    while (again) {
        again = 0;
        pp = &E.sessions;
        while (*pp) {
            struct sess *s = *pp;

            if (s->state == SS_DEAD && s->refs == 0 && !s->fwds) {
                *pp = s->next;
                if (s->jump) {
                    s->jump->refs--;
                    again = 1;
                }
                fabc_ssh_target_free(s->t);
                fabc_free(s);
                continue;
            }
            if (s->state == SS_DEAD && s->fwds) {
                struct fwd *f = s->fwds;

                while (f) {
                    struct fwd *nx = f->next;

                    if (f->user)
                        f->user->fwd = NULL;
                    fwd_close(f);
                    fabc_free(f);
                    f = nx;
                }
                s->fwds = NULL;
                again = 1;
            }
            pp = &s->next;
        }
    }
}

/* Direct sessions first say goodbye (bounded), then everything goes. */
static void close_all(void)
{
    for (struct sess *s = E.sessions; s; s = s->next) {
        if (s->state == SS_READY && s->s && !s->cur && !s->jump) {
            libssh2_session_set_blocking(s->s, 1);
            libssh2_session_set_timeout(s->s, 500);
            libssh2_session_disconnect(s->s, "fabc: done");
        }
    }
    for (struct sess *s = E.sessions; s; s = s->next)
        if (s->jump && s->state != SS_DEAD)
            sess_teardown(s);
    for (struct sess *s = E.sessions; s; s = s->next)
        if (s->state != SS_DEAD) {
            struct fabc_err e;

            fabc_err_clear(&e);
            fabc_err_set(&e, FABC_E_INTERRUPTED, 0, "ssh %s: shutting down",
                         s->t->label);
            sess_fail(s, &e);
        }
    reap();
}

static void *engine_main(void *arg)
{
    sigset_t all;
    int seen_gen = 0, cancelled_seen = 0;
    struct fabc_err err;

    (void)arg;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        struct fabc_ssh_job *in;
        int stop, gen, woken = 0, again;
        int64_t deadline = -1, now;

        pthread_mutex_lock(&E.mu);
        in = E.inh;
        E.inh = E.int_ = NULL;
        stop = E.stop;
        pthread_mutex_unlock(&E.mu);
        while (in) {
            struct fabc_ssh_job *nx = in->next;

            dispatch(in);
            in = nx;
        }
        if (fabc_cancelled()) {
            if (!cancelled_seen)
                fail_all(FABC_E_INTERRUPTED, "interrupted", 1);
            cancelled_seen = 1;
        } else {
            cancelled_seen = 0;
        }
        gen = atomic_load(&E.cancel_gen);
        if (gen != seen_gen) {
            seen_gen = gen;
            fail_all(FABC_E_INTERRUPTED, "interrupted", 0);
        }
        if (stop) {
            close_all();
            break;
        }
        for (int pass = 0; pass < 16; pass++) {
            again = 0;
            now = fabc_now_ms();
            for (struct sess *s = E.sessions; s; s = s->next) {
                int64_t d = sess_deadline(s);

                if (s->kick || (d && now >= d)) {
                    sess_drive(s);
                    again = 1;
                }
            }
            reap();
            if (!again)
                break;
        }
        for (struct sess *s = E.sessions; s; s = s->next) {
            int64_t d = sess_deadline(s);

            if (s->kick)
                d = fabc_now_ms();
            if (d && (deadline < 0 || d < deadline))
                deadline = d;
        }
        fabc_err_clear(&err);
        if (fabc_loop_once(E.loop, deadline, &woken, &err) < 0)
            usleep(10000); /* poll failed (EINVAL/ENOMEM): don't spin */
    }
    return NULL;
}

int fabc_ssh_submit(struct fabc_ssh_batch *b, struct fabc_ssh_job **jobs,
                    size_t n, struct fabc_err *err)
{
    int rc = -1;

    pthread_mutex_lock(&E.mu);
    if (!E.started) {
        E.loop = fabc_loop_new(err);
        if (!E.loop)
            goto out;
        E.stop = 0;
        if (pthread_create(&E.th, NULL, engine_main, NULL) != 0) {
            fabc_err_set(err, FABC_E_OS, errno,
                         "cannot start the SSH engine thread");
            fabc_loop_free(E.loop);
            E.loop = NULL;
            goto out;
        }
        E.started = 1;
    }
    pthread_mutex_lock(&b->mu);
    b->remaining += n;
    pthread_mutex_unlock(&b->mu);
    for (size_t i = 0; i < n; i++) {
        jobs[i]->batch = b;
        jobs[i]->next = NULL;
        if (E.int_)
            E.int_->next = jobs[i];
        else
            E.inh = jobs[i];
        E.int_ = jobs[i];
    }
    fabc_loop_wake(E.loop);
    rc = 0;
out:
    pthread_mutex_unlock(&E.mu);
    return rc;
}

void fabc_ssh_shutdown(void)
{
    pthread_t th;

    pthread_mutex_lock(&E.mu);
    if (!E.started) {
        pthread_mutex_unlock(&E.mu);
        return;
    }
    E.stop = 1;
    fabc_loop_wake(E.loop);
    th = E.th;
    pthread_mutex_unlock(&E.mu);
    pthread_join(th, NULL);
    pthread_mutex_lock(&E.mu);
    fabc_loop_free(E.loop);
    E.loop = NULL;
    E.started = 0;
    E.stop = 0;
    pthread_mutex_unlock(&E.mu);
}
