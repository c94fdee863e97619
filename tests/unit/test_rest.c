/* test_rest.c — the Python-free helpers of the cloud layer: URL building,
 * the service's error message, redaction, the YAML reader, clouds.yaml and
 * OS_* loading, the Keystone auth body and catalog, the Heat files map,
 * Glance property filters (runner/rest.c, keystone.c, heat.c, glance.c).
 * No network: everything that talks to a server is tested against the
 * real lab in tests/integration/test_cloud_*.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "glance.h"
#include "heat.h"
#include "keystone.h"
#include "rest.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

/* j["a"]["b"]... for a '/'-separated path */
static json_t *jp(json_t *j, const char *path)
{
    char key[256];

    while (j && *path) {
        const char *end = strchr(path, '/');
        size_t n = end ? (size_t)(end - path) : strlen(path);

        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        j = json_object_get(j, key);
        path += n;
        if (*path == '/')
            path++;
    }
    return j;
}

static const char *js(json_t *j, const char *path)
{
    return json_string_value(jp(j, path));
}

static char tmpdir[256];

static void write_file(const char *rel, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup_dir(void **state)
{
    char sub[512];

    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fabc-test-rest-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(sub, sizeof(sub), "%s/nested", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(sub, sizeof(sub), "%s/files", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    return 0;
}

static int teardown_dir(void **state)
{
    char cmd[600];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void clear_os_env(void)
{
    static const char *const vars[] = {
        "OS_CLOUD", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD",
        "OS_PROJECT_NAME", "OS_PROJECT_ID", "OS_USER_DOMAIN_NAME",
        "OS_PROJECT_DOMAIN_NAME", "OS_REGION_NAME", "OS_INTERFACE",
        "OS_CLIENT_CONFIG_FILE", "OS_CLIENT_SECURE_FILE", "OS_TENANT_NAME",
        "OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_SECRET",
        "OS_AUTH_TYPE", "OS_CACERT", "OS_INSECURE", "OS_USER_ID",
        "OS_CERT", "OS_KEY"};

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

/* ------------------------------------------------------------ URLs */

static void test_join(void **state)
{
    char *s;

    (void)state;
    s = fabc_rest_join("http://h:8004/v1/p/", "/stacks");
    assert_string_equal(s, "http://h:8004/v1/p/stacks");
    fabc_free(s);
    s = fabc_rest_join("http://h:9292", "v2/images?tag=a");
    assert_string_equal(s, "http://h:9292/v2/images?tag=a");
    fabc_free(s);
}

static void test_urlenc(void **state)
{
    struct fabc_buf b;

    (void)state;
    fabc_buf_init(&b);
    assert_int_equal(fabc_rest_urlenc(&b, "a b/c&d=é~_.-"), 0);
    assert_string_equal(b.data, "a%20b%2Fc%26d%3D%C3%A9~_.-");
    fabc_buf_free(&b);
}

static void test_v3_url(void **state)
{
    static const char *const cases[][2] = {
        {"http://h:5000", "http://h:5000/v3"},
        {"http://h:5000/", "http://h:5000/v3"},
        {"http://h:5000/v3", "http://h:5000/v3"},
        {"http://h:5000/v3/", "http://h:5000/v3"},
        {"https://h/identity", "https://h/identity/v3"},
        {"https://h/identity/v3", "https://h/identity/v3"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = fabc_keystone_v3_url(cases[i][0]);

        assert_string_equal(s, cases[i][1]);
        fabc_free(s);
    }
}

/* ------------------------------------------------------------ messages */

static void test_service_message(void **state)
{
    static const char *const cases[][2] = {
        /* Heat */
        {"{\"code\":400,\"title\":\"Bad Request\",\"explanation\":\"The "
         "server could not comply\",\"error\":{\"type\":"
         "\"StackValidationFailed\",\"message\":\"The Resource Type "
         "(OS::X) could not be found.\",\"traceback\":null}}",
         "The Resource Type (OS::X) could not be found."},
        /* Keystone */
        {"{\"error\":{\"code\":401,\"message\":\"The request you have made "
         "requires authentication.\",\"title\":\"Unauthorized\"}}",
         "The request you have made requires authentication."},
        /* title + explanation only */
        {"{\"title\":\"Conflict\",\"explanation\":\"already there\"}",
         "Conflict: already there"},
        /* nova style */
        {"{\"itemNotFound\":{\"message\":\"gone\",\"code\":404}}", "gone"},
        /* Glance HTML */
        {"<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n "
         "<body>\n  <h1>404 Not Found</h1>\n  No image found with ID x"
         "<br /><br />\n\n\n </body>\n</html>",
         "404 Not Found 404 Not Found No image found with ID x"},
        {"plain   text\n\nhere", "plain text here"},
        {"", ""},
        /* a JSON message keeps its '<' (only HTML pages lose tags) */
        {"{\"error\":{\"message\":\"count must be <= 10 <b>\"}}",
         "count must be <= 10 <b>"},
        /* a server's terminal escape is not passed on */
        {"{\"error\":{\"message\":\"red \\u001b[31mtext\\u0007\"}}",
         "red ?[31mtext?"},
        {"boom\x1b]0;title\x07 done", "boom?]0;title? done"},
        /* title and explanation are one line too */
        {"{\"title\":\"Conflict\",\"explanation\":\"line one\\n\\nline "
         "two\"}", "Conflict: line one line two"},
    };
    char out[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fabc_rest_service_message(cases[i][0], strlen(cases[i][0]), out,
                                  sizeof(out));
        assert_string_equal(out, cases[i][1]);
    }
    /* truncation keeps the buffer terminated */
    fabc_rest_service_message(cases[0][0], strlen(cases[0][0]), out, 8);
    assert_int_equal(strlen(out), 7);
}

/* ------------------------------------------------------------ redaction */

static void test_redact_header(void **state)
{
    static const char *const cases[][2] = {
        {"X-Auth-Token: gAAAAABsecret", "X-Auth-Token: ***"},
        {"x-subject-token: gAAAAAB\r\n", "x-subject-token: ***"},
        {"Authorization: Bearer abc", "Authorization: ***"},
        {"Set-Cookie: s=1", "Set-Cookie: ***"},
        {"Content-Type: application/json", "Content-Type: application/json"},
        {"x-openstack-request-id: req-1", "x-openstack-request-id: req-1"},
        {"no colon here", "no colon here"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = fabc_rest_redact_header(cases[i][0], strlen(cases[i][0]));

        assert_string_equal(s, cases[i][1]);
        fabc_free(s);
    }
}

/* Found by tests/fuzz/fuzz_rest.c: only the first 63 bytes of a header
 * name were looked at, so a longer name ending in "token" kept its value
 * in --debug logs. */
static void test_redact_header_long_name(void **state)
{
    const char *line = "X-Very-Long-Vendor-Specific-Prefix-For-This-Header-"
                       "Name-Session-Token: gAAAAABsecret\r\n";
    char *s;

    (void)state;
    s = fabc_rest_redact_header(line, strlen(line));
    assert_non_null(s);
    assert_null(strstr(s, "gAAAAABsecret"));
    assert_string_equal(s + strlen(s) - 5, ": ***");
    fabc_free(s);
}

static void test_redact_body(void **state)
{
    const char *auth =
        "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":"
        "{\"user\":{\"name\":\"demo\",\"password\":\"DemoPass1\"}}},"
        "\"application_credential\":{\"id\":\"x\",\"secret\":\"S3\"}}}";
    const char *body;
    char *s;

    (void)state;
    s = fabc_rest_redact_body(auth, strlen(auth));
    assert_non_null(s);
    assert_null(strstr(s, "DemoPass1"));
    assert_null(strstr(s, "S3"));
    assert_non_null(strstr(s, "\"password\":\"***\""));
    assert_non_null(strstr(s, "\"name\":\"demo\""));
    fabc_free(s);
    s = fabc_rest_redact_body("not json", 8);
    assert_string_equal(s, "<8 bytes>");
    fabc_free(s);
    /* a list under a secret key, Keystone's token method, nested lists */
    body = "{\"passwords\":[\"p1\",[\"p2\"]],\"auth\":"
        "{\"identity\":{\"methods\":[\"token\"],\"token\":{\"id\":"
        "\"T0K\"}}}}";
    s = fabc_rest_redact_body(body, strlen(body));
    assert_non_null(s);
    assert_null(strstr(s, "p1"));
    assert_null(strstr(s, "p2"));
    assert_null(strstr(s, "T0K"));
    assert_non_null(strstr(s, "\"methods\":[\"token\"]"));
    fabc_free(s);
    /* a token reply keeps its catalog (the token is in a header) */
    body = "{\"token\":{\"methods\":[\"password\"],\"catalog\":[{\"type\":"
        "\"orchestration\",\"id\":\"c1\"}]}}";
    s = fabc_rest_redact_body(body, strlen(body));
    assert_non_null(s);
    assert_non_null(strstr(s, "\"type\":\"orchestration\""));
    assert_non_null(strstr(s, "\"id\":\"c1\""));
    fabc_free(s);
}

/* ------------------------------------------------------------ YAML */

static void test_yaml_scalars(void **state)
{
    const char *y =
        "v: 2018-08-31\n"
        "i: 42\n"
        "n: -7\n"
        "h: 0x1f\n"
        "f: 1.5\n"
        "e: 1e5\n"
        "t: true\n"
        "y: yes\n"
        "o: off\n"
        "z: ~\n"
        "q: '42'\n"
        "s: hello world\n"
        "l: [1, two, {k: v}]\n"
        "m: |\n  line1\n  line2\n"
        "a: &anc {x: 1}\n"
        "b: *anc\n";
    struct fabc_err err;
    json_t *j;

    (void)state;
    fabc_err_clear(&err);
    j = fabc_rest_yaml_parse(y, strlen(y), "t.yaml", &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "v")),
                        "2018-08-31");
    assert_int_equal(json_integer_value(json_object_get(j, "i")), 42);
    assert_int_equal(json_integer_value(json_object_get(j, "n")), -7);
    assert_int_equal(json_integer_value(json_object_get(j, "h")), 31);
    assert_true(json_real_value(json_object_get(j, "f")) == 1.5);
    assert_string_equal(json_string_value(json_object_get(j, "e")), "1e5");
    assert_true(json_is_true(json_object_get(j, "t")));
    assert_true(json_is_true(json_object_get(j, "y")));
    assert_true(json_is_false(json_object_get(j, "o")));
    assert_true(json_is_null(json_object_get(j, "z")));
    assert_string_equal(json_string_value(json_object_get(j, "q")), "42");
    assert_string_equal(json_string_value(json_object_get(j, "s")),
                        "hello world");
    assert_int_equal(json_array_size(json_object_get(j, "l")), 3);
    assert_string_equal(json_string_value(json_object_get(j, "m")),
                        "line1\nline2\n");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(j, "b"), "x")),
                     1);
    json_decref(j);
}

static void test_yaml_error_position(void **state)
{
    const char *y = "a: 1\nb: [1, 2\nc: 3\n";
    struct fabc_err err;
    json_t *j;

    (void)state;
    fabc_err_clear(&err);
    j = fabc_rest_yaml_parse(y, strlen(y), "bad.yaml", &err);
    assert_null(j);
    assert_int_equal(err.code, FABC_E_CONFIG);
    assert_string_equal(err.file, "bad.yaml");
    assert_true(err.line >= 2);
    assert_non_null(strstr(err.msg, "bad.yaml:"));
}

/* Found by tests/fuzz/fuzz_rest.c: an alias inside the node it names
 * ("base: &base {again: *base}") made a JSON reference cycle, leaked, and
 * sent fabc_heat_process's template walk into endless recursion (a
 * segfault on `heat create`). It is now a YAML error at the alias. */
static void test_yaml_recursive_alias(void **state)
{
    static const char *const bad[] = {
        "a: &a {b: *a}\n",
        "a: &a [1, [2, *a]]\n",
        "x: 1\nbase: &base\n  type: OS::Nova::Server\n"
        "  properties: &props\n    flavor: *base\n",
        "- &s\n  - {<<: *s}\n",
    };
    const char *ok = "a: &a {x: 1}\nb: [*a, *a]\nc: &c [&c 1, *c]\n";
    const char *tpl = "heat_template_version: 2018-08-31\nresources:\n"
                      "  base: &base\n    type: OS::Nova::Server\n"
                      "    properties:\n      again: *base\n";
    json_t *j, *t = NULL, *e = NULL, *f = NULL;
    struct fabc_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fabc_err_clear(&err);
        j = fabc_rest_yaml_parse(bad[i], strlen(bad[i]), "r.yaml", &err);
        assert_null(j);
        assert_int_equal(err.code, FABC_E_CONFIG);
        assert_non_null(strstr(err.msg, "recursive alias *"));
        assert_string_equal(err.file, "r.yaml");
        assert_true(err.line >= 1);
    }
    fabc_err_clear(&err);
    j = fabc_rest_yaml_parse(ok, strlen(ok), "ok.yaml", &err);
    assert_non_null(j);
    assert_ptr_equal(json_array_get(json_object_get(j, "b"), 0),
                     json_array_get(json_object_get(j, "b"), 1));
    assert_int_equal(json_integer_value(
                         json_array_get(json_object_get(j, "c"), 1)),
                     1);
    json_decref(j);

    fabc_err_clear(&err);
    assert_int_equal(fabc_heat_process(NULL, tpl, "/tmp", NULL, 0, &t, &e,
                                       &f, &err),
                     -1);
    assert_int_equal(err.code, FABC_E_CONFIG);
    assert_non_null(strstr(err.msg, "recursive alias *base"));
    assert_int_equal(err.line, 6);
}

/* Allocation failures: every fabc_malloc failing in turn gives NULL, never
 * a crash or a half-built string; past the last allocation it works. */
static void test_alloc_failures(void **state)
{
    long n;

    (void)state;
    for (n = 0; n < 100; n++) {
        char *s;

        fabc_malloc_fail_after(n);
        s = fabc_heat_resolve_path("/a/b/../c", "./d/../e.yaml");
        fabc_malloc_fail_after(-1);
        if (s) {
            assert_string_equal(s, "/a/c/e.yaml");
            fabc_free(s);
            break;
        }
    }
    assert_true(n > 0 && n < 100);
    for (n = 0; n < 100; n++) {
        char *s;

        fabc_malloc_fail_after(n);
        s = fabc_rest_redact_header("X-Auth-Token: abc", 17);
        fabc_malloc_fail_after(-1);
        if (s) {
            assert_string_equal(s, "X-Auth-Token: ***");
            fabc_free(s);
            break;
        }
    }
    assert_true(n > 0 && n < 100);
}

/* ------------------------------------------------------------ config */

static void test_config_from_env(void **state)
{
    struct fabc_err err;
    char src[256];
    json_t *c;

    (void)state;
    clear_os_env();
    setenv("OS_AUTH_URL", "http://127.0.0.1:5000/v3", 1);
    setenv("OS_USERNAME", "demo", 1);
    setenv("OS_PASSWORD", "pw", 1);
    setenv("OS_TENANT_NAME", "legacy", 1);
    setenv("OS_PROJECT_NAME", "demo", 1);
    setenv("OS_REGION_NAME", "RegionOne", 1);
    setenv("OS_CACERT", "/etc/ca.pem", 1);
    setenv("OS_CERT", "/etc/client.pem", 1);
    setenv("OS_KEY", "/etc/client-key.pem", 1);
    fabc_err_clear(&err);
    c = fabc_keystone_load_config(NULL, src, sizeof(src), &err);
    assert_non_null(c);
    assert_string_equal(src, "OS_* environment variables");
    assert_string_equal(json_string_value(json_object_get(c, "cacert")),
                        "/etc/ca.pem");
    assert_string_equal(json_string_value(json_object_get(c, "cert")),
                        "/etc/client.pem");
    assert_string_equal(json_string_value(json_object_get(c, "key")),
                        "/etc/client-key.pem");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(c, "auth"), "project_name")),
                        "demo"); /* OS_PROJECT_NAME wins over TENANT */
    assert_string_equal(
        json_string_value(json_object_get(c, "region_name")), "RegionOne");
    json_decref(c);
    clear_os_env();
}

