/* test_template.c — the Python-free template lexer and parser.
 *
 * Trees are checked through fabc_tpl_dump()'s S-expressions; syntax
 * errors by code, line and Jinja2's wording; every template of the
 * conformance corpus (../template/corpus.json) must compile exactly when
 * Jinja2 compiled it; and every allocation of a compile is made to fail in
 * turn. Run from tests/unit/ (the Makefile does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "err.h"
#include "template.h"
#include "util.h"

#define CORPUS "../template/corpus.json"

/* Compile `src` and return its dump (caller frees), or NULL with err. */
static char *dump_of(const char *src, struct fabc_err *err)
{
    struct fabc_tpl *t;
    struct fabc_buf b;

    fabc_err_clear(err);
    t = fabc_tpl_compile(src, strlen(src), "t.j2", err);
    if (!t)
        return NULL;
    fabc_buf_init(&b);
    assert_int_equal(fabc_tpl_dump(t, &b), 0);
    fabc_tpl_free(t);
    return fabc_buf_steal(&b, NULL);
}

static void expect_tree(const char *src, const char *tree)
{
    struct fabc_err err;
    char *d = dump_of(src, &err);

    if (!d)
        fail_msg("%s: %s", src, err.msg);
    if (strcmp(d, tree) != 0)
        fail_msg("%s\n  got:  %s\n  want: %s", src, d, tree);
    fabc_free(d);
}

static void expect_error(const char *src, int line, const char *msg_part)
{
    struct fabc_err err;
    char *d = dump_of(src, &err);

    if (d) {
        fabc_free(d);
        fail_msg("%s: compiled, expected an error", src);
    }
    assert_int_equal(err.code, FABC_E_TEMPLATE);
    assert_string_equal(err.file, "t.j2");
    if (err.line != line)
        fail_msg("%s: error on line %d, expected %d (%s)", src, err.line,
                 line, err.msg);
    if (!strstr(err.msg, msg_part))
        fail_msg("%s: message '%s' lacks '%s'", src, err.msg, msg_part);
}

static void test_text_and_output(void **state)
{
    (void)state;
    expect_tree("", "(body)");
    expect_tree("plain", "(body (text 'plain'))");
    expect_tree("a {{ x }} b",
                "(body (text 'a ') (output (name 'x')) (text ' b'))");
    expect_tree("{{ 'it\\'s\\n' }}", "(body (output (const:0 'it's\n')))");
    expect_tree("{{ 1_000 }}{{ 0x1f }}{{ 1.5e3 }}",
                "(body (output (const:1 '1000')) (output (const:1 '0x1f')) "
                "(output (const:2 '1.5e3')))");
    expect_tree("{{ true }}{{ None }}",
                "(body (output (const:3)) (output (const:5)))");
    expect_tree("{{ 'a' 'b' }}", "(body (output (const:0 'ab')))");
    expect_tree("{{ 'é\\u00e9' }}", "(body (output (const:0 'éé')))");
}

static void test_newlines(void **state)
{
    (void)state;
    /* one trailing newline dropped, \r\n and \r normalised */
    expect_tree("a\n", "(body (text 'a'))");
    expect_tree("a\n\n", "(body (text 'a\n'))");
    expect_tree("a\r\nb\rc\r\n", "(body (text 'a\nb\nc'))");
}

static void test_whitespace_control(void **state)
{
    (void)state;
    expect_tree("a  {{- x -}}  b",
                "(body (text 'a') (output (name 'x')) (text 'b'))");
    expect_tree("a\n  {%- if t -%}\n  x  \n{%- endif %}\nb",
                "(body (text 'a') (if (name 't') (body (text 'x')) nil) "
                "(text '\nb'))");
    expect_tree("a {#- c -#} b", "(body (text 'a') (text 'b'))");
    expect_tree("{% raw %}{{ x }}{% endraw %}", "(body (text '{{ x }}'))");
    expect_tree("a {%- raw -%} x {%- endraw -%} b",
                "(body (text 'a') (text 'x') (text 'b'))");
    expect_tree("{%+ if t %}x{% endif %}",
                "(body (if (name 't') (body (text 'x')) nil))");
}

