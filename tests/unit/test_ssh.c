/* test_ssh.c — the Python-free parts of the SSH engine: base64,
 * known_hosts (plain, patterns, hashed, mismatch with line numbers,
 * recording), target resolution (ssh_config, ProxyJump chains, gateway),
 * jobs and batches without a network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ssh.h"
#include "util.h"

#define KEY1                                                                  \
    "AAAAC3NzaC1lZDI1NTE5AAAAIIDiKQzbxsMOQIZWAE49wb4af2kDa0YbX3SKcrXhckBa"
#define KEY2                                                                  \
    "AAAAC3NzaC1lZDI1NTE5AAAAIN1Lg0bfM+uH09Ea/r1Vb69b/IWcGcfJo8p5LjmtZ4m/"
#define HASHED "|1|yT/yWUym7U5LocGADhyT09X6FwE=|UbJX7GtL9xEdYRKzkYlX5Jlezac="

static size_t blob(const char *b64, unsigned char *out, size_t n)
{
    long l = fabc_b64_decode(b64, strlen(b64), out, n);

    assert_true(l > 0);
    return (size_t)l;
}

static void test_b64(void **state)
{
    unsigned char buf[64];
    char *e;
    long n;

    (void)state;
    e = fabc_b64_encode((const unsigned char *)"foobar", 6, 1);
    assert_string_equal(e, "Zm9vYmFy");
    fabc_free(e);
    e = fabc_b64_encode((const unsigned char *)"fooba", 5, 1);
    assert_string_equal(e, "Zm9vYmE=");
    fabc_free(e);
    e = fabc_b64_encode((const unsigned char *)"foob", 4, 0);
    assert_string_equal(e, "Zm9vYg");
    fabc_free(e);
    n = fabc_b64_decode("Zm9vYg==", 8, buf, sizeof(buf));
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "foob", 4);
    assert_int_equal(fabc_b64_decode("Zm9v!", 5, buf, sizeof(buf)), -1);
    assert_int_equal(fabc_b64_decode("Zm9vYmFy", 8, buf, 3), -1);
}

static void test_kh_name(void **state)
{
    char b[300];

    (void)state;
    fabc_kh_name(b, sizeof(b), "h", 22);
    assert_string_equal(b, "h");
    fabc_kh_name(b, sizeof(b), "h", 2222);
    assert_string_equal(b, "[h]:2222");
    fabc_kh_name(b, sizeof(b), "::1", 2222);
    assert_string_equal(b, "[::1]:2222");
}

static void test_kh_field(void **state)
{
    (void)state;
    assert_true(fabc_kh_field_match("web1,10.0.0.1", "10.0.0.1"));
    assert_true(fabc_kh_field_match("*.example.com", "a.example.com"));
    assert_false(fabc_kh_field_match("*.example.com,!b.example.com",
                                     "b.example.com"));
    assert_true(fabc_kh_field_match("[web1.example.com]:2222",
                                    "[web1.example.com]:2222"));
    assert_false(fabc_kh_field_match("web1.example.com",
                                     "[web1.example.com]:2222"));
    assert_true(fabc_kh_field_match(HASHED, "[web1.example.com]:2222"));
    assert_false(fabc_kh_field_match(HASHED, "[web1.example.com]:2223"));
    assert_false(fabc_kh_field_match("|1|garbage", "x"));
}

static void test_kh_check(void **state)
{
    unsigned char k1[128], k2[128];
    size_t l1 = blob(KEY1, k1, sizeof(k1)), l2 = blob(KEY2, k2, sizeof(k2));
    const char *text = "# comment\n"
                       "\n"
                       "other ssh-ed25519 " KEY2 "\n"
                       "@revoked * ssh-ed25519 " KEY2 "\n"
                       "[web1.example.com]:2222 ssh-rsa AAAAB3NzaC1yc2E=\n"
                       HASHED " ssh-ed25519 " KEY1 " comment\n";
    struct fabc_err err;
    char types[128];
    int line = 0;

    (void)state;
    fabc_err_clear(&err);
    assert_int_equal(fabc_kh_check_text(text, "[web1.example.com]:2222",
                                        "ssh-ed25519", k1, l1, &line, types,
                                        sizeof(types), &err),
                     FABC_KH_MATCH);
    assert_string_equal(types, "ssh-rsa,ssh-ed25519");
    /* a different ed25519 key for the same host: changed, at line 6 */
    assert_int_equal(fabc_kh_check_text(text, "[web1.example.com]:2222",
                                        "ssh-ed25519", k2, l2, &line, NULL,
                                        0, &err),
                     FABC_KH_MISMATCH);
    assert_int_equal(line, 6);
    /* unknown host */
    assert_int_equal(fabc_kh_check_text(text, "nohost", "ssh-ed25519", k1,
                                        l1, &line, NULL, 0, &err),
                     FABC_KH_NOTFOUND);
    /* known only with another key type */
    assert_int_equal(fabc_kh_check_text(text, "[web1.example.com]:2222",
                                        "ecdsa-sha2-nistp256", k1, l1, &line,
                                        NULL, 0, &err),
                     FABC_KH_OTHERTYPE);
}

