/* rest.c — libcurl HTTP layer: one multi handle per client (its connection
 * cache is reused), waits on curl_multi_poll plus a private wake pipe so a
 * cancel ends them at once, retries with backoff for idempotent requests,
 * error translation into struct fabc_err, --debug logging with secrets
 * redacted, a YAML reader (libyaml) for clouds.yaml and Heat templates. */
#include "rest.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <yaml.h>

#include "out.h"

#ifndef FABC_VERSION
#define FABC_VERSION "0"
#endif

#define CHECK_BODY_MAX (1024 * 1024)
#define CHECK_MAX_PARALLEL 64

struct fabc_rest {
    CURLM *multi;
    pthread_mutex_t lock;
    int wake[2];
    long timeout_ms;
    long connect_timeout_ms;
    int retries;
    struct fabc_rest_tls tls; /* strings owned (tls_copy) */
    char service[32];
};

static atomic_int rest_debug_on;
static atomic_long rest_requests;

void fabc_rest_set_debug(int on) { atomic_store(&rest_debug_on, on ? 1 : 0); }
int fabc_rest_debug(void) { return atomic_load(&rest_debug_on); }
long fabc_rest_request_count(void) { return atomic_load(&rest_requests); }

static void debug_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void debug_log(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n] = '\n';
    fabc_out_raw(2, line, (size_t)n + 1);
}

/* ------------------------------------------------------------ pipes */

static int make_pipe(int fds[2], struct fabc_err *err)
{
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
        return fabc_err_set(err, FABC_E_OS, errno, "pipe: %s",
                            strerror(errno));
    return 0;
}

static void drain(int fd)
{
    char b[64];

    while (read(fd, b, sizeof(b)) > 0)
        ;
}

/* Sleep ms, or less if cancelled. -1 with FABC_E_INTERRUPTED on cancel. */
static int cancellable_sleep(const int wake[2], long ms, struct fabc_err *err)
{
    struct pollfd p = {.fd = wake[0], .events = POLLIN};
    int64_t end = fabc_now_ms() + ms;
    int ret = 0;

    fabc_cancel_add_wakefd(wake[1]);
    for (int i = 0; i < 100000; i++) {
        int64_t left = end - fabc_now_ms();

        if (fabc_cancelled()) {
            ret = fabc_err_set(err, FABC_E_INTERRUPTED, 0, "interrupted");
            break;
        }
        if (left <= 0)
            break;
        if (poll(&p, 1, (int)left) > 0)
            drain(wake[0]);
    }
    fabc_cancel_del_wakefd(wake[1]);
    return ret;
}

/* ------------------------------------------------------------ TLS */

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

static void tls_clear(struct fabc_rest_tls *t)
{
    fabc_free((char *)t->cacert);
    fabc_free((char *)t->cert);
    fabc_free((char *)t->key);
    memset(t, 0, sizeof(*t));
}

/* dst gets copies of src's strings (an empty one becomes NULL); dst is
 * cleared first. 0, or -1 with err and dst cleared. */
static int tls_copy(struct fabc_rest_tls *dst, const struct fabc_rest_tls *src,
                    struct fabc_err *err)
{
    const char *from[3] = {nonempty(src->cacert), nonempty(src->cert),
                           nonempty(src->key)};
    char *to[3] = {NULL, NULL, NULL};
    int ret = -1;

    tls_clear(dst);
    for (int i = 0; i < 3; i++) {
        if (!from[i])
            continue;
        to[i] = fabc_strdup(from[i]);
        if (!to[i]) {
            fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
            goto out;
        }
    }
    dst->insecure = src->insecure;
    dst->cacert = to[0];
    dst->cert = to[1];
    dst->key = to[2];
    to[0] = to[1] = to[2] = NULL;
    ret = 0;
out:
    for (int i = 0; i < 3; i++)
        fabc_free(to[i]);
    return ret;
}

/* A client key is only used with a client certificate: reject one given
 * alone rather than ignore it. 0, or -1 with err (`code`). */
static int tls_check(const struct fabc_rest_tls *t, const char *label,
                     enum fabc_errcode code, struct fabc_err *err)
{
    if (t && nonempty(t->key) && !nonempty(t->cert))
        return fabc_err_set(err, code, 0,
                            "%s: a client key (key %s) needs a client "
                            "certificate (cert)", label, t->key);
    return 0;
}

/* Verification, CA bundle and client certificate of one handle. A cacert
 * replaces the system's CAs (bundle and directory), as openstacksdk's
 * verify=<cacert> does. */
static void tls_setopt(CURL *easy, const struct fabc_rest_tls *t)
{
    int insecure = t && t->insecure;

    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, insecure ? 0L : 2L);
    if (!t)
        return;
    if (!insecure && nonempty(t->cacert)) {
        curl_easy_setopt(easy, CURLOPT_CAINFO, t->cacert);
        curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
    }
    if (nonempty(t->cert)) {
        curl_easy_setopt(easy, CURLOPT_SSLCERT, t->cert);
        curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (nonempty(t->key)) {
        curl_easy_setopt(easy, CURLOPT_SSLKEY, t->key);
        curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
    }
}

/* ------------------------------------------------------------ client */

struct fabc_rest *fabc_rest_new(const struct fabc_rest_opts *opts,
                                struct fabc_err *err)
{
    struct fabc_rest *r = fabc_calloc(1, sizeof(*r));
    struct fabc_rest *ret = NULL;

    if (!r) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    r->wake[0] = r->wake[1] = -1;
    pthread_mutex_init(&r->lock, NULL);
    r->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 60000;
    r->connect_timeout_ms = opts && opts->connect_timeout_ms > 0
                                ? opts->connect_timeout_ms : 10000;
    r->retries = opts && opts->retries >= 0 ? opts->retries : 3;
    fabc_strlcpy(r->service, opts && opts->service ? opts->service : "http",
                 sizeof(r->service));
    if (opts && (tls_check(&opts->tls, r->service, FABC_E_CONFIG, err) < 0 ||
                 tls_copy(&r->tls, &opts->tls, err) < 0))
        goto out;
    if (make_pipe(r->wake, err) < 0)
        goto out;
    r->multi = curl_multi_init();
    if (!r->multi) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "curl_multi_init failed");
        goto out;
    }
    curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS, 8L);
    ret = r;
    r = NULL;
out:
    fabc_rest_free(r);
    return ret;
}