static void test_precedence(void **state)
{
    (void)state;
    expect_tree("{{ 1 + 2 * 3 }}",
                "(body (output (binop:0 (const:1 '1') (binop:2 (const:1 '2') "
                "(const:1 '3')))))");
    /* as in Jinja2, ~ binds tighter than + and looser than * */
    expect_tree("{{ a ~ b + c }}",
                "(body (output (binop:0 (concat (name 'a') (name 'b')) "
                "(name 'c'))))");
    expect_tree("{{ a ~ b * c }}",
                "(body (output (concat (name 'a') (binop:2 (name 'b') "
                "(name 'c')))))");
    expect_tree("{{ not a and b or c }}",
                "(body (output (or (and (not (name 'a')) (name 'b')) "
                "(name 'c'))))");
    /* filters apply to the negated value: -1|abs is 1 */
    expect_tree("{{ -a|f }}",
                "(body (output (filter 'f' (neg (name 'a')))))");
    expect_tree("{{ a + b is odd }}",
                "(body (output (binop:0 (name 'a') (test:0 'odd' "
                "(name 'b')))))");
    expect_tree("{{ 1 < x <= 3 }}",
                "(body (output (compare (const:1 '1') (cmpop:2 (name 'x')) "
                "(cmpop:3 (const:1 '3')))))");
    expect_tree("{{ x not in y }}",
                "(body (output (compare (name 'x') (cmpop:7 (name 'y')))))");
    expect_tree("{{ a if b else c }}",
                "(body (output (condexpr (name 'a') (name 'b') "
                "(name 'c'))))");
    expect_tree("{{ 2 ** 3 ** 2 }}",
                "(body (output (binop:6 (binop:6 (const:1 '2') "
                "(const:1 '3')) (const:1 '2'))))");
}

static void test_postfix(void **state)
{
    (void)state;
    expect_tree("{{ a.b[0]['c'] }}",
                "(body (output (getitem (getitem (getattr 'b' (name 'a')) "
                "(const:1 '0')) (const:0 'c'))))");
    expect_tree("{{ a.0.1 }}",
                "(body (output (getitem (getitem (name 'a') (const:1 '0')) "
                "(const:1 '1'))))");
    expect_tree("{{ s[1:] }}",
                "(body (output (getitem (name 's') (slice (const:1 '1') "
                "nil nil))))");
    expect_tree("{{ f(1, k=2) }}",
                "(body (output (call (name 'f') (const:1 '1') (kwarg 'k' "
                "(const:1 '2')))))");
    expect_tree("{{ loop.index }}",
                "(body (output (loopattr 'index' (name 'loop'))))");
    expect_tree("{{ x|join(', ')|upper }}",
                "(body (output (filter 'upper' (filter 'join' (name 'x') "
                "(const:0 ', ')))))");
    expect_tree("{{ x is divisibleby 3 }}{{ x is not none }}",
                "(body (output (test:0 'divisibleby' (name 'x') "
                "(const:1 '3'))) (output (test:1 'none' (name 'x'))))");
    expect_tree("{{ [1, (2,), {'k': v}] }}",
                "(body (output (list (const:1 '1') (tuple (const:1 '2')) "
                "(dict (const:0 'k') (name 'v')))))");
    expect_tree("{{ {'a': {'b': 1}} }}",
                "(body (output (dict (const:0 'a') (dict (const:0 'b') "
                "(const:1 '1')))))");
}

