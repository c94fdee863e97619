/* template.c — lexer and parser for Jinja2 templates (see template.h).
 *
 * The lexer turns the whole source into an array of tokens first (data,
 * tag delimiters, names, literals, operators), applying whitespace
 * control ({%- -%} {{- -}} {#- -#}) and {% raw %} on the way. The parser
 * is a recursive descent over that array following the grammar and the
 * operator precedence of Jinja2's parser.py. All nodes and strings are
 * carved out of one arena owned by the template.
 */
#include "template.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 200 /* nesting of expressions and blocks */

/* ---- tokens --------------------------------------------------------- */

enum tok_type {
    TK_EOF,
    TK_DATA,
    TK_VAR_BEGIN,
    TK_VAR_END,
    TK_BLOCK_BEGIN,
    TK_BLOCK_END,
    TK_NAME,
    TK_STRING,
    TK_INT,
    TK_FLOAT,
    TK_OP
};

/* operator codes for TK_OP: the operator's characters packed */
#define OPC(a, b) ((int)(unsigned char)(a) | ((int)(unsigned char)(b) << 8))

struct tok {
    enum tok_type type;
    int op;        /* TK_OP */
    int line;
    const char *s; /* TK_NAME, TK_DATA: points into arena copy/source */
    size_t len;
};

struct lexer {
    struct fabc_tpl *t;
    struct fabc_err *err;
    const char *src; /* normalised source */
    size_t len;
    size_t pos;
    int line;
    struct tok *toks;
    size_t ntoks, captoks;
};

struct parser {
    struct fabc_tpl *t;
    struct fabc_err *err;
    struct tok *toks;
    size_t ntoks;
    size_t pos;
    int depth;
    /* stack of block tag names being parsed, for error messages */
    const char *blocks[MAX_DEPTH + 1];
    int nblocks;
};