void fabc_rest_free(struct fabc_rest *r)
{
    if (!r)
        return;
    if (r->multi)
        curl_multi_cleanup(r->multi);
    if (r->wake[0] >= 0)
        close(r->wake[0]);
    if (r->wake[1] >= 0)
        close(r->wake[1]);
    pthread_mutex_destroy(&r->lock);
    tls_clear(&r->tls);
    fabc_free(r);
}

void fabc_rest_resp_init(struct fabc_rest_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    fabc_buf_init(&resp->body);
    fabc_buf_init(&resp->headers);
}

static void resp_clear_headers(struct fabc_rest_resp *resp)
{
    fabc_free(resp->location);
    fabc_free(resp->subject_token);
    fabc_free(resp->content_type);
    resp->location = resp->subject_token = resp->content_type = NULL;
    resp->request_id[0] = '\0';
    fabc_buf_reset(&resp->headers);
}

void fabc_rest_resp_free(struct fabc_rest_resp *resp)
{
    if (!resp)
        return;
    resp_clear_headers(resp);
    fabc_buf_free(&resp->body);
    fabc_buf_free(&resp->headers);
}

/* ------------------------------------------------------------ callbacks */

struct sink {
    struct fabc_buf *buf;
    size_t max;
    int oom;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = sz * n, keep = len;

    if (s->max && s->buf->len + keep > s->max)
        keep = s->buf->len < s->max ? s->max - s->buf->len : 0;
    if (keep && fabc_buf_append(s->buf, p, keep) < 0) {
        s->oom = 1;
        return 0;
    }
    return len;
}

/* Copy the value of header line `p` (len bytes) if its name is `name`. */
static char *header_value(const char *p, size_t len, const char *name)
{
    size_t nl = strlen(name);
    const char *v, *e;

    if (len <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
        return NULL;
    v = p + nl + 1;
    e = p + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
        e--;
    return fabc_strndup(v, (size_t)(e - v));
}

struct hdr_ctx {
    struct fabc_rest_resp *resp;
    int oom;
};

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct hdr_ctx *h = ud;
    struct fabc_rest_resp *resp = h->resp;
    size_t len = sz * n;
    char *v;

    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* a new response (after a redirect or 100): forget the last */
        resp_clear_headers(resp);
        return len;
    }
    if (len > 2 && fabc_buf_append(&resp->headers, p, len) < 0)
        h->oom = 1;
    if ((v = header_value(p, len, "location"))) {
        fabc_free(resp->location);
        resp->location = v;
    } else if ((v = header_value(p, len, "x-subject-token"))) {
        fabc_free(resp->subject_token);
        resp->subject_token = v;
    } else if ((v = header_value(p, len, "content-type"))) {
        fabc_free(resp->content_type);
        resp->content_type = v;
    } else if ((v = header_value(p, len, "x-openstack-request-id")) ||
               (v = header_value(p, len, "x-compute-request-id"))) {
        fabc_strlcpy(resp->request_id, v, sizeof(resp->request_id));
        fabc_free(v);
    }
    return len;
}

/* ------------------------------------------------------------ redaction */

/* 1 if the kl bytes at k contain a secret word (case-insensitive). */
static int secret_key(const char *k, size_t kl)
{
    static const char *const words[] = {"password", "secret", "token",
                                        "authorization", "cookie"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t wl = strlen(words[i]);

        for (size_t j = 0; j + wl <= kl; j++)
            if (strncasecmp(k + j, words[i], wl) == 0)
                return 1;
    }
    return 0;
}

char *fabc_rest_redact_header(const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    size_t nl = colon ? (size_t)(colon - line) : 0;
    struct fabc_buf b;
    char *ret = NULL;

    fabc_buf_init(&b);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    /* the whole name is looked at, however long */
    if (colon && secret_key(line, nl) &&
        !(nl == 22 && !strncasecmp(line, "x-openstack-request-id", nl))) {
        if (fabc_buf_append(&b, line, (size_t)(colon - line)) < 0 ||
            fabc_buf_puts(&b, ": ***") < 0)
            goto out;
    } else if (fabc_buf_append(&b, line, len) < 0) {
        goto out;
    }
    ret = fabc_buf_steal(&b, NULL);
out:
    fabc_buf_free(&b);
    return ret;
}

/* Replace secrets in j. A value under a secret key is "***" when it is a
 * scalar; a list under one has every scalar replaced, at any depth; an
 * object under one is walked, and its own "id" replaced too (Keystone's
 * {"token": {"id": ...}}), so that a token reply's catalog stays visible.
 * `secret`: j is the value of a secret key. */
static void redact_json(json_t *j, int secret)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_object(j)) {
        json_object_foreach(j, k, v) {
            int s = secret_key(k, strlen(k));

            if ((s || (secret && !strcmp(k, "id"))) &&
                !json_is_object(v) && !json_is_array(v))
                json_object_set_new(j, k, json_string("***"));
            else
                redact_json(v, s);
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            if (secret && !json_is_object(v) && !json_is_array(v))
                json_array_set_new(j, i, json_string("***"));
            else
                redact_json(v, secret && json_is_array(v));
        }
    }
}

char *fabc_rest_redact_body(const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    char *ret = NULL, *s = NULL;
    struct fabc_buf b;

    fabc_buf_init(&b);
    if (!j) {
        if (fabc_buf_printf(&b, "<%zu bytes>", len) < 0)
            goto out;
        ret = fabc_buf_steal(&b, NULL);
        goto out;
    }
    redact_json(j, 0);
    s = json_dumps(j, JSON_COMPACT);
    if (s)
        ret = fabc_strdup(s);
out:
    free(s);
    json_decref(j);
    fabc_buf_free(&b);
    return ret;
}

/* ------------------------------------------------------------ messages */

/* in as one line into out: runs of white space become one space, other
 * control characters (a terminal escape from a server) become '?', and
 * with `tags` (an HTML page) <...> becomes a space. */