static void test_statements(void **state)
{
    (void)state;
    expect_tree("{% for k, v in d|dictsort if v %}{{ k }}{% else %}-"
                "{% endfor %}",
                "(body (for (tuple (name 'k') (name 'v')) (filter 'dictsort' "
                "(name 'd')) (body (output (name 'k'))) (body (text '-')) "
                "(name 'v')))");
    expect_tree("{% if a %}1{% elif b %}2{% else %}3{% endif %}",
                "(body (if (name 'a') (body (text '1')) (if (name 'b') "
                "(body (text '2')) (body (text '3')))))");
    expect_tree("{% set a, b = 1, 2 %}",
                "(body (set (tuple (name 'a') (name 'b')) (tuple "
                "(const:1 '1') (const:1 '2'))))");
    expect_tree("{% set ns.x = 1 %}",
                "(body (set (nsref 'x' (name 'ns')) (const:1 '1')))");
    expect_tree("{% set x | upper %}a{% endset %}",
                "(body (setblock (name 'x') (body (text 'a')) "
                "(filter 'upper' nil)))");
    expect_tree("{% macro m(a, b=1) %}{{ a }}{% endmacro %}",
                "(body (macro 'm' (body (output (name 'a'))) (param 'a' nil) "
                "(param 'b' (const:1 '1'))))");
    expect_tree("{% call(x) m() %}{{ x }}{% endcall %}",
                "(body (callblock (call (name 'm')) (macro 'caller' "
                "(body (output (name 'x'))) (param 'x' nil))))");
    expect_tree("{% filter upper|trim %}x{% endfilter %}",
                "(body (filterblock (filter 'trim' (filter 'upper' nil)) "
                "(body (text 'x'))))");
    expect_tree("{% include 'a.j2' ignore missing without context %}",
                "(body (include:3 (const:0 'a.j2')))");
    expect_tree("{% with a = 1 %}{{ a }}{% endwith %}",
                "(body (with (body (output (name 'a'))) (set (name 'a') "
                "(const:1 '1'))))");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_error("{{ }}", 1, "Expected an expression, got 'end of print "
                             "statement'");
    expect_error("{{ a b }}", 1, "expected token 'end of print statement', "
                                 "got 'b'");
    expect_error("a\nb\n{% if x %}", 3, "Unexpected end of template. Jinja "
                                        "was looking for the following tags: "
                                        "'elif' or 'else' or 'endif'");
    expect_error("x\n{% endfor %}", 2, "Encountered unknown tag 'endfor'.");
    expect_error("{% for x in y %}{% endif %}", 1,
                 "Encountered unknown tag 'endif'. Jinja was looking for "
                 "the following tags: 'endfor' or 'else'. The innermost "
                 "block that needs to be closed is 'for'.");
    expect_error("{% foo %}", 1, "Encountered unknown tag 'foo'.");
    expect_error("{{ 'abc }}", 1, "unexpected char \"'\" at 3");
    expect_error("{{ (1, 2 }}", 1, "unexpected '}', expected ')'");
    expect_error("{# open", 1, "Missing end of comment tag");
    expect_error("{% raw %}x", 1, "Missing end of raw directive");
    expect_error("\n\n{{ a.}}", 3, "expected name or number");
    expect_error("{{ x is odd is even }}", 1, "You cannot chain multiple tests");
    expect_error("{% for loop in x %}{% endfor %}", 1, "can't assign");
    expect_error("{% macro m(a=1, b) %}{% endmacro %}", 1,
                 "parameter without a default");
    expect_error("{{ @ }}", 1, "unexpected char '@' at 3");
    expect_error("{{ x", 1, "unexpected end of template");
    expect_error("{% set 1 = 2 %}", 1, "can't assign");
    expect_error("{{ f(a=1, 2) }}", 1, "Invalid argument syntax");
}

static void test_deep_nesting(void **state)
{
    struct fabc_err err;
    struct fabc_buf b;
    char *d;

    (void)state;
    fabc_buf_init(&b);
    assert_int_equal(fabc_buf_puts(&b, "{{ "), 0);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(fabc_buf_puts(&b, "("), 0);
    d = dump_of(b.data, &err);
    assert_null(d);
    assert_int_equal(err.code, FABC_E_TEMPLATE);
    fabc_buf_reset(&b);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(fabc_buf_puts(&b, "{% if x %}"), 0);
    d = dump_of(b.data, &err);
    assert_null(d);
    assert_int_equal(err.code, FABC_E_TEMPLATE);
    assert_non_null(strstr(err.msg, "nested too deeply"));
    fabc_buf_free(&b);
}

static void test_line_numbers(void **state)
{
    struct fabc_err err;
    struct fabc_tpl *t;
    const char *src = "a\n{{ x }}\n{% for i in y %}\n\n{{ i }}{% endfor %}";

    (void)state;
    fabc_err_clear(&err);
    t = fabc_tpl_compile(src, strlen(src), "n.j2", &err);
    assert_non_null(t);
    assert_string_equal(t->name, "n.j2");
    assert_int_equal(t->root->kids[1]->line, 2);              /* output */
    assert_int_equal(t->root->kids[3]->kind, FABC_TPL_FOR);
    assert_int_equal(t->root->kids[3]->line, 3);
    assert_int_equal(t->root->kids[3]->kids[2]->kids[1]->line, 5);
    fabc_tpl_free(t);
}

