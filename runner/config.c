/* config.c — the YAML config loader: libyaml events → struct fabc_ynode.
 *
 * Two steps, mirroring PyYAML's composer and SafeConstructor:
 *   1. compose: libyaml events become raw nodes (anchors, aliases, one
 *      document only), each remembering its tag, or, untagged, the tag
 *      PyYAML's YAML 1.1 resolver gives it;
 *   2. construct, in safe_load's order so the first error is its first
 *      error: construct_object() gives a scalar its value and queues a
 *      collection; queued collections are filled first in, first out
 *      (PyYAML's state generators). Filling a mapping checks its `<<`
 *      merges (flatten_check), builds every key and value of its
 *      flattened pair list (walk), then folds that list into the final
 *      pairs as a dict would (fold: first position, last value).
 * All nodes live in an arena owned by the document.
 */
#include "config.h"
#include "arena.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YTAG "tag:yaml.org,2002:"
#define MAX_DEPTH 1000     /* nesting of collections while composing */
#define MAX_RECURSION 5000 /* merge chains, dump depth */

enum { K_SCALAR = 1, K_SEQ, K_MAP };

enum rtag {
    R_STR = 1,
    R_NULL,
    R_BOOL,
    R_INT,
    R_FLOAT,
    R_TIMESTAMP,
    R_MERGE,
    R_VALUE,
    R_SEQ,
    R_MAP,
    R_UNSUPPORTED, /* a tag safe_load knows but fabc does not map */
    R_UNKNOWN
};

void fabc_config_free(struct fabc_config *cfg)
{
    if (!cfg)
        return;
    fabc_arena_free(&cfg->arena);
    fabc_free(cfg);
}

/* ------------------------------------------------------------------ */
/* loader context and errors                                           */

struct frame {
    struct fabc_ynode *node;
    struct fabc_ynode **kids;
    size_t n, cap;
};

struct anchor {
    const char *name;
    struct fabc_ynode *node;
};

struct loader {
    struct fabc_config *cfg;
    const char *name;
    struct fabc_err *err;
    struct frame *stack;
    size_t depth, stack_cap;
    struct anchor *anchors;
    size_t n_anchors, anchors_cap;
    int docs;
    struct fabc_ynode *root;
    struct fabc_ynode **queue; /* collections to fill, FIFO */
    size_t q_len, q_cap;
};

static int nomem(struct loader *ld)
{
    return fabc_err_set(ld->err, FABC_E_NOMEM, ENOMEM,
                        "%s: out of memory while loading", ld->name);
}

static int cerr(struct loader *ld, int line, int column, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

/* A config error at 1-based line:column; always -1. */
static int cerr(struct loader *ld, int line, int column, const char *fmt,
                ...)
{
    char text[1536];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    fabc_err_set(ld->err, FABC_E_CONFIG, 0, "%s:%d:%d: %s", ld->name, line,
                 column, text);
    fabc_err_pos(ld->err, ld->name, line, column);
    return -1;
}

static const char *kind_name(int kind)
{
    return kind == K_SEQ ? "sequence" : kind == K_MAP ? "mapping" : "scalar";
}

/* ------------------------------------------------------------------ */
/* scalar resolution: PyYAML's implicit resolvers, written out         */

static int is_dig(char c)
{
    return c >= '0' && c <= '9';
}

static int is_dig_(char c)
{
    return is_dig(c) || c == '_';
}

/* One or more ":[0-5]?[0-9]" groups starting at *i. */
static int sexa_groups(const char *s, size_t n, size_t *i)
{
    int groups = 0;

    while (*i < n && s[*i] == ':') {
        size_t j = *i + 1, k = 0;

        while (j + k < n && is_dig(s[j + k]))
            k++;
        if (k == 1)
            *i = j + 1;
        else if (k == 2 && s[j] <= '5')
            *i = j + 2;
        else
            return 0;
        groups++;
    }
    return groups > 0;
}

/* "(?:[eE][-+][0-9]+)?$" from i */
static int exp_tail(const char *s, size_t n, size_t i)
{
    if (i == n)
        return 1;
    if (s[i] != 'e' && s[i] != 'E')
        return 0;
    i++;
    if (i >= n || (s[i] != '-' && s[i] != '+'))
        return 0;
    i++;
    if (i >= n)
        return 0;
    while (i < n && is_dig(s[i]))
        i++;
    return i == n;
}

static int match_float(const char *s, size_t n)
{
    size_t i = 0;

    if (n == 4 && s[0] == '.'
        && (!memcmp(s + 1, "nan", 3) || !memcmp(s + 1, "NaN", 3)
            || !memcmp(s + 1, "NAN", 3)))
        return 1;
    if (n >= 2 && s[0] == '.' && is_dig(s[1])) {
        i = 2;
        while (i < n && is_dig_(s[i]))
            i++;
        return exp_tail(s, n, i);
    }
    if (n > 0 && (s[0] == '-' || s[0] == '+'))
        i = 1;
    if (n - i == 4 && s[i] == '.'
        && (!memcmp(s + i + 1, "inf", 3) || !memcmp(s + i + 1, "Inf", 3)
            || !memcmp(s + i + 1, "INF", 3)))
        return 1;
    if (i < n && is_dig(s[i])) {
        i++;
        while (i < n && is_dig_(s[i]))
            i++;
        if (i < n && s[i] == '.') {
            i++;
            while (i < n && is_dig_(s[i]))
                i++;
            return exp_tail(s, n, i);
        }
        if (i < n && s[i] == ':') {
            if (!sexa_groups(s, n, &i) || i >= n || s[i] != '.')
                return 0;
            i++;
            while (i < n && is_dig_(s[i]))
                i++;
            return i == n;
        }
    }
    return 0;
}

static int all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(set, s[i]))
            return 0;
    return 1;
}

static int match_int(const char *s, size_t n)
{
    size_t i = 0, m;
    const char *r;

    if (n > 0 && (s[0] == '-' || s[0] == '+'))
        i = 1;
    if (i >= n)
        return 0;
    r = s + i;
    m = n - i;
    if (m >= 3 && r[0] == '0' && r[1] == 'b')
        return all_of(r + 2, m - 2, "01_");
    if (m >= 3 && r[0] == '0' && r[1] == 'x')
        return all_of(r + 2, m - 2, "0123456789abcdefABCDEF_");
    if (r[0] == '0')
        return m == 1 || all_of(r + 1, m - 1, "01234567_");
    if (r[0] >= '1' && r[0] <= '9') {
        size_t j = 1;

        while (j < m && is_dig_(r[j]))
            j++;
        if (j == m)
            return 1;
        if (r[j] != ':' || !sexa_groups(r, m, &j))
            return 0;
        return j == m;
    }
    return 0;
}

static int match_bool(const char *s, size_t n)
{
    static const char *const words[] = {
        "yes",  "Yes",  "YES",   "no",    "No",    "NO",
        "true", "True", "TRUE",  "false", "False", "FALSE",
        "on",   "On",   "ON",    "off",   "Off",   "OFF"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i]) == n && !memcmp(words[i], s, n))
            return 1;
    return 0;
}