static void collapse_text(const char *in, size_t len, int tags, char *out,
                          size_t size)
{
    size_t o = 0;
    int in_tag = 0, space = 1;

    if (!size)
        return;
    for (size_t i = 0; i < len && o + 1 < size; i++) {
        unsigned char c = (unsigned char)in[i];

        if (tags && c == '<') {
            in_tag = 1;
            continue;
        }
        if (in_tag) {
            if (c == '>') {
                in_tag = 0;
                if (!space) {
                    out[o++] = ' ';
                    space = 1;
                }
            }
            continue;
        }
        if (isspace(c)) {
            if (!space) {
                out[o++] = ' ';
                space = 1;
            }
            continue;
        }
        out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        space = 0;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

void fabc_rest_service_message(const char *body, size_t len, char *out,
                               size_t size)
{
    json_t *j = NULL, *e;
    const char *m = NULL, *t, *x;
    char *both = NULL;

    if (!size)
        return;
    out[0] = '\0';
    if (!body || !len)
        return;
    j = json_loadb(body, len, 0, NULL);
    if (json_is_object(j)) {
        e = json_object_get(j, "error");
        if (json_is_object(e))
            m = jstr(e, "message");
        else if (json_is_string(e))
            m = json_string_value(e);
        if (!m)
            m = jstr(j, "message");
        if (!m)
            m = jstr(j, "faultstring");
        if (!m) {
            /* nova-style {"itemNotFound": {"message": ...}} */
            const char *k;
            json_t *v;

            json_object_foreach(j, k, v) {
                if (json_is_object(v) && (m = jstr(v, "message")))
                    break;
            }
        }
        if (m) {
            collapse_text(m, strlen(m), 0, out, size);
            goto out;
        }
        t = jstr(j, "title");
        x = jstr(j, "explanation");
        if (t || x) {
            both = fabc_malloc((t ? strlen(t) : 0) + (x ? strlen(x) : 0) +
                               3);
            if (!both)
                goto out;
            sprintf(both, "%s%s%s", t ? t : "", t && x ? ": " : "",
                    x ? x : "");
            collapse_text(both, strlen(both), 0, out, size);
            goto out;
        }
    }
    /* JSON we do not understand is shown compactly; anything else is
     * taken for text or an HTML page */
    collapse_text(body, len, !j, out, size);
out:
    fabc_free(both);
    json_decref(j);
}

/* ------------------------------------------------------------ requests */

static int idempotent(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT") ||
           !strcmp(m, "DELETE") || !strcmp(m, "OPTIONS");
}

/* One transfer's outcome: curl's code and words, and what its TLS
 * handshake showed (from curl's verbose text, see on_curl_text). */
struct attempt {
    CURLcode cc;
    char errbuf[CURL_ERROR_SIZE];
    int cert_requested; /* the server asked for a client certificate */
    int alert_in;       /* the server sent a TLS alert (not close notify) */
    long os_errno;      /* CURLINFO_OS_ERRNO: why a connect failed, or 0 */
};

static void attempt_reset(struct attempt *a)
{
    a->cc = CURLE_OK;
    a->errbuf[0] = '\0';
    a->cert_requested = a->alert_in = 0;
    a->os_errno = 0;
}

/* CURLOPT_DEBUGFUNCTION: notes the handshake messages that explain a
 * connection the server drops right after the handshake. A TLS 1.3
 * server checks the client certificate after the handshake, so a refused
 * one ends the transfer with a send or receive error ("Connection reset
 * by peer", "getpeername() failed") as often as with the alert itself.
 * Only curl's informational text is read; headers and data (tokens) are
 * not looked at. */
static int on_curl_text(CURL *h, curl_infotype type, char *data,
                        size_t size, void *ud)
{
    struct attempt *a = ud;

    (void)h;
    if (type != CURLINFO_TEXT)
        return 0;
    if (memmem(data, size, "Request CERT", 12))
        a->cert_requested = 1;
    if (memmem(data, size, "(IN), TLS alert", 15) &&
        !memmem(data, size, "close notify", 12))
        a->alert_in = 1;
    return 0;
}

/* Only an https URL has a handshake to watch: plain http requests (the
 * Heat polls and health checks of most clouds) skip curl's verbose text. */
static void watch_tls(CURL *easy, struct attempt *a, const char *url)
{
    if (strncasecmp(url, "https://", 8) != 0)
        return;
    curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, on_curl_text);
    curl_easy_setopt(easy, CURLOPT_DEBUGDATA, a);
    curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);
}

/* TLS failures that curl reports with their own code. */
static int tls_code(CURLcode c)
{
    switch (c) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
        return 1;
    default:
        return 0;
    }
}

/* A send or receive error that is the server ending the TLS session:
 * a TLS alert ("tlsv13 alert certificate required" in curl's words, or
 * one seen in the handshake), or a connection dropped by a server that
 * had asked for a client certificate (see on_curl_text). Not transient. */
static int tls_alert(const struct attempt *a)
{
    if (a->cc != CURLE_RECV_ERROR && a->cc != CURLE_SEND_ERROR &&
        a->cc != CURLE_GOT_NOTHING)
        return 0;
    return (strstr(a->errbuf, "SSL") && strstr(a->errbuf, " alert ")) ||
           a->alert_in || a->cert_requested;
}

static int retryable_curl(const struct attempt *a)
{
    return (a->cc == CURLE_COULDNT_CONNECT || a->cc == CURLE_GOT_NOTHING ||
            a->cc == CURLE_SEND_ERROR || a->cc == CURLE_RECV_ERROR ||
            a->cc == CURLE_PARTIAL_FILE) && !tls_alert(a);
}

static long clamp_timeout(long t, int64_t deadline)
{
    int64_t left;

    if (!deadline)
        return t;
    left = deadline - fabc_now_ms();
    if (left < 1)
        left = 1;
    return left < t ? (long)left : t;
}

static struct curl_slist *add_header(struct curl_slist *l, const char *h,
                                     int *oom)
{
    struct curl_slist *n = curl_slist_append(l, h);

    if (!n) {
        *oom = 1;
        return l;
    }
    return n;
}

static void debug_request(const struct fabc_rest *r,
                          const struct fabc_rest_req *req,
                          const struct curl_slist *hdrs)
{
    const char *label = req->label ? req->label : r->service;

    debug_log("DEBUG: %s REQ %s %s", label, req->method, req->url);
    for (const struct curl_slist *h = hdrs; h; h = h->next) {
        char *red = fabc_rest_redact_header(h->data, strlen(h->data));

        if (red)
            debug_log("DEBUG: %s REQ   %s", label, red);
        fabc_free(red);
    }
    if (req->body && req->body_len) {
        char *red = fabc_rest_redact_body(req->body, req->body_len);

        if (red)
            debug_log("DEBUG: %s REQ   body %.1500s", label, red);
        fabc_free(red);
    }
    if (req->upload_path)
        debug_log("DEBUG: %s REQ   body from file %s", label,
                  req->upload_path);
}