static void test_kh_file_add(void **state)
{
    char path[] = "/tmp/fabc-test-kh-XXXXXX";
    int fd = mkstemp(path);
    unsigned char k1[128];
    size_t l1 = blob(KEY1, k1, sizeof(k1));
    struct fabc_err err;
    int line = 0;

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    fabc_err_clear(&err);
    assert_int_equal(fabc_kh_check_file(path, "[h]:2", "ssh-ed25519", k1,
                                        l1, &line, NULL, 0, &err),
                     FABC_KH_NOTFOUND);
    assert_int_equal(fabc_kh_add(path, "[h]:2", "ssh-ed25519", k1, l1, &err),
                     0);
    assert_int_equal(fabc_kh_check_file(path, "[h]:2", "ssh-ed25519", k1,
                                        l1, &line, NULL, 0, &err),
                     FABC_KH_MATCH);
    unlink(path);
    /* a missing file is simply empty */
    assert_int_equal(fabc_kh_check_file(path, "[h]:2", "ssh-ed25519", k1,
                                        l1, &line, NULL, 0, &err),
                     FABC_KH_NOTFOUND);
}

static const char *cfg =
    "Host bastion\n  HostName 10.9.9.9\n  User jumper\n  Port 2022\n"
    "Host inner\n  HostName 10.0.0.7\n  ProxyJump bastion\n"
    "Host deep\n  ProxyJump bastion,inner\n"
    "Host deeper\n  ProxyJump inner,web9\n"
    "Host *\n  IdentityFile /keys/%r_%h\n";