static int match_null(const char *s, size_t n)
{
    return n == 0 || (n == 1 && s[0] == '~')
           || (n == 4
               && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4)
                   || !memcmp(s, "NULL", 4)));
}

/* Count 1..max digits at *i; returns the value or -1. */
static int digits(const char *s, size_t n, size_t *i, size_t min,
                  size_t max)
{
    size_t k = 0;
    int v = 0;

    while (k < max && *i + k < n && is_dig(s[*i + k])) {
        v = v * 10 + (s[*i + k] - '0');
        k++;
    }
    if (k < min)
        return -1;
    *i += k;
    return v;
}

/* PyYAML's SafeConstructor.timestamp_regexp; fields into *ts, no range
 * checks. Returns 1 on a match. */
static int ts_match(const char *s, size_t n, struct fabc_ytime *ts)
{
    size_t i = 0;
    int tzh, tzm = 0, neg;

    memset(ts, 0, sizeof(*ts));
    if ((ts->year = digits(s, n, &i, 4, 4)) < 0 || i >= n || s[i++] != '-'
        || (ts->month = digits(s, n, &i, 1, 2)) < 0 || i >= n
        || s[i++] != '-' || (ts->day = digits(s, n, &i, 1, 2)) < 0)
        return 0;
    if (i == n)
        return 1;
    if (s[i] == 'T' || s[i] == 't') {
        i++;
    } else if (s[i] == ' ' || s[i] == '\t') {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
    } else {
        return 0;
    }
    ts->has_time = 1;
    if ((ts->hour = digits(s, n, &i, 1, 2)) < 0 || i >= n || s[i++] != ':'
        || (ts->minute = digits(s, n, &i, 2, 2)) < 0 || i >= n
        || s[i++] != ':' || (ts->second = digits(s, n, &i, 2, 2)) < 0)
        return 0;
    if (i < n && s[i] == '.') {
        int k = 0;

        i++;
        while (i < n && is_dig(s[i])) {
            if (k < 6) {
                ts->usec = ts->usec * 10 + (s[i] - '0');
                k++;
            }
            i++;
        }
        for (; k < 6; k++)
            ts->usec *= 10;
    }
    if (i == n)
        return 1;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= n)
        return 0;
    if (s[i] == 'Z') {
        ts->has_tz = 1;
        return i + 1 == n;
    }
    if (s[i] != '+' && s[i] != '-')
        return 0;
    neg = s[i] == '-';
    i++;
    if ((tzh = digits(s, n, &i, 1, 2)) < 0)
        return 0;
    if (i < n && s[i] == ':') {
        i++;
        if ((tzm = digits(s, n, &i, 2, 2)) < 0)
            return 0;
    }
    ts->has_tz = 1;
    ts->tz_minutes = neg ? -(tzh * 60 + tzm) : tzh * 60 + tzm;
    return i == n;
}

static int match_timestamp(const char *s, size_t n)
{
    struct fabc_ytime ts;

    return ts_match(s, n, &ts) && (ts.has_time || n == 10);
}

/* The tag PyYAML's Resolver gives a plain scalar. */
static int resolve_implicit(const char *s, size_t n)
{
    if (match_bool(s, n))
        return R_BOOL;
    if (match_float(s, n))
        return R_FLOAT;
    if (match_int(s, n))
        return R_INT;
    if (n == 2 && s[0] == '<' && s[1] == '<')
        return R_MERGE;
    if (match_null(s, n))
        return R_NULL;
    if (match_timestamp(s, n))
        return R_TIMESTAMP;
    if (n == 1 && s[0] == '=')
        return R_VALUE;
    return R_STR;
}

static int resolve_explicit(const char *tag)
{
    static const struct {
        const char *name;
        int rtag;
    } tags[] = {{YTAG "str", R_STR},
                {YTAG "null", R_NULL},
                {YTAG "bool", R_BOOL},
                {YTAG "int", R_INT},
                {YTAG "float", R_FLOAT},
                {YTAG "timestamp", R_TIMESTAMP},
                {YTAG "merge", R_MERGE},
                {YTAG "value", R_VALUE},
                {YTAG "seq", R_SEQ},
                {YTAG "map", R_MAP},
                {YTAG "binary", R_UNSUPPORTED},
                {YTAG "omap", R_UNSUPPORTED},
                {YTAG "pairs", R_UNSUPPORTED},
                {YTAG "set", R_UNSUPPORTED}};

    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
        if (!strcmp(tag, tags[i].name))
            return tags[i].rtag;
    return R_UNKNOWN;
}

/* ------------------------------------------------------------------ */
/* integers: a tiny base-1e9 bignum so Python-sized ints survive       */

struct bignum {
    uint32_t *limb; /* little-endian, base 1e9 */
    size_t n, cap;
};

static void big_muladd(struct bignum *a, uint32_t mul, uint32_t add)
{
    uint64_t carry = add;

    for (size_t i = 0; i < a->n; i++) {
        uint64_t v = (uint64_t)a->limb[i] * mul + carry;
        a->limb[i] = (uint32_t)(v % 1000000000u);
        carry = v / 1000000000u;
    }
    while (carry && a->n < a->cap) {
        a->limb[a->n++] = (uint32_t)(carry % 1000000000u);
        carry /= 1000000000u;
    }
}

static void big_add(struct bignum *a, const struct bignum *b)
{
    uint32_t carry = 0;
    size_t i;

    for (i = 0; i < b->n || carry; i++) {
        uint32_t v;

        if (i >= a->cap)
            break;
        if (i >= a->n)
            a->limb[a->n++] = 0;
        v = a->limb[i] + carry + (i < b->n ? b->limb[i] : 0);
        carry = v >= 1000000000u;
        a->limb[i] = carry ? v - 1000000000u : v;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

/* Digits of s[0..n) in base into a (reset first); -1 on a bad digit or
 * none at all. */
static int big_digits(struct bignum *a, const char *s, size_t n,
                      unsigned base)
{
    a->n = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)hexval(s[i]);

        if (d >= base)
            return -1;
        big_muladd(a, base, d);
    }
    return 0;
}

/* Store the bignum into node n as int64 or as a decimal string. */
static int big_store(struct loader *ld, struct fabc_ynode *nd,
                     const struct bignum *a, int neg)
{
    char *s, *p;
    size_t i;

    if (a->n <= 3 && (a->n < 3 || a->limb[2] <= 9)) {
        uint64_t u = 0;

        for (i = a->n; i > 0; i--)
            u = u * 1000000000u + a->limb[i - 1];
        if (!neg && u <= (uint64_t)INT64_MAX) {
            nd->i = (int64_t)u;
            return 0;
        }
        if (neg && u <= (uint64_t)INT64_MAX + 1) {
            nd->i = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
            return 0;
        }
    }
    s = fabc_arena_alloc(&ld->cfg->arena, a->n * 9 + 3);
    if (!s)
        return nomem(ld);
    p = s;
    if (neg)
        *p++ = '-';
    p += snprintf(p, 11, "%u", (unsigned)a->limb[a->n - 1]);
    for (i = a->n - 1; i > 0; i--)
        p += snprintf(p, 10, "%09u", (unsigned)a->limb[i - 1]);
    nd->big = s;
    return 0;
}