static void debug_response(const struct fabc_rest *r,
                           const struct fabc_rest_req *req,
                           const struct fabc_rest_resp *resp,
                           const struct attempt *a)
{
    const char *label = req->label ? req->label : r->service;
    const char *p = resp->headers.data, *e;

    if (a->cc != CURLE_OK) {
        debug_log("DEBUG: %s RESP %s %s: %s (%.0f ms)", label, req->method,
                  req->url, a->errbuf[0] ? a->errbuf
                                         : curl_easy_strerror(a->cc),
                  resp->elapsed * 1000);
        return;
    }
    debug_log("DEBUG: %s RESP %ld %s %s (%.0f ms)%s%s", label, resp->status,
              req->method, req->url, resp->elapsed * 1000,
              resp->request_id[0] ? " " : "", resp->request_id);
    for (; p && *p; p = e + 1) {
        char *red;

        e = strchr(p, '\n');
        if (!e)
            break;
        red = fabc_rest_redact_header(p, (size_t)(e - p));
        if (red && *red)
            debug_log("DEBUG: %s RESP   %s", label, red);
        fabc_free(red);
    }
    if (resp->body.len) {
        char *red = fabc_rest_redact_body(resp->body.data, resp->body.len);

        if (red)
            debug_log("DEBUG: %s RESP   body %.1500s", label, red);
        fabc_free(red);
    }
}

/* Run one easy handle on r->multi until done or cancelled. */
static int run_easy(struct fabc_rest *r, CURL *easy, CURLcode *cc,
                    struct fabc_err *err)
{
    struct curl_waitfd wfd = {.fd = r->wake[0], .events = CURL_WAIT_POLLIN};
    int running = 1, ret = -1, added = 0;
    CURLMcode mc;
    CURLMsg *msg;
    int left;

    mc = curl_multi_add_handle(r->multi, easy);
    if (mc != CURLM_OK) {
        fabc_err_set(err, FABC_E_HTTP, mc, "curl_multi_add_handle: %s",
                     curl_multi_strerror(mc));
        goto out;
    }
    added = 1;
    fabc_cancel_add_wakefd(r->wake[1]);
    /* bounded by the request's own curl timeout; the cap is a safety net */
    for (long i = 0; running && i < 10000000L; i++) {
        mc = curl_multi_perform(r->multi, &running);
        if (mc != CURLM_OK) {
            fabc_err_set(err, FABC_E_HTTP, mc, "curl_multi_perform: %s",
                         curl_multi_strerror(mc));
            goto out;
        }
        if (!running)
            break;
        mc = curl_multi_poll(r->multi, &wfd, 1, 1000, NULL);
        if (mc != CURLM_OK) {
            fabc_err_set(err, FABC_E_HTTP, mc, "curl_multi_poll: %s",
                         curl_multi_strerror(mc));
            goto out;
        }
        if (wfd.revents)
            drain(r->wake[0]);
        if (fabc_cancelled()) {
            fabc_err_set(err, FABC_E_INTERRUPTED, 0, "interrupted");
            goto out;
        }
    }
    *cc = CURLE_OK;
    while ((msg = curl_multi_info_read(r->multi, &left))) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
            *cc = msg->data.result;
    }
    ret = 0;
out:
    if (added) {
        fabc_cancel_del_wakefd(r->wake[1]);
        curl_multi_remove_handle(r->multi, easy);
    }
    return ret;
}

static int perform_once(struct fabc_rest *r, const struct fabc_rest_req *req,
                        struct fabc_rest_resp *resp, struct attempt *a,
                        struct fabc_err *err)
{
    struct curl_slist *hdrs = NULL;
    struct sink sink = {.buf = &resp->body};
    struct hdr_ctx hc = {.resp = resp};
    FILE *upload = NULL;
    CURL *easy = NULL;
    char line[8192];
    int ret = -1, oom = 0;
    long timeout, redirects = 0;
    double total = 0;

    attempt_reset(a);
    fabc_buf_reset(&resp->body);
    resp_clear_headers(resp);
    resp->status = 0;
    easy = curl_easy_init();
    if (!easy) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "curl_easy_init failed");
        goto out;
    }
    timeout = clamp_timeout(req->timeout_ms ? req->timeout_ms : r->timeout_ms,
                            req->deadline_ms);
    curl_easy_setopt(easy, CURLOPT_URL, req->url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     r->connect_timeout_ms < timeout ? r->connect_timeout_ms
                                                     : timeout);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, a->errbuf);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &hc);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, req->no_follow ? 0L : 1L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    tls_setopt(easy, &r->tls);
    watch_tls(easy, a, req->url);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "fabc/" FABC_VERSION);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);

    hdrs = add_header(hdrs, "Accept: application/json", &oom);
    hdrs = add_header(hdrs, "Expect:", &oom);
    if (req->token) {
        snprintf(line, sizeof(line), "X-Auth-Token: %s", req->token);
        hdrs = add_header(hdrs, line, &oom);
    }
    if (req->body || req->upload_path) {
        snprintf(line, sizeof(line), "Content-Type: %s",
                 req->content_type ? req->content_type : "application/json");
        hdrs = add_header(hdrs, line, &oom);
    }
    if (oom) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
    if (req->upload_path) {
        struct stat sb;

        upload = fopen(req->upload_path, "rb");
        if (!upload || fstat(fileno(upload), &sb) < 0) {
            fabc_err_set(err, FABC_E_OS, errno, "cannot read %s: %s",
                         req->upload_path, strerror(errno));
            goto out;
        }
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_READDATA, upload);
        curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)sb.st_size);
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (!strcmp(req->method, "GET")) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(req->method, "HEAD")) {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
        if (req->body) {
            curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body);
            curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)req->body_len);
        }
    }
    if (fabc_rest_debug())
        debug_request(r, req, hdrs);
    atomic_fetch_add(&rest_requests, 1);
    if (run_easy(r, easy, &a->cc, err) < 0)
        goto out;
    if (sink.oom || hc.oom) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &a->os_errno);
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &total);
    curl_easy_getinfo(easy, CURLINFO_REDIRECT_COUNT, &redirects);
    resp->elapsed = total;
    resp->attempts++;
    /* every followed redirect was one more request on the wire */
    atomic_fetch_add(&rest_requests, redirects);
    if (fabc_rest_debug()) {
        char *eff = NULL;

        curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &eff);
        for (long i = 0; i < redirects; i++)
            debug_log("DEBUG: %s REQ %s %s (redirect %ld)",
                      req->label ? req->label : r->service,
                      !strcmp(req->method, "POST") ? "GET" : req->method,
                      i + 1 == redirects && eff ? eff : "(intermediate)",
                      i + 1);
        debug_response(r, req, resp, a);
    }
    ret = 0;
