/* test_sshconfig.c — ssh_config parsing/matching, token expansion, host
 * strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sshconfig.h"
#include "util.h"

static void test_glob(void **state)
{
    (void)state;
    assert_true(fabc_ssh_glob("*", "anything"));
    assert_true(fabc_ssh_glob("web*", "web01"));
    assert_false(fabc_ssh_glob("web*", "db01"));
    assert_true(fabc_ssh_glob("web??", "web01"));
    assert_false(fabc_ssh_glob("web??", "web1"));
    assert_true(fabc_ssh_glob("*.example.com", "a.b.example.com"));
    assert_true(fabc_ssh_glob("10.0.*.5", "10.0.33.5"));
    assert_false(fabc_ssh_glob("10.0.*.5", "10.0.33.6"));
    assert_true(fabc_ssh_glob("WEB*", "web1")); /* case-insensitive */
    assert_true(fabc_ssh_glob("a*b*c", "axxbyyc"));
    assert_false(fabc_ssh_glob("a*b*c", "axxbyy"));
    assert_true(fabc_ssh_glob("", ""));
    assert_false(fabc_ssh_glob("", "x"));
}

static void test_match_list(void **state)
{
    (void)state;
    assert_true(fabc_ssh_match_list("web* db*", "db2"));
    assert_true(fabc_ssh_match_list("web*,db*", "web2"));
    assert_false(fabc_ssh_match_list("web* !web3", "web3"));
    assert_true(fabc_ssh_match_list("web* !web3", "web4"));
    assert_false(fabc_ssh_match_list("!web3", "web4")); /* only negative */
    assert_false(fabc_ssh_match_list("!*", "x"));
}

static const char *cfg_text =
    "# global\n"
    "ConnectTimeout 7\n"
    "Host bastion\n"
    "    HostName 10.1.1.1\n"
    "    User jump\n"
    "Host web* !web9\n"
    "    HostName %h.internal\n"
    "    User deploy\n"
    "    Port 2200\n"
    "    IdentityFile ~/.ssh/id_%h_%r\n"
    "    ProxyJump bastion\n"
    "    StrictHostKeyChecking accept-new\n"
    "Host *\n"
    "    User fallback\n"
    "    Port=2201\n"
    "    IdentityFile \"/keys/common key\"\n"
    "    IdentitiesOnly yes\n"
    "    UserKnownHostsFile /kh/known\n"
    "    ServerAliveInterval 30\n";

static void test_lookup(void **state)
{
    struct fabc_err err;
    struct fabc_sshconfig *c;
    struct fabc_sshhost h;

    (void)state;
    fabc_err_clear(&err);
    c = fabc_sshconfig_parse(cfg_text, "cfg", &err);
    assert_non_null(c);
    fabc_sshhost_init(&h);
    assert_int_equal(fabc_sshconfig_lookup(c, "web1", &h, &err), 0);
    assert_string_equal(h.hostname, "%h.internal");
    assert_string_equal(h.user, "deploy"); /* first value wins */
    assert_int_equal(h.port, 2200);
    assert_int_equal(h.n_identity, 2); /* IdentityFile accumulates */
    assert_string_equal(h.identity_files[0], "~/.ssh/id_%h_%r");
    assert_string_equal(h.identity_files[1], "/keys/common key");
    assert_string_equal(h.proxy_jump, "bastion");
    assert_int_equal(h.strict, FABC_STRICT_ACCEPT_NEW);
    assert_int_equal(h.connect_timeout, 7);
    assert_int_equal(h.server_alive, 30);
    assert_int_equal(h.identities_only, 1);
    assert_string_equal(h.known_hosts, "/kh/known");
    fabc_sshhost_clear(&h);

    assert_int_equal(fabc_sshconfig_lookup(c, "web9", &h, &err), 0);
    assert_null(h.hostname);
    assert_string_equal(h.user, "fallback");
    assert_int_equal(h.port, 2201);
    assert_null(h.proxy_jump);
    assert_int_equal(h.strict, -1);
    fabc_sshhost_clear(&h);
    fabc_sshconfig_free(c);
}

static void test_parse_errors(void **state)
{
    struct fabc_err err;
    struct fabc_sshconfig *c;
    struct fabc_sshhost h;

    (void)state;
    fabc_err_clear(&err);
    assert_null(fabc_sshconfig_parse("Host x\n  Port\n", "f", &err));
    assert_int_equal(err.code, FABC_E_CONFIG);
    assert_int_equal(err.line, 2);
    fabc_err_clear(&err);
    c = fabc_sshconfig_parse("Port notanumber\n", "f", &err);
    assert_non_null(c);
    fabc_sshhost_init(&h);
    assert_int_equal(fabc_sshconfig_lookup(c, "x", &h, &err), -1);
    assert_int_equal(err.code, FABC_E_CONFIG);
    assert_non_null(strstr(err.msg, "f:1"));
    fabc_sshhost_clear(&h);
    fabc_sshconfig_free(c);
    /* Match blocks are ignored, not applied */
    fabc_err_clear(&err);
    c = fabc_sshconfig_parse("Match host x\n  User m\nHost *\n User a\n",
                             "f", &err);
    assert_non_null(c);
    fabc_sshhost_init(&h);
    assert_int_equal(fabc_sshconfig_lookup(c, "x", &h, &err), 0);
    assert_string_equal(h.user, "a");
    fabc_sshhost_clear(&h);
    fabc_sshconfig_free(c);
}