static void test_config_clouds_yaml_and_secure(void **state)
{
    char path[512], spath[512], src[700];
    struct fabc_err err;
    json_t *c, *auth;

    (void)state;
    clear_os_env();
    write_file("clouds.yaml",
               "clouds:\n"
               "  lab:\n"
               "    auth:\n"
               "      auth_url: http://127.0.0.1:5000\n"
               "      username: demo\n"
               "      project_name: demo\n"
               "    region_name: RegionOne\n"
               "    verify: false\n");
    write_file("secure.yaml",
               "clouds:\n  lab:\n    auth:\n      password: s3cret\n");
    snprintf(path, sizeof(path), "%s/clouds.yaml", tmpdir);
    snprintf(spath, sizeof(spath), "%s/secure.yaml", tmpdir);
    setenv("OS_CLIENT_CONFIG_FILE", path, 1);
    setenv("OS_CLIENT_SECURE_FILE", spath, 1);
    fabc_err_clear(&err);
    c = fabc_keystone_load_config("lab", src, sizeof(src), &err);
    assert_non_null(c);
    assert_non_null(strstr(src, "cloud 'lab'"));
    auth = json_object_get(c, "auth");
    assert_string_equal(json_string_value(json_object_get(auth, "password")),
                        "s3cret");
    assert_string_equal(json_string_value(json_object_get(auth, "username")),
                        "demo");
    assert_true(json_is_false(json_object_get(c, "verify")));
    json_decref(c);
    /* OS_CLOUD selects too; a missing cloud names file and cloud */
    setenv("OS_CLOUD", "nope", 1);
    fabc_err_clear(&err);
    c = fabc_keystone_load_config(NULL, NULL, 0, &err);
    assert_null(c);
    assert_int_equal(err.code, FABC_E_CONFIG);
    assert_non_null(strstr(err.msg, "no cloud named 'nope'"));
    clear_os_env();
}