static void test_target(void **state)
{
    struct fabc_err err;
    struct fabc_sshconfig *c;
    struct fabc_ssh_opts o;
    struct fabc_ssh_target *t, *d;
    const char *keys[] = {"/k/explicit"};

    (void)state;
    fabc_err_clear(&err);
    c = fabc_sshconfig_parse(cfg, "cfg", &err);
    assert_non_null(c);
    memset(&o, 0, sizeof(o));
    o.strict = -1;
    o.user = "deploy";
    o.keys = keys;
    o.nkeys = 1;
    o.known_hosts = "/kh";

    t = fabc_ssh_target_new("web1:2200", &o, c, &err);
    assert_non_null(t);
    assert_string_equal(t->user, "deploy");
    assert_string_equal(t->host, "web1");
    assert_int_equal(t->port, 2200);
    assert_int_equal(t->nkeys, 2);
    assert_string_equal(t->keys[0], "/k/explicit");
    assert_string_equal(t->keys[1], "/keys/deploy_web1");
    assert_int_equal(t->strict, FABC_STRICT_YES);
    assert_int_equal(t->connect_timeout_ms, 10000);
    assert_null(t->jump);
    assert_string_equal(t->label, "deploy@web1:2200");
    fabc_ssh_target_free(t);

    t = fabc_ssh_target_new("inner", &o, c, &err);
    assert_non_null(t);
    assert_string_equal(t->host, "10.0.0.7");
    assert_non_null(t->jump);
    assert_string_equal(t->jump->host, "10.9.9.9");
    assert_string_equal(t->jump->user, "jumper");
    assert_int_equal(t->jump->port, 2022);
    assert_non_null(strstr(t->key, " via jumper@10.9.9.9:2022"));
    d = fabc_ssh_target_dup(t, &err);
    assert_non_null(d);
    assert_string_equal(d->jump->host, "10.9.9.9");
    fabc_ssh_target_free(d);
    fabc_ssh_target_free(t);

    /* chain: deep -> inner -> bastion (connect to bastion first) */
    t = fabc_ssh_target_new("root@deep", &o, c, &err);
    assert_non_null(t);
    assert_string_equal(t->user, "root");
    assert_string_equal(t->jump->host, "10.0.0.7");
    assert_string_equal(t->jump->jump->host, "10.9.9.9");
    assert_null(t->jump->jump->jump);
    fabc_ssh_target_free(t);

    /* a chain whose first hop has its own ProxyJump: deeper -> web9 ->
     * inner -> bastion, and the session key names every hop */
    t = fabc_ssh_target_new("deeper", &o, c, &err);
    assert_non_null(t);
    assert_string_equal(t->jump->host, "web9");
    assert_string_equal(t->jump->jump->host, "10.0.0.7");
    assert_string_equal(t->jump->jump->jump->host, "10.9.9.9");
    assert_null(t->jump->jump->jump->jump);
    assert_string_equal(t->key, "deploy@deeper:22 via deploy@web9:22 via "
                                "deploy@10.0.0.7:22 via jumper@10.9.9.9:2022");
    fabc_ssh_target_free(t);

    /* gateway overrides ProxyJump; accept-new */
    o.gateway = "gw@gate:222";
    o.accept_new = 1;
    t = fabc_ssh_target_new("inner", &o, c, &err);
    assert_non_null(t);
    assert_string_equal(t->jump->host, "gate");
    assert_string_equal(t->jump->user, "gw");
    assert_int_equal(t->strict, FABC_STRICT_ACCEPT_NEW);
    fabc_ssh_target_free(t);

    assert_null(fabc_ssh_target_new("bad:port", &o, c, &err));
    assert_int_equal(err.code, FABC_E_USAGE);
    fabc_sshconfig_free(c);
}

static void test_target_loop(void **state)
{
    struct fabc_err err;
    struct fabc_sshconfig *c;
    struct fabc_ssh_opts o;

    (void)state;
    fabc_err_clear(&err);
    c = fabc_sshconfig_parse("Host a\n ProxyJump a\n", "cfg", &err);
    memset(&o, 0, sizeof(o));
    o.strict = -1;
    assert_null(fabc_ssh_target_new("a", &o, c, &err));
    assert_int_equal(err.code, FABC_E_CONFIG);
    fabc_sshconfig_free(c);
}

/* Found by tests/fuzz/fuzz_sshconfig.c: a long ProxyJump chain's cache
 * key (user@host:port via ...) was cut at 1023 bytes, so two chains
 * differing only after that would have shared one SSH session. Such a
 * chain is now refused; one that fits keeps its whole key. */