/* Every corpus template compiles exactly when Jinja2's parser accepted
 * it (unknown filters/tests are resolved later, by the renderer). */
static void test_corpus(void **state)
{
    json_error_t jerr;
    json_t *root = json_load_file(CORPUS, JSON_DECODE_INT_AS_REAL, &jerr), *cases, *c;
    size_t i, checked = 0;

    (void)state;
    if (!root)
        fail_msg("%s: %s", CORPUS, jerr.text);
    cases = json_object_get(root, "cases");
    json_array_foreach(cases, i, c) {
        const char *tpl = json_string_value(json_object_get(c, "template"));
        const char *error = json_string_value(json_object_get(c, "error"));
        struct fabc_err err;
        struct fabc_tpl *t;
        int syntax = error && !strcmp(error, "TemplateSyntaxError");

        if (json_object_get(c, "files"))
            continue;
        fabc_err_clear(&err);
        t = fabc_tpl_compile(tpl, strlen(tpl), "c.j2", &err);
        if (syntax && t)
            fail_msg("compiled but Jinja2 raised a syntax error: %s", tpl);
        if (!syntax && !t)
            fail_msg("syntax error %s:%d %s for: %s", err.file, err.line,
                     err.msg, tpl);
        if (!t) {
            assert_int_equal(err.code, FABC_E_TEMPLATE);
            assert_true(err.line >= 1);
        }
        fabc_tpl_free(t);
        checked++;
    }
    assert_true(checked > 300);
    json_decref(root);
}

/* Make each allocation of a compile fail in turn: the compile must then
 * fail cleanly with FABC_E_NOMEM (ASan/valgrind check for leaks). */
static void test_alloc_failures(void **state)
{
    const char *src =
        "{% macro row(h, w=1) -%}\n"
        "server {{ h.name }} {{ h.ip ~ ':' ~ h.port }} weight {{ w }}\n"
        "{%- endmacro %}\n"
        "{% for h in hosts|sort(attribute='name') if h.up %}\n"
        "  {{ row(h, w=loop.index) }}{% if not loop.last %},{% endif %}\n"
        "{% else %}none{% endfor %}\n"
        "{% set x %}{{ [1, 2, {'a': (3, 4)}]|tojson }}{% endset %}\n"
        "{% filter upper %}{{ x[1:] }} {{ 'a' if b else 'c' }}{% endfilter %}\n"
        "{# comment #}{% raw %}{{ raw }}{% endraw %}\n"
        "{% call(v) row(1) %}{{ v is defined and v > 1 }}{% endcall %}\n";
    long n, ok_at = -1;

    (void)state;
    for (n = 0; n < 100000; n++) {
        struct fabc_err err;
        struct fabc_tpl *t;

        fabc_err_clear(&err);
        fabc_malloc_fail_after(n);
        t = fabc_tpl_compile(src, strlen(src), "alloc.j2", &err);
        fabc_malloc_fail_after(-1);
        if (t) {
            fabc_tpl_free(t);
            ok_at = n;
            break;
        }
        if (err.code != FABC_E_NOMEM)
            fail_msg("allocation %ld: code %d (%s)", n, err.code, err.msg);
    }
    assert_true(ok_at > 5);
}

static void test_dump_names(void **state)
{
    (void)state;
    assert_string_equal(fabc_tpl_kind_name(FABC_TPL_FOR), "for");
    assert_string_equal(fabc_tpl_kind_name(FABC_TPL_NSREF), "nsref");
    assert_string_equal(fabc_tpl_kind_name(FABC_TPL_KIND_MAX), "?");
    fabc_tpl_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_and_output),
        cmocka_unit_test(test_newlines),
        cmocka_unit_test(test_whitespace_control),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_postfix),
        cmocka_unit_test(test_statements),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_line_numbers),
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_dump_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