out:
    if (upload)
        fclose(upload);
    curl_slist_free_all(hdrs);
    if (easy)
        curl_easy_cleanup(easy);
    return ret;
}

static void http_error(struct fabc_err *err, const char *label,
                       const struct fabc_rest_req *req,
                       const struct fabc_rest_resp *resp)
{
    char svc[1024];

    fabc_rest_service_message(resp->body.data, resp->body.len, svc,
                              sizeof(svc));
    fabc_err_set(err, FABC_E_HTTP, resp->status, "%s %s %s: HTTP %ld%s%s%s%s%s",
                 label, req->method, req->url, resp->status,
                 svc[0] ? ": " : "", svc,
                 resp->request_id[0] ? " (request " : "", resp->request_id,
                 resp->request_id[0] ? ")" : "");
    err->status = (int)resp->status;
}

/* Why a TLS failure happened, as far as fabc can tell beyond curl's
 * words: each configured file that cannot be read ("; cacert PATH: No
 * such file or directory"), the system CAs used for lack of a cacert when
 * the issuer is unknown, a client certificate asked for but not given.
 * Writes "" if nothing. */
static void tls_reasons(char *out, size_t size, const struct attempt *a,
                        const struct fabc_rest_tls *t)
{
    static const char *const names[] = {"cacert", "cert", "key"};
    const char *paths[3] = {NULL, NULL, NULL};
    size_t o = 0;
    int n;

    out[0] = '\0';
    if (t) {
        paths[0] = t->insecure ? NULL : nonempty(t->cacert);
        paths[1] = nonempty(t->cert);
        paths[2] = nonempty(t->key);
    }
    for (int i = 0; i < 3; i++) {
        if (!paths[i] || access(paths[i], R_OK) == 0)
            continue;
        n = snprintf(out + o, size - o, "; %s %s: %s", names[i], paths[i],
                     strerror(errno));
        if (n < 0 || (size_t)n >= size - o)
            return;
        o += (size_t)n;
    }
    if (o)
        return;
    if ((a->cc == CURLE_PEER_FAILED_VERIFICATION ||
         a->cc == CURLE_SSL_ISSUER_ERROR) && !paths[0] &&
        !(t && t->insecure) &&
        (strstr(a->errbuf, "issuer") || strstr(a->errbuf, "self-signed") ||
         strstr(a->errbuf, "self signed")))
        snprintf(out, size, " (no cacert given: the system's CA "
                            "certificates were used)");
    else if (a->cert_requested && !paths[1])
        snprintf(out, size, " (the server asked for a client certificate "
                            "and none was given: cert and key)");
    else if (a->cert_requested && tls_alert(a))
        snprintf(out, size, " (the server asked for a client certificate "
                            "and ended the session after the handshake: "
                            "was cert %s refused?)", paths[1]);
}

static void transport_error(struct fabc_err *err, const char *label,
                            const struct fabc_rest_req *req,
                            const struct attempt *a,
                            const struct fabc_rest_tls *tls)
{
    const char *words = a->errbuf[0] ? a->errbuf : curl_easy_strerror(a->cc);
    enum fabc_errcode code = FABC_E_HTTP;
    const char *what = "request failed";
    char why[1200] = "";

    if (a->cc == CURLE_COULDNT_CONNECT || a->cc == CURLE_COULDNT_RESOLVE_HOST ||
        a->cc == CURLE_COULDNT_RESOLVE_PROXY) {
        code = FABC_E_CONNECT;
        what = "cannot connect";
        /* curl 7.88's error buffer leaves out the system's reason */
        if (a->os_errno > 0 && !strstr(words, strerror((int)a->os_errno)))
            snprintf(why, sizeof(why), " (%s)",
                     strerror((int)a->os_errno));
    } else if (a->cc == CURLE_OPERATION_TIMEDOUT) {
        code = FABC_E_TIMEOUT;
        what = "timed out";
    } else if (tls_code(a->cc) || tls_alert(a)) {
        code = FABC_E_CONNECT;
        what = "TLS failure";
        tls_reasons(why, sizeof(why), a, tls);
    }
    fabc_err_set(err, code, a->cc, "%s %s %s: %s: %s%s", label, req->method,
                 req->url, what, words, why);
    err->status = 0;
}

int fabc_rest_do(struct fabc_rest *r, const struct fabc_rest_req *req,
                 struct fabc_rest_resp *resp, struct fabc_err *err)
{
    const char *label = req->label ? req->label : r->service;
    int tries = 1 + ((req->no_retry || !idempotent(req->method)) ? 0
                                                                 : r->retries);
    long backoff = 500;
    struct attempt a = {0};
    int ret = -1, locked = 0;

    pthread_mutex_lock(&r->lock);
    locked = 1;
    resp->attempts = 0;
    for (int i = 0; i < tries; i++) {
        int again;

        if (perform_once(r, req, resp, &a, err) < 0)
            goto out;
        again = (a.cc != CURLE_OK && retryable_curl(&a)) ||
                (a.cc == CURLE_OK &&
                 (resp->status == 502 || resp->status == 503 ||
                  resp->status == 504));
        if (!again || i + 1 == tries)
            break;
        if (req->deadline_ms && fabc_now_ms() + backoff >= req->deadline_ms)
            break;
        if (fabc_rest_debug())
            debug_log("DEBUG: %s retry %d of %s %s in %ld ms", label, i + 1,
                      req->method, req->url, backoff);
        if (cancellable_sleep(r->wake, backoff, err) < 0)
            goto out;
        backoff = backoff * 2 > 4000 ? 4000 : backoff * 2;
    }
    if (a.cc != CURLE_OK)
        transport_error(err, label, req, &a, &r->tls);
    else if (resp->status >= 400 || resp->status < 100 ||
             (resp->status >= 300 && !req->no_follow))
        http_error(err, label, req, resp);
    else
        ret = 0;
    if (ret < 0 && err) {
        fabc_strlcpy(err->method, req->method, sizeof(err->method));
        fabc_strlcpy(err->url, req->url, sizeof(err->url));
        fabc_strlcpy(err->request_id, resp->request_id,
                     sizeof(err->request_id));
    }
out:
    if (locked)
        pthread_mutex_unlock(&r->lock);
    return ret;
}