/* construct_yaml_int: "_" dropped, sign, 0 / 0b / 0x / 0 (octal) /
 * sexagesimal / decimal. */
static int parse_int(struct loader *ld, struct fabc_ynode *nd)
{
    char *t = NULL, *p;
    size_t n = 0, len;
    struct bignum a = {0}, b = {0};
    int neg = 0, rc = -1, bad = 0;

    t = fabc_malloc(nd->len + 1);
    a.cap = b.cap = nd->len + 4;
    a.limb = fabc_calloc(a.cap, sizeof(uint32_t));
    b.limb = fabc_calloc(b.cap, sizeof(uint32_t));
    if (!t || !a.limb || !b.limb) {
        rc = nomem(ld);
        goto out;
    }
    for (size_t i = 0; i < nd->len; i++)
        if (nd->text[i] != '_')
            t[n++] = nd->text[i];
    t[n] = '\0';
    p = t;
    if (*p == '-')
        neg = 1;
    if (*p == '-' || *p == '+')
        p++;
    len = n - (size_t)(p - t);
    if (len == 1 && p[0] == '0') {
        a.n = 0;
    } else if (len >= 2 && p[0] == '0' && p[1] == 'b') {
        bad = big_digits(&a, p + 2, len - 2, 2);
    } else if (len >= 2 && p[0] == '0' && p[1] == 'x') {
        bad = big_digits(&a, p + 2, len - 2, 16);
    } else if (len >= 2 && p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
        bad = big_digits(&a, p + 2, len - 2, 8); /* int('0o17', 8) */
    } else if (len >= 1 && p[0] == '0') {
        bad = big_digits(&a, p, len, 8);
    } else if (len >= 1 && memchr(p, ':', len)) {
        const char *q = p, *end = p + len;

        a.n = 0;
        while (!bad) {
            const char *c = memchr(q, ':', (size_t)(end - q));
            size_t plen = c ? (size_t)(c - q) : (size_t)(end - q);

            bad = big_digits(&b, q, plen, 10);
            big_muladd(&a, 60, 0);
            big_add(&a, &b);
            if (!c)
                break;
            q = c + 1;
        }
    } else {
        bad = big_digits(&a, p, len, 10);
    }
    if (bad) {
        rc = cerr(ld, nd->line, nd->column,
                  "invalid literal for an int: '%.100s'", nd->text);
        goto out;
    }
    while (a.n > 0 && a.limb[a.n - 1] == 0)
        a.n--;
    nd->type = FABC_Y_INT;
    rc = big_store(ld, nd, &a, neg && a.n > 0);
out:
    fabc_free(t);
    fabc_free(a.limb);
    fabc_free(b.limb);
    return rc;
}

/* float(s) for the whole NUL-terminated s: strtod, no hex, nothing
 * left over. */
static int full_strtod(const char *s, double *out)
{
    char *end;

    if (!*s || strchr(s, 'x') || strchr(s, 'X'))
        return -1;
    *out = strtod(s, &end);
    return *end ? -1 : 0;
}

static int bad_float(struct loader *ld, const struct fabc_ynode *nd)
{
    return cerr(ld, nd->line, nd->column,
                "could not convert string to float: '%.100s'", nd->text);
}

