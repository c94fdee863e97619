/* rest.h — the HTTP layer of fabc's cloud and http primitives (libcurl).
 *
 * A struct fabc_rest is one client: a curl multi handle whose connection
 * cache is reused by every request made through it (one client per cloud
 * connection, so Keystone, Heat and Glance each keep their connection
 * open), TLS verification on unless `insecure`, an optional CA bundle and
 * client certificate (struct fabc_rest_tls), per-request timeouts,
 * redirects, and retries with backoff for idempotent requests on
 * connection errors and 502/503/504.
 *
 * Requests are made without the GIL and without any Python object: waits
 * poll a private wake pipe registered with fabc_cancel_add_wakefd(), so a
 * Ctrl-C (fabc_cancel_request) ends them at once with FABC_E_INTERRUPTED.
 * A client may be shared by threads: requests are serialised by a mutex.
 *
 * Every failure fills struct fabc_err: FABC_E_HTTP with status, method,
 * url, the service's own message and the x-openstack-request-id; for
 * transport failures FABC_E_CONNECT / FABC_E_TIMEOUT with the CURLcode.
 * A TLS failure (an unverifiable server certificate, a missing or bad CA,
 * certificate or key file, a TLS alert such as a refused client
 * certificate) is FABC_E_CONNECT with "TLS failure: <curl's words>" and,
 * for a file that cannot be read, the file and the reason.
 * Tokens never appear in messages or in --debug logs.
 *
 * curl_global_init() is the caller's job (main.c), before any thread.
 */
#ifndef FABC_REST_H
#define FABC_REST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "util.h"

struct fabc_rest;

/* TLS settings; the strings are borrowed by the functions taking this
 * struct, which copy what they keep. */
struct fabc_rest_tls {
    int insecure;       /* 1: do not verify the server's certificate and
                           name (cacert is then not used) */
    const char *cacert; /* CA bundle (PEM) path, NULL: the system's */
    const char *cert;   /* client certificate (PEM) path or NULL */
    const char *key;    /* its private key (PEM), NULL: in cert's file */
};

struct fabc_rest_opts {
    long timeout_ms;         /* whole request, 0: 60000 */
    long connect_timeout_ms; /* 0: 10000 */
    struct fabc_rest_tls tls; /* copied */
    int retries;             /* extra attempts for idempotent requests;
                                -1: the default 3 */
    const char *service;     /* label for messages/debug ("heat"), copied */
};

/* A new client, or NULL with err set (FABC_E_CONFIG for a key without
 * a cert). Free with fabc_rest_free(). */
struct fabc_rest *fabc_rest_new(const struct fabc_rest_opts *opts,
                                struct fabc_err *err);
void fabc_rest_free(struct fabc_rest *r);

/* --debug: log each request and response line (headers with secrets
 * redacted, JSON bodies with password/secret/token values redacted) to
 * stderr. Process-wide. */
void fabc_rest_set_debug(int on);
int fabc_rest_debug(void);

struct fabc_rest_req {
    const char *method;       /* "GET", "POST", ... */
    const char *url;          /* absolute URL */
    const char *token;        /* sent as X-Auth-Token, or NULL */
    const char *content_type; /* for body/upload, NULL: application/json */
    const char *body;         /* request body or NULL */
    size_t body_len;
    const char *upload_path;  /* stream this file as the body (PUT) */
    int no_follow;            /* 1: return 3xx as is (default follows) */
    long timeout_ms;          /* 0: the client's */
    int64_t deadline_ms;      /* fabc_now_ms() limit for all attempts, 0:
                                 none */
    int no_retry;             /* 1: never retry */
    const char *label;        /* "heat" etc. for messages, NULL: client's */
};

struct fabc_rest_resp {
    long status;
    struct fabc_buf body;     /* raw body, NUL-terminated */
    char *location;           /* Location header (fabc_free) or NULL */
    char *subject_token;      /* X-Subject-Token (fabc_free) or NULL */
    char *content_type;       /* (fabc_free) or NULL */
    char request_id[128];     /* x-openstack-request-id or "" */
    double elapsed;           /* seconds, last attempt */
    int attempts;
    struct fabc_buf headers;  /* "name: value\n" lines as received */
};

