/* template.h — the Python-free half of the template engine: a lexer and
 * parser for the Jinja2 template language that turn template source into
 * an abstract syntax tree (struct fabc_tpl). py_template.c walks the tree
 * against Python objects.
 *
 * The output of the tree is meant to match Jinja2 3.1 with its default
 * settings: autoescape off, trim_blocks and lstrip_blocks off and
 * keep_trailing_newline off (one trailing newline of the source is
 * dropped). "\r\n" and "\r" in the source become "\n".
 *
 * Every node lives in the template's arena: fabc_tpl_free() releases the
 * whole tree at once, nodes are never freed one by one.
 */
#ifndef FABC_TEMPLATE_H
#define FABC_TEMPLATE_H

#include <stddef.h>

#include "arena.h"
#include "err.h"
#include "util.h"

enum fabc_tpl_kind {
    /* statements */
    FABC_TPL_BODY,        /* kids: statements in order */
    FABC_TPL_TEXT,        /* str/len: literal output */
    FABC_TPL_OUTPUT,      /* kids[0]: expression to print */
    FABC_TPL_IF,          /* kids: cond, body, else (BODY, IF or NULL) */
    FABC_TPL_FOR,         /* kids: target, iter, body, else|NULL,
                             filter cond|NULL */
    FABC_TPL_SET,         /* kids: target, value */
    FABC_TPL_SETBLOCK,    /* kids: target, body, filter chain|NULL */
    FABC_TPL_INCLUDE,     /* kids[0]: name expr; op: FABC_TPL_INC_* bits */
    FABC_TPL_MACRO,       /* str: name; kids: body, then PARAM nodes */
    FABC_TPL_CALLBLOCK,   /* kids: call expr, caller MACRO node */
    FABC_TPL_FILTERBLOCK, /* kids: filter chain (innermost base NULL), body */
    FABC_TPL_WITH,        /* kids: body, then SET nodes */
    /* expressions */
    FABC_TPL_CONST,       /* op: FABC_TPL_C_*; str/len: literal text */
    FABC_TPL_NAME,        /* str: variable name */
    FABC_TPL_LOOPATTR,    /* str: attribute of the innermost `loop` */
    FABC_TPL_GETATTR,     /* kids[0]: object; str: attribute */
    FABC_TPL_GETITEM,     /* kids: object, key (expression or SLICE) */
    FABC_TPL_SLICE,       /* kids: start, stop, step (each may be NULL) */
    FABC_TPL_LIST,        /* kids: items */
    FABC_TPL_TUPLE,       /* kids: items */
    FABC_TPL_DICT,        /* kids: key, value, key, value, ... */
    FABC_TPL_BINOP,       /* op: FABC_TPL_OP_*; kids: left, right */
    FABC_TPL_NEG,         /* kids[0] */
    FABC_TPL_POS,         /* kids[0] */
    FABC_TPL_NOT,         /* kids[0] */
    FABC_TPL_AND,         /* kids: left, right */
    FABC_TPL_OR,          /* kids: left, right */
    FABC_TPL_COMPARE,     /* kids[0]: first operand, then CMPOP nodes */
    FABC_TPL_CMPOP,       /* op: FABC_TPL_CMP_*; kids[0]: operand */
    FABC_TPL_CONDEXPR,    /* kids: value, condition, else value|NULL */
    FABC_TPL_CONCAT,      /* kids: operands of ~ */
    FABC_TPL_FILTER,      /* str: name; kids[0]: base|NULL, then args */
    FABC_TPL_TEST,        /* str: name; kids[0]: base, then args */
    FABC_TPL_CALL,        /* kids[0]: callee, then args */
    FABC_TPL_KWARG,       /* str: keyword; kids[0]: value */
    FABC_TPL_PARAM,       /* str: parameter name; kids[0]: default|NULL */
    FABC_TPL_NSREF,       /* `ns.attr` as a set target: kids[0] NAME,
                             str: attr */
    FABC_TPL_KIND_MAX
};

enum fabc_tpl_const {
    FABC_TPL_C_STR,   /* str/len: the decoded UTF-8 value */
    FABC_TPL_C_INT,   /* str: digits without '_' in base 10/16/8/2 with
                         Python's prefix ("0x1f") */
    FABC_TPL_C_FLOAT, /* str: the literal without '_' */
    FABC_TPL_C_TRUE,
    FABC_TPL_C_FALSE,
    FABC_TPL_C_NONE
};

enum fabc_tpl_binop {
    FABC_TPL_OP_ADD,
    FABC_TPL_OP_SUB,
    FABC_TPL_OP_MUL,
    FABC_TPL_OP_DIV,
    FABC_TPL_OP_FLOORDIV,
    FABC_TPL_OP_MOD,
    FABC_TPL_OP_POW
};

enum fabc_tpl_cmp {
    FABC_TPL_CMP_EQ,
    FABC_TPL_CMP_NE,
    FABC_TPL_CMP_LT,
    FABC_TPL_CMP_LE,
    FABC_TPL_CMP_GT,
    FABC_TPL_CMP_GE,
    FABC_TPL_CMP_IN,
    FABC_TPL_CMP_NOTIN
};

/* FABC_TPL_INCLUDE flags. */
#define FABC_TPL_INC_IGNORE_MISSING 1
#define FABC_TPL_INC_WITHOUT_CONTEXT 2

/* FABC_TPL_TEST: op is 1 when the test is negated (`is not`). */

struct fabc_tpl_node {
    enum fabc_tpl_kind kind;
    int op;        /* kind-specific, see above */
    int line;      /* 1-based source line */
    int aux;       /* free for the renderer (constant index, filter id) */
    char *str;     /* NUL-terminated, may contain NULs for C_STR; or NULL */
    size_t len;    /* length of str */
    struct fabc_tpl_node **kids;
    size_t nkids;
};

struct fabc_tpl {
    char *name;                 /* template name for errors */
    struct fabc_tpl_node *root; /* a BODY node */
    size_t nnodes;              /* nodes in the tree (aux can index) */
    struct fabc_arena arena;    /* every node and string */
};

/* Compile `len` bytes of UTF-8 template source. `name` (may be NULL:
 * "<template>") is used in error messages. Returns a new template to be
 * freed with fabc_tpl_free(), or NULL with err set: FABC_E_TEMPLATE with
 * err->file = name and err->line for syntax errors (message as Jinja2
 * words it, without the "name:line: " prefix), FABC_E_NOMEM when out of
 * memory. */
struct fabc_tpl *fabc_tpl_compile(const char *src, size_t len,
                                  const char *name, struct fabc_err *err);

/* Free a template and every node; NULL is accepted. */
void fabc_tpl_free(struct fabc_tpl *t);

/* Append an S-expression view of the tree to `out` (tests, debugging).
 * Returns 0, or -1 when out of memory. */
int fabc_tpl_dump(const struct fabc_tpl *t, struct fabc_buf *out);

/* Name of a node kind ("if", "getattr", ...). */
const char *fabc_tpl_kind_name(enum fabc_tpl_kind kind);

#endif