static int syntax_err(struct fabc_tpl *t, struct fabc_err *err, int line,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int syntax_err(struct fabc_tpl *t, struct fabc_err *err, int line,
                      const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return -1;
    if (err->code == FABC_E_NOMEM)
        return -1;
    err->code = FABC_E_TEMPLATE;
    err->lib_code = 0;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    fabc_err_pos(err, t->name, line, 0);
    return -1;
}

static int nomem(struct fabc_err *err)
{
    return fabc_err_set(err, FABC_E_NOMEM, 0, "template: out of memory");
}

static int push_tok(struct lexer *lx, enum tok_type type, int op, int line,
                    const char *s, size_t len)
{
    struct tok *tk;

    if (lx->ntoks == lx->captoks) {
        size_t cap = lx->captoks ? lx->captoks * 2 : 64;
        struct tok *n = fabc_realloc(lx->toks, cap * sizeof(*n));

        if (!n)
            return nomem(lx->err);
        lx->toks = n;
        lx->captoks = cap;
    }
    tk = &lx->toks[lx->ntoks++];
    tk->type = type;
    tk->op = op;
    tk->line = line;
    tk->s = s;
    tk->len = len;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static int is_name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c >= 0x80;
}

static int is_name_char(unsigned char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static int count_lines(const char *s, size_t n)
{
    int k = 0;

    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n')
            k++;
    return k;
}

/* Does src[pos..] read `{%` [-+] ws* word ws* (-%}|%}) ? On success
 * *end is past the closing tag (and following whitespace for -%}),
 * *lstrip is 1 for `{%-` and *tagstart points at `{%`. */
static int match_word_tag(const struct lexer *lx, size_t pos,
                          const char *word, size_t *end, int *lstrip)
{
    const char *s = lx->src;
    size_t n = lx->len, wl = strlen(word), p = pos;

    if (p + 2 > n || s[p] != '{' || s[p + 1] != '%')
        return 0;
    p += 2;
    *lstrip = 0;
    if (p < n && (s[p] == '-' || s[p] == '+')) {
        *lstrip = s[p] == '-';
        p++;
    }
    while (p < n && is_space(s[p]))
        p++;
    if (p + wl > n || memcmp(s + p, word, wl) != 0)
        return 0;
    p += wl;
    if (p < n && is_name_char((unsigned char)s[p]))
        return 0;
    while (p < n && is_space(s[p]))
        p++;
    if (p + 3 <= n && s[p] == '-' && s[p + 1] == '%' && s[p + 2] == '}') {
        p += 3;
        while (p < n && is_space(s[p]))
            p++;
    } else if (p + 2 <= n && s[p] == '%' && s[p + 1] == '}') {
        p += 2;
    } else {
        return 0;
    }
    *end = p;
    return 1;
}

/* Emit data src[a..b), stripping per flags. */
static int emit_data(struct lexer *lx, size_t a, size_t b, int rstrip,
                     int line)
{
    if (rstrip)
        while (b > a && is_space(lx->src[b - 1]))
            b--;
    if (b > a)
        return push_tok(lx, TK_DATA, 0, line, lx->src + a, b - a);
    return 0;
}

static int lex_string(struct lexer *lx)
{
    const char *s = lx->src;
    char q = s[lx->pos];
    size_t p = lx->pos + 1;
    int line = lx->line;
    struct fabc_buf b;
    char *out;
    int rc = -1;

    fabc_buf_init(&b);
    if (fabc_buf_append(&b, "", 0) < 0) {
        nomem(lx->err);
        goto out;
    }
    for (;;) {
        char c;

        if (p >= lx->len) {
            syntax_err(lx->t, lx->err, line, "unexpected char %s at %zu",
                       q == '\'' ? "\"'\"" : "'\"'", lx->pos);
            goto out;
        }
        c = s[p];
        if (c == q) {
            p++;
            break;
        }
        if (c == '\n')
            lx->line++;
        if (c != '\\') {
            if (fabc_buf_append(&b, &c, 1) < 0) {
                nomem(lx->err);
                goto out;
            }
            p++;
            continue;
        }
        /* backslash escape, decoded like Python's unicode-escape */
        if (p + 1 >= lx->len) {
            syntax_err(lx->t, lx->err, line, "unexpected char %s at %zu",
                       q == '\'' ? "\"'\"" : "'\"'", lx->pos);
            goto out;
        }
        c = s[p + 1];
        p += 2;
        {
            char one = 0;
            unsigned long cp = 0;
            int ndig = 0, isuni = 0;

            switch (c) {
            case '\n': lx->line++; continue;
            case '\\': one = '\\'; break;
            case '\'': one = '\''; break;
            case '"': one = '"'; break;
            case 'a': one = '\a'; break;
            case 'b': one = '\b'; break;
            case 'f': one = '\f'; break;
            case 'n': one = '\n'; break;
            case 'r': one = '\r'; break;
            case 't': one = '\t'; break;
            case 'v': one = '\v'; break;
            case 'x': ndig = 2; isuni = 1; break;
            case 'u': ndig = 4; isuni = 1; break;
            case 'U': ndig = 8; isuni = 1; break;
            default:
                if (c >= '0' && c <= '7') {
                    int k = 0;

                    p--;
                    while (k < 3 && p < lx->len && s[p] >= '0' &&
                           s[p] <= '7') {
                        cp = cp * 8 + (unsigned long)(s[p] - '0');
                        p++;
                        k++;
                    }
                    isuni = 2;
                } else {
                    /* unknown escape: kept as is */
                    char two[2] = { '\\', c };

                    if (c == '\n')
                        lx->line++;
                    if (fabc_buf_append(&b, two, 2) < 0) {
                        nomem(lx->err);
                        goto out;
                    }
                    continue;
                }
            }
            if (!isuni) {
                if (fabc_buf_append(&b, &one, 1) < 0) {
                    nomem(lx->err);
                    goto out;
                }
                continue;
            }
            if (isuni == 1) {
                for (int k = 0; k < ndig; k++) {
                    char h = p < lx->len ? s[p] : 0;
                    int v;

                    if (h >= '0' && h <= '9')
                        v = h - '0';
                    else if (h >= 'a' && h <= 'f')
                        v = h - 'a' + 10;
                    else if (h >= 'A' && h <= 'F')
                        v = h - 'A' + 10;
                    else {
                        syntax_err(lx->t, lx->err, line,
                                   "'unicodeescape' codec can't decode "
                                   "bytes: truncated \\%cXX escape", c);
                        goto out;
                    }
                    cp = cp * 16 + (unsigned long)v;
                    p++;
                }
            }
            if (cp > 0x10FFFF) {
                syntax_err(lx->t, lx->err, line,
                           "'unicodeescape' codec can't decode bytes: "
                           "illegal Unicode character");
                goto out;
            }
            {
                char u[4];
                size_t un;

                if (cp < 0x80) {
                    u[0] = (char)cp;
                    un = 1;
                } else if (cp < 0x800) {
                    u[0] = (char)(0xC0 | (cp >> 6));
                    u[1] = (char)(0x80 | (cp & 0x3F));
                    un = 2;
                } else if (cp < 0x10000) {
                    u[0] = (char)(0xE0 | (cp >> 12));
                    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    u[2] = (char)(0x80 | (cp & 0x3F));
                    un = 3;
                } else {
                    u[0] = (char)(0xF0 | (cp >> 18));
                    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    u[3] = (char)(0x80 | (cp & 0x3F));
                    un = 4;
                }
                if (fabc_buf_append(&b, u, un) < 0) {
                    nomem(lx->err);
                    goto out;
                }
            }
        }
    }
    out = fabc_arena_strndup(&lx->t->arena, b.data, b.len);
    if (!out) {
        nomem(lx->err);
        goto out;
    }
    if (push_tok(lx, TK_STRING, 0, line, out, b.len) < 0)
        goto out;
    lx->pos = p;
    rc = 0;
out:
    fabc_buf_free(&b);
    return rc;
}

/* digits with optional single '_' separators; returns chars consumed */
static size_t scan_digits(const char *s, size_t p, size_t n, int base)
{
    size_t start = p;

    for (;;) {
        size_t q = p;
        int ok;

        if (q < n && s[q] == '_' && q > start)
            q++;
        if (q >= n)
            break;
        if (base == 16)
            ok = (s[q] >= '0' && s[q] <= '9') ||
                 (s[q] >= 'a' && s[q] <= 'f') ||
                 (s[q] >= 'A' && s[q] <= 'F');
        else
            ok = s[q] >= '0' && s[q] < '0' + (base > 10 ? 10 : base);
        if (!ok)
            break;
        p = q + 1;
    }
    return p - start;
}

static int lex_number(struct lexer *lx)
{
    const char *s = lx->src;
    size_t n = lx->len, p = lx->pos, start = lx->pos, d;
    int is_float = 0;
    char *txt;
    size_t tl = 0;

    if (s[p] == '0' && p + 1 < n &&
        (s[p + 1] == 'x' || s[p + 1] == 'X' || s[p + 1] == 'o' ||
         s[p + 1] == 'O' || s[p + 1] == 'b' || s[p + 1] == 'B')) {
        char k = (char)(s[p + 1] | 0x20);
        int base = k == 'x' ? 16 : k == 'o' ? 8 : 2;
        size_t q = p + 2;

        if (q < n && s[q] == '_')
            q++;
        d = scan_digits(s, q, n, base);
        if (d) {
            p = q + d;
            goto done;
        }
        /* "0" followed by a name */
        p = start + 1;
        goto done;
    }
    d = scan_digits(s, p, n, 10);
    p += d;
    /* as Jinja2's (?<!\.) : `a.0.1` is two subscripts, not a float */
    if (start > 0 && s[start - 1] == '.')
        goto done;
    if (p + 1 < n && s[p] == '.' && s[p + 1] >= '0' && s[p + 1] <= '9') {
        p++;
        p += scan_digits(s, p, n, 10);
        is_float = 1;
    }
    if (p < n && (s[p] == 'e' || s[p] == 'E')) {
        size_t q = p + 1;

        if (q < n && (s[q] == '+' || s[q] == '-'))
            q++;
        d = scan_digits(s, q, n, 10);
        if (d) {
            p = q + d;
            is_float = 1;
        }
    }
    if (!is_float && s[start] == '0') {
        /* Jinja2 accepts only 0, 00, 0_0 ... as decimal with a leading 0 */
        size_t q = start;

        while (q < p && (s[q] == '0' || s[q] == '_'))
            q++;
        if (q != p)
            p = start + 1;
    }
done:
    txt = fabc_arena_alloc(&lx->t->arena, p - start + 1);
    if (!txt)
        return nomem(lx->err);
    for (size_t i = start; i < p; i++)
        if (s[i] != '_')
            txt[tl++] = s[i];
    txt[tl] = '\0';
    if (push_tok(lx, is_float ? TK_FLOAT : TK_INT, 0, lx->line, txt, tl) < 0)
        return -1;
    lx->pos = p;
    return 0;
}

/* Lex the inside of a {{ }} or {% %} tag up to its end. */
static int lex_tag(struct lexer *lx, int is_block, int *strip_next)
{
    const char *s = lx->src;
    size_t n = lx->len;
    char close = is_block ? '%' : '}';
    char stack[256]; /* expected closing brackets */
    int balance = 0;

    for (;;) {
        size_t p = lx->pos;
        char c;

        while (p < n && is_space(s[p])) {
            if (s[p] == '\n')
                lx->line++;
            p++;
        }
        lx->pos = p;
        if (p >= n)
            return syntax_err(lx->t, lx->err, lx->line,
                              "unexpected end of template, expected "
                              "'end of %s'.",
                              is_block ? "statement block" : "print statement");
        c = s[p];
        if (!balance) {
            if (c == '-' && p + 2 < n && s[p + 1] == close && s[p + 2] == '}') {
                p += 3;
                lx->pos = p;
                *strip_next = 1;
                return push_tok(lx, is_block ? TK_BLOCK_END : TK_VAR_END, 0,
                                lx->line, NULL, 0);
            }
            if ((c == '+' && is_block && p + 2 < n && s[p + 1] == '%' &&
                 s[p + 2] == '}')) {
                lx->pos = p + 3;
                *strip_next = 0;
                return push_tok(lx, TK_BLOCK_END, 0, lx->line, NULL, 0);
            }
            if (c == close && p + 1 < n && s[p + 1] == '}') {
                lx->pos = p + 2;
                *strip_next = 0;
                return push_tok(lx, is_block ? TK_BLOCK_END : TK_VAR_END, 0,
                                lx->line, NULL, 0);
            }
        }
        if (c == '\'' || c == '"') {
            if (lex_string(lx) < 0)
                return -1;
            continue;
        }
        if (c >= '0' && c <= '9') {
            if (lex_number(lx) < 0)
                return -1;
            continue;
        }
        if (is_name_start((unsigned char)c)) {
            size_t q = p;

            while (q < n && is_name_char((unsigned char)s[q]))
                q++;
            if (push_tok(lx, TK_NAME, 0, lx->line, s + p, q - p) < 0)
                return -1;
            lx->pos = q;
            continue;
        }
        {
            static const char *const two[] = { "//", "**", "==", "!=", ">=",
                                               "<=" };
            static const char one[] = "+-/*%~[](){}><=.:|,;";
            int op = 0;
            size_t k;

            for (k = 0; k < sizeof(two) / sizeof(two[0]); k++)
                if (p + 1 < n && s[p] == two[k][0] && s[p + 1] == two[k][1])
                    op = OPC(two[k][0], two[k][1]);
            if (op) {
                lx->pos = p + 2;
            } else if (c && strchr(one, c)) {
                op = OPC(c, 0);
                lx->pos = p + 1;
                if (c == '(' || c == '[' || c == '{') {
                    if (balance == (int)sizeof(stack))
                        return syntax_err(lx->t, lx->err, lx->line,
                                          "brackets nested too deeply");
                    stack[balance++] = c == '(' ? ')' : c == '[' ? ']' : '}';
                } else if ((c == ')' || c == ']' || c == '}')) {
                    if (!balance)
                        return syntax_err(lx->t, lx->err, lx->line,
                                          "unexpected '%c'", c);
                    if (stack[balance - 1] != c)
                        return syntax_err(lx->t, lx->err, lx->line,
                                          "unexpected '%c', expected '%c'",
                                          c, stack[balance - 1]);
                    balance--;
                }
            } else {
                return syntax_err(lx->t, lx->err, lx->line,
                                  "unexpected char '%c' at %zu", c, p);
            }
            if (push_tok(lx, TK_OP, op, lx->line, NULL, 0) < 0)
                return -1;
        }
    }
}

static int lex(struct lexer *lx)
{
    const char *s = lx->src;
    size_t n = lx->len;
    int strip_next = 0;

    lx->pos = 0;
    lx->line = 1;
    while (lx->pos < n) {
        size_t p = lx->pos, q = p, dstart;
        int dline = lx->line;
        char kind = 0;
        int lstrip = 0;

        /* find the next tag opener */
        while (q + 1 < n) {
            if (s[q] == '{' && (s[q + 1] == '{' || s[q + 1] == '%' ||
                                s[q + 1] == '#')) {
                kind = s[q + 1];
                break;
            }
            q++;
        }
        if (!kind)
            q = n;
        dstart = p;
        if (strip_next)
            while (dstart < q && is_space(s[dstart]))
                dstart++;
        strip_next = 0;
        if (kind && q + 2 < n && s[q + 2] == '-')
            lstrip = 1;
        dline += count_lines(s + p, dstart - p);
        /* {% raw %} */
        if (kind == '%') {
            size_t end;
            int ls;

            if (match_word_tag(lx, q, "raw", &end, &ls)) {
                size_t r = end, rend = 0, after = 0;
                int els = 0;

                if (emit_data(lx, dstart, q, ls, dline) < 0)
                    return -1;
                lx->line += count_lines(s + p, end - p);
                for (; r + 1 < n; r++) {
                    if (s[r] == '{' && s[r + 1] == '%' &&
                        match_word_tag(lx, r, "endraw", &after, &els)) {
                        rend = r;
                        break;
                    }
                }
                if (!rend)
                    return syntax_err(lx->t, lx->err, lx->line,
                                      "Missing end of raw directive");
                if (emit_data(lx, end, rend, els, lx->line) < 0)
                    return -1;
                /* an endraw -%} strips whitespace after; match_word_tag
                 * already skipped it */
                lx->line += count_lines(s + end, after - end);
                lx->pos = after;
                continue;
            }
        }
        if (emit_data(lx, dstart, q, lstrip, dline) < 0)
            return -1;
        lx->line += count_lines(s + p, q - p);
        if (!kind) {
            lx->pos = n;
            break;
        }
        p = q + 2;
        if (p < n && (s[p] == '-' || s[p] == '+'))
            p++;
        lx->pos = p;
        if (kind == '#') {
            size_t r = p;

            while (r + 1 < n && !(s[r] == '#' && s[r + 1] == '}'))
                r++;
            if (r + 1 >= n)
                return syntax_err(lx->t, lx->err, lx->line,
                                  "Missing end of comment tag");
            lx->line += count_lines(s + p, r - p);
            if (r > p && s[r - 1] == '-')
                strip_next = 1;
            lx->pos = r + 2;
            continue;
        }
        if (push_tok(lx, kind == '%' ? TK_BLOCK_BEGIN : TK_VAR_BEGIN, 0,
                     lx->line, NULL, 0) < 0)
            return -1;
        if (lex_tag(lx, kind == '%', &strip_next) < 0)
            return -1;
    }
    return push_tok(lx, TK_EOF, 0, lx->line, NULL, 0);
}

/* ---- parser helpers ------------------------------------------------- */

static struct tok *cur(struct parser *ps)
{
    return &ps->toks[ps->pos];
}

static struct tok *peek(struct parser *ps, size_t k)
{
    size_t i = ps->pos + k;

    if (i >= ps->ntoks)
        i = ps->ntoks - 1;
    return &ps->toks[i];
}

static void advance(struct parser *ps)
{
    if (ps->pos + 1 < ps->ntoks)
        ps->pos++;
}

static int is_op(const struct tok *tk, int op)
{
    return tk->type == TK_OP && tk->op == op;
}

static int is_name(const struct tok *tk, const char *name)
{
    size_t l = strlen(name);

    return tk->type == TK_NAME && tk->len == l && memcmp(tk->s, name, l) == 0;
}

/* Jinja2's describe_token() */
static void describe(const struct tok *tk, char *out, size_t size)
{
    switch (tk->type) {
    case TK_EOF: snprintf(out, size, "end of template"); return;
    case TK_DATA: snprintf(out, size, "template data / text"); return;
    case TK_VAR_BEGIN: snprintf(out, size, "begin of print statement"); return;
    case TK_VAR_END: snprintf(out, size, "end of print statement"); return;
    case TK_BLOCK_BEGIN:
        snprintf(out, size, "begin of statement block");
        return;
    case TK_BLOCK_END: snprintf(out, size, "end of statement block"); return;
    case TK_NAME:
        snprintf(out, size, "%.*s", (int)(tk->len > 200 ? 200 : tk->len),
                 tk->s);
        return;
    case TK_STRING: snprintf(out, size, "string"); return;
    case TK_INT: snprintf(out, size, "integer"); return;
    case TK_FLOAT: snprintf(out, size, "float"); return;
    case TK_OP: {
        char a = (char)(tk->op & 0xff), b = (char)(tk->op >> 8);

        if (b)
            snprintf(out, size, "%c%c", a, b);
        else
            snprintf(out, size, "%c", a);
        return;
    }
    }
    snprintf(out, size, "?");
}

static int fail_tok(struct parser *ps, const char *what)
{
    char d[256];

    describe(cur(ps), d, sizeof(d));
    if (cur(ps)->type == TK_EOF)
        return syntax_err(ps->t, ps->err, cur(ps)->line,
                          "unexpected end of template, expected %s.", what);
    return syntax_err(ps->t, ps->err, cur(ps)->line,
                      "expected token %s, got '%s'", what, d);
}

static int expect_op(struct parser *ps, int op)
{
    char want[8];

    if (is_op(cur(ps), op)) {
        advance(ps);
        return 0;
    }
    if ((op >> 8) != 0)
        snprintf(want, sizeof(want), "'%c%c'", (char)(op & 0xff),
                 (char)(op >> 8));
    else
        snprintf(want, sizeof(want), "'%c'", (char)op);
    return fail_tok(ps, want);
}

static int expect_type(struct parser *ps, enum tok_type type)
{
    if (cur(ps)->type == type) {
        advance(ps);
        return 0;
    }
    switch (type) {
    case TK_BLOCK_END: return fail_tok(ps, "'end of statement block'");
    case TK_VAR_END: return fail_tok(ps, "'end of print statement'");
    case TK_NAME: return fail_tok(ps, "'name'");
    default: return fail_tok(ps, "token");
    }
}

struct kids {
    struct fabc_tpl_node **v;
    size_t n, cap;
};

static int kids_push(struct parser *ps, struct kids *k,
                     struct fabc_tpl_node *node)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 8;
        struct fabc_tpl_node **v = fabc_realloc(k->v, cap * sizeof(*v));

        if (!v)
            return nomem(ps->err);
        k->v = v;
        k->cap = cap;
    }
    k->v[k->n++] = node;
    return 0;
}

