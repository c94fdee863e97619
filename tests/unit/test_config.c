/* test_config.c — the YAML config loader against PyYAML's answers.
 *
 * Every ../yaml/NAME.yaml is loaded with the C loader and dumped in the
 * canonical form; ../yaml/NAME.expected (written by generate.py from
 * yaml.safe_load) must match byte for byte, or name the error position.
 * Run from tests/unit/ (the Makefile does).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "err.h"
#include "util.h"

#define CORPUS "../yaml"

static char *read_all(const char *path, size_t *len)
{
    struct fabc_buf b;
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "rb");

    fabc_buf_init(&b);
    if (!f)
        return NULL;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (fabc_buf_append(&b, chunk, n) < 0)
            break;
    fclose(f);
    if (fabc_buf_append(&b, "", 0) < 0) {
        fabc_buf_free(&b);
        return NULL;
    }
    return fabc_buf_steal(&b, len);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted NAME.yaml entries of the corpus; *n set. */
static char **corpus_names(size_t *n)
{
    DIR *d = opendir(CORPUS);
    struct dirent *e;
    char **names = NULL;
    size_t cap = 0;

    *n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);

        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(*names));
            assert_non_null(names);
        }
        names[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, *n, sizeof(*names), cmp_names);
    return names;
}

static void check_document(const char *name, int *n_ok, int *n_err)
{
    char path[512], exp_path[512];
    char *expected;
    size_t exp_len;
    struct fabc_err err;
    struct fabc_config *cfg;
    struct fabc_buf out;

    snprintf(path, sizeof(path), "%s/%s", CORPUS, name);
    snprintf(exp_path, sizeof(exp_path), "%s/%.*s.expected", CORPUS,
             (int)(strlen(name) - 5), name);
    expected = read_all(exp_path, &exp_len);
    if (!expected)
        fail_msg("%s: no .expected file (run tests/yaml/generate.py)",
                 name);
    fabc_err_clear(&err);
    fabc_buf_init(&out);
    cfg = fabc_config_load_file(path, &err);
    if (strncmp(expected, "error:", 6) == 0) {
        int line = -1, column = -1;

        if (sscanf(expected, "error:%d:%d:", &line, &column) != 2)
            fail_msg("%s: bad .expected", name);
        if (cfg)
            fail_msg("%s: loaded, but PyYAML says %s", name, expected);
        if (err.code != FABC_E_CONFIG)
            fail_msg("%s: error code %d: %s", name, err.code, err.msg);
        if (line > 0 && (err.line != line || err.column != column))
            fail_msg("%s: error at %d:%d, PyYAML at %d:%d\n  C: %s\n  "
                     "PyYAML: %s",
                     name, err.line, err.column, line, column, err.msg,
                     expected);
        /* the message starts with "path:line:col: " */
        {
            char prefix[600];

            snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", path, err.line,
                     err.column);
            if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
                fail_msg("%s: message '%s' lacks '%s'", name, err.msg,
                         prefix);
        }
        assert_string_equal(err.file, path);
        (*n_err)++;
    } else {
        if (!cfg)
            fail_msg("%s: %s", name, err.msg);
        assert_int_equal(fabc_config_dump(cfg, &out), 0);
        if (strcmp(out.data, expected) != 0) {
            /* show the first differing line */
            const char *a = out.data, *b = expected;
            int line = 1;

            while (*a && *a == *b) {
                if (*a == '\n')
                    line++;
                a++;
                b++;
            }
            fail_msg("%s: differs from PyYAML at dump line %d:\n  C:      "
                     "%.80s\n  PyYAML: %.80s",
                     name, line, a, b);
        }
        (*n_ok)++;
    }
    fabc_buf_free(&out);
    fabc_config_free(cfg);
    fabc_free(expected);
}