int fabc_rest_sleep(struct fabc_rest *r, long ms, struct fabc_err *err)
{
    return cancellable_sleep(r->wake, ms, err);
}

json_t *fabc_rest_json(const struct fabc_rest_resp *resp, const char *what,
                       struct fabc_err *err)
{
    json_error_t je;
    json_t *j;

    j = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0,
                   &je);
    if (!j)
        fabc_err_set(err, FABC_E_HTTP, resp->status,
                     "%s: response is not JSON (HTTP %ld): %s", what,
                     resp->status, je.text);
    return j;
}

/* ------------------------------------------------------------ URLs */

int fabc_rest_urlenc(struct fabc_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            if (fabc_buf_append(b, s, 1) < 0)
                return -1;
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};

            if (fabc_buf_append(b, e, 3) < 0)
                return -1;
        }
    }
    return 0;
}

char *fabc_rest_join(const char *base, const char *path)
{
    size_t bl = strlen(base);
    struct fabc_buf b;

    fabc_buf_init(&b);
    while (bl && base[bl - 1] == '/')
        bl--;
    while (*path == '/')
        path++;
    if (fabc_buf_append(&b, base, bl) < 0 || fabc_buf_puts(&b, "/") < 0 ||
        fabc_buf_puts(&b, path) < 0) {
        fabc_buf_free(&b);
        return NULL;
    }
    return fabc_buf_steal(&b, NULL);
}

/* ------------------------------------------------------------ check_many */

void fabc_rest_check_free(struct fabc_rest_check *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        fabc_buf_free(&items[i].body);
        fabc_buf_free(&items[i].headers);
    }
}

struct check_ctx {
    struct fabc_rest_check *item;
    struct sink sink;
    struct attempt a;
    CURL *easy;
};

static size_t on_check_header(char *p, size_t sz, size_t n, void *ud)
{
    struct fabc_rest_check *it = ud;
    size_t len = sz * n;

    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        fabc_buf_reset(&it->headers);
        return len;
    }
    if (len > 2 && fabc_buf_append(&it->headers, p, len) < 0)
        return 0;
    return len;
}

static int check_start(CURLM *m, struct check_ctx *c, long timeout_ms,
                       const struct fabc_rest_tls *tls)
{
    c->easy = curl_easy_init();
    if (!c->easy)
        return -1;
    c->sink.buf = &c->item->body;
    c->sink.max = CHECK_BODY_MAX;
    curl_easy_setopt(c->easy, CURLOPT_URL, c->item->url);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    attempt_reset(&c->a);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->a.errbuf);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &c->sink);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, on_check_header);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c->item);
    curl_easy_setopt(c->easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c->easy, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    tls_setopt(c->easy, tls);
    watch_tls(c->easy, &c->a, c->item->url);
    curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "fabc/" FABC_VERSION);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    if (curl_multi_add_handle(m, c->easy) != CURLM_OK)
        return -1;
    atomic_fetch_add(&rest_requests, 1);
    return 0;
}

static void check_finish(struct check_ctx *c, CURLcode cc, long expect,
                         const struct fabc_rest_tls *tls)
{
    struct fabc_rest_check *it = c->item;
    double total = 0;

    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &it->status);
    curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME, &total);
    it->elapsed = total;
    fabc_err_clear(&it->err);
    if (cc != CURLE_OK) {
        struct fabc_rest_req req = {.method = "GET", .url = it->url};

        c->a.cc = cc;
        curl_easy_getinfo(c->easy, CURLINFO_OS_ERRNO, &c->a.os_errno);
        transport_error(&it->err, "http", &req, &c->a, tls);
        it->status = 0;
    } else if (expect > 0 && it->status != expect) {
        char svc[512];

        fabc_rest_service_message(it->body.data, it->body.len, svc,
                                  sizeof(svc));
        fabc_err_set(&it->err, FABC_E_HTTP, it->status,
                     "http GET %s: HTTP %ld, expected %ld%s%.300s", it->url,
                     it->status, expect, svc[0] ? ": " : "", svc);
        it->err.status = (int)it->status;
    }
    if (it->err.code != FABC_E_OK) {
        fabc_strlcpy(it->err.method, "GET", sizeof(it->err.method));
        fabc_strlcpy(it->err.url, it->url, sizeof(it->err.url));
    }
    if (fabc_rest_debug())
        debug_log("DEBUG: http RESP %ld GET %s (%.0f ms)", it->status,
                  it->url, total * 1000);
}

int fabc_rest_check_many(struct fabc_rest_check *items, size_t n,
                         long expect, long timeout_ms,
                         const struct fabc_rest_tls *tls,
                         struct fabc_err *err)
{
    struct check_ctx *ctx = NULL;
    int wake[2] = {-1, -1};
    size_t next = 0, active = 0;
    CURLM *m = NULL;
    int ret = -1, registered = 0;

    if (timeout_ms <= 0)
        timeout_ms = 10000;
    for (size_t i = 0; i < n; i++) {
        fabc_buf_init(&items[i].body);
        fabc_buf_init(&items[i].headers);
        fabc_err_clear(&items[i].err);
        items[i].status = 0;
        items[i].elapsed = 0;
    }
    if (tls_check(tls, "http", FABC_E_USAGE, err) < 0)
        return -1;
    if (!n)
        return 0;
    ctx = fabc_calloc(n, sizeof(*ctx));
    m = curl_multi_init();
    if (!ctx || !m) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    if (make_pipe(wake, err) < 0)
        goto out;
    fabc_cancel_add_wakefd(wake[1]);
    registered = 1;
    for (size_t i = 0; i < n; i++)
        ctx[i].item = &items[i];
    /* every handle has its own timeout, so the loop ends; the count cap is
     * a safety net */
    for (long iter = 0; iter < 10000000L; iter++) {
        struct curl_waitfd wfd = {.fd = wake[0], .events = CURL_WAIT_POLLIN};
        int running = 0, left;
        CURLMsg *msg;

        while (next < n && active < CHECK_MAX_PARALLEL) {
            if (check_start(m, &ctx[next], timeout_ms, tls) < 0) {
                fabc_err_set(err, FABC_E_NOMEM, 0, "cannot start request");
                goto out;
            }
            if (fabc_rest_debug())
                debug_log("DEBUG: http REQ GET %s", items[next].url);
            next++;
            active++;
        }
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left))) {
            struct check_ctx *c = NULL;

            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &c);
            check_finish(c, msg->data.result, expect, tls);
            curl_multi_remove_handle(m, c->easy);
            curl_easy_cleanup(c->easy);
            c->easy = NULL;
            active--;
        }
        if (!active && next == n)
            break;
        curl_multi_poll(m, &wfd, 1, 1000, NULL);
        if (wfd.revents)
            drain(wake[0]);
        if (fabc_cancelled()) {
            fabc_err_set(err, FABC_E_INTERRUPTED, 0, "interrupted");
            goto out;
        }
    }
    ret = 0;