static struct fabc_tpl_node *mknode(struct parser *ps,
                                    enum fabc_tpl_kind kind, int line,
                                    size_t nkids)
{
    struct fabc_tpl_node *n = fabc_arena_alloc(&ps->t->arena, sizeof(*n));

    if (!n) {
        nomem(ps->err);
        return NULL;
    }
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->line = line;
    n->aux = -1;
    if (nkids) {
        n->kids = fabc_arena_alloc(&ps->t->arena, nkids * sizeof(*n->kids));
        if (!n->kids) {
            nomem(ps->err);
            return NULL;
        }
        memset(n->kids, 0, nkids * sizeof(*n->kids));
        n->nkids = nkids;
    }
    ps->t->nnodes++;
    return n;
}

/* Node with kids copied from a temporary vector (freed here). */
static struct fabc_tpl_node *mknode_kids(struct parser *ps,
                                         enum fabc_tpl_kind kind, int line,
                                         struct kids *k)
{
    struct fabc_tpl_node *n = mknode(ps, kind, line, k->n);

    if (n && k->n)
        memcpy(n->kids, k->v, k->n * sizeof(*k->v));
    fabc_free(k->v);
    k->v = NULL;
    k->n = k->cap = 0;
    return n;
}

static struct fabc_tpl_node *mk2(struct parser *ps, enum fabc_tpl_kind kind,
                                 int line, struct fabc_tpl_node *a,
                                 struct fabc_tpl_node *b)
{
    struct fabc_tpl_node *n = mknode(ps, kind, line, b ? 2 : 1);

    if (!n)
        return NULL;
    n->kids[0] = a;
    if (b)
        n->kids[1] = b;
    return n;
}

static int set_str(struct parser *ps, struct fabc_tpl_node *n, const char *s,
                   size_t len)
{
    n->str = fabc_arena_strndup(&ps->t->arena, s, len);
    if (!n->str)
        return nomem(ps->err);
    n->len = len;
    return 0;
}

static int enter(struct parser *ps)
{
    if (++ps->depth > MAX_DEPTH)
        return syntax_err(ps->t, ps->err, cur(ps)->line,
                          "template nested too deeply");
    return 0;
}

/* ---- expressions ---------------------------------------------------- */

static struct fabc_tpl_node *parse_expression(struct parser *ps,
                                              int with_condexpr);
static struct fabc_tpl_node *parse_unary(struct parser *ps, int with_filter);
static struct fabc_tpl_node *parse_primary(struct parser *ps);
static struct fabc_tpl_node *parse_postfix(struct parser *ps,
                                           struct fabc_tpl_node *node);
static struct fabc_tpl_node *parse_filter(struct parser *ps,
                                          struct fabc_tpl_node *node,
                                          int start_inline);

/* end rules for parse_tuple */
struct end_rules {
    const char *names[3];
};

static int is_tuple_end(struct parser *ps, const struct end_rules *er)
{
    struct tok *tk = cur(ps);

    if (tk->type == TK_VAR_END || tk->type == TK_BLOCK_END ||
        is_op(tk, OPC(')', 0)))
        return 1;
    if (er)
        for (int i = 0; i < 3 && er->names[i]; i++)
            if (is_name(tk, er->names[i]))
                return 1;
    return 0;
}

/* mode: 0 expression, 1 expression without condexpr, 2 primary */
static struct fabc_tpl_node *parse_tuple(struct parser *ps, int mode,
                                         const struct end_rules *er,
                                         int explicit_parens)
{
    struct kids k = { 0 };
    int is_tuple = 0, line = cur(ps)->line;
    struct fabc_tpl_node *n = NULL;

    for (;;) {
        struct fabc_tpl_node *e;

        if (k.n && expect_op(ps, OPC(',', 0)) < 0)
            goto out;
        if (is_tuple_end(ps, er))
            break;
        if (mode == 2)
            e = parse_primary(ps);
        else
            e = parse_expression(ps, mode == 0);
        if (!e || kids_push(ps, &k, e) < 0)
            goto out;
        if (is_op(cur(ps), OPC(',', 0)))
            is_tuple = 1;
        else
            break;
        line = cur(ps)->line;
    }
    if (!is_tuple) {
        if (k.n) {
            n = k.v[0];
            goto out;
        }
        if (!explicit_parens) {
            char d[256];

            describe(cur(ps), d, sizeof(d));
            syntax_err(ps->t, ps->err, cur(ps)->line,
                       "Expected an expression, got '%s'", d);
            goto out;
        }
    }
    return mknode_kids(ps, FABC_TPL_TUPLE, line, &k);
out:
    fabc_free(k.v);
    return n;
}

