/* test_cli.c — the task-spec and option parser (runner/cli.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util.h"

/* One table row: a spec, and the expected name and arguments written as
 * "pos|k=v|..." with '|' between args (values here never contain '|'),
 * or NULL name for an expected usage error. */
struct spec_case {
    const char *spec;
    const char *name;
    const char *args;   /* "" no args */
    const char *hosts;  /* ';'-joined, "" none */
    const char *roles;
    const char *excl;
};

static const struct spec_case cases[] = {
    {"deploy", "deploy", "", "", "", ""},
    {"deploy:", "deploy", "", "", "", ""},                 /* trailing : */
    {"deploy:a", "deploy", "a", "", "", ""},
    {"deploy:a,b", "deploy", "a|b", "", "", ""},
    {"deploy:a,,b", "deploy", "a||b", "", "", ""},         /* empty arg */
    {"deploy:a,", "deploy", "a|", "", "", ""},
    {"deploy:,", "deploy", "|", "", "", ""},
    {"stack.create:env=staging,tag=v2", "stack.create",
     "env=staging|tag=v2", "", "", ""},
    {"a.b.c:x", "a.b.c", "x", "", "", ""},
    {"t:k=", "t", "k=", "", "", ""},                       /* empty value */
    {"t:flags=a=b", "t", "flags=a=b", "", "", ""},         /* 2nd '=' */
    {"t:k=a=b=c", "t", "k=a=b=c", "", "", ""},
    {"t:k==", "t", "k==", "", "", ""},
    {"t:a\\,b", "t", "a,b", "", "", ""},                   /* \, */
    {"t:a\\=b", "t", "a=b", "", "", ""},                   /* \= */
    {"t:k\\=x=v", "t", "k=x=v", "", "", ""},               /* key with = */
    {"t:a\\\\b", "t", "a\\b", "", "", ""},                 /* \\ */
    {"t:a\\\\,b", "t", "a\\|b", "", "", ""},               /* \\ then , */
    {"t:k=v\\,w", "t", "k=v,w", "", "", ""},
    {"t:a\\nb", "t", "a\\nb", "", "", ""},                 /* other \ */
    {"t:trail\\", "t", "trail\\", "", "", ""},
    {"t:msg=héllo wörld", "t", "msg=héllo wörld", "", "", ""}, /* utf-8 */
    {"t:☃", "t", "☃", "", "", ""},
    {"t:k=v:w", "t", "k=v:w", "", "", ""},                 /* 2nd ':' */
    {"t::x", "t", ":x", "", "", ""},
    {"t:host=web1", "t", "", "web1", "", ""},
    {"t:hosts=a;b;c", "t", "", "a;b;c", "", ""},
    {"t:hosts=a; b ;;c", "t", "", "a;b;c", "", ""},
    {"t:x,host=h,y", "t", "x|y", "h", "", ""},
    {"t:role=web", "t", "", "", "web", ""},
    {"t:roles=web;db", "t", "", "", "web;db", ""},
    {"t:exclude_hosts=a;b", "t", "", "", "", "a;b"},
    {"t:hosts=u@[::1]:22;h:2222", "t", "", "u@[::1]:22;h:2222", "", ""},
    {"t:host=", "t", "", "", "", ""},
    {"t:hostname=x", "t", "hostname=x", "", "", ""},
    {"t: spaced ", "t", " spaced ", "", "", ""},
    {"t:a b,c d", "t", "a b|c d", "", "", ""},
    {"t:k=v,k2=v2,p", "t", "k=v|k2=v2|p", "", "", ""},
    {"t:p,k=v,q", "t", "p|k=v|q", "", "", ""},
    {"t:=v", NULL, NULL, NULL, NULL, NULL},                /* no key */
    {":x", NULL, NULL, NULL, NULL, NULL},                  /* no name */
    {"", NULL, NULL, NULL, NULL, NULL},
    {"t:k=1,k=2", NULL, NULL, NULL, NULL, NULL},           /* twice */
    {"t:a,=", NULL, NULL, NULL, NULL, NULL},
};

static void join_args(const struct fabc_task_spec *s, char *buf, size_t n)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < s->nargs; i++) {
        off += (size_t)snprintf(buf + off, n - off, "%s%s%s%s",
                                i ? "|" : "",
                                s->args[i].key ? s->args[i].key : "",
                                s->args[i].key ? "=" : "",
                                s->args[i].value ? s->args[i].value : "");
    }
}

static void join_strv(const struct fabc_strv *sv, char *buf, size_t n)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sv->n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? ";" : "",
                                sv->v[i]);
}

static void test_spec_table(void **unused)
{
    (void)unused;
    assert_true(sizeof(cases) / sizeof(cases[0]) >= 40);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct spec_case *c = &cases[i];
        struct fabc_task_spec s;
        struct fabc_err err;
        char buf[512];
        int rc;

        fabc_err_clear(&err);
        rc = fabc_cli_parse_spec(c->spec, &s, &err);
        if (!c->name) {
            if (rc != -1 || err.code != FABC_E_USAGE)
                fail_msg("case %zu '%s': expected a usage error", i,
                         c->spec);
            assert_true(err.msg[0] != '\0');
            fabc_cli_spec_free(&s);
            continue;
        }
        if (rc != 0)
            fail_msg("case %zu '%s': unexpected error: %s", i, c->spec,
                     err.msg);
        assert_string_equal(s.name, c->name);
        join_args(&s, buf, sizeof(buf));
        if (strcmp(buf, c->args))
            fail_msg("case %zu '%s': args '%s', want '%s'", i, c->spec, buf,
                     c->args);
        join_strv(&s.hosts, buf, sizeof(buf));
        assert_string_equal(buf, c->hosts);
        join_strv(&s.roles, buf, sizeof(buf));
        assert_string_equal(buf, c->roles);
        join_strv(&s.exclude_hosts, buf, sizeof(buf));
        assert_string_equal(buf, c->excl);
        fabc_cli_spec_free(&s);
    }
}