static void test_config_nothing(void **state)
{
    struct fabc_err err;
    char *home = getenv("HOME") ? fabc_strdup(getenv("HOME")) : NULL;
    json_t *c;

    (void)state;
    clear_os_env();
    setenv("HOME", tmpdir, 1);
    fabc_err_clear(&err);
    c = fabc_keystone_load_config(NULL, NULL, 0, &err);
    assert_null(c);
    assert_non_null(strstr(err.msg, "no cloud credentials"));
    if (home)
        setenv("HOME", home, 1);
    fabc_free(home);
}

static json_t *auth_body_of(const char *yaml)
{
    struct fabc_err err;
    json_t *cfg, *body;

    fabc_err_clear(&err);
    cfg = fabc_rest_yaml_parse(yaml, strlen(yaml), "t", &err);
    assert_non_null(cfg);
    body = fabc_keystone_auth_body(cfg, &err);
    json_decref(cfg);
    return body;
}

static void test_auth_body_password(void **state)
{
    json_t *b, *user, *proj;

    (void)state;
    b = auth_body_of("auth: {auth_url: 'http://k', username: demo, "
                     "password: pw, project_name: demo, "
                     "user_domain_name: Default, project_domain_name: "
                     "Default}");
    assert_non_null(b);
    user = jp(b, "auth/identity/password/user");
    assert_string_equal(js(user, "name"), "demo");
    assert_string_equal(js(user, "domain/name"), "Default");
    proj = jp(b, "auth/scope/project");
    assert_string_equal(js(proj, "name"), "demo");
    json_decref(b);
    /* project by id needs no domain; user domain defaults to "default" */
    b = auth_body_of("auth: {auth_url: 'http://k', username: u, "
                     "password: p, project_id: abc}");
    proj = jp(b, "auth/scope/project");
    assert_string_equal(js(proj, "id"), "abc");
    assert_null(json_object_get(proj, "domain"));
    json_decref(b);
}