static struct fabc_tpl_node *parse_condexpr(struct parser *ps);
static struct fabc_tpl_node *parse_or(struct parser *ps);

static struct fabc_tpl_node *parse_expression(struct parser *ps,
                                              int with_condexpr)
{
    struct fabc_tpl_node *n;

    if (enter(ps) < 0)
        return NULL;
    n = with_condexpr ? parse_condexpr(ps) : parse_or(ps);
    ps->depth--;
    return n;
}

static struct fabc_tpl_node *parse_condexpr(struct parser *ps)
{
    struct fabc_tpl_node *e1 = parse_or(ps);

    while (e1 && is_name(cur(ps), "if")) {
        struct fabc_tpl_node *e2, *e3 = NULL, *n;
        int line = cur(ps)->line;

        advance(ps);
        e2 = parse_or(ps);
        if (!e2)
            return NULL;
        if (is_name(cur(ps), "else")) {
            advance(ps);
            if (enter(ps) < 0)
                return NULL;
            e3 = parse_condexpr(ps);
            ps->depth--;
            if (!e3)
                return NULL;
        }
        n = mknode(ps, FABC_TPL_CONDEXPR, line, 3);
        if (!n)
            return NULL;
        n->kids[0] = e1;
        n->kids[1] = e2;
        n->kids[2] = e3;
        e1 = n;
    }
    return e1;
}

static struct fabc_tpl_node *parse_and(struct parser *ps);
static struct fabc_tpl_node *parse_not(struct parser *ps);
static struct fabc_tpl_node *parse_compare(struct parser *ps);

static struct fabc_tpl_node *parse_or(struct parser *ps)
{
    struct fabc_tpl_node *l = parse_and(ps);

    while (l && is_name(cur(ps), "or")) {
        int line = cur(ps)->line;
        struct fabc_tpl_node *r;

        advance(ps);
        r = parse_and(ps);
        if (!r)
            return NULL;
        l = mk2(ps, FABC_TPL_OR, line, l, r);
    }
    return l;
}

static struct fabc_tpl_node *parse_and(struct parser *ps)
{
    struct fabc_tpl_node *l = parse_not(ps);

    while (l && is_name(cur(ps), "and")) {
        int line = cur(ps)->line;
        struct fabc_tpl_node *r;

        advance(ps);
        r = parse_not(ps);
        if (!r)
            return NULL;
        l = mk2(ps, FABC_TPL_AND, line, l, r);
    }
    return l;
}

static struct fabc_tpl_node *parse_not(struct parser *ps)
{
    if (is_name(cur(ps), "not")) {
        int line = cur(ps)->line;
        struct fabc_tpl_node *e;

        advance(ps);
        if (enter(ps) < 0)
            return NULL;
        e = parse_not(ps);
        ps->depth--;
        if (!e)
            return NULL;
        return mk2(ps, FABC_TPL_NOT, line, e, NULL);
    }
    return parse_compare(ps);
}

static struct fabc_tpl_node *parse_math1(struct parser *ps);

static struct fabc_tpl_node *parse_compare(struct parser *ps)
{
    int line = cur(ps)->line;
    struct fabc_tpl_node *e = parse_math1(ps);
    struct kids k = { 0 };

    if (!e)
        return NULL;
    for (;;) {
        struct tok *tk = cur(ps);
        int op = -1;
        struct fabc_tpl_node *r, *c;

        if (is_op(tk, OPC('=', '=')))
            op = FABC_TPL_CMP_EQ;
        else if (is_op(tk, OPC('!', '=')))
            op = FABC_TPL_CMP_NE;
        else if (is_op(tk, OPC('<', 0)))
            op = FABC_TPL_CMP_LT;
        else if (is_op(tk, OPC('<', '=')))
            op = FABC_TPL_CMP_LE;
        else if (is_op(tk, OPC('>', 0)))
            op = FABC_TPL_CMP_GT;
        else if (is_op(tk, OPC('>', '=')))
            op = FABC_TPL_CMP_GE;
        else if (is_name(tk, "in"))
            op = FABC_TPL_CMP_IN;
        else if (is_name(tk, "not") && is_name(peek(ps, 1), "in")) {
            op = FABC_TPL_CMP_NOTIN;
            advance(ps);
        }
        if (op < 0)
            break;
        advance(ps);
        r = parse_math1(ps);
        if (!r)
            goto fail;
        c = mk2(ps, FABC_TPL_CMPOP, tk->line, r, NULL);
        if (!c)
            goto fail;
        c->op = op;
        if (kids_push(ps, &k, c) < 0)
            goto fail;
    }
    if (!k.n)
        return e;
    if (kids_push(ps, &k, NULL) < 0)
        goto fail;
    memmove(k.v + 1, k.v, (k.n - 1) * sizeof(*k.v));
    k.v[0] = e;
    return mknode_kids(ps, FABC_TPL_COMPARE, line, &k);
fail:
    fabc_free(k.v);
    return NULL;
}

static struct fabc_tpl_node *parse_concat(struct parser *ps);
static struct fabc_tpl_node *parse_math2(struct parser *ps);
static struct fabc_tpl_node *parse_pow(struct parser *ps);

static struct fabc_tpl_node *binop(struct parser *ps, int op, int line,
                                   struct fabc_tpl_node *l,
                                   struct fabc_tpl_node *r)
{
    struct fabc_tpl_node *n = mk2(ps, FABC_TPL_BINOP, line, l, r);

    if (n)
        n->op = op;
    return n;
}

static struct fabc_tpl_node *parse_math1(struct parser *ps)
{
    struct fabc_tpl_node *l = parse_concat(ps);

    while (l) {
        int op, line = cur(ps)->line;
        struct fabc_tpl_node *r;

        if (is_op(cur(ps), OPC('+', 0)))
            op = FABC_TPL_OP_ADD;
        else if (is_op(cur(ps), OPC('-', 0)))
            op = FABC_TPL_OP_SUB;
        else
            break;
        advance(ps);
        r = parse_concat(ps);
        if (!r)
            return NULL;
        l = binop(ps, op, line, l, r);
    }
    return l;
}

static struct fabc_tpl_node *parse_concat(struct parser *ps)
{
    int line = cur(ps)->line;
    struct fabc_tpl_node *e = parse_math2(ps);
    struct kids k = { 0 };

    if (!e)
        return NULL;
    if (!is_op(cur(ps), OPC('~', 0)))
        return e;
    if (kids_push(ps, &k, e) < 0)
        goto fail;
    while (is_op(cur(ps), OPC('~', 0))) {
        advance(ps);
        e = parse_math2(ps);
        if (!e || kids_push(ps, &k, e) < 0)
            goto fail;
    }
    return mknode_kids(ps, FABC_TPL_CONCAT, line, &k);
fail:
    fabc_free(k.v);
    return NULL;
}

static struct fabc_tpl_node *parse_math2(struct parser *ps)
{
    struct fabc_tpl_node *l = parse_pow(ps);

    while (l) {
        int op, line = cur(ps)->line;
        struct fabc_tpl_node *r;

        if (is_op(cur(ps), OPC('*', 0)))
            op = FABC_TPL_OP_MUL;
        else if (is_op(cur(ps), OPC('/', 0)))
            op = FABC_TPL_OP_DIV;
        else if (is_op(cur(ps), OPC('/', '/')))
            op = FABC_TPL_OP_FLOORDIV;
        else if (is_op(cur(ps), OPC('%', 0)))
            op = FABC_TPL_OP_MOD;
        else
            break;
        advance(ps);
        r = parse_pow(ps);
        if (!r)
            return NULL;
        l = binop(ps, op, line, l, r);
    }
    return l;
}

static struct fabc_tpl_node *parse_pow(struct parser *ps)
{
    struct fabc_tpl_node *l = parse_unary(ps, 1);

    while (l && is_op(cur(ps), OPC('*', '*'))) {
        int line = cur(ps)->line;
        struct fabc_tpl_node *r;

        advance(ps);
        r = parse_unary(ps, 1);
        if (!r)
            return NULL;
        l = binop(ps, FABC_TPL_OP_POW, line, l, r);
    }
    return l;
}

static struct fabc_tpl_node *parse_test(struct parser *ps,
                                        struct fabc_tpl_node *node);
static int parse_call_args(struct parser *ps, struct kids *k);