static int parse_argv(struct fabc_cli *cli, struct fabc_err *err, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;

    va_start(ap, err);
    argv[argc++] = (char *)"fabc";
    for (char *a = va_arg(ap, char *); a; a = va_arg(ap, char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    fabc_err_clear(err);
    return fabc_cli_parse(argc, argv, cli, err);
}

static void test_options(void **unused)
{
    struct fabc_cli cli;
    struct fabc_err err;

    (void)unused;
    assert_int_equal(parse_argv(&cli, &err, "-H", "a,b , c", "-P", "-z",
                                "5", "deploy:x", "--warn-only", "-u",
                                "deploy", "-i", "k1", "-i", "k2", "-t",
                                "2.5", "--set", "a=1,b,c=", "stack.show",
                                NULL),
                     0);
    assert_int_equal(cli.hosts.n, 3);
    assert_string_equal(cli.hosts.v[2], "c");
    assert_true(cli.parallel);
    assert_int_equal(cli.pool_size, 5);
    assert_true(cli.warn_only);
    assert_string_equal(cli.user, "deploy");
    assert_int_equal(cli.identities.n, 2);
    assert_true(cli.timeout > 2.4 && cli.timeout < 2.6);
    assert_int_equal(cli.nset, 3);
    assert_string_equal(cli.set[0].key, "a");
    assert_string_equal(cli.set[0].value, "1");
    assert_null(cli.set[1].value); /* --set KEY means True */
    assert_string_equal(cli.set[2].value, "");
    assert_int_equal(cli.nspecs, 2); /* options may follow tasks */
    assert_string_equal(cli.specs[0].name, "deploy");
    assert_string_equal(cli.specs[1].name, "stack.show");
    fabc_cli_free(&cli);

    assert_int_equal(parse_argv(&cli, &err, "-H", "h1,h2", "--", "uname",
                                "-a", "--", "x", NULL), 0);
    assert_string_equal(cli.command, "uname -a -- x");
    assert_int_equal(cli.nspecs, 0);
    fabc_cli_free(&cli);

    /* regression (found by fuzz_cli): an empty --set value */
    assert_int_equal(parse_argv(&cli, &err, "--set", "", "t", NULL), 0);
    assert_int_equal(cli.nset, 0);
    fabc_cli_free(&cli);

    assert_int_equal(parse_argv(&cli, &err, "--hosts=a", "-Hb", "-Pwq",
                                "--json", "-", NULL), 0);
    assert_int_equal(cli.hosts.n, 2);
    assert_true(cli.parallel && cli.warn_only);
    assert_int_equal(cli.verbosity, -1);
    assert_string_equal(cli.json, "-");
    fabc_cli_free(&cli);
}

static void test_option_errors(void **unused)
{
    struct fabc_cli cli;
    struct fabc_err err;
    (void)unused;

    assert_int_equal(parse_argv(&cli, &err, "--bogus", NULL), -1);
    assert_non_null(strstr(err.msg, "--bogus"));
    fabc_cli_free(&cli);
    assert_int_equal(parse_argv(&cli, &err, "-Q", NULL), -1);
    assert_non_null(strstr(err.msg, "-Q"));
    fabc_cli_free(&cli);
    assert_int_equal(parse_argv(&cli, &err, "-z", "0", "t", NULL), -1);
    assert_non_null(strstr(err.msg, "pool-size"));
    fabc_cli_free(&cli);
    assert_int_equal(parse_argv(&cli, &err, "-t", "soon", NULL), -1);
    fabc_cli_free(&cli);
    assert_int_equal(parse_argv(&cli, &err, "-H", NULL), -1);
    assert_non_null(strstr(err.msg, "needs a value"));
    fabc_cli_free(&cli);
    assert_int_equal(parse_argv(&cli, &err, "--hosts", NULL), -1);
    assert_non_null(strstr(err.msg, "needs a value"));
    fabc_cli_free(&cli);
    assert_int_equal(parse_argv(&cli, &err, "-H", "h", "--", NULL), -1);
    assert_non_null(strstr(err.msg, "nothing to run"));
    fabc_cli_free(&cli);
    assert_int_equal(parse_argv(&cli, &err, "t:=x", NULL), -1);
    fabc_cli_free(&cli);
}

/* Every allocation failure is reported as FABC_E_NOMEM, never a crash or
 * a leak (run under valgrind/ASan). */
static void test_alloc_failures(void **unused)
{
    (void)unused;
    for (long n = 0; n < 200; n++) {
        struct fabc_cli cli;
        struct fabc_err err;
        int rc;

        fabc_malloc_fail_after(n);
        rc = parse_argv(&cli, &err, "-H", "a,b", "--set", "x=1,y",
                        "t:a\\,b,k=v,hosts=h1;h2", "u:1", "--", "ls", NULL);
        fabc_malloc_fail_after(-1);
        fabc_cli_free(&cli);
        if (rc == 0)
            return; /* n allocations were enough: done */
        assert_int_equal(err.code, FABC_E_NOMEM);
    }
    fail_msg("parse never succeeded within 200 allocations");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_table),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