out:
    if (registered)
        fabc_cancel_del_wakefd(wake[1]);
    for (size_t i = 0; ctx && i < n; i++) {
        if (ctx[i].easy) {
            curl_multi_remove_handle(m, ctx[i].easy);
            curl_easy_cleanup(ctx[i].easy);
        }
    }
    if (m)
        curl_multi_cleanup(m);
    if (wake[0] >= 0)
        close(wake[0]);
    if (wake[1] >= 0)
        close(wake[1]);
    fabc_free(ctx);
    return ret;
}

/* ------------------------------------------------------------ files */

char *fabc_rest_read_file(const char *path, size_t *len, struct fabc_err *err)
{
    struct fabc_buf b;
    FILE *f = fopen(path, "rb");
    char chunk[16384];
    char *ret = NULL;
    size_t n;

    fabc_buf_init(&b);
    if (!f) {
        fabc_err_set(err, FABC_E_OS, errno, "cannot open %s: %s", path,
                     strerror(errno));
        goto out;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (fabc_buf_append(&b, chunk, n) < 0) {
            fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
            goto out;
        }
    }
    if (ferror(f)) {
        fabc_err_set(err, FABC_E_OS, errno, "cannot read %s: %s", path,
                     strerror(errno));
        goto out;
    }
    if (fabc_buf_append(&b, "", 0) < 0) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    if (len)
        *len = b.len;
    ret = fabc_buf_steal(&b, NULL);
out:
    if (f)
        fclose(f);
    fabc_buf_free(&b);
    return ret;
}

/* ------------------------------------------------------------ YAML */

#define YAML_MAX_DEPTH 200

struct yaml_ctx {
    yaml_parser_t parser;
    const char *name;
    json_t *anchors; /* anchor name -> value */
    struct fabc_err *err;
    int depth;
    /* the mappings and sequences being built, outermost first: an alias
     * to one of them would make a reference cycle */
    json_t *open[YAML_MAX_DEPTH + 1];
    int n_open;
};

static int yaml_fail(struct yaml_ctx *y, const yaml_mark_t *mark,
                     const char *what)
{
    fabc_err_set(y->err, FABC_E_CONFIG, 0, "%s:%zu:%zu: %s", y->name,
                 mark->line + 1, mark->column + 1, what);
    fabc_err_pos(y->err, y->name, (int)mark->line + 1,
                 (int)mark->column + 1);
    return -1;
}

static int next_event(struct yaml_ctx *y, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&y->parser, ev)) {
        char what[512];

        snprintf(what, sizeof(what), "YAML error: %s%s%s",
                 y->parser.problem ? y->parser.problem : "syntax error",
                 y->parser.context ? " " : "",
                 y->parser.context ? y->parser.context : "");
        return yaml_fail(y, &y->parser.problem_mark, what);
    }
    return 0;
}

static int all_digits(const char *s, int (*ok)(int))
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!ok((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static int is_dec(int c) { return c >= '0' && c <= '9'; }
static int is_oct(int c) { return c >= '0' && c <= '7'; }

static json_t *plain_scalar(const char *s)
{
    static const char *const trues[] = {"true", "True", "TRUE", "yes", "Yes",
                                        "YES", "on", "On", "ON"};
    static const char *const falses[] = {"false", "False", "FALSE", "no",
                                         "No", "NO", "off", "Off", "OFF"};
    const char *d = s;
    char clean[64];
    size_t o = 0;

    if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
        !strcmp(s, "NULL"))
        return json_null();
    for (size_t i = 0; i < 9; i++) {
        if (!strcmp(s, trues[i]))
            return json_true();
        if (!strcmp(s, falses[i]))
            return json_false();
    }
    if (strlen(s) >= sizeof(clean))
        return json_string(s);
    for (const char *p = s; *p; p++)
        if (*p != '_')
            clean[o++] = *p;
    clean[o] = '\0';
    d = clean;
    if (*d == '-' || *d == '+')
        d++;
    if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X') && d[2]) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(clean, &end, 16);
        if (!*end && !errno)
            return json_integer(v);
    } else if (all_digits(d, is_dec) && !(d[0] == '0' && d[1])) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(clean, &end, 10);
        if (!*end && !errno)
            return json_integer(v);
    } else if (d[0] == '0' && d[1] && all_digits(d + 1, is_oct)) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(clean, &end, 8);
        if (!*end && !errno)
            return json_integer(v);
    } else if (strchr(d, '.')) {
        /* PyYAML 1.1: a float needs a dot; "1e5" stays a string */
        int digits = 0, ok = 1, exp = 0;

        for (const char *p = d; *p && ok; p++) {
            if (is_dec((unsigned char)*p))
                digits = 1;
            else if (*p == '.' && !exp)
                ;
            else if ((*p == 'e' || *p == 'E') && digits && !exp &&
                     (p[1] == '+' || p[1] == '-')) {
                exp = 1;
                p++;
            } else
                ok = 0;
        }
        if (ok && digits) {
            char *end;
            double v = strtod(clean, &end);

            if (!*end)
                return json_real(v);
        }
    }
    return json_string(s);
}

static json_t *parse_node(struct yaml_ctx *y, yaml_event_t *ev);

/* 1 if v is a mapping or sequence still being built. */
static int is_open(const struct yaml_ctx *y, const json_t *v)
{
    for (int i = 0; i < y->n_open; i++)
        if (y->open[i] == v)
            return 1;
    return 0;
}

static int remember_anchor(struct yaml_ctx *y, const yaml_char_t *anchor,
                           json_t *v)
{
    if (anchor && json_object_set(y->anchors, (const char *)anchor, v) < 0)
        return fabc_err_set(y->err, FABC_E_NOMEM, 0, "out of memory");
    return 0;
}