static void test_auth_body_appcred_and_errors(void **state)
{
    struct fabc_err err;
    json_t *b, *ident, *cfg;
    const char *y = "auth: {auth_url: 'http://k', username: u}";

    (void)state;
    b = auth_body_of("auth_type: v3applicationcredential\n"
                     "auth: {auth_url: 'http://k', "
                     "application_credential_id: id1, "
                     "application_credential_secret: sec}");
    assert_non_null(b);
    ident = json_object_get(json_object_get(b, "auth"), "identity");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(ident, "methods"), 0)),
                        "application_credential");
    assert_null(json_object_get(json_object_get(b, "auth"), "scope"));
    json_decref(b);
    fabc_err_clear(&err);
    cfg = fabc_rest_yaml_parse(y, strlen(y), "t", &err);
    assert_null(fabc_keystone_auth_body(cfg, &err));
    assert_int_equal(err.code, FABC_E_CONFIG);
    assert_non_null(strstr(err.msg, "no password"));
    json_decref(cfg);
}

static void test_catalog(void **state)
{
    const char *cat =
        "[{\"type\":\"orchestration\",\"endpoints\":["
        "{\"interface\":\"internal\",\"region_id\":\"R1\","
        "\"url\":\"http://int:8004/v1/%(tenant_id)s\"},"
        "{\"interface\":\"public\",\"region_id\":\"R2\","
        "\"url\":\"http://r2:8004/v1/%(tenant_id)s\"},"
        "{\"interface\":\"public\",\"region_id\":\"R1\","
        "\"url\":\"http://pub:8004/v1/$(project_id)s\"}]},"
        "{\"type\":\"image\",\"endpoints\":[{\"interface\":\"public\","
        "\"region\":\"R1\",\"url\":\"http://img:9292\"}]}]";
    struct fabc_err err;
    json_t *c = json_loads(cat, 0, NULL);
    char *u;

    (void)state;
    fabc_err_clear(&err);
    u = fabc_keystone_catalog_url(c, "orchestration", NULL, "R1", "P", &err);
    assert_string_equal(u, "http://pub:8004/v1/P");
    fabc_free(u);
    u = fabc_keystone_catalog_url(c, "orchestration", "internalURL", "R1",
                                  "P", &err);
    assert_string_equal(u, "http://int:8004/v1/P");
    fabc_free(u);
    u = fabc_keystone_catalog_url(c, "orchestration", "public", "R2", "P",
                                  &err);
    assert_string_equal(u, "http://r2:8004/v1/P");
    fabc_free(u);
    u = fabc_keystone_catalog_url(c, "image", "public", "R1", "P", &err);
    assert_string_equal(u, "http://img:9292");
    fabc_free(u);
    assert_null(fabc_keystone_catalog_url(c, "compute", NULL, NULL, "P",
                                          &err));
    assert_non_null(strstr(err.msg, "'compute'"));
    json_decref(c);
}