static void test_missing_file(void **state)
{
    struct fabc_err err;
    struct fabc_sshconfig *c;

    (void)state;
    fabc_err_clear(&err);
    c = fabc_sshconfig_load("/nonexistent/ssh_config", 1, &err);
    assert_non_null(c);
    fabc_sshconfig_free(c);
    assert_null(fabc_sshconfig_load("/nonexistent/ssh_config", 0, &err));
    assert_int_equal(err.code, FABC_E_CONFIG);
}

static void test_expand(void **state)
{
    struct fabc_err err;
    char *s, want[512];

    (void)state;
    fabc_err_clear(&err);
    setenv("HOME", "/home/tester", 1);
    s = fabc_ssh_expand("~/.ssh/id_%h_%p_%r_%%", "h1", 2222, "deploy", "a",
                        &err);
    assert_non_null(s);
    /* the home was cached on first use; compare against it */
    snprintf(want, sizeof(want), "%s/.ssh/id_h1_2222_deploy_%%",
             fabc_ssh_local_home());
    assert_string_equal(s, want);
    fabc_free(s);
    s = fabc_ssh_expand("%u@%n", "h1", 0, "r", "alias", &err);
    assert_non_null(s);
    snprintf(want, sizeof(want), "%s@alias", fabc_ssh_local_user());
    assert_string_equal(s, want);
    fabc_free(s);
    assert_null(fabc_ssh_expand("%z", "h", 22, "u", "a", &err));
    assert_int_equal(err.code, FABC_E_CONFIG);
    s = fabc_ssh_expand("a~b", "h", 22, "u", "a", &err); /* ~ only leading */
    assert_string_equal(s, "a~b");
    fabc_free(s);
}

static void check_host(const char *in, const char *user, const char *host,
                       int port)
{
    struct fabc_err err;
    char *u = NULL, *h = NULL;
    int p = -1;

    fabc_err_clear(&err);
    assert_int_equal(fabc_ssh_parse_host(in, &u, &h, &p, &err), 0);
    if (user)
        assert_string_equal(u, user);
    else
        assert_null(u);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
    fabc_free(u);
    fabc_free(h);
}

static void test_parse_host(void **state)
{
    struct fabc_err err;
    char *u, *h;
    int p;

    (void)state;
    check_host("web1", NULL, "web1", 0);
    check_host("deploy@web1", "deploy", "web1", 0);
    check_host("deploy@web1:2222", "deploy", "web1", 2222);
    check_host("10.0.0.5:22", NULL, "10.0.0.5", 22);
    check_host("[::1]:2222", NULL, "::1", 2222);
    check_host("root@[fe80::1%eth0]:22", "root", "fe80::1%eth0", 22);
    check_host("[::1]", NULL, "::1", 0);
    check_host("::1", NULL, "::1", 0);
    check_host("a@b@host", "a@b", "host", 0);
    fabc_err_clear(&err);
    assert_int_equal(fabc_ssh_parse_host("", &u, &h, &p, &err), -1);
    assert_int_equal(fabc_ssh_parse_host("@h", &u, &h, &p, &err), -1);
    assert_int_equal(fabc_ssh_parse_host("h:0", &u, &h, &p, &err), -1);
    assert_int_equal(fabc_ssh_parse_host("h:70000", &u, &h, &p, &err), -1);
    assert_int_equal(fabc_ssh_parse_host("h:x", &u, &h, &p, &err), -1);
    assert_int_equal(fabc_ssh_parse_host("[::1", &u, &h, &p, &err), -1);
    assert_int_equal(fabc_ssh_parse_host("[::1]x", &u, &h, &p, &err), -1);
    assert_int_equal(err.code, FABC_E_USAGE);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    /* Every allocation failing in turn must give NULL, never a crash. */
    for (long n = 0; n < 200; n++) {
        struct fabc_err err;
        struct fabc_sshconfig *c;
        struct fabc_sshhost h;

        fabc_err_clear(&err);
        fabc_malloc_fail_after(n);
        c = fabc_sshconfig_parse(cfg_text, "cfg", &err);
        if (c) {
            fabc_sshhost_init(&h);
            fabc_sshconfig_lookup(c, "web1", &h, &err);
            fabc_sshhost_clear(&h);
            fabc_sshconfig_free(c);
        }
        fabc_malloc_fail_after(-1);
        if (c && n > 150)
            break;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_match_list),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_parse_host),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