static void test_corpus(void **state)
{
    size_t n;
    char **names = corpus_names(&n);
    int n_ok = 0, n_err = 0;

    (void)state;
    assert_true(n >= 30);
    for (size_t i = 0; i < n; i++) {
        check_document(names[i], &n_ok, &n_err);
        free(names[i]);
    }
    free(names);
    print_message("corpus: %d documents match PyYAML, %d errors match\n",
                  n_ok, n_err);
    assert_true(n_ok >= 25);
    assert_true(n_err >= 10);
}

static struct fabc_config *load_str(const char *text, struct fabc_err *err)
{
    fabc_err_clear(err);
    return fabc_config_load_buffer("config.yaml", text, strlen(text), err);
}

static const struct fabc_ynode *get(const struct fabc_ynode *map,
                                    const char *key)
{
    assert_int_equal(map->type, FABC_Y_MAP);
    for (size_t i = 0; i < map->n_pairs; i++) {
        const struct fabc_ynode *k = map->pairs[i].key;

        if (k->type == FABC_Y_STR && k->len == strlen(key)
            && memcmp(k->text, key, k->len) == 0)
            return map->pairs[i].value;
    }
    fail_msg("no key '%s'", key);
    return NULL;
}

static void test_types(void **state)
{
    struct fabc_err err;
    struct fabc_config *cfg;
    const struct fabc_ynode *r, *v;

    (void)state;
    cfg = load_str("i: 0x10\nbig: 99999999999999999999\nf: 1.5\n"
                   "s: '1.5'\nb: off\nn: ~\n"
                   "t: 2001-12-14 21:59:43.10 -5\nd: 2002-01-02\n"
                   "a: &x [1]\nb2: *x\n",
                   &err);
    assert_non_null(cfg);
    r = cfg->root;
    v = get(r, "i");
    assert_int_equal(v->type, FABC_Y_INT);
    assert_null(v->big);
    assert_int_equal(v->i, 16);
    assert_int_equal(v->line, 1);
    assert_int_equal(v->column, 4);
    v = get(r, "big");
    assert_int_equal(v->type, FABC_Y_INT);
    assert_string_equal(v->big, "99999999999999999999");
    v = get(r, "f");
    assert_int_equal(v->type, FABC_Y_FLOAT);
    assert_true(v->f == 1.5);
    assert_int_equal(get(r, "s")->type, FABC_Y_STR);
    v = get(r, "b");
    assert_int_equal(v->type, FABC_Y_BOOL);
    assert_int_equal(v->b, 0);
    assert_int_equal(get(r, "n")->type, FABC_Y_NULL);
    v = get(r, "t");
    assert_int_equal(v->type, FABC_Y_TIMESTAMP);
    assert_int_equal(v->ts.has_time, 1);
    assert_int_equal(v->ts.has_tz, 1);
    assert_int_equal(v->ts.tz_minutes, -300);
    assert_int_equal(v->ts.usec, 100000);
    assert_string_equal(v->text, "2001-12-14 21:59:43.10 -5");
    v = get(r, "d");
    assert_int_equal(v->ts.has_time, 0);
    assert_int_equal(v->ts.day, 2);
    /* an alias is the same node */
    assert_ptr_equal(get(r, "a"), get(r, "b2"));
    fabc_config_free(cfg);

    /* UTF-16 with a BOM, as libyaml and PyYAML detect it */
    fabc_err_clear(&err);
    cfg = fabc_config_load_buffer("u16.yaml",
                                  "\xff\xfe" "a\0:\0 \0\xe9\0\n\0", 12,
                                  &err);
    assert_non_null(cfg);
    v = get(cfg->root, "a");
    assert_int_equal(v->type, FABC_Y_STR);
    assert_string_equal(v->text, "\xc3\xa9");
    fabc_config_free(cfg);
    /* a directory is not a config file */
    fabc_err_clear(&err);
    assert_null(fabc_config_load_file(CORPUS, &err));
    assert_int_equal(err.code, FABC_E_OS);
}