static struct fabc_tpl_node *parse_filter_expr(struct parser *ps,
                                               struct fabc_tpl_node *node)
{
    while (node) {
        struct tok *tk = cur(ps);

        if (is_op(tk, OPC('|', 0))) {
            node = parse_filter(ps, node, 0);
        } else if (is_name(tk, "is")) {
            node = parse_test(ps, node);
        } else if (is_op(tk, OPC('(', 0))) {
            struct kids k = { 0 };
            int line = tk->line;

            if (kids_push(ps, &k, node) < 0 || parse_call_args(ps, &k) < 0) {
                fabc_free(k.v);
                return NULL;
            }
            node = mknode_kids(ps, FABC_TPL_CALL, line, &k);
        } else {
            break;
        }
    }
    return node;
}

static struct fabc_tpl_node *parse_unary(struct parser *ps, int with_filter)
{
    struct tok *tk = cur(ps);
    struct fabc_tpl_node *n;

    if (enter(ps) < 0)
        return NULL;
    if (is_op(tk, OPC('-', 0)) || is_op(tk, OPC('+', 0))) {
        int neg = is_op(tk, OPC('-', 0)), line = tk->line;

        advance(ps);
        n = parse_unary(ps, 0);
        if (n)
            n = mk2(ps, neg ? FABC_TPL_NEG : FABC_TPL_POS, line, n, NULL);
    } else {
        n = parse_primary(ps);
    }
    n = parse_postfix(ps, n);
    if (with_filter)
        n = parse_filter_expr(ps, n);
    ps->depth--;
    return n;
}

static struct fabc_tpl_node *mkconst(struct parser *ps, int c, int line,
                                     const char *s, size_t len)
{
    struct fabc_tpl_node *n = mknode(ps, FABC_TPL_CONST, line, 0);

    if (!n)
        return NULL;
    n->op = c;
    if (s && set_str(ps, n, s, len) < 0)
        return NULL;
    return n;
}

static struct fabc_tpl_node *unexpected(struct parser *ps,
                                        const struct tok *tk)
{
    char d[256];

    describe(tk, d, sizeof(d));
    if (tk->type == TK_EOF)
        syntax_err(ps->t, ps->err, tk->line, "unexpected end of template");
    else
        syntax_err(ps->t, ps->err, tk->line, "unexpected '%s'", d);
    return NULL;
}

/* `[a, b, ...]` after the `[` */
static struct fabc_tpl_node *parse_list_literal(struct parser *ps, int line)
{
    struct kids k = { 0 };
    struct fabc_tpl_node *n = NULL;

    while (!is_op(cur(ps), OPC(']', 0))) {
        struct fabc_tpl_node *e;

        if (k.n && expect_op(ps, OPC(',', 0)) < 0)
            goto out;
        if (is_op(cur(ps), OPC(']', 0)))
            break;
        e = parse_expression(ps, 1);
        if (!e || kids_push(ps, &k, e) < 0)
            goto out;
    }
    if (expect_op(ps, OPC(']', 0)) < 0)
        goto out;
    n = mknode_kids(ps, FABC_TPL_LIST, line, &k);
out:
    fabc_free(k.v);
    return n;
}

/* `{k: v, ...}` after the `{` */
static struct fabc_tpl_node *parse_dict_literal(struct parser *ps, int line)
{
    struct kids k = { 0 };
    struct fabc_tpl_node *n = NULL;

    while (!is_op(cur(ps), OPC('}', 0))) {
        struct fabc_tpl_node *kk, *v;

        if (k.n && expect_op(ps, OPC(',', 0)) < 0)
            goto out;
        if (is_op(cur(ps), OPC('}', 0)))
            break;
        kk = parse_expression(ps, 1);
        if (!kk || expect_op(ps, OPC(':', 0)) < 0)
            goto out;
        v = parse_expression(ps, 1);
        if (!v || kids_push(ps, &k, kk) < 0 || kids_push(ps, &k, v) < 0)
            goto out;
    }
    if (expect_op(ps, OPC('}', 0)) < 0)
        goto out;
    n = mknode_kids(ps, FABC_TPL_DICT, line, &k);
out:
    fabc_free(k.v);
    return n;
}

/* adjacent string literals, concatenated */
static struct fabc_tpl_node *parse_strings(struct parser *ps, int line)
{
    struct fabc_buf b;
    struct fabc_tpl_node *n = NULL;

    fabc_buf_init(&b);
    if (fabc_buf_append(&b, "", 0) < 0) {
        nomem(ps->err);
        goto out;
    }
    while (cur(ps)->type == TK_STRING) {
        if (fabc_buf_append(&b, cur(ps)->s, cur(ps)->len) < 0) {
            nomem(ps->err);
            goto out;
        }
        advance(ps);
    }
    n = mkconst(ps, FABC_TPL_C_STR, line, b.data, b.len);
out:
    fabc_buf_free(&b);
    return n;
}

static struct fabc_tpl_node *parse_primary(struct parser *ps)
{
    struct tok *tk = cur(ps);
    struct fabc_tpl_node *n = NULL;

    if (enter(ps) < 0)
        return NULL;
    switch (tk->type) {
    case TK_NAME:
        if (is_name(tk, "true") || is_name(tk, "True"))
            n = mkconst(ps, FABC_TPL_C_TRUE, tk->line, NULL, 0);
        else if (is_name(tk, "false") || is_name(tk, "False"))
            n = mkconst(ps, FABC_TPL_C_FALSE, tk->line, NULL, 0);
        else if (is_name(tk, "none") || is_name(tk, "None"))
            n = mkconst(ps, FABC_TPL_C_NONE, tk->line, NULL, 0);
        else {
            n = mknode(ps, FABC_TPL_NAME, tk->line, 0);
            if (n && set_str(ps, n, tk->s, tk->len) < 0)
                n = NULL;
        }
        advance(ps);
        break;
    case TK_STRING:
        n = parse_strings(ps, tk->line);
        break;
    case TK_INT:
    case TK_FLOAT:
        n = mkconst(ps, tk->type == TK_INT ? FABC_TPL_C_INT : FABC_TPL_C_FLOAT,
                    tk->line, tk->s, tk->len);
        advance(ps);
        break;
    default:
        if (is_op(tk, OPC('(', 0))) {
            advance(ps);
            n = parse_tuple(ps, 0, NULL, 1);
            if (n && expect_op(ps, OPC(')', 0)) < 0)
                n = NULL;
        } else if (is_op(tk, OPC('[', 0))) {
            advance(ps);
            n = parse_list_literal(ps, tk->line);
        } else if (is_op(tk, OPC('{', 0))) {
            advance(ps);
            n = parse_dict_literal(ps, tk->line);
        } else {
            n = unexpected(ps, tk);
        }
        break;
    }
    ps->depth--;
    return n;
}

/* subscript argument: expression or slice */
static struct fabc_tpl_node *parse_subscribed(struct parser *ps)
{
    struct fabc_tpl_node *args[3] = { NULL, NULL, NULL }, *n;
    int line = cur(ps)->line;

    if (is_op(cur(ps), OPC(':', 0))) {
        advance(ps);
    } else {
        args[0] = parse_expression(ps, 1);
        if (!args[0])
            return NULL;
        if (!is_op(cur(ps), OPC(':', 0)))
            return args[0];
        advance(ps);
    }
    if (!is_op(cur(ps), OPC(']', 0)) && !is_op(cur(ps), OPC(',', 0)) &&
        !is_op(cur(ps), OPC(':', 0))) {
        args[1] = parse_expression(ps, 1);
        if (!args[1])
            return NULL;
    }
    if (is_op(cur(ps), OPC(':', 0))) {
        advance(ps);
        if (!is_op(cur(ps), OPC(']', 0)) && !is_op(cur(ps), OPC(',', 0))) {
            args[2] = parse_expression(ps, 1);
            if (!args[2])
                return NULL;
        }
    }
    n = mknode(ps, FABC_TPL_SLICE, line, 3);
    if (!n)
        return NULL;
    memcpy(n->kids, args, sizeof(args));
    return n;
}

static struct fabc_tpl_node *parse_postfix(struct parser *ps,
                                           struct fabc_tpl_node *node)
{
    while (node) {
        struct tok *tk = cur(ps);

        if (is_op(tk, OPC('.', 0))) {
            struct tok *a;

            advance(ps);
            a = cur(ps);
            if (a->type == TK_NAME) {
                int loop = node->kind == FABC_TPL_NAME &&
                           strcmp(node->str, "loop") == 0;

                node = mk2(ps, loop ? FABC_TPL_LOOPATTR : FABC_TPL_GETATTR,
                           tk->line, node, NULL);
                if (node && set_str(ps, node, a->s, a->len) < 0)
                    node = NULL;
                advance(ps);
            } else if (a->type == TK_INT) {
                struct fabc_tpl_node *k =
                    mkconst(ps, FABC_TPL_C_INT, a->line, a->s, a->len);

                node = k ? mk2(ps, FABC_TPL_GETITEM, tk->line, node, k) : NULL;
                advance(ps);
            } else {
                syntax_err(ps->t, ps->err, a->line,
                           "expected name or number");
                return NULL;
            }
        } else if (is_op(tk, OPC('[', 0))) {
            struct kids k = { 0 };
            struct fabc_tpl_node *key;

            advance(ps);
            while (!is_op(cur(ps), OPC(']', 0))) {
                struct fabc_tpl_node *e;

                if (k.n && expect_op(ps, OPC(',', 0)) < 0)
                    goto subfail;
                if (is_op(cur(ps), OPC(']', 0)))
                    break;
                e = parse_subscribed(ps);
                if (!e || kids_push(ps, &k, e) < 0)
                    goto subfail;
            }
            if (expect_op(ps, OPC(']', 0)) < 0)
                goto subfail;
            if (k.n == 1) {
                key = k.v[0];
                fabc_free(k.v);
            } else {
                key = mknode_kids(ps, FABC_TPL_TUPLE, tk->line, &k);
            }
            node = key ? mk2(ps, FABC_TPL_GETITEM, tk->line, node, key)
                       : NULL;
            continue;
subfail:
            fabc_free(k.v);
            return NULL;
        } else if (is_op(tk, OPC('(', 0))) {
            struct kids k = { 0 };

            if (kids_push(ps, &k, node) < 0 || parse_call_args(ps, &k) < 0) {
                fabc_free(k.v);
                return NULL;
            }
            node = mknode_kids(ps, FABC_TPL_CALL, tk->line, &k);
        } else {
            break;
        }
    }
    return node;
}