static json_t *parse_mapping(struct yaml_ctx *y, yaml_event_t *start)
{
    json_t *obj = json_object(), *ret = NULL;
    yaml_event_t kev, vev;
    int have_k = 0, have_v = 0, pushed = 0;

    if (!obj) {
        fabc_err_set(y->err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    if (remember_anchor(y, start->data.mapping_start.anchor, obj) < 0)
        goto out;
    y->open[y->n_open++] = obj;
    pushed = 1;
    for (long i = 0; i < 100000000L; i++) {
        json_t *k = NULL, *v = NULL;
        char num[64];
        const char *key;

        if (next_event(y, &kev) < 0)
            goto out;
        have_k = 1;
        if (kev.type == YAML_MAPPING_END_EVENT)
            break;
        k = parse_node(y, &kev);
        if (!k)
            goto out;
        if (json_is_string(k)) {
            key = json_string_value(k);
        } else if (json_is_integer(k)) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(k));
            key = num;
        } else if (json_is_true(k) || json_is_false(k)) {
            key = json_is_true(k) ? "true" : "false";
        } else if (json_is_null(k)) {
            key = "null";
        } else if (json_is_real(k)) {
            snprintf(num, sizeof(num), "%g", json_real_value(k));
            key = num;
        } else {
            json_decref(k);
            yaml_fail(y, &kev.start_mark, "a mapping key must be a scalar");
            goto out;
        }
        if (next_event(y, &vev) < 0) {
            json_decref(k);
            goto out;
        }
        have_v = 1;
        v = parse_node(y, &vev);
        if (!v) {
            json_decref(k);
            goto out;
        }
        if (!strcmp(key, "<<") && json_is_object(v)) {
            /* merge key: keys already present win */
            const char *mk;
            json_t *mv;

            json_object_foreach(v, mk, mv) {
                if (!json_object_get(obj, mk))
                    json_object_set(obj, mk, mv);
            }
            json_decref(v);
        } else {
            json_object_set_new(obj, key, v);
        }
        json_decref(k);
        yaml_event_delete(&kev);
        yaml_event_delete(&vev);
        have_k = have_v = 0;
    }
    ret = obj;
    obj = NULL;
out:
    if (pushed)
        y->n_open--;
    if (have_k)
        yaml_event_delete(&kev);
    if (have_v)
        yaml_event_delete(&vev);
    json_decref(obj);
    return ret;
}

static json_t *parse_sequence(struct yaml_ctx *y, yaml_event_t *start)
{
    json_t *arr = json_array(), *ret = NULL;
    yaml_event_t ev;
    int have = 0, pushed = 0;

    if (!arr) {
        fabc_err_set(y->err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    if (remember_anchor(y, start->data.sequence_start.anchor, arr) < 0)
        goto out;
    y->open[y->n_open++] = arr;
    pushed = 1;
    for (long i = 0; i < 100000000L; i++) {
        json_t *v;

        if (next_event(y, &ev) < 0)
            goto out;
        have = 1;
        if (ev.type == YAML_SEQUENCE_END_EVENT)
            break;
        v = parse_node(y, &ev);
        if (!v)
            goto out;
        json_array_append_new(arr, v);
        yaml_event_delete(&ev);
        have = 0;
    }
    ret = arr;
    arr = NULL;
out:
    if (pushed)
        y->n_open--;
    if (have)
        yaml_event_delete(&ev);
    json_decref(arr);
    return ret;
}

/* The node that starts with `ev` (ev stays owned by the caller). */
static json_t *parse_node(struct yaml_ctx *y, yaml_event_t *ev)
{
    json_t *v = NULL;

    if (++y->depth > YAML_MAX_DEPTH) {
        yaml_fail(y, &ev->start_mark, "nesting too deep");
        goto out;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        const char *s = (const char *)ev->data.scalar.value;
        const char *tag = (const char *)ev->data.scalar.tag;

        if (tag && !strcmp(tag, YAML_STR_TAG))
            v = json_stringn(s, ev->data.scalar.length);
        else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            v = plain_scalar(s);
        else
            v = json_stringn(s, ev->data.scalar.length);
        if (!v) {
            yaml_fail(y, &ev->start_mark, "invalid scalar (not UTF-8?)");
            goto out;
        }
        if (remember_anchor(y, ev->data.scalar.anchor, v) < 0) {
            json_decref(v);
            v = NULL;
        }
        break;
    }
    case YAML_MAPPING_START_EVENT:
        v = parse_mapping(y, ev);
        break;
    case YAML_SEQUENCE_START_EVENT:
        v = parse_sequence(y, ev);
        break;
    case YAML_ALIAS_EVENT:
        v = json_object_get(y->anchors,
                            (const char *)ev->data.alias.anchor);
        if (!v) {
            yaml_fail(y, &ev->start_mark, "unknown alias");
        } else if (is_open(y, v)) {
            /* JSON has no cycles: refuse what PyYAML would build */
            char what[300];

            snprintf(what, sizeof(what),
                     "recursive alias *%.200s (used inside the node it "
                     "names)", (const char *)ev->data.alias.anchor);
            yaml_fail(y, &ev->start_mark, what);
            v = NULL;
        } else {
            json_incref(v);
        }
        break;
    default:
        yaml_fail(y, &ev->start_mark, "unexpected YAML event");
        break;
    }
out:
    y->depth--;
    return v;
}

json_t *fabc_rest_yaml_parse(const char *text, size_t len, const char *name,
                             struct fabc_err *err)
{
    struct yaml_ctx y = {.name = name ? name : "<yaml>", .err = err};
    json_t *doc = NULL, *ret = NULL;
    yaml_event_t ev;
    int have = 0, init = 0;

    y.anchors = json_object();
    if (!y.anchors || !yaml_parser_initialize(&y.parser)) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    init = 1;
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
    for (int i = 0; i < 1000000; i++) {
        if (next_event(&y, &ev) < 0)
            goto out;
        have = 1;
        if (ev.type == YAML_STREAM_END_EVENT)
            break;
        if (ev.type == YAML_MAPPING_START_EVENT ||
            ev.type == YAML_SEQUENCE_START_EVENT ||
            ev.type == YAML_SCALAR_EVENT || ev.type == YAML_ALIAS_EVENT) {
            if (doc) {
                yaml_fail(&y, &ev.start_mark,
                          "more than one YAML document");
                goto out;
            }
            doc = parse_node(&y, &ev);
            if (!doc)
                goto out;
        }
        yaml_event_delete(&ev);
        have = 0;
    }
    ret = doc ? doc : json_null();
    doc = NULL;
out:
    if (have)
        yaml_event_delete(&ev);
    if (init)
        yaml_parser_delete(&y.parser);
    json_decref(doc);
    json_decref(y.anchors);
    return ret;
}
