/* config.h — the YAML config loader: libyaml events → a node tree.
 *
 * A loaded document is what PyYAML 6.0 `yaml.safe_load` gives for the
 * same text, as C data: YAML 1.1 resolution of plain scalars (null, bool,
 * int incl. 0b/0o/0x/sexagesimal, float, timestamp), the explicit tags
 * !!str !!int !!float !!bool !!null !!timestamp !!map !!seq, anchors and
 * aliases (an alias is the very same node, so cycles are possible), `<<`
 * merge keys and duplicate keys resolved the way PyYAML builds its dicts.
 *
 * Every node of a document lives in one arena owned by the
 * struct fabc_config; fabc_config_free() releases all of it at once, so
 * alias cycles need no special care. Nodes are read-only for callers.
 *
 * This file is Python-free: py_config.c turns the tree into Python
 * objects. Errors are FABC_E_CONFIG with file:line:column (1-based) in
 * err->file/line/column and a message "name:line:col: problem (context)"
 * in libyaml's or PyYAML's words; FABC_E_NOMEM when memory ran out;
 * FABC_E_OS (lib_code errno) when the file cannot be read.
 */
#ifndef FABC_CONFIG_H
#define FABC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "util.h"

enum fabc_ytype {
    FABC_Y_NULL,      /* None */
    FABC_Y_BOOL,      /* .b */
    FABC_Y_INT,       /* .i, or .big when beyond int64 */
    FABC_Y_FLOAT,     /* .f */
    FABC_Y_STR,       /* .text/.len (UTF-8, may hold NUL bytes) */
    FABC_Y_TIMESTAMP, /* .ts, source text in .text/.len */
    FABC_Y_MAP,       /* .pairs/.n_pairs: final key order, keys unique */
    FABC_Y_SEQ        /* .items/.n_items */
};

/* A YAML timestamp: datetime.date when !has_time, else datetime.datetime,
 * naive when !has_tz, else aware with tz_minutes east of UTC. */
struct fabc_ytime {
    int year, month, day;
    int has_time;
    int hour, minute, second, usec;
    int has_tz;
    int tz_minutes;
};

struct fabc_ynode;

struct fabc_ypair {
    struct fabc_ynode *key;
    struct fabc_ynode *value;
};

struct fabc_ynode {
    enum fabc_ytype type;
    int line, column;   /* 1-based start of the node (its anchor/tag) */
    size_t id;          /* 0 .. n_nodes-1, unique within the document */
    const char *text;   /* scalar text (NUL-terminated), NULL otherwise */
    size_t len;         /* bytes in text */
    int b;              /* BOOL */
    int64_t i;          /* INT when big == NULL */
    const char *big;    /* INT beyond int64: "-?[0-9]+" decimal */
    double f;           /* FLOAT */
    struct fabc_ytime ts;
    struct fabc_ynode **items;
    size_t n_items;
    struct fabc_ypair *pairs;
    size_t n_pairs;

    /* private to config.c */
    int kind;                 /* scalar / sequence / mapping */
    int rtag;                 /* resolved tag */
    int flat, walked, folded; /* merge processing states */
    int built;                /* constructed (resolved or queued) */
    const char *tag;          /* explicit tag, NULL if none */
    struct fabc_ynode *next;  /* every node, creation order */
};

/* A loaded document. root is never NULL: an empty document is a
 * FABC_Y_NULL node. */
struct fabc_config {
    struct fabc_ynode *root;
    size_t n_nodes;
    struct fabc_ynode *first, *last;   /* private: every node */
    struct fabc_arena arena;           /* private: every allocation */
};

/* Parse `len` bytes at `data` (UTF-8, or UTF-16 with a BOM); `name` is
 * used in error messages and err->file. Returns a new document (free with
 * fabc_config_free) or NULL with err set. Thread-safe, no global state. */
struct fabc_config *fabc_config_load_buffer(const char *name,
                                            const void *data, size_t len,
                                            struct fabc_err *err);

/* Read and parse the file at `path` (named `path` in errors). */
struct fabc_config *fabc_config_load_file(const char *path,
                                          struct fabc_err *err);

/* Free a document and every node in it; NULL is fine. */
void fabc_config_free(struct fabc_config *cfg);

/* Append the canonical text form of the document to `out` (the form
 * tests/yaml/generate.py writes from PyYAML's result): one value per
 * line, two spaces of indentation per level,
 *   null  bool:true  int:-12  float:%.17g|nan|inf|-inf
 *   str:"json, ensure_ascii"  date:2001-12-14
 *   datetime:2001-12-14T21:59:43.100000[@-300]  (offset in minutes)
 *   { &N ... }  [ &N ... ]  with *N for a collection seen before,
 * map entries written as "<key> => <value>". Returns 0, or -1 if memory
 * ran out (out keeps what was written). */
int fabc_config_dump(const struct fabc_config *cfg, struct fabc_buf *out);

#endif