/* `( args )` appended to k: positional expressions and KWARG nodes. */
static int parse_call_args(struct parser *ps, struct kids *k)
{
    int seen_kw = 0;
    size_t n0 = k->n;

    if (expect_op(ps, OPC('(', 0)) < 0)
        return -1;
    while (!is_op(cur(ps), OPC(')', 0))) {
        struct fabc_tpl_node *e;

        if (k->n > n0 && expect_op(ps, OPC(',', 0)) < 0)
            return -1;
        if (is_op(cur(ps), OPC(')', 0)))
            break;
        if (is_op(cur(ps), OPC('*', 0)) || is_op(cur(ps), OPC('*', '*')))
            return syntax_err(ps->t, ps->err, cur(ps)->line,
                              "*args and **kwargs in calls are not "
                              "supported");
        if (cur(ps)->type == TK_NAME && is_op(peek(ps, 1), OPC('=', 0))) {
            struct tok *nm = cur(ps);
            struct fabc_tpl_node *v;

            advance(ps);
            advance(ps);
            v = parse_expression(ps, 1);
            if (!v)
                return -1;
            e = mk2(ps, FABC_TPL_KWARG, nm->line, v, NULL);
            if (!e || set_str(ps, e, nm->s, nm->len) < 0)
                return -1;
            seen_kw = 1;
        } else {
            if (seen_kw)
                return syntax_err(ps->t, ps->err, cur(ps)->line,
                                  "Invalid argument syntax");
            e = parse_expression(ps, 1);
            if (!e)
                return -1;
        }
        if (kids_push(ps, k, e) < 0)
            return -1;
    }
    return expect_op(ps, OPC(')', 0));
}

/* dotted name after | or is */
static int parse_dotted_name(struct parser *ps, struct fabc_buf *b)
{
    if (cur(ps)->type != TK_NAME)
        return fail_tok(ps, "'name'");
    if (fabc_buf_append(b, cur(ps)->s, cur(ps)->len) < 0)
        return nomem(ps->err);
    advance(ps);
    while (is_op(cur(ps), OPC('.', 0)) && peek(ps, 1)->type == TK_NAME) {
        advance(ps);
        if (fabc_buf_append(b, ".", 1) < 0 ||
            fabc_buf_append(b, cur(ps)->s, cur(ps)->len) < 0)
            return nomem(ps->err);
        advance(ps);
    }
    return 0;
}

static struct fabc_tpl_node *parse_filter(struct parser *ps,
                                          struct fabc_tpl_node *node,
                                          int start_inline)
{
    while (is_op(cur(ps), OPC('|', 0)) || start_inline) {
        struct kids k = { 0 };
        struct fabc_buf b;
        int line = cur(ps)->line;
        struct fabc_tpl_node *f = NULL;

        if (!start_inline)
            advance(ps);
        start_inline = 0;
        fabc_buf_init(&b);
        if (parse_dotted_name(ps, &b) < 0)
            goto fail;
        if (kids_push(ps, &k, node) < 0)
            goto fail;
        if (is_op(cur(ps), OPC('(', 0)) && parse_call_args(ps, &k) < 0)
            goto fail;
        f = mknode_kids(ps, FABC_TPL_FILTER, line, &k);
        if (!f || set_str(ps, f, b.data, b.len) < 0)
            f = NULL;
        fabc_buf_free(&b);
        if (!f)
            return NULL;
        node = f;
        continue;
fail:
        fabc_buf_free(&b);
        fabc_free(k.v);
        return NULL;
    }
    return node;
}

static struct fabc_tpl_node *parse_test(struct parser *ps,
                                        struct fabc_tpl_node *node)
{
    struct kids k = { 0 };
    struct fabc_buf b;
    int line = cur(ps)->line, negated = 0;
    struct fabc_tpl_node *t = NULL;
    struct tok *tk;

    fabc_buf_init(&b);
    advance(ps); /* is */
    if (is_name(cur(ps), "not")) {
        negated = 1;
        advance(ps);
    }
    if (parse_dotted_name(ps, &b) < 0)
        goto out;
    if (kids_push(ps, &k, node) < 0)
        goto out;
    tk = cur(ps);
    if (is_op(tk, OPC('(', 0))) {
        if (parse_call_args(ps, &k) < 0)
            goto out;
    } else if ((tk->type == TK_NAME || tk->type == TK_STRING ||
                tk->type == TK_INT || tk->type == TK_FLOAT ||
                is_op(tk, OPC('[', 0)) || is_op(tk, OPC('{', 0))) &&
               !is_name(tk, "else") && !is_name(tk, "or") &&
               !is_name(tk, "and")) {
        struct fabc_tpl_node *a;

        if (is_name(tk, "is")) {
            syntax_err(ps->t, ps->err, tk->line,
                       "You cannot chain multiple tests with is");
            goto out;
        }
        a = parse_primary(ps);
        a = parse_postfix(ps, a);
        if (!a || kids_push(ps, &k, a) < 0)
            goto out;
    }
    t = mknode_kids(ps, FABC_TPL_TEST, line, &k);
    if (t && set_str(ps, t, b.data, b.len) < 0)
        t = NULL;
    if (t)
        t->op = negated;
out:
    fabc_free(k.v);
    fabc_buf_free(&b);
    return t;
}

/* ---- statements ----------------------------------------------------- */

static struct fabc_tpl_node *parse_body(struct parser *ps,
                                        const char *const *ends,
                                        int *which);

/* Assignment target: name, `ns.attr` (with_ns) or tuple of names. */
static struct fabc_tpl_node *parse_assign_target(struct parser *ps,
                                                 int with_ns,
                                                 const struct end_rules *er)
{
    struct fabc_tpl_node *n;
    struct tok *tk = cur(ps);

    if (with_ns && tk->type == TK_NAME && is_op(peek(ps, 1), OPC('.', 0)) &&
        peek(ps, 2)->type == TK_NAME) {
        struct fabc_tpl_node *nm = mknode(ps, FABC_TPL_NAME, tk->line, 0);

        if (!nm || set_str(ps, nm, tk->s, tk->len) < 0)
            return NULL;
        advance(ps);
        advance(ps);
        n = mk2(ps, FABC_TPL_NSREF, tk->line, nm, NULL);
        if (!n || set_str(ps, n, cur(ps)->s, cur(ps)->len) < 0)
            return NULL;
        advance(ps);
        return n;
    }
    n = parse_tuple(ps, 2, er, 0);
    if (!n)
        return NULL;
    if (n->kind == FABC_TPL_NAME) {
        if (!strcmp(n->str, "true") || !strcmp(n->str, "false") ||
            !strcmp(n->str, "none") || !strcmp(n->str, "loop"))
            goto bad;
        return n;
    }
    if (n->kind == FABC_TPL_TUPLE) {
        for (size_t i = 0; i < n->nkids; i++)
            if (n->kids[i]->kind != FABC_TPL_NAME)
                goto bad;
        return n;
    }
bad:
    syntax_err(ps->t, ps->err, n->line, "can't assign to '%s'",
               fabc_tpl_kind_name(n->kind));
    return NULL;
}

static int block_end(struct parser *ps)
{
    return expect_type(ps, TK_BLOCK_END);
}

static struct fabc_tpl_node *parse_for(struct parser *ps, int line)
{
    static const struct end_rules in_rule = { { "in", NULL, NULL } };
    static const struct end_rules rec_rule = { { "recursive", NULL, NULL } };
    static const char *const ends1[] = { "endfor", "else", NULL };
    static const char *const ends2[] = { "endfor", NULL };
    struct fabc_tpl_node *n = mknode(ps, FABC_TPL_FOR, line, 5);
    int which;

