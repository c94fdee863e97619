/* sshconfig.h — the OpenSSH client configuration (ssh_config(5)) subset
 * fabc understands, and host-string parsing.
 *
 * Supported keywords: Host (patterns with * ? and !negation), HostName,
 * User, Port, IdentityFile (repeatable, ~ and %h %p %r %u %n %d %% tokens),
 * IdentitiesOnly, ProxyJump (comma-separated chain, or "none"),
 * StrictHostKeyChecking (yes/no/accept-new/ask), UserKnownHostsFile,
 * ConnectTimeout, ServerAliveInterval, ForwardAgent. As in OpenSSH the
 * first value obtained for a keyword wins, except IdentityFile which
 * accumulates. Match and other keywords are ignored. */
#ifndef FABC_SSHCONFIG_H
#define FABC_SSHCONFIG_H

#include <stddef.h>

#include "err.h"

struct fabc_sshconfig;

/* The settings for one host; strings are owned (free with
 * fabc_sshhost_clear). Unset values: NULL, -1. */
struct fabc_sshhost {
    char *hostname;
    char *user;
    int port;
    char **identity_files; /* tokens not yet expanded */
    size_t n_identity;
    int identities_only;
    char *proxy_jump;
    int strict;            /* FABC_STRICT_* or -1 */
    char *known_hosts;     /* first file of UserKnownHostsFile */
    int connect_timeout;   /* seconds */
    int server_alive;      /* seconds */
    int forward_agent;
};

enum {
    FABC_STRICT_NO = 0,
    FABC_STRICT_YES = 1,
    FABC_STRICT_ACCEPT_NEW = 2
};

/* Parse config text; `name` is used in error messages. A missing or
 * unparseable value fails with FABC_E_CONFIG naming name:line. Returns a
 * new config (free with fabc_sshconfig_free) or NULL. */
struct fabc_sshconfig *fabc_sshconfig_parse(const char *text,
                                            const char *name,
                                            struct fabc_err *err);
/* Read and parse a file. A missing file gives an empty config when
 * `missing_ok`, else FABC_E_CONFIG. */
struct fabc_sshconfig *fabc_sshconfig_load(const char *path, int missing_ok,
                                           struct fabc_err *err);
void fabc_sshconfig_free(struct fabc_sshconfig *cfg);

/* Fill `out` (which must be zeroed or cleared) with the settings for
 * `host` (the name as the user typed it). Returns 0 or -1 (NOMEM). */
int fabc_sshconfig_lookup(const struct fabc_sshconfig *cfg, const char *host,
                          struct fabc_sshhost *out, struct fabc_err *err);
void fabc_sshhost_init(struct fabc_sshhost *h);
void fabc_sshhost_clear(struct fabc_sshhost *h);

/* 1 if `s` matches the glob `pat` (* and ?), else 0. */
int fabc_ssh_glob(const char *pat, const char *s);
/* Match a comma/space separated pattern list as Host does: 1 if some
 * positive pattern matches and no negated (!) pattern matches. */
int fabc_ssh_match_list(const char *list, const char *host);

/* Expand a leading ~ and the tokens %h (host name), %p (port), %r
 * (remote user), %u (local user), %n (host as typed), %d (local home),
 * %% in `in`. Returns a new string (fabc_free) or NULL with err set
 * (FABC_E_CONFIG for an unknown token). */
char *fabc_ssh_expand(const char *in, const char *host, int port,
                      const char *ruser, const char *alias,
                      struct fabc_err *err);

/* Parse "[user@]host[:port]" or "[user@][v6addr]:port" / "[v6addr]".
 * A bare IPv6 address with several colons is taken whole. *user is NULL
 * when absent, *port 0 when absent. Returns 0, or -1 (FABC_E_USAGE) for
 * an empty host, a bad port or unbalanced brackets. */
int fabc_ssh_parse_host(const char *s, char **user, char **host, int *port,
                        struct fabc_err *err);

/* The local user name and home directory (from $HOME / getpwuid). Borrowed
 * static strings, never NULL. */
const char *fabc_ssh_local_user(void);
const char *fabc_ssh_local_home(void);

#endif