/* construct_yaml_float */
static int parse_float(struct loader *ld, struct fabc_ynode *nd)
{
    char *t = NULL, *p;
    size_t n = 0, len;
    double sign = 1.0, v = 0.0;
    int rc = -1;

    t = fabc_malloc(nd->len + 1);
    if (!t) {
        rc = nomem(ld);
        goto out;
    }
    for (size_t i = 0; i < nd->len; i++) {
        char c = nd->text[i];

        if (c == '_')
            continue;
        t[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    t[n] = '\0';
    p = t;
    if (*p == '-')
        sign = -1.0;
    if (*p == '-' || *p == '+')
        p++;
    len = n - (size_t)(p - t);
    if (memchr(t, '\0', n)) {
        rc = bad_float(ld, nd); /* "1\0" is no float */
        goto out;
    }
    if (len == 4 && !memcmp(p, ".inf", 4)) {
        v = sign * INFINITY;
    } else if (len == 4 && !memcmp(p, ".nan", 4)) {
        v = NAN;
    } else if (len > 0 && memchr(p, ':', len)) {
        /* split, then sum part * 60^k from the last part backwards */
        char *q = p + len;
        double base = 1.0, d;

        for (;;) {
            char *start = q;

            while (start > p && start[-1] != ':')
                start--;
            *q = '\0'; /* t is our copy: end the part in place */
            if (full_strtod(start, &d) < 0) {
                rc = bad_float(ld, nd);
                goto out;
            }
            v += d * base;
            base *= 60.0;
            if (start == p)
                break;
            q = start - 1;
        }
        v = sign * v;
    } else {
        if (full_strtod(p, &v) < 0) {
            rc = bad_float(ld, nd);
            goto out;
        }
        v = sign * v;
    }
    nd->type = FABC_Y_FLOAT;
    nd->f = v;
    rc = 0;
out:
    fabc_free(t);
    return rc;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

/* construct_yaml_timestamp, with datetime's range checks */
static int parse_timestamp(struct loader *ld, struct fabc_ynode *nd)
{
    struct fabc_ytime *ts = &nd->ts;

    if (!ts_match(nd->text, nd->len, ts))
        return cerr(ld, nd->line, nd->column,
                    "invalid timestamp: '%.100s'", nd->text);
    if (ts->year < 1 || ts->month < 1 || ts->month > 12 || ts->day < 1
        || ts->day > days_in_month(ts->year, ts->month))
        return cerr(ld, nd->line, nd->column,
                    "invalid date in timestamp '%.100s'", nd->text);
    if (ts->has_time
        && (ts->hour > 23 || ts->minute > 59 || ts->second > 59
            || ts->tz_minutes <= -24 * 60 || ts->tz_minutes >= 24 * 60))
        return cerr(ld, nd->line, nd->column,
                    "invalid time in timestamp '%.100s'", nd->text);
    nd->type = FABC_Y_TIMESTAMP;
    return 0;
}

static int lower_eq(const char *s, size_t n, const char *word)
{
    size_t i;

    for (i = 0; i < n && word[i]; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return 0;
    }
    return i == n && !word[i];
}

static int resolve_scalar(struct loader *ld, struct fabc_ynode *nd)
{
    switch (nd->rtag) {
    case R_STR:
    case R_MERGE:
    case R_VALUE:
        nd->type = FABC_Y_STR;
        return 0;
    case R_NULL:
        nd->type = FABC_Y_NULL;
        return 0;
    case R_BOOL:
        nd->type = FABC_Y_BOOL;
        if (lower_eq(nd->text, nd->len, "yes")
            || lower_eq(nd->text, nd->len, "true")
            || lower_eq(nd->text, nd->len, "on"))
            nd->b = 1;
        else if (lower_eq(nd->text, nd->len, "no")
                 || lower_eq(nd->text, nd->len, "false")
                 || lower_eq(nd->text, nd->len, "off"))
            nd->b = 0;
        else
            return cerr(ld, nd->line, nd->column,
                        "invalid boolean value '%.100s'", nd->text);
        return 0;
    case R_INT:
        return parse_int(ld, nd);
    case R_FLOAT:
        return parse_float(ld, nd);
    case R_TIMESTAMP:
        return parse_timestamp(ld, nd);
    case R_SEQ:
        return cerr(ld, nd->line, nd->column,
                    "expected a sequence node, but found scalar");
    case R_MAP:
        return cerr(ld, nd->line, nd->column,
                    "expected a mapping node, but found scalar");
    case R_UNSUPPORTED:
        return cerr(ld, nd->line, nd->column,
                    "the tag '%.200s' is not supported by fabc", nd->tag);
    default:
        return cerr(ld, nd->line, nd->column,
                    "could not determine a constructor for the tag "
                    "'%.200s'",
                    nd->tag);
    }
}

/* ------------------------------------------------------------------ */
/* key equality as a Python dict sees it                               */

static int num_class(const struct fabc_ynode *a)
{
    return a->type == FABC_Y_BOOL || a->type == FABC_Y_INT
           || a->type == FABC_Y_FLOAT;
}

static int int_eq_float(const struct fabc_ynode *in, double f)
{
    char buf[400];

    if (!isfinite(f) || f != floor(f))
        return 0;
    if (in->big) {
        snprintf(buf, sizeof(buf), "%.0f", f);
        return !strcmp(buf, in->big);
    }
    if (f < -9223372036854775808.0 || f >= 9223372036854775808.0)
        return 0;
    return (int64_t)f == in->i;
}

static int64_t ts_utc_minutes(const struct fabc_ytime *t)
{
    /* days from civil (proleptic Gregorian) */
    int64_t y = t->year - (t->month <= 2), era, yoe, doy, doe, days;
    int m = t->month;

    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + t->day - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe;
    return (days * 24 + t->hour) * 60 + t->minute - t->tz_minutes;
}

static int key_equal(const struct fabc_ynode *a, const struct fabc_ynode *b)
{
    if (a == b)
        return 1;
    if (num_class(a) && num_class(b)) {
        if (a->type == FABC_Y_FLOAT || b->type == FABC_Y_FLOAT) {
            const struct fabc_ynode *fl = a->type == FABC_Y_FLOAT ? a : b;
            const struct fabc_ynode *o = fl == a ? b : a;

            if (o->type == FABC_Y_FLOAT)
                return fl->f == o->f || (isnan(fl->f) && isnan(o->f));
            if (o->type == FABC_Y_BOOL)
                return fl->f == (double)o->b;
            return int_eq_float(o, fl->f);
        }
        {
            int64_t x = a->type == FABC_Y_BOOL ? a->b : a->i;
            int64_t y = b->type == FABC_Y_BOOL ? b->b : b->i;
            const char *bx = a->type == FABC_Y_INT ? a->big : NULL;
            const char *by = b->type == FABC_Y_INT ? b->big : NULL;

            if (bx || by)
                return bx && by && !strcmp(bx, by);
            return x == y;
        }
    }
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case FABC_Y_NULL:
        return 1;
    case FABC_Y_STR:
        return a->len == b->len && !memcmp(a->text, b->text, a->len);
    case FABC_Y_TIMESTAMP: {
        const struct fabc_ytime *x = &a->ts, *y = &b->ts;

        if (x->has_time != y->has_time)
            return 0;
        if (!x->has_time)
            return x->year == y->year && x->month == y->month
                   && x->day == y->day;
        if (x->has_tz != y->has_tz)
            return 0;
        if (x->has_tz)
            return ts_utc_minutes(x) == ts_utc_minutes(y)
                   && x->second == y->second && x->usec == y->usec;
        return x->year == y->year && x->month == y->month
               && x->day == y->day && x->hour == y->hour
               && x->minute == y->minute && x->second == y->second
               && x->usec == y->usec;
    }
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* merge keys and duplicate keys (SafeConstructor.flatten_mapping)     */

struct pairvec {
    struct fabc_ypair *p;
    size_t n, cap;
};

static int pv_push(struct pairvec *v, struct fabc_ynode *k,
                   struct fabc_ynode *val)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        struct fabc_ypair *p = fabc_realloc(v->p, cap * sizeof(*p));

        if (!p)
            return -1;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->n].key = k;
    v->p[v->n].value = val;
    v->n++;
    return 0;
}

static int is_merge_key(const struct fabc_ynode *k)
{
    return k->kind == K_SCALAR && k->rtag == R_MERGE;
}

/* SafeConstructor.flatten_mapping's checks, in its order: a merge value
 * is a mapping or a sequence of mappings; `=` keys become strings. Done
 * once per mapping (nd->flat: 0 new, 1 in progress, 2 done). */
static int flatten_check(struct loader *ld, struct fabc_ynode *nd,
                         int depth)
{
    if (nd->flat)
        return 0;
    if (depth > MAX_RECURSION)
        return cerr(ld, nd->line, nd->column, "merge chain too deep");
    nd->flat = 1;
    for (size_t i = 0; i < nd->n_pairs; i++) {
        struct fabc_ynode *k = nd->pairs[i].key, *v = nd->pairs[i].value;

        if (!is_merge_key(k)) {
            if (k->kind == K_SCALAR && k->rtag == R_VALUE)
                k->rtag = R_STR;
            continue;
        }
        if (v->kind == K_MAP) {
            if (flatten_check(ld, v, depth + 1) < 0)
                return -1;
        } else if (v->kind == K_SEQ) {
            for (size_t j = 0; j < v->n_items; j++) {
                struct fabc_ynode *sub = v->items[j];

                if (sub->kind != K_MAP)
                    return cerr(ld, sub->line, sub->column,
                                "expected a mapping for merging, but found "
                                "%s (while constructing a mapping that "
                                "started at line %d, column %d)",
                                kind_name(sub->kind), nd->line, nd->column);
                if (flatten_check(ld, sub, depth + 1) < 0)
                    return -1;
            }
        } else {
            return cerr(ld, v->line, v->column,
                        "expected a mapping or list of mappings for "
                        "merging, but found %s (while constructing a "
                        "mapping that started at line %d, column %d)",
                        kind_name(v->kind), nd->line, nd->column);
        }
    }
    nd->flat = 2;
    return 0;
}

static int enqueue(struct loader *ld, struct fabc_ynode *nd)
{
    if (ld->q_len == ld->q_cap) {
        size_t cap = ld->q_cap ? ld->q_cap * 2 : 32;
        struct fabc_ynode **q = fabc_realloc(ld->queue, cap * sizeof(*q));

        if (!q)
            return nomem(ld);
        ld->queue = q;
        ld->q_cap = cap;
    }
    ld->queue[ld->q_len++] = nd;
    return 0;
}

/* BaseConstructor.construct_object: a scalar gets its value now; a
 * collection is created now and filled later, in FIFO order (PyYAML's
 * state generators), so errors come in the order safe_load meets them. */
static int construct_object(struct loader *ld, struct fabc_ynode *nd)
{
    if (nd->built)
        return 0;
    nd->built = 1;
    if (nd->kind == K_SCALAR) {
        if (nd->rtag == R_SEQ || nd->rtag == R_MAP)
            return enqueue(ld, nd); /* fails when filled, as PyYAML */
        if (nd->rtag == R_MERGE || nd->rtag == R_VALUE)
            return cerr(ld, nd->line, nd->column,
                        "could not determine a constructor for the tag "
                        "'%s'",
                        nd->tag ? nd->tag
                        : nd->rtag == R_MERGE ? YTAG "merge"
                                              : YTAG "value");
        return resolve_scalar(ld, nd);
    }
    switch (nd->rtag) {
    case 0:
    case R_SEQ:
    case R_MAP:
        return enqueue(ld, nd);
    case R_UNSUPPORTED:
        return cerr(ld, nd->line, nd->column,
                    "the tag '%.200s' is not supported by fabc", nd->tag);
    case R_UNKNOWN:
    case R_MERGE:
    case R_VALUE:
        return cerr(ld, nd->line, nd->column,
                    "could not determine a constructor for the tag "
                    "'%.200s'",
                    nd->tag);
    default:
        return cerr(ld, nd->line, nd->column,
                    "expected a scalar node, but found %s",
                    kind_name(nd->kind));
    }
}

/* Construct every key and value of nd's flattened pair list in PyYAML's
 * order: merged mappings first (a merge sequence from its last mapping
 * back), then nd's own pairs. A mapping walked once needs no second walk:
 * everything in it is built. */
static int walk(struct loader *ld, struct fabc_ynode *nd,
                const struct fabc_ynode *owner, int depth)
{
    if (nd->walked)
        return 0;
    if (depth > MAX_RECURSION)
        return cerr(ld, nd->line, nd->column, "merge chain too deep");
    nd->walked = 1;
    for (size_t i = 0; i < nd->n_pairs; i++) {
        struct fabc_ynode *v = nd->pairs[i].value;

        if (!is_merge_key(nd->pairs[i].key))
            continue;
        if (v->kind == K_MAP) {
            if (walk(ld, v, owner, depth + 1) < 0)
                return -1;
        } else {
            for (size_t j = v->n_items; j > 0; j--)
                if (walk(ld, v->items[j - 1], owner, depth + 1) < 0)
                    return -1;
        }
    }
    for (size_t i = 0; i < nd->n_pairs; i++) {
        struct fabc_ynode *k = nd->pairs[i].key;

        if (is_merge_key(k))
            continue;
        if (construct_object(ld, k) < 0)
            return -1;
        if (k->kind != K_SCALAR || k->rtag == R_SEQ || k->rtag == R_MAP)
            return cerr(ld, k->line, k->column,
                        "found unhashable key (while constructing a mapping"
                        " that started at line %d, column %d)",
                        owner->line, owner->column);
        if (construct_object(ld, nd->pairs[i].value) < 0)
            return -1;
    }
    return 0;
}

static int fold(struct loader *ld, struct fabc_ynode *nd, int depth);

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* A hash consistent with key_equal (equal keys, equal hashes). */
static uint64_t key_hash(const struct fabc_ynode *k)
{
    const struct fabc_ytime *t = &k->ts;
    char buf[400];
    uint64_t bits;

    switch (k->type) {
    case FABC_Y_BOOL:
        return mix64((uint64_t)k->b);
    case FABC_Y_INT:
        return k->big ? fnv(k->big, strlen(k->big)) : mix64((uint64_t)k->i);
    case FABC_Y_FLOAT:
        if (isnan(k->f))
            return 0x7ff8;
        if (isfinite(k->f) && k->f == floor(k->f)) {
            if (k->f >= -9223372036854775808.0
                && k->f < 9223372036854775808.0)
                return mix64((uint64_t)(int64_t)k->f);
            snprintf(buf, sizeof(buf), "%.0f", k->f);
            return fnv(buf, strlen(buf));
        }
        memcpy(&bits, &k->f, sizeof(bits));
        return mix64(bits);
    case FABC_Y_STR:
        return fnv(k->text, k->len);
    case FABC_Y_TIMESTAMP:
        if (!t->has_time)
            return mix64((uint64_t)(t->year * 10000 + t->month * 100
                                    + t->day));
        if (t->has_tz)
            return mix64((uint64_t)((ts_utc_minutes(t) * 60 + t->second)
                                        * 1000000
                                    + t->usec));
        return mix64((uint64_t)((((int64_t)t->year * 12 + t->month) * 31
                                 + t->day) * 86400
                                + t->hour * 3600 + t->minute * 60
                                + t->second)
                         * 1000000
                     + (uint64_t)t->usec + 1);
    default:
        return 0x5bd1e995;
    }
}

/* Fold `all` into nd->pairs as a dict does: the first position and the
 * last value of each key. */
static int fold_pairs(struct loader *ld, struct fabc_ynode *nd,
                      const struct pairvec *all)
{
    struct fabc_ypair *out;
    size_t n = 0, size = 8, *slot = NULL;
    int rc = -1;

    while (size < all->n * 2)
        size *= 2;
    out = fabc_arena_alloc(&ld->cfg->arena, (all->n ? all->n : 1) * sizeof(*out));
    slot = fabc_calloc(size, sizeof(*slot)); /* index + 1, 0 = empty */
    if (!out || !slot) {
        nomem(ld);
        goto out;
    }
    for (size_t i = 0; i < all->n; i++) {
        struct fabc_ynode *k = all->p[i].key;
        size_t h = (size_t)key_hash(k) & (size - 1);

        while (slot[h] && !key_equal(out[slot[h] - 1].key, k))
            h = (h + 1) & (size - 1);
        if (slot[h]) {
            out[slot[h] - 1].value = all->p[i].value;
        } else {
            out[n] = all->p[i];
            slot[h] = ++n;
        }
    }
    nd->pairs = out;
    nd->n_pairs = n;
    rc = 0;
out:
    fabc_free(slot);
    return rc;
}

static int merge_from(struct loader *ld, struct fabc_ynode *src,
                      struct pairvec *merged, int depth)
{
    if (src->folded == 1) {
        /* src is being folded (it merges itself): like PyYAML, whose
         * recursive call sees src's pairs minus the merge keys, take
         * src's own pairs */
        for (size_t i = 0; i < src->n_pairs; i++) {
            struct fabc_ynode *k = src->pairs[i].key;

            if (is_merge_key(k))
                continue;
            if (pv_push(merged, k, src->pairs[i].value) < 0)
                return nomem(ld);
        }
        return 0;
    }
    if (fold(ld, src, depth + 1) < 0)
        return -1;
    for (size_t i = 0; i < src->n_pairs; i++)
        if (pv_push(merged, src->pairs[i].key, src->pairs[i].value) < 0)
            return nomem(ld);
    return 0;
}

/* nd->pairs becomes the final key order: merged pairs, then its own, one
 * per key (nd->folded: 0 raw, 1 in progress, 2 done). Runs after
 * flatten_check and walk, so the merge structure is valid and every key
 * has its value. */
static int fold(struct loader *ld, struct fabc_ynode *nd, int depth)
{
    struct pairvec merged = {0}, sub = {0};
    int rc = -1;

    if (nd->folded)
        return 0;
    if (depth > MAX_RECURSION)
        return cerr(ld, nd->line, nd->column, "merge chain too deep");
    nd->folded = 1;
    for (size_t i = 0; i < nd->n_pairs; i++) {
        struct fabc_ynode *v = nd->pairs[i].value;

        if (!is_merge_key(nd->pairs[i].key))
            continue;
        if (v->kind == K_MAP) {
            if (merge_from(ld, v, &merged, depth) < 0)
                goto out;
            continue;
        }
        /* later mappings first, so earlier ones win */
        sub.n = 0;
        for (size_t j = v->n_items; j > 0; j--)
            if (merge_from(ld, v->items[j - 1], &sub, depth) < 0)
                goto out;
        for (size_t j = 0; j < sub.n; j++)
            if (pv_push(&merged, sub.p[j].key, sub.p[j].value) < 0) {
                nomem(ld);
                goto out;
            }
    }
    for (size_t i = 0; i < nd->n_pairs; i++)
        if (!is_merge_key(nd->pairs[i].key)
            && pv_push(&merged, nd->pairs[i].key, nd->pairs[i].value)
                   < 0) {
            nomem(ld);
            goto out;
        }
    if (fold_pairs(ld, nd, &merged) < 0)
        goto out;
    nd->folded = 2;
    rc = 0;
out:
    fabc_free(merged.p);
    fabc_free(sub.p);
    return rc;
}

/* Fill one collection taken from the queue. */
static int fill(struct loader *ld, struct fabc_ynode *nd)
{
    if (nd->kind == K_SCALAR || (nd->rtag == R_SEQ && nd->kind != K_SEQ)
        || (nd->rtag == R_MAP && nd->kind != K_MAP))
        return cerr(ld, nd->line, nd->column,
                    "expected a %s node, but found %s",
                    nd->rtag == R_SEQ ? "sequence" : "mapping",
                    kind_name(nd->kind));
    if (nd->kind == K_SEQ) {
        nd->type = FABC_Y_SEQ;
        for (size_t i = 0; i < nd->n_items; i++)
            if (construct_object(ld, nd->items[i]) < 0)
                return -1;
        return 0;
    }
    nd->type = FABC_Y_MAP;
    if (flatten_check(ld, nd, 0) < 0 || walk(ld, nd, nd, 0) < 0)
        return -1;
    return fold(ld, nd, 0);
}

/* ------------------------------------------------------------------ */
/* composing                                                           */

static struct fabc_ynode *new_node(struct loader *ld, int kind,
                                   yaml_mark_t mark, const char *tag,
                                   const char *anchor)
{
    struct fabc_config *cfg = ld->cfg;
    struct fabc_ynode *nd = fabc_arena_alloc(&cfg->arena, sizeof(*nd));
    int line = (int)mark.line + 1, column = (int)mark.column + 1;

    if (!nd) {
        nomem(ld);
        return NULL;
    }
    memset(nd, 0, sizeof(*nd));
    nd->kind = kind;
    nd->line = line;
    nd->column = column;
    nd->id = cfg->n_nodes++;
    if (tag && strcmp(tag, "!") != 0) {
        nd->tag = fabc_arena_strndup(&cfg->arena, tag, strlen(tag));
        if (!nd->tag) {
            nomem(ld);
            return NULL;
        }
        nd->rtag = resolve_explicit(tag);
    }
    if (cfg->last)
        cfg->last->next = nd;
    else
        cfg->first = nd;
    cfg->last = nd;
    if (anchor) {
        for (size_t i = 0; i < ld->n_anchors; i++)
            if (!strcmp(ld->anchors[i].name, anchor)) {
                cerr(ld, line, column,
                     "found duplicate anchor '%.200s'; first occurrence at "
                     "line %d, column %d, second occurrence",
                     anchor, ld->anchors[i].node->line,
                     ld->anchors[i].node->column);
                return NULL;
            }
        if (ld->n_anchors == ld->anchors_cap) {
            size_t cap = ld->anchors_cap ? ld->anchors_cap * 2 : 8;
            struct anchor *a =
                fabc_realloc(ld->anchors, cap * sizeof(*a));

            if (!a) {
                nomem(ld);
                return NULL;
            }
            ld->anchors = a;
            ld->anchors_cap = cap;
        }
        ld->anchors[ld->n_anchors].name =
            fabc_arena_strndup(&cfg->arena, anchor, strlen(anchor));
        if (!ld->anchors[ld->n_anchors].name) {
            nomem(ld);
            return NULL;
        }
        ld->anchors[ld->n_anchors].node = nd;
        ld->n_anchors++;
    }
    return nd;
}

static int add_child(struct loader *ld, struct fabc_ynode *nd)
{
    struct frame *f;

    if (ld->depth == 0) {
        ld->root = nd;
        return 0;
    }
    f = &ld->stack[ld->depth - 1];
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct fabc_ynode **k = fabc_realloc(f->kids, cap * sizeof(*k));

        if (!k)
            return nomem(ld);
        f->kids = k;
        f->cap = cap;
    }
    f->kids[f->n++] = nd;
    return 0;
}

static int push_frame(struct loader *ld, struct fabc_ynode *nd)
{
    if (ld->depth >= MAX_DEPTH)
        return cerr(ld, nd->line, nd->column,
                    "collections nested deeper than %d levels", MAX_DEPTH);
    if (ld->depth == ld->stack_cap) {
        size_t cap = ld->stack_cap ? ld->stack_cap * 2 : 16;
        struct frame *s = fabc_realloc(ld->stack, cap * sizeof(*s));

        if (!s)
            return nomem(ld);
        ld->stack = s;
        ld->stack_cap = cap;
    }
    ld->stack[ld->depth].node = nd;
    ld->stack[ld->depth].kids = NULL;
    ld->stack[ld->depth].n = 0;
    ld->stack[ld->depth].cap = 0;
    ld->depth++;
    return 0;
}

static int pop_frame(struct loader *ld)
{
    struct frame *f = &ld->stack[ld->depth - 1];
    struct fabc_ynode *nd = f->node;
    int rc = -1;

    if (nd->kind == K_SEQ) {
        nd->items = fabc_arena_alloc(&ld->cfg->arena, (f->n ? f->n : 1) * sizeof(*f->kids));
        if (!nd->items) {
            nomem(ld);
            goto out;
        }
        if (f->n)
            memcpy(nd->items, f->kids, f->n * sizeof(*f->kids));
        nd->n_items = f->n;
    } else {
        size_t np = f->n / 2;

        nd->pairs = fabc_arena_alloc(&ld->cfg->arena, (np ? np : 1) * sizeof(*nd->pairs));
        if (!nd->pairs) {
            nomem(ld);
            goto out;
        }
        for (size_t i = 0; i < np; i++) {
            nd->pairs[i].key = f->kids[2 * i];
            nd->pairs[i].value = f->kids[2 * i + 1];
        }
        nd->n_pairs = np;
    }
    rc = 0;
out:
    fabc_free(f->kids);
    f->kids = NULL;
    ld->depth--;
    return rc;
}

/* Line/column of a byte offset (for libyaml reader errors). */
static void offset_pos(const unsigned char *data, size_t len, size_t off,
                       int *line, int *column)
{
    int l = 1, c = 1;

    for (size_t i = 0; i < off && i < len; i++) {
        if (data[i] == '\n' || (data[i] == '\r'
                                && !(i + 1 < len && data[i + 1] == '\n'))) {
            l++;
            c = 1;
        } else if ((data[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *column = c;
}

/* libyaml closes a last line that lacks its line break with a virtual
 * one and reports stream-end problems at the start of the line after it;
 * PyYAML (whose positions fabc promises) reports them just past the last
 * character. Move such a 0-based mark back onto the last line. */
static void end_mark(const unsigned char *data, size_t len, yaml_mark_t *m)
{
    size_t breaks = 0, col = 0;

    if (len == 0 || data[len - 1] == '\n' || data[len - 1] == '\r'
        || (len >= 2 && (data[0] == 0xFE || data[0] == 0xFF)))
        return;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n'
            || (data[i] == '\r' && !(i + 1 < len && data[i + 1] == '\n'))) {
            breaks++;
            col = 0;
        } else if ((data[i] & 0xC0) != 0x80 && data[i] != '\r') {
            col++;
        }
    }
    if (m->line == breaks + 1 && m->column == 0) {
        m->line = breaks;
        m->column = col;
    }
}

static int parser_error(struct loader *ld, yaml_parser_t *p,
                        const unsigned char *data, size_t len)
{
    int line, column;

    if (p->error == YAML_MEMORY_ERROR)
        return nomem(ld);
    if (p->error == YAML_READER_ERROR) {
        offset_pos(data, len, p->problem_offset, &line, &column);
        if (p->problem_value != -1)
            return cerr(ld, line, column, "%s: #%X at byte %zu",
                        p->problem ? p->problem : "cannot read",
                        (unsigned)p->problem_value, p->problem_offset);
        return cerr(ld, line, column, "%s at byte %zu",
                    p->problem ? p->problem : "cannot read",
                    p->problem_offset);
    }
    end_mark(data, len, &p->problem_mark);
    end_mark(data, len, &p->context_mark);
    line = (int)p->problem_mark.line + 1;
    column = (int)p->problem_mark.column + 1;
    if (p->context)
        return cerr(ld, line, column, "%s (%s that started at line %d, "
                    "column %d)",
                    p->problem ? p->problem : "syntax error", p->context,
                    (int)p->context_mark.line + 1,
                    (int)p->context_mark.column + 1);
    return cerr(ld, line, column, "%s",
                p->problem ? p->problem : "syntax error");
}

static int on_event(struct loader *ld, yaml_event_t *ev, int *done)
{
    struct fabc_ynode *nd;

    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *done = 1;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (ld->docs++ > 0)
            return cerr(ld, (int)ev->start_mark.line + 1,
                        (int)ev->start_mark.column + 1,
                        "expected a single document in the stream, but "
                        "found another document");
        return 0;
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;

        for (size_t i = 0; i < ld->n_anchors; i++)
            if (!strcmp(ld->anchors[i].name, name))
                return add_child(ld, ld->anchors[i].node);
        return cerr(ld, (int)ev->start_mark.line + 1,
                    (int)ev->start_mark.column + 1,
                    "found undefined alias '%.200s'", name);
    }
    case YAML_SCALAR_EVENT:
        nd = new_node(ld, K_SCALAR, ev->start_mark,
                      (const char *)ev->data.scalar.tag,
                      (const char *)ev->data.scalar.anchor);
        if (!nd)
            return -1;
        nd->text = fabc_arena_strndup(&ld->cfg->arena, (const char *)ev->data.scalar.value,
                                 ev->data.scalar.length);
        if (!nd->text)
            return nomem(ld);
        nd->len = ev->data.scalar.length;
        /* untagged plain scalars and every scalar tagged "!" are
         * resolved (PyYAML also resolves an empty "!" node, which libyaml
         * does not mark plain_implicit) */
        if (!nd->tag)
            nd->rtag = ev->data.scalar.plain_implicit
                               || (ev->data.scalar.tag
                                   && !strcmp((const char *)
                                                  ev->data.scalar.tag,
                                              "!"))
                           ? resolve_implicit(nd->text, nd->len)
                           : R_STR;
        return add_child(ld, nd);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int seq = ev->type == YAML_SEQUENCE_START_EVENT;

        nd = new_node(ld, seq ? K_SEQ : K_MAP, ev->start_mark,
                      (const char *)(seq ? ev->data.sequence_start.tag
                                         : ev->data.mapping_start.tag),
                      (const char *)(seq ? ev->data.sequence_start.anchor
                                         : ev->data.mapping_start.anchor));
        if (!nd)
            return -1;
        if (add_child(ld, nd) < 0)
            return -1;
        return push_frame(ld, nd);
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (ld->depth == 0)
            return cerr(ld, (int)ev->start_mark.line + 1,
                        (int)ev->start_mark.column + 1,
                        "unbalanced collection end");
        return pop_frame(ld);
    default:
        return 0;
    }
}

/* SafeConstructor.construct_document: the root, then every collection
 * in the order it was created. */
static int construct(struct loader *ld)
{
    if (construct_object(ld, ld->cfg->root) < 0)
        return -1;
    for (size_t i = 0; i < ld->q_len; i++)
        if (fill(ld, ld->queue[i]) < 0)
            return -1;
    return 0;
}

struct fabc_config *fabc_config_load_buffer(const char *name,
                                            const void *data, size_t len,
                                            struct fabc_err *err)
{
    struct loader ld;
    yaml_parser_t parser;
    yaml_event_t ev;
    int parser_ok = 0, done = 0, ok = 0;
    yaml_mark_t zero = {0, 0, 0};

    memset(&ld, 0, sizeof(ld));
    ld.name = name ? name : "<string>";
    ld.err = err;
    ld.cfg = fabc_calloc(1, sizeof(*ld.cfg));
    if (!ld.cfg) {
        nomem(&ld);
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        nomem(&ld);
        goto out;
    }
    parser_ok = 1;
    yaml_parser_set_input_string(&parser, data, len);
    while (!done) {
        int rc;

        if (!yaml_parser_parse(&parser, &ev)) {
            parser_error(&ld, &parser, data, len);
            goto out;
        }
        rc = on_event(&ld, &ev, &done);
        yaml_event_delete(&ev);
        if (rc < 0)
            goto out;
    }
    if (!ld.root) {
        ld.root = new_node(&ld, K_SCALAR, zero, NULL, NULL);
        if (!ld.root)
            goto out;
        ld.root->text = "";
        ld.root->rtag = R_NULL;
    }
    ld.cfg->root = ld.root;
    if (construct(&ld) < 0)
        goto out;
    ok = 1;
out:
    if (parser_ok)
        yaml_parser_delete(&parser);
    while (ld.depth > 0) {
        fabc_free(ld.stack[ld.depth - 1].kids);
        ld.depth--;
    }
    fabc_free(ld.stack);
    fabc_free(ld.anchors);
    fabc_free(ld.queue);
    if (!ok) {
        fabc_config_free(ld.cfg);
        return NULL;
    }
    return ld.cfg;
}

struct fabc_config *fabc_config_load_file(const char *path,
                                          struct fabc_err *err)
{
    struct fabc_buf b;
    struct fabc_config *cfg = NULL;
    FILE *f;
    char chunk[65536];
    size_t n;

    fabc_buf_init(&b);
    errno = 0;
    f = fopen(path, "rb");
    if (!f) {
        fabc_err_set(err, FABC_E_OS, errno, "config %s: cannot open: %s",
                     path, strerror(errno));
        fabc_err_pos(err, path, 0, 0);
        goto out;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (fabc_buf_append(&b, chunk, n) < 0) {
            fabc_err_set(err, FABC_E_NOMEM, ENOMEM,
                         "config %s: out of memory", path);
            goto out;
        }
    if (ferror(f)) {
        int e = errno ? errno : EIO;

        fabc_err_set(err, FABC_E_OS, e, "config %s: cannot read: %s", path,
                     strerror(e));
        fabc_err_pos(err, path, 0, 0);
        goto out;
    }
    cfg = fabc_config_load_buffer(path, b.data ? b.data : "", b.len, err);
out:
    if (f)
        fclose(f);
    fabc_buf_free(&b);
    return cfg;
}

/* ------------------------------------------------------------------ */
/* canonical dump                                                      */

static int json_str(struct fabc_buf *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;

    if (fabc_buf_puts(out, "\"") < 0)
        return -1;
    while (p < end) {
        uint32_t cp = *p;
        int extra = 0;
        char esc[16];

        if (cp >= 0xF0 && cp < 0xF8) {
            cp &= 0x07;
            extra = 3;
        } else if (cp >= 0xE0) {
            cp &= 0x0F;
            extra = 2;
        } else if (cp >= 0xC0) {
            cp &= 0x1F;
            extra = 1;
        }
        if (extra && end - p > extra) {
            for (int i = 1; i <= extra; i++)
                cp = (cp << 6) | (p[i] & 0x3F);
            p += extra + 1;
        } else {
            cp = *p++;
        }
        switch (cp) {
        case '"': snprintf(esc, sizeof(esc), "\\\""); break;
        case '\\': snprintf(esc, sizeof(esc), "\\\\"); break;
        case '\n': snprintf(esc, sizeof(esc), "\\n"); break;
        case '\r': snprintf(esc, sizeof(esc), "\\r"); break;
        case '\t': snprintf(esc, sizeof(esc), "\\t"); break;
        case '\b': snprintf(esc, sizeof(esc), "\\b"); break;
        case '\f': snprintf(esc, sizeof(esc), "\\f"); break;
        default:
            if (cp >= 0x20 && cp < 0x7F)
                snprintf(esc, sizeof(esc), "%c", (char)cp);
            else if (cp < 0x10000)
                snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
            else
                snprintf(esc, sizeof(esc), "\\u%04x\\u%04x",
                         (unsigned)(0xD800 + ((cp - 0x10000) >> 10)),
                         (unsigned)(0xDC00 + ((cp - 0x10000) & 0x3FF)));
        }
        if (fabc_buf_puts(out, esc) < 0)
            return -1;
    }
    return fabc_buf_puts(out, "\"");
}

static int dump_scalar(struct fabc_buf *out, const struct fabc_ynode *nd)
{
    const struct fabc_ytime *t = &nd->ts;

    switch (nd->type) {
    case FABC_Y_NULL:
        return fabc_buf_puts(out, "null");
    case FABC_Y_BOOL:
        return fabc_buf_puts(out, nd->b ? "bool:true" : "bool:false");
    case FABC_Y_INT:
        if (nd->big)
            return fabc_buf_printf(out, "int:%s", nd->big);
        return fabc_buf_printf(out, "int:%lld", (long long)nd->i);
    case FABC_Y_FLOAT:
        if (isnan(nd->f))
            return fabc_buf_puts(out, "float:nan");
        if (isinf(nd->f))
            return fabc_buf_puts(out, nd->f < 0 ? "float:-inf" : "float:inf");
        return fabc_buf_printf(out, "float:%.17g", nd->f);
    case FABC_Y_STR:
        return fabc_buf_puts(out, "str:") < 0 ? -1
                                              : json_str(out, nd->text,
                                                         nd->len);
    case FABC_Y_TIMESTAMP:
        if (!t->has_time)
            return fabc_buf_printf(out, "date:%04d-%02d-%02d", t->year,
                                   t->month, t->day);
        if (fabc_buf_printf(out, "datetime:%04d-%02d-%02dT%02d:%02d:%02d.%06d",
                            t->year, t->month, t->day, t->hour, t->minute,
                            t->second, t->usec) < 0)
            return -1;
        return t->has_tz ? fabc_buf_printf(out, "@%d", t->tz_minutes) : 0;
    default:
        return fabc_buf_puts(out, "?");
    }
}

struct dumper {
    struct fabc_buf *out;
    size_t *seen; /* per node id: dump number + 1, 0 if not yet */
    size_t counter;
};

static int dump_node(struct dumper *d, const struct fabc_ynode *nd,
                     int indent, const struct fabc_ynode *key)
{
    struct fabc_buf *out = d->out;
    int seq = nd->type == FABC_Y_SEQ;

    if (fabc_buf_printf(out, "%*s", indent, "") < 0)
        return -1;
    if (key && (dump_scalar(out, key) < 0 || fabc_buf_puts(out, " => ") < 0))
        return -1;
    if (nd->type != FABC_Y_MAP && !seq)
        return dump_scalar(out, nd) < 0 ? -1 : fabc_buf_puts(out, "\n");
    if (d->seen[nd->id])
        return fabc_buf_printf(out, "*%zu\n", d->seen[nd->id] - 1);
    if (indent / 2 > MAX_RECURSION)
        return fabc_buf_puts(out, "...\n");
    d->seen[nd->id] = ++d->counter;
    if (fabc_buf_printf(out, "%s &%zu\n", seq ? "[" : "{", d->counter - 1)
        < 0)
        return -1;
    if (seq) {
        for (size_t i = 0; i < nd->n_items; i++)
            if (dump_node(d, nd->items[i], indent + 2, NULL) < 0)
                return -1;
    } else {
        for (size_t i = 0; i < nd->n_pairs; i++)
            if (dump_node(d, nd->pairs[i].value, indent + 2,
                          nd->pairs[i].key) < 0)
                return -1;
    }
    return fabc_buf_printf(out, "%*s%s\n", indent, "", seq ? "]" : "}");
}

int fabc_config_dump(const struct fabc_config *cfg, struct fabc_buf *out)
{
    struct dumper d;
    int rc = -1;

    d.out = out;
    d.counter = 0;
    d.seen = fabc_calloc(cfg->n_nodes ? cfg->n_nodes : 1, sizeof(size_t));
    if (!d.seen)
        goto out;
    rc = dump_node(&d, cfg->root, 0, NULL);
out:
    fabc_free(d.seen);
    return rc;
}