static void test_target_long_chain(void **state)
{
    struct fabc_err err;
    struct fabc_sshconfig *c;
    struct fabc_ssh_opts o;
    struct fabc_ssh_target *t;
    struct fabc_buf b;
    char name[401];

    (void)state;
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    fabc_buf_init(&b);
    assert_int_equal(fabc_buf_printf(&b, "Host far\n  ProxyJump "
                                         "u@%s1,u@%s2,u@%s3\n"
                                         "Host near\n  ProxyJump u@%s1\n"
                                         "Host big\n  HostName %s%s%s\n",
                                     name, name, name, name, name, name,
                                     name),
                     0);
    fabc_err_clear(&err);
    c = fabc_sshconfig_parse(b.data, "cfg", &err);
    assert_non_null(c);
    memset(&o, 0, sizeof(o));
    o.strict = -1;
    o.user = "deploy";

    t = fabc_ssh_target_new("far", &o, c, &err);
    assert_null(t);
    assert_int_equal(err.code, FABC_E_CONFIG);
    assert_non_null(strstr(err.msg, "ProxyJump chain too long"));

    fabc_err_clear(&err);
    t = fabc_ssh_target_new("near", &o, c, &err);
    assert_non_null(t);
    assert_non_null(t->jump);
    assert_int_equal(strlen(t->key), strlen("deploy@near:22 via u@") +
                                         strlen(name) + strlen("1:22"));
    fabc_ssh_target_free(t);

    fabc_err_clear(&err);
    t = fabc_ssh_target_new("big", &o, c, &err);
    assert_null(t);
    assert_int_equal(err.code, FABC_E_CONFIG);
    assert_non_null(strstr(err.msg, "too long"));

    fabc_buf_free(&b);
    fabc_sshconfig_free(c);
}

static void test_resolve(void **state)
{
    struct fabc_err err;
    struct fabc_ssh_opts o;
    struct fabc_ssh_target *t;

    (void)state;
    fabc_err_clear(&err);
    memset(&o, 0, sizeof(o));
    o.strict = -1;
    o.gateway = "127.0.0.5:2200";
    t = fabc_ssh_target_new("[::1]:2222", &o, NULL, &err);
    assert_non_null(t);
    /* only the first hop (the gateway) is resolved locally */
    assert_int_equal(fabc_ssh_target_resolve(t, &err), 0);
    assert_int_equal(t->addrlen, 0);
    assert_true(t->jump->addrlen > 0);
    assert_int_equal(t->jump->addr.ss_family, AF_INET);
    fabc_ssh_target_free(t);
    o.gateway = NULL;
    t = fabc_ssh_target_new("[::1]:2222", &o, NULL, &err);
    assert_int_equal(fabc_ssh_target_resolve(t, &err), 0);
    assert_int_equal(t->addr.ss_family, AF_INET6);
    fabc_ssh_target_free(t);
    t = fabc_ssh_target_new("no-such-host.invalid", &o, NULL, &err);
    assert_int_equal(fabc_ssh_target_resolve(t, &err), -1);
    assert_int_equal(err.code, FABC_E_CONNECT);
    assert_non_null(strstr(err.msg, "cannot resolve no-such-host.invalid"));
    fabc_ssh_target_free(t);
}

/* A job to a closed port fails with a connection error, through the
 * real engine thread (loopback only). */
static void test_engine_refused(void **state)
{
    struct fabc_err err;
    struct fabc_ssh_opts o;
    struct fabc_ssh_batch *b;
    struct fabc_ssh_job *j;

    (void)state;
    fabc_err_clear(&err);
    memset(&o, 0, sizeof(o));
    o.strict = -1;
    o.no_agent = 1;
    o.connect_timeout_ms = 2000;
    j = fabc_ssh_job_new(FABC_SSH_EXEC);
    assert_non_null(j);
    j->command = fabc_strdup("true");
    j->target = fabc_ssh_target_new("127.0.0.1:1", &o, NULL, &err);
    assert_non_null(j->target);
    b = fabc_ssh_batch_new(&err);
    assert_non_null(b);
    assert_int_equal(fabc_ssh_submit(b, &j, 1, &err), 0);
    for (int i = 0; i < 50 && !fabc_ssh_batch_wait(b, 200); i++)
        ;
    assert_int_equal(j->err.code, FABC_E_CONNECT);
    assert_non_null(strstr(j->err.msg, "Connection refused"));
    fabc_ssh_batch_free(b);
    fabc_ssh_job_free(j);
    fabc_ssh_shutdown();
    assert_int_equal(fabc_ssh_session_count(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64),
        cmocka_unit_test(test_kh_name),
        cmocka_unit_test(test_kh_field),
        cmocka_unit_test(test_kh_check),
        cmocka_unit_test(test_kh_file_add),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_target_loop),
        cmocka_unit_test(test_target_long_chain),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_engine_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