void fabc_rest_resp_init(struct fabc_rest_resp *resp);
void fabc_rest_resp_free(struct fabc_rest_resp *resp);

/* Perform one request. Returns 0 for a 2xx (or a 3xx with no_follow),
 * else -1 with err filled; resp holds what was received either way (the
 * caller frees it). An HTTP error has err->code FABC_E_HTTP and
 * err->status set, so callers can test for 404 and the like. */
int fabc_rest_do(struct fabc_rest *r, const struct fabc_rest_req *req,
                 struct fabc_rest_resp *resp, struct fabc_err *err);

/* Sleep ms milliseconds, waking at once on a cancel (then -1 with
 * FABC_E_INTERRUPTED). Needs no lock; callable from any thread. */
int fabc_rest_sleep(struct fabc_rest *r, long ms, struct fabc_err *err);

/* Parse resp's body as JSON (new reference) or NULL with err set. */
json_t *fabc_rest_json(const struct fabc_rest_resp *resp, const char *what,
                       struct fabc_err *err);

/* Number of HTTP requests (attempts) made by this process. */
long fabc_rest_request_count(void);

/* ---- helpers, exposed for unit tests ---- */

/* The service's own words from an error body: JSON error.message,
 * message, title + explanation, faultstring; else the text of an HTML or
 * plain body with tags stripped and white space collapsed. Writes at
 * most size-1 bytes (NUL-terminated); "" if nothing useful. */
void fabc_rest_service_message(const char *body, size_t len, char *out,
                               size_t size);

/* A copy of a header line with the value of X-Auth-Token,
 * X-Subject-Token, Authorization, Cookie/Set-Cookie replaced by "***".
 * (fabc_free) or NULL on allocation failure. */
char *fabc_rest_redact_header(const char *line, size_t len);

/* A copy of a JSON text with every value under a key containing
 * "password", "secret" or "token" (case-insensitive) replaced by "***";
 * a non-JSON text gives "<N bytes>". (fabc_free) or NULL. */
char *fabc_rest_redact_body(const char *body, size_t len);

/* Append `s` percent-encoded (RFC 3986 unreserved kept) to b. 0/-1. */
int fabc_rest_urlenc(struct fabc_buf *b, const char *s);

/* base + "/" + path joined with exactly one slash. (fabc_free) or NULL. */
char *fabc_rest_join(const char *base, const char *path);

/* Result of one URL of fabc_rest_check_many(). */
struct fabc_rest_check {
    const char *url;          /* in: borrowed */
    long status;              /* out: HTTP status, 0 on transport error */
    struct fabc_buf body;     /* out: body (first 1 MiB) */
    struct fabc_buf headers;  /* out: "name: value\n" lines */
    double elapsed;           /* out: seconds */
    struct fabc_err err;      /* out: code FABC_E_OK, or the failure */
};

/* GET every url concurrently (curl multi, at most 64 at once), each with
 * `timeout_ms`; `expect` > 0 turns any other status into an FABC_E_HTTP
 * error in that item's err. Returns 0 when the run completed (items carry
 * their own results), -1 with err set on allocation failure, interruption
 * or a key without a cert (FABC_E_USAGE). Follows redirects; TLS as `tls`
 * says (NULL: verify against the system's CAs, no client certificate). */
int fabc_rest_check_many(struct fabc_rest_check *items, size_t n,
                         long expect, long timeout_ms,
                         const struct fabc_rest_tls *tls,
                         struct fabc_err *err);
void fabc_rest_check_free(struct fabc_rest_check *items, size_t n);

/* Parse YAML text into JSON values as PyYAML's safe loader resolves plain
 * scalars (null, booleans incl. yes/no/on/off, ints, floats, else string;
 * timestamps stay strings). `name` is used in messages, which carry
 * file:line:column. New reference, or NULL with err (FABC_E_CONFIG). */
json_t *fabc_rest_yaml_parse(const char *text, size_t len, const char *name,
                             struct fabc_err *err);

/* Read a whole file. (fabc_free) or NULL with err (FABC_E_OS). */
char *fabc_rest_read_file(const char *path, size_t *len,
                          struct fabc_err *err);

#endif