    if (!n)
        return NULL;
    n->kids[0] = parse_assign_target(ps, 0, &in_rule);
    if (!n->kids[0])
        return NULL;
    if (!is_name(cur(ps), "in")) {
        fail_tok(ps, "'in'");
        return NULL;
    }
    advance(ps);
    n->kids[1] = parse_tuple(ps, 1, &rec_rule, 0);
    if (!n->kids[1])
        return NULL;
    if (is_name(cur(ps), "if")) {
        advance(ps);
        n->kids[4] = parse_expression(ps, 1);
        if (!n->kids[4])
            return NULL;
    }
    if (is_name(cur(ps), "recursive")) {
        syntax_err(ps->t, ps->err, cur(ps)->line,
                   "recursive loops are not supported");
        return NULL;
    }
    if (block_end(ps) < 0)
        return NULL;
    n->kids[2] = parse_body(ps, ends1, &which);
    if (!n->kids[2])
        return NULL;
    if (which == 1) {
        n->kids[3] = parse_body(ps, ends2, &which);
        if (!n->kids[3])
            return NULL;
    }
    return n;
}

static struct fabc_tpl_node *parse_if(struct parser *ps, int line)
{
    static const char *const ends[] = { "elif", "else", "endif", NULL };
    static const char *const ends2[] = { "endif", NULL };
    struct fabc_tpl_node *n = mknode(ps, FABC_TPL_IF, line, 3);
    struct fabc_tpl_node *top = n;
    int which;

    while (n) {
        n->kids[0] = parse_tuple(ps, 1, NULL, 0);
        if (!n->kids[0] || block_end(ps) < 0)
            return NULL;
        n->kids[1] = parse_body(ps, ends, &which);
        if (!n->kids[1])
            return NULL;
        if (which == 0) {
            struct fabc_tpl_node *e =
                mknode(ps, FABC_TPL_IF, cur(ps)->line, 3);

            if (!e)
                return NULL;
            n->kids[2] = e;
            n = e;
            continue;
        }
        if (which == 1) {
            n->kids[2] = parse_body(ps, ends2, &which);
            if (!n->kids[2])
                return NULL;
        }
        break;
    }
    return top;
}

static struct fabc_tpl_node *parse_set(struct parser *ps, int line)
{
    static const char *const ends[] = { "endset", NULL };
    struct fabc_tpl_node *target, *n;
    int which;

    target = parse_assign_target(ps, 1, NULL);
    if (!target)
        return NULL;
    if (is_op(cur(ps), OPC('=', 0))) {
        struct fabc_tpl_node *v;

        advance(ps);
        v = parse_tuple(ps, 0, NULL, 0);
        if (!v || block_end(ps) < 0)
            return NULL;
        return mk2(ps, FABC_TPL_SET, line, target, v);
    }
    n = mknode(ps, FABC_TPL_SETBLOCK, line, 3);
    if (!n)
        return NULL;
    n->kids[0] = target;
    if (is_op(cur(ps), OPC('|', 0))) {
        n->kids[2] = parse_filter(ps, NULL, 0);
        if (!n->kids[2])
            return NULL;
    }
    if (block_end(ps) < 0)
        return NULL;
    n->kids[1] = parse_body(ps, ends, &which);
    return n->kids[1] ? n : NULL;
}

/* macro signature `(a, b=1)`: PARAM nodes pushed to k */
static int parse_signature(struct parser *ps, struct kids *k)
{
    size_t n0 = k->n;

    if (expect_op(ps, OPC('(', 0)) < 0)
        return -1;
    while (!is_op(cur(ps), OPC(')', 0))) {
        struct fabc_tpl_node *p;
        struct tok *tk;

        if (k->n > n0 && expect_op(ps, OPC(',', 0)) < 0)
            return -1;
        tk = cur(ps);
        if (tk->type != TK_NAME)
            return fail_tok(ps, "'name'");
        p = mknode(ps, FABC_TPL_PARAM, tk->line, 1);
        if (!p || set_str(ps, p, tk->s, tk->len) < 0)
            return -1;
        advance(ps);
        if (is_op(cur(ps), OPC('=', 0))) {
            advance(ps);
            p->kids[0] = parse_expression(ps, 1);
            if (!p->kids[0])
                return -1;
        } else {
            for (size_t i = n0; i < k->n; i++)
                if (k->v[i]->kids[0])
                    return syntax_err(ps->t, ps->err, tk->line,
                                      "parameter without a default "
                                      "follows parameter with a default");
        }
        if (kids_push(ps, k, p) < 0)
            return -1;
    }
    return expect_op(ps, OPC(')', 0));
}

static struct fabc_tpl_node *parse_macro(struct parser *ps, int line)
{
    static const char *const ends[] = { "endmacro", NULL };
    struct kids k = { 0 };
    struct tok *tk = cur(ps);
    struct fabc_tpl_node *n = NULL, *body;
    int which;

    if (tk->type != TK_NAME) {
        fail_tok(ps, "'name'");
        goto out;
    }
    advance(ps);
    if (kids_push(ps, &k, NULL) < 0 || parse_signature(ps, &k) < 0 ||
        block_end(ps) < 0)
        goto out;
    body = parse_body(ps, ends, &which);
    if (!body)
        goto out;
    k.v[0] = body;
    n = mknode_kids(ps, FABC_TPL_MACRO, line, &k);
    if (n && set_str(ps, n, tk->s, tk->len) < 0)
        n = NULL;
out:
    fabc_free(k.v);
    return n;
}

static struct fabc_tpl_node *parse_call_block(struct parser *ps, int line)
{
    static const char *const ends[] = { "endcall", NULL };
    struct kids k = { 0 };
    struct fabc_tpl_node *n = NULL, *call, *caller = NULL, *body;
    int which;

    if (kids_push(ps, &k, NULL) < 0)
        goto out;
    if (is_op(cur(ps), OPC('(', 0)) && parse_signature(ps, &k) < 0)
        goto out;
    call = parse_expression(ps, 1);
    if (!call)
        goto out;
    if (call->kind != FABC_TPL_CALL) {
        syntax_err(ps->t, ps->err, line, "expected call");
        goto out;
    }
    if (block_end(ps) < 0)
        goto out;
    body = parse_body(ps, ends, &which);
    if (!body)
        goto out;
    k.v[0] = body;
    caller = mknode_kids(ps, FABC_TPL_MACRO, line, &k);
    if (!caller || set_str(ps, caller, "caller", 6) < 0)
        goto out;
    n = mk2(ps, FABC_TPL_CALLBLOCK, line, call, caller);
out:
    fabc_free(k.v);
    return n;
}

static struct fabc_tpl_node *parse_filter_block(struct parser *ps, int line)
{
    static const char *const ends[] = { "endfilter", NULL };
    struct fabc_tpl_node *chain, *body;
    int which;

    chain = parse_filter(ps, NULL, 1);
    if (!chain || block_end(ps) < 0)
        return NULL;
    body = parse_body(ps, ends, &which);
    if (!body)
        return NULL;
    return mk2(ps, FABC_TPL_FILTERBLOCK, line, chain, body);
}

static struct fabc_tpl_node *parse_include(struct parser *ps, int line)
{
    struct fabc_tpl_node *n, *e = parse_expression(ps, 1);

    if (!e)
        return NULL;
    n = mk2(ps, FABC_TPL_INCLUDE, line, e, NULL);
    if (!n)
        return NULL;
    if (is_name(cur(ps), "ignore") && is_name(peek(ps, 1), "missing")) {
        n->op |= FABC_TPL_INC_IGNORE_MISSING;
        advance(ps);
        advance(ps);
    }
    if ((is_name(cur(ps), "with") || is_name(cur(ps), "without")) &&
        is_name(peek(ps, 1), "context")) {
        if (is_name(cur(ps), "without"))
            n->op |= FABC_TPL_INC_WITHOUT_CONTEXT;
        advance(ps);
        advance(ps);
    }
    if (block_end(ps) < 0)
        return NULL;
    return n;
}

static struct fabc_tpl_node *parse_with(struct parser *ps, int line)
{
    static const char *const ends[] = { "endwith", NULL };
    struct kids k = { 0 };
    struct fabc_tpl_node *n = NULL, *body;
    int which;

    if (kids_push(ps, &k, NULL) < 0)
        goto out;
    while (cur(ps)->type != TK_BLOCK_END) {
        struct fabc_tpl_node *target, *v, *s;

        if (k.n > 1 && expect_op(ps, OPC(',', 0)) < 0)
            goto out;
        target = parse_assign_target(ps, 0, NULL);
        if (!target || expect_op(ps, OPC('=', 0)) < 0)
            goto out;
        v = parse_expression(ps, 1);
        if (!v)
            goto out;
        s = mk2(ps, FABC_TPL_SET, target->line, target, v);
        if (!s || kids_push(ps, &k, s) < 0)
            goto out;
    }
    if (block_end(ps) < 0)
        goto out;
    body = parse_body(ps, ends, &which);
    if (!body)
        goto out;
    k.v[0] = body;
    n = mknode_kids(ps, FABC_TPL_WITH, line, &k);
out:
    fabc_free(k.v);
    return n;
}

static int list_tags(char *out, size_t size, const char *const *ends)
{
    size_t used = 0;

    out[0] = '\0';
    for (int i = 0; ends[i]; i++) {
        int w = snprintf(out + used, size - used, "%s'%s'",
                         i ? " or " : "", ends[i]);

        if (w < 0 || (size_t)w >= size - used)
            return -1;
        used += (size_t)w;
    }
    return 0;
}