/* ------------------------------------------------------------ heat */

static void test_resolve_path(void **state)
{
    static const char *const cases[][3] = {
        {"/a/b", "c.yaml", "/a/b/c.yaml"},
        {"/a/b", "../c.yaml", "/a/c.yaml"},
        {"/a/b", "./x/./y/../z.txt", "/a/b/x/z.txt"},
        {"/a/b", "/abs/p", "/abs/p"},
        {"/a/b", "file:///abs/q", "/abs/q"},
        {"/", "../../x", "/x"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = fabc_heat_resolve_path(cases[i][0], cases[i][1]);

        assert_string_equal(s, cases[i][2]);
        fabc_free(s);
    }
}

static void test_is_template_ref(void **state)
{
    (void)state;
    assert_true(fabc_heat_is_template_ref("nested/a.yaml"));
    assert_true(fabc_heat_is_template_ref("a.template"));
    assert_true(fabc_heat_is_template_ref("file:///x/a.yml"));
    assert_false(fabc_heat_is_template_ref("OS::Heat::None"));
    assert_false(fabc_heat_is_template_ref("My::Thing.yaml"));
    assert_false(fabc_heat_is_template_ref("https://h/t.yaml"));
    assert_false(fabc_heat_is_template_ref("string"));
}

static void test_files_map(void **state)
{
    char main_path[512], env_path[512], url[600];
    const char *envs[1];
    struct fabc_err err;
    json_t *t, *e, *f, *nested;
    const char *s;

    (void)state;
    write_file("main.yaml",
               "heat_template_version: 2018-08-31\n"
               "resources:\n"
               "  a:\n"
               "    type: OS::Heat::Value\n"
               "    properties: {value: {get_file: files/motd.txt}}\n"
               "  b:\n"
               "    type: nested/child.yaml\n"
               "  c:\n"
               "    type: My::Mapped\n");
    write_file("files/motd.txt", "hello\n");
    write_file("nested/child.yaml",
               "heat_template_version: 2018-08-31\n"
               "resources:\n"
               "  n:\n"
               "    type: OS::Heat::Value\n"
               "    properties: {value: {get_file: note.txt}}\n");
    write_file("nested/note.txt", "note\n");
    write_file("env.yaml", "resource_registry:\n"
                           "  My::Mapped: nested/child.yaml\n"
                           "  resources:\n"
                           "    b: {hooks: pre-update}\n"
                           "parameter_defaults: {x: 1}\n");
    snprintf(main_path, sizeof(main_path), "%s/main.yaml", tmpdir);
    snprintf(env_path, sizeof(env_path), "%s/env.yaml", tmpdir);
    envs[0] = env_path;
    fabc_err_clear(&err);
    assert_int_equal(fabc_heat_process(main_path, NULL, NULL, envs, 1, &t,
                                       &e, &f, &err),
                     0);
    /* three files: motd, the nested template, and its note */
    assert_int_equal(json_object_size(f), 3);
    snprintf(url, sizeof(url), "file://%s/files/motd.txt", tmpdir);
    assert_string_equal(json_string_value(json_object_get(f, url)),
                        "hello\n");
    s = js(t, "resources/a/properties/value/get_file");
    assert_string_equal(s, url);
    snprintf(url, sizeof(url), "file://%s/nested/note.txt", tmpdir);
    assert_string_equal(json_string_value(json_object_get(f, url)),
                        "note\n");
    snprintf(url, sizeof(url), "file://%s/nested/child.yaml", tmpdir);
    nested = json_loads(json_string_value(json_object_get(f, url)), 0,
                        NULL);
    assert_non_null(nested); /* stored as JSON text, itself rewritten */
    assert_non_null(strstr(js(nested, "resources/n/properties/value/get_file"),
                           "/nested/note.txt"));
    json_decref(nested);
    /* the registry entry is rewritten to the same URL, hooks untouched */
    assert_string_equal(js(e, "resource_registry/My::Mapped"), url);
    assert_string_equal(js(e, "resource_registry/resources/b/hooks"),
                        "pre-update");
    json_decref(t);
    json_decref(e);
    json_decref(f);
}

static void test_files_map_missing_file(void **state)
{
    char main_path[512];
    struct fabc_err err;
    json_t *t, *e, *f;

    (void)state;
    write_file("broken.yaml", "resources:\n  a:\n    type: OS::Heat::Value\n"
                              "    properties: {value: {get_file: "
                              "nope.txt}}\n");
    snprintf(main_path, sizeof(main_path), "%s/broken.yaml", tmpdir);
    fabc_err_clear(&err);
    assert_int_equal(fabc_heat_process(main_path, NULL, NULL, NULL, 0, &t,
                                       &e, &f, &err),
                     -1);
    assert_int_equal(err.code, FABC_E_OS);
    assert_non_null(strstr(err.msg, "nope.txt"));
}

static void test_format_event(void **state)
{
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s}", "event_time",
                           "2026-01-01T00:00:00Z", "resource_name", "m",
                           "resource_status", "CREATE_FAILED",
                           "resource_status_reason", "boom");
    char out[200];

    (void)state;
    fabc_heat_format_event(ev, out, sizeof(out));
    assert_string_equal(out, "2026-01-01T00:00:00Z m: CREATE_FAILED boom");
    json_decref(ev);
}