static void test_cycles_and_merge(void **state)
{
    struct fabc_err err;
    struct fabc_config *cfg;
    const struct fabc_ynode *r, *m;

    (void)state;
    cfg = load_str("a: &a\n  self: *a\n  x: 1\nm:\n  <<: *a\n  x: 2\n",
                   &err);
    assert_non_null(cfg);
    r = cfg->root;
    assert_ptr_equal(get(get(r, "a"), "self"), get(r, "a"));
    m = get(r, "m");
    assert_int_equal(m->n_pairs, 2);
    /* merged keys first, explicit value wins */
    assert_ptr_equal(get(m, "self"), get(r, "a"));
    assert_int_equal(get(m, "x")->i, 2);
    assert_string_equal(m->pairs[0].key->text, "self");
    fabc_config_free(cfg);
}

static void test_errors(void **state)
{
    struct fabc_err err;

    (void)state;
    assert_null(load_str("stacks:\n  common:\n    user: deploy\n"
                         "   port: 22\n",
                         &err));
    assert_int_equal(err.code, FABC_E_CONFIG);
    assert_string_equal(err.file, "config.yaml");
    assert_int_equal(err.line, 4);
    assert_int_equal(err.column, 4);
    assert_string_equal(err.msg,
                        "config.yaml:4:4: did not find expected key (while "
                        "parsing a block mapping that started at line 2, "
                        "column 3)");
    assert_null(load_str("a: 1\n---\nb: 2\n", &err));
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.msg, "expected a single document"));
    assert_null(load_str("a: !vault x\n", &err));
    assert_non_null(strstr(err.msg, "'!vault'"));
    assert_null(load_str("a: *nope\n", &err));
    assert_int_equal(err.column, 4);
    assert_null(load_str("x: \"\\xZZ\"\n", &err));
    assert_null(load_str("d: 2001-02-30\n", &err));
    assert_int_equal(err.code, FABC_E_CONFIG);
    assert_null(load_str("a: \x01\n", &err));
    assert_int_equal(err.code, FABC_E_CONFIG);
    assert_int_equal(err.line, 1);
    fabc_err_clear(&err);
    assert_null(fabc_config_load_file(CORPUS "/no-such-file.yaml", &err));
    assert_int_equal(err.code, FABC_E_OS);
}

static void test_empty(void **state)
{
    struct fabc_err err;
    struct fabc_config *cfg;
    const char *empties[] = {"", "# only a comment\n", "---\n", "--- ~\n"};

    (void)state;
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        cfg = load_str(empties[i], &err);
        assert_non_null(cfg);
        assert_int_equal(cfg->root->type, FABC_Y_NULL);
        fabc_config_free(cfg);
    }
}

/* Every allocation of the loader fails in turn: each run must fail with
 * FABC_E_NOMEM (never crash or leak), until the load succeeds. */
static void test_alloc_failures(void **state)
{
    const char *files[] = {CORPUS "/27_realistic.yaml",
                           CORPUS "/18_cycles.yaml",
                           CORPUS "/05_ints.yaml",
                           CORPUS "/31_merge_override_order.yaml",
                           CORPUS "/err_12_unhashable_key.yaml"};

    (void)state;
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        size_t len;
        char *text = read_all(files[f], &len);
        long n;
        int done = 0;

        assert_non_null(text);
        for (n = 0; !done && n < 100000; n++) {
            struct fabc_err err;
            struct fabc_config *cfg;
            struct fabc_buf out;

            fabc_err_clear(&err);
            fabc_buf_init(&out);
            fabc_malloc_fail_after(n);
            cfg = fabc_config_load_buffer("config.yaml", text, len, &err);
            if (cfg) {
                done = fabc_config_dump(cfg, &out) == 0;
            } else if (err.code == FABC_E_CONFIG) {
                done = 1; /* the malformed one got through to its error */
            } else {
                fabc_malloc_fail_after(-1);
                if (err.code != FABC_E_NOMEM)
                    fail_msg("%s: fail-after %ld: code %d: %s", files[f],
                             n, err.code, err.msg);
            }
            fabc_malloc_fail_after(-1);
            fabc_buf_free(&out);
            fabc_config_free(cfg);
        }
        assert_true(done);
        assert_true(n > 3);
        fabc_free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_cycles_and_merge),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_alloc_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