static int unknown_tag(struct parser *ps, const struct tok *tk,
                       const char *const *ends)
{
    char tags[256], name[128];

    snprintf(name, sizeof(name), "%.*s", (int)(tk->len > 100 ? 100 : tk->len),
             tk->s);
    if (!ends)
        return syntax_err(ps->t, ps->err, tk->line,
                          "Encountered unknown tag '%s'.", name);
    list_tags(tags, sizeof(tags), ends);
    return syntax_err(ps->t, ps->err, tk->line,
                      "Encountered unknown tag '%s'. Jinja was looking for "
                      "the following tags: %s. The innermost block that "
                      "needs to be closed is '%s'.",
                      name, tags,
                      ps->nblocks ? ps->blocks[ps->nblocks - 1] : "?");
}

static struct fabc_tpl_node *parse_statement(struct parser *ps,
                                             const char *const *ends)
{
    struct tok *tk = cur(ps);
    int line = tk->line;
    struct fabc_tpl_node *n = NULL;
    static const char *const tags[] = { "for", "if", "set", "macro", "call",
                                        "filter", "include", "with", NULL };
    const char *tag = NULL;

    if (tk->type != TK_NAME) {
        syntax_err(ps->t, ps->err, line, "tag name expected");
        return NULL;
    }
    for (int i = 0; tags[i]; i++)
        if (is_name(tk, tags[i]))
            tag = tags[i];
    if (!tag) {
        unknown_tag(ps, tk, ends);
        return NULL;
    }
    if (ps->nblocks >= MAX_DEPTH || enter(ps) < 0) {
        syntax_err(ps->t, ps->err, line, "template nested too deeply");
        return NULL;
    }
    ps->blocks[ps->nblocks++] = tag;
    advance(ps);
    if (!strcmp(tag, "for"))
        n = parse_for(ps, line);
    else if (!strcmp(tag, "if"))
        n = parse_if(ps, line);
    else if (!strcmp(tag, "set"))
        n = parse_set(ps, line);
    else if (!strcmp(tag, "macro"))
        n = parse_macro(ps, line);
    else if (!strcmp(tag, "call"))
        n = parse_call_block(ps, line);
    else if (!strcmp(tag, "filter"))
        n = parse_filter_block(ps, line);
    else if (!strcmp(tag, "include"))
        n = parse_include(ps, line);
    else
        n = parse_with(ps, line);
    ps->nblocks--;
    ps->depth--;
    return n;
}

/* Parse statements until one of `ends` (NULL: end of template). *which is
 * the index of the end tag found; the end tag and, for tags other than
 * elif/else with arguments, its block end are consumed. */
static struct fabc_tpl_node *parse_body(struct parser *ps,
                                        const char *const *ends, int *which)
{
    struct kids k = { 0 };
    int line = cur(ps)->line;

    *which = -1;
    for (;;) {
        struct tok *tk = cur(ps);
        struct fabc_tpl_node *n = NULL;

        if (tk->type == TK_EOF) {
            if (ends) {
                char tags[256];

                list_tags(tags, sizeof(tags), ends);
                syntax_err(ps->t, ps->err, tk->line,
                           "Unexpected end of template. Jinja was looking "
                           "for the following tags: %s. The innermost block "
                           "that needs to be closed is '%s'.",
                           tags,
                           ps->nblocks ? ps->blocks[ps->nblocks - 1] : "?");
                goto fail;
            }
            break;
        }
        if (tk->type == TK_DATA) {
            n = mknode(ps, FABC_TPL_TEXT, tk->line, 0);
            if (!n || set_str(ps, n, tk->s, tk->len) < 0)
                goto fail;
            advance(ps);
        } else if (tk->type == TK_VAR_BEGIN) {
            struct fabc_tpl_node *e;

            advance(ps);
            e = parse_tuple(ps, 0, NULL, 0);
            if (!e || expect_type(ps, TK_VAR_END) < 0)
                goto fail;
            n = mk2(ps, FABC_TPL_OUTPUT, e->line, e, NULL);
            if (!n)
                goto fail;
        } else if (tk->type == TK_BLOCK_BEGIN) {
            struct tok *nm = peek(ps, 1);

            if (ends) {
                int found = -1;

                for (int i = 0; ends[i]; i++)
                    if (is_name(nm, ends[i]))
                        found = i;
                if (found >= 0) {
                    *which = found;
                    advance(ps);
                    advance(ps);
                    /* elif carries an expression: the caller parses it */
                    if (strcmp(ends[found], "elif") != 0) {
                        /* `{% endmacro name %}`-style trailing names are
                         * not Jinja2; require the block end */
                        if (block_end(ps) < 0)
                            goto fail;
                    }
                    break;
                }
            }
            advance(ps);
            n = parse_statement(ps, ends);
            if (!n)
                goto fail;
        } else {
            fail_tok(ps, "template data");
            goto fail;
        }
        if (kids_push(ps, &k, n) < 0)
            goto fail;
    }
    return mknode_kids(ps, FABC_TPL_BODY, line, &k);
fail:
    fabc_free(k.v);
    return NULL;
}

/* ---- entry points --------------------------------------------------- */

/* "\r\n" and "\r" to "\n"; drop one trailing newline. */
static char *normalise(const char *src, size_t len, size_t *outlen)
{
    char *d = fabc_malloc(len + 1);
    size_t j = 0;

    if (!d)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            d[j++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        } else {
            d[j++] = src[i];
        }
    }
    if (j && d[j - 1] == '\n')
        j--;
    d[j] = '\0';
    *outlen = j;
    return d;
}

struct fabc_tpl *fabc_tpl_compile(const char *src, size_t len,
                                  const char *name, struct fabc_err *err)
{
    struct fabc_tpl *t = NULL, *ret = NULL;
    struct lexer lx;
    struct parser ps;
    char *norm = NULL;
    size_t nlen;
    int which;

    memset(&lx, 0, sizeof(lx));
    t = fabc_calloc(1, sizeof(*t));
    if (!t) {
        nomem(err);
        goto out;
    }
    t->name = fabc_strdup(name ? name : "<template>");
    if (!t->name) {
        nomem(err);
        goto out;
    }
    norm = normalise(src ? src : "", src ? len : 0, &nlen);
    if (!norm) {
        nomem(err);
        goto out;
    }
    lx.t = t;
    lx.err = err;
    lx.src = norm;
    lx.len = nlen;
    if (lex(&lx) < 0)
        goto out;
    memset(&ps, 0, sizeof(ps));
    ps.t = t;
    ps.err = err;
    ps.toks = lx.toks;
    ps.ntoks = lx.ntoks;
    /* DATA tokens point into `norm`: copied into the arena by set_str */
    t->root = parse_body(&ps, NULL, &which);
    if (!t->root)
        goto out;
    ret = t;
    t = NULL;
out:
    fabc_free(lx.toks);
    fabc_free(norm);
    fabc_tpl_free(t);
    return ret;
}

void fabc_tpl_free(struct fabc_tpl *t)
{
    if (!t)
        return;
    fabc_arena_free(&t->arena);
    fabc_free(t->name);
    fabc_free(t);
}

const char *fabc_tpl_kind_name(enum fabc_tpl_kind kind)
{
    static const char *const names[FABC_TPL_KIND_MAX] = {
        "body", "text", "output", "if", "for", "set", "setblock",
        "include", "macro", "callblock", "filterblock", "with", "const",
        "name", "loopattr", "getattr", "getitem", "slice", "list", "tuple",
        "dict", "binop", "neg", "pos", "not", "and", "or", "compare",
        "cmpop", "condexpr", "concat", "filter", "test", "call", "kwarg",
        "param", "nsref"
    };

    if ((int)kind < 0 || kind >= FABC_TPL_KIND_MAX)
        return "?";
    return names[kind];
}

static int dump_node(const struct fabc_tpl_node *n, struct fabc_buf *out)
{
    if (!n)
        return fabc_buf_puts(out, "nil");
    if (fabc_buf_printf(out, "(%s", fabc_tpl_kind_name(n->kind)) < 0)
        return -1;
    if (n->kind == FABC_TPL_BINOP || n->kind == FABC_TPL_CMPOP ||
        n->kind == FABC_TPL_CONST || n->kind == FABC_TPL_TEST ||
        n->kind == FABC_TPL_INCLUDE)
        if (fabc_buf_printf(out, ":%d", n->op) < 0)
            return -1;
    if (n->str) {
        if (fabc_buf_puts(out, " '") < 0 ||
            fabc_buf_append(out, n->str, n->len) < 0 ||
            fabc_buf_puts(out, "'") < 0)
            return -1;
    }
    for (size_t i = 0; i < n->nkids; i++) {
        if (fabc_buf_puts(out, " ") < 0 || dump_node(n->kids[i], out) < 0)
            return -1;
    }
    return fabc_buf_puts(out, ")");
}

int fabc_tpl_dump(const struct fabc_tpl *t, struct fabc_buf *out)
{
    return dump_node(t->root, out);
}
