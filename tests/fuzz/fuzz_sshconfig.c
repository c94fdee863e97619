/* fuzz_sshconfig.c — libFuzzer target for the ssh_config(5) reader and
 * what is built on it: Host pattern matching, the lookup, %-token
 * expansion, host strings and target resolution (ProxyJump chains).
 *
 * The input is the config text (cut at its first NUL, as a file read by
 * fabc_sshconfig_load would be). fabc's subset has no Include, so nothing
 * here opens a file; fabc_ssh_target_new only expands strings (addresses
 * are resolved later, by fabc_ssh_target_resolve, which is not called).
 *
 * Invariants checked (__builtin_trap() when violated):
 *  - a failed parse or lookup is FABC_E_CONFIG with a message and the
 *    config's name and a line >= 1, or FABC_E_NOMEM;
 *  - looked-up values are in their documented ranges (-1 when unset);
 *  - fabc_ssh_expand leaves a string without '%' and '~' as it is, and
 *    fails only with FABC_E_CONFIG and a message;
 *  - a resolved target has a user, a host, a port in 1..65535 and its
 *    whole session key ("user@host:port via <the jump's key>", never cut
 *    short); a failure has a message.
 * Seeds: tests/fuzz/seeds/fuzz_sshconfig/ (realistic ssh_config files).
 *
 *   make -f tests/fuzz/fuzz.mk build-fuzz/fuzz_sshconfig
 *   build-fuzz/fuzz_sshconfig -max_total_time=600 \
 *     tests/fuzz/corpus-fuzz_sshconfig tests/fuzz/seeds/fuzz_sshconfig
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ssh.h"
#include "sshconfig.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CFG_NAME "fuzz_ssh_config"

/* Names as a user types them: plain, IP, bracketed v6, dotted, empty. */
static const char *const hosts[] = {"web1", "127.0.0.10", "[::1]",
                                    "a.b.example", "", "bastion",
                                    "db-02.internal"};

/* Host strings for fabc_ssh_target_new (user@, :port, brackets). */
static const char *const targets[] = {
    "web1", "deploy@web1:2222", "127.0.0.10", "[::1]:22", "root@[::1]",
    "a.b.example", "fe80::1", "bastion", "u@db-02.internal:65535"};

static void check_config_err(const struct fabc_err *err)
{
    if (err->code == FABC_E_NOMEM)
        return;
    if (err->code != FABC_E_CONFIG || !err->msg[0] || err->line < 1 ||
        strcmp(err->file, CFG_NAME) != 0 || !strstr(err->msg, CFG_NAME))
        __builtin_trap();
}

static void check_expand(const char *in, const char *host, int port,
                         const char *user)
{
    struct fabc_err err;
    char *out;

    fabc_err_clear(&err);
    out = fabc_ssh_expand(in, host, port, user, host, &err);
    if (!out) {
        if ((err.code != FABC_E_CONFIG && err.code != FABC_E_NOMEM) ||
            !err.msg[0])
            __builtin_trap();
        return;
    }
    if (!strchr(in, '%') && in[0] != '~' && strcmp(in, out) != 0)
        __builtin_trap();
    fabc_free(out);
}

static void check_host(const struct fabc_sshhost *h)
{
    if (h->port != -1 && (h->port < 1 || h->port > 65535))
        __builtin_trap();
    if (h->strict != -1 && h->strict != FABC_STRICT_NO &&
        h->strict != FABC_STRICT_YES && h->strict != FABC_STRICT_ACCEPT_NEW)
        __builtin_trap();
    if (h->connect_timeout < -1 || h->connect_timeout > 86400 ||
        h->server_alive < -1 || h->server_alive > 86400)
        __builtin_trap();
    if (h->identities_only < -1 || h->identities_only > 1 ||
        h->forward_agent < -1 || h->forward_agent > 1)
        __builtin_trap();
    if (h->n_identity && !h->identity_files)
        __builtin_trap();
}

static void lookup_one(const struct fabc_sshconfig *cfg, const char *name)
{
    struct fabc_sshhost h;
    struct fabc_err err;

    fabc_err_clear(&err);
    fabc_sshhost_init(&h);
    if (fabc_sshconfig_lookup(cfg, name, &h, &err) < 0) {
        check_config_err(&err);
        fabc_sshhost_clear(&h);
        return;
    }
    check_host(&h);
    if (h.hostname)
        check_expand(h.hostname, name, h.port, h.user);
    for (size_t i = 0; i < h.n_identity; i++)
        check_expand(h.identity_files[i], name, h.port, h.user);
    if (h.known_hosts)
        check_expand(h.known_hosts, name, 2222, NULL);
    if (h.proxy_jump)
        check_expand(h.proxy_jump, name, -1, "u");
    fabc_sshhost_clear(&h);
}

static void resolve_one(const struct fabc_sshconfig *cfg, const char *hs,
                        int gateway)
{
    struct fabc_ssh_opts o;
    struct fabc_ssh_target *t, *j;
    struct fabc_err err;
    int hops = 0;

    memset(&o, 0, sizeof(o));
    o.strict = -1;
    o.user = "fuzz";
    o.known_hosts = gateway ? "/tmp/kh_%h_%p" : NULL;
    o.gateway = gateway ? "gw.example:2200" : NULL;
    fabc_err_clear(&err);
    t = fabc_ssh_target_new(hs, &o, cfg, &err);
    if (!t) {
        if (err.code == FABC_E_OK || !err.msg[0])
            __builtin_trap();
        return;
    }
    for (j = t; j; j = j->jump) {
        char want[sizeof(j->key) + 8];

        if (!j->user || !j->host || !j->alias || !j->known_hosts ||
            j->port < 1 || j->port > 65535 || !j->nkeys ||
            !memchr(j->label, '\0', sizeof(j->label)))
            __builtin_trap();
        /* the session cache key is whole: user@host:port [via <jump>] */
        snprintf(want, sizeof(want), "%s@%s:%d%s%s", j->user, j->host,
                 j->port, j->jump ? " via " : "", j->jump ? j->jump->key : "");
        if (strcmp(want, j->key) != 0)
            __builtin_trap();
        if (++hops > (int)sizeof(j->key))
            __builtin_trap();
    }
    fabc_ssh_target_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fabc_strndup((const char *)data, size);
    struct fabc_sshconfig *cfg;
    struct fabc_err err;

    if (!text)
        return 0;
    fabc_err_clear(&err);
    cfg = fabc_sshconfig_parse(text, CFG_NAME, &err);
    if (!cfg) {
        check_config_err(&err);
        fabc_free(text);
        return 0;
    }
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
        lookup_one(cfg, hosts[i]);
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
        resolve_one(cfg, targets[i], i == 1);
    /* the first line as a host string and as a Host pattern list */
    text[strcspn(text, "\n")] = '\0';
    if (strlen(text) < 256) {
        char *user = NULL, *host = NULL;
        int port = -1;

        fabc_err_clear(&err);
        if (fabc_ssh_parse_host(text, &user, &host, &port, &err) == 0) {
            if (!host || !*host || port < 0 || port > 65535 ||
                (user && !*user))
                __builtin_trap();
            lookup_one(cfg, host);
        } else if (err.code != FABC_E_USAGE && err.code != FABC_E_NOMEM) {
            __builtin_trap();
        }
        fabc_free(user);
        fabc_free(host);
        resolve_one(cfg, text, 0);
        for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
            (void)fabc_ssh_match_list(text, hosts[i]);
    }
    fabc_sshconfig_free(cfg);
    fabc_free(text);
    return 0;
}