/* ------------------------------------------------------------ glance */

static void test_match_properties(void **state)
{
    json_t *img = json_pack("{s:s,s:s,s:i}", "id", "1", "build", "42",
                            "min_disk", 3);
    json_t *p1 = json_pack("{s:s}", "build", "42");
    json_t *p2 = json_pack("{s:s}", "build", "43");
    json_t *p3 = json_pack("{s:i}", "min_disk", 3);
    json_t *p4 = json_pack("{s:s}", "absent", "x");

    (void)state;
    assert_true(fabc_glance_match_properties(img, p1));
    assert_false(fabc_glance_match_properties(img, p2));
    assert_true(fabc_glance_match_properties(img, p3));
    assert_false(fabc_glance_match_properties(img, p4));
    json_decref(img);
    json_decref(p1);
    json_decref(p2);
    json_decref(p3);
    json_decref(p4);
}

/* ------------------------------------------------------------ HTTP */

/* A scripted HTTP server on 127.0.0.1 (a thread): answers each
 * connection with the next canned response, then closes it. */
struct script {
    int fd;
    int port;
    const char *const *replies;
    int n, served;
    char last_request[4096];
};

static void *serve(void *arg)
{
    struct script *sc = arg;

    for (int i = 0; i < sc->n; i++) {
        int c = accept(sc->fd, NULL, NULL);
        char buf[4096];
        ssize_t got = 0, r;

        if (c < 0)
            break;
        /* read the head (and a small body) */
        while (got < (ssize_t)sizeof(buf) - 1 &&
               (r = read(c, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0) {
            got += r;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n") &&
                (!strstr(buf, "Content-Length:") ||
                 strstr(strstr(buf, "\r\n\r\n") + 4, "}")))
                break;
        }
        snprintf(sc->last_request, sizeof(sc->last_request), "%s", buf);
        if (write(c, sc->replies[i], strlen(sc->replies[i])) < 0)
            break;
        sc->served++;
        close(c);
    }
    return NULL;
}

static int script_start(struct script *sc, pthread_t *t,
                        const char *const *replies, int n)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int one = 1;

    memset(sc, 0, sizeof(*sc));
    sc->replies = replies;
    sc->n = n;
    sc->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(sc->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(sc->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(sc->fd, 8) < 0 ||
        getsockname(sc->fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    sc->port = ntohs(a.sin_port);
    return pthread_create(t, NULL, serve, sc);
}

static void script_stop(struct script *sc, pthread_t t)
{
    shutdown(sc->fd, SHUT_RDWR);
    close(sc->fd);
    pthread_join(t, NULL);
}

#define R503 "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n" \
             "Connection: close\r\n\r\n"
#define R200 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" \
             "Content-Length: 11\r\nConnection: close\r\n\r\n" \
             "{\"ok\":true}"

static void test_http_retries_idempotent_only(void **state)
{
    static const char *const replies[] = {R503, R503, R200, R503, R200};
    struct fabc_rest_opts o = {.retries = -1, .service = "test"};
    struct fabc_rest_resp resp;
    struct fabc_rest *r;
    struct fabc_err err;
    struct script sc;
    char url[128];
    pthread_t t;

    (void)state;
    assert_int_equal(script_start(&sc, &t, replies, 5), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", sc.port);
    fabc_err_clear(&err);
    r = fabc_rest_new(&o, &err);
    assert_non_null(r);
    fabc_rest_resp_init(&resp);
    {
        struct fabc_rest_req q = {.method = "GET", .url = url,
                                  .token = "gAAAAsecret"};

        assert_int_equal(fabc_rest_do(r, &q, &resp, &err), 0);
        assert_int_equal(resp.attempts, 3);
        assert_int_equal(resp.status, 200);
        assert_string_equal(resp.body.data, "{\"ok\":true}");
        assert_non_null(strstr(sc.last_request, "X-Auth-Token: gAAAA"));
    }
    {
        struct fabc_rest_req q = {.method = "POST", .url = url,
                                  .body = "{}", .body_len = 2};

        fabc_err_clear(&err);
        assert_int_equal(fabc_rest_do(r, &q, &resp, &err), -1);
        assert_int_equal(resp.attempts, 1); /* POST is never retried */
        assert_int_equal(err.code, FABC_E_HTTP);
        assert_int_equal(err.status, 503);
        assert_string_equal(err.method, "POST");
        assert_string_equal(err.url, url);
    }
    fabc_rest_resp_free(&resp);
    fabc_rest_free(r);
    script_stop(&sc, t);
}

static void test_http_error_details_and_redirect(void **state)
{
    static const char *const replies[] = {
        "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
        "x-openstack-request-id: req-42\r\nContent-Length: 105\r\n"
        "Connection: close\r\n\r\n"
        "{\"code\":409,\"title\":\"Conflict\",\"error\":{\"message\":"
        "\"The Stack (s1) already exists.\",\"type\":\"StackExists\"}}",
        "HTTP/1.1 302 Found\r\nLocation: /stacks/s1/id1\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n",
        R200};
    struct fabc_rest_opts o = {.retries = 0, .service = "heat"};
    struct fabc_rest_resp resp;
    struct fabc_rest *r;
    struct fabc_err err;
    struct script sc;
    char url[128];
    pthread_t t;

    (void)state;
    assert_int_equal(script_start(&sc, &t, replies, 3), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/stacks", sc.port);
    fabc_err_clear(&err);
    r = fabc_rest_new(&o, &err);
    fabc_rest_resp_init(&resp);
    {
        struct fabc_rest_req q = {.method = "POST", .url = url,
                                  .body = "{\"a\":1}", .body_len = 7};

        assert_int_equal(fabc_rest_do(r, &q, &resp, &err), -1);
        assert_int_equal(err.status, 409);
        assert_string_equal(err.request_id, "req-42");
        assert_non_null(strstr(err.msg, "The Stack (s1) already exists."));
        assert_non_null(strstr(err.msg, "heat POST "));
        assert_non_null(strstr(err.msg, "(request req-42)"));
    }
    {
        struct fabc_rest_req q = {.method = "GET", .url = url};
        long before = fabc_rest_request_count();

        fabc_err_clear(&err);
        assert_int_equal(fabc_rest_do(r, &q, &resp, &err), 0);
        assert_int_equal(resp.status, 200);
        assert_int_equal(fabc_rest_request_count() - before, 2);
        assert_non_null(strstr(sc.last_request, "GET /stacks/s1/id1 "));
    }
    fabc_rest_resp_free(&resp);
    fabc_rest_free(r);
    script_stop(&sc, t);
}

static void test_http_connection_refused(void **state)
{
    struct fabc_rest_opts o = {.retries = 1, .service = "glance"};
    struct fabc_rest_req q = {.method = "GET"};
    struct fabc_rest_resp resp;
    struct fabc_rest *r;
    struct fabc_err err;
    struct script sc;
    char url[128];
    pthread_t t;
    int64_t t0;

    (void)state;
    /* a port that was just free: bind, note it, close */
    assert_int_equal(script_start(&sc, &t, NULL, 0), 0);
    script_stop(&sc, t);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/images", sc.port);
    q.url = url;
    fabc_err_clear(&err);
    r = fabc_rest_new(&o, &err);
    fabc_rest_resp_init(&resp);
    t0 = fabc_now_ms();
    assert_int_equal(fabc_rest_do(r, &q, &resp, &err), -1);
    assert_int_equal(err.code, FABC_E_CONNECT);
    assert_int_equal(resp.attempts, 2);          /* one retry after 0.5 s */
    assert_true(fabc_now_ms() - t0 >= 450);
    assert_non_null(strstr(err.msg, "cannot connect"));
    /* the reason, which curl 7.88 leaves out of its error buffer */
    assert_non_null(strstr(err.msg, "(Connection refused)"));
    fabc_rest_resp_free(&resp);
    fabc_rest_free(r);
}

/* TLS setup failures that need no TLS server: a listener that is never
 * accepted from completes the TCP handshake, then curl loads the CA
 * bundle and client certificate and fails on a missing file. */
static void test_tls_file_errors(void **state)
{
    static const struct {
        struct fabc_rest_tls tls;
        const char *want;
    } cases[] = {
        {{.cacert = "/nonexistent/fabc/ca.pem"},
         "; cacert /nonexistent/fabc/ca.pem: No such file or directory"},
        {{.cert = "/nonexistent/fabc/client.pem"},
         "; cert /nonexistent/fabc/client.pem: No such file or directory"},
    };
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd;

    (void)state;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fabc_rest_opts o = {.retries = 2, .service = "keystone",
                                   .tls = cases[i].tls};
        struct fabc_rest_check item = {0};
        struct fabc_rest_resp resp;
        struct fabc_rest *r;
        struct fabc_err err;
        char url[128];

        snprintf(url, sizeof(url), "https://127.0.0.1:%d/v3/auth/tokens",
                 ntohs(a.sin_port));
        fabc_err_clear(&err);
        r = fabc_rest_new(&o, &err);
        assert_non_null(r);
        fabc_rest_resp_init(&resp);
        {
            struct fabc_rest_req q = {.method = "GET", .url = url};

            assert_int_equal(fabc_rest_do(r, &q, &resp, &err), -1);
        }
        assert_int_equal(err.code, FABC_E_CONNECT);
        assert_int_equal(resp.attempts, 1); /* a bad file is not retried */
        assert_non_null(strstr(err.msg, "keystone GET "));
        assert_non_null(strstr(err.msg, ": TLS failure: "));
        assert_non_null(strstr(err.msg, cases[i].want));
        fabc_rest_resp_free(&resp);
        fabc_rest_free(r);

        /* the same through the HTTP checks */
        item.url = url;
        fabc_err_clear(&err);
        assert_int_equal(fabc_rest_check_many(&item, 1, 200, 5000,
                                              &cases[i].tls, &err), 0);
        assert_int_equal(item.err.code, FABC_E_CONNECT);
        assert_non_null(strstr(item.err.msg, "http GET "));
        assert_non_null(strstr(item.err.msg, ": TLS failure: "));
        assert_non_null(strstr(item.err.msg, cases[i].want));
        fabc_rest_check_free(&item, 1);
    }
    close(fd);
}

/* A client key without a client certificate is refused, not ignored. */
static void test_tls_key_needs_cert(void **state)
{
    struct fabc_rest_opts o = {.retries = -1, .service = "keystone",
                               .tls = {.key = "/k.pem"}};
    struct fabc_rest_check item = {.url = "https://127.0.0.1:9/"};
    struct fabc_err err;

    (void)state;
    fabc_err_clear(&err);
    assert_null(fabc_rest_new(&o, &err));
    assert_int_equal(err.code, FABC_E_CONFIG);
    assert_string_equal(err.msg, "keystone: a client key (key /k.pem) "
                                 "needs a client certificate (cert)");
    fabc_err_clear(&err);
    assert_int_equal(fabc_rest_check_many(&item, 1, 0, 1000, &o.tls, &err),
                     -1);
    assert_int_equal(err.code, FABC_E_USAGE);
    fabc_rest_check_free(&item, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_urlenc),
        cmocka_unit_test(test_v3_url),
        cmocka_unit_test(test_service_message),
        cmocka_unit_test(test_redact_header),
        cmocka_unit_test(test_redact_header_long_name),
        cmocka_unit_test(test_redact_body),
        cmocka_unit_test(test_yaml_scalars),
        cmocka_unit_test(test_yaml_error_position),
        cmocka_unit_test(test_yaml_recursive_alias),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_config_from_env),
        cmocka_unit_test(test_config_clouds_yaml_and_secure),
        cmocka_unit_test(test_config_nothing),
        cmocka_unit_test(test_auth_body_password),
        cmocka_unit_test(test_auth_body_appcred_and_errors),
        cmocka_unit_test(test_catalog),
        cmocka_unit_test(test_resolve_path),
        cmocka_unit_test(test_is_template_ref),
        cmocka_unit_test(test_files_map),
        cmocka_unit_test(test_files_map_missing_file),
        cmocka_unit_test(test_format_event),
        cmocka_unit_test(test_match_properties),
        cmocka_unit_test(test_http_retries_idempotent_only),
        cmocka_unit_test(test_http_error_details_and_redirect),
        cmocka_unit_test(test_http_connection_refused),
        cmocka_unit_test(test_tls_file_errors),
        cmocka_unit_test(test_tls_key_needs_cert),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_ALL);
    rc = cmocka_run_group_tests(tests, setup_dir, teardown_dir);
    curl_global_cleanup();
    return rc;
}
