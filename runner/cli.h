/* cli.h — the command line: options and Fabric-1 task specs.
 *
 *   fabc [options] TASK[:ARGS] [TASK[:ARGS] ...]
 *   fabc [options] -- SHELL COMMAND
 *
 * A task spec is `name[:args]`; args split on unescaped ',', each arg on
 * its first unescaped '='; `\,` `\=` `\\` escape. host=, hosts= (';'
 * separated), role=, roles=, exclude_hosts= are taken by the runner.
 * Everything the parser returns is owned by the struct and released by
 * fabc_cli_free(). */
#ifndef FABC_CLI_H
#define FABC_CLI_H

#include <stddef.h>

#include "err.h"

enum fabc_exit {
    FABC_EXIT_OK = 0,
    FABC_EXIT_FAILED = 1,      /* a task failed */
    FABC_EXIT_USAGE = 2,       /* usage, unknown task, bad arguments */
    FABC_EXIT_LOAD = 3,        /* task package or config not loadable */
    FABC_EXIT_INTERRUPTED = 130
};

struct fabc_strv {
    char **v;
    size_t n;
};

/* One task argument: key is NULL for a positional argument. value is NULL
 * only for a --set KEY without '=' (meaning True). */
struct fabc_arg {
    char *key;
    char *value;
};

struct fabc_task_spec {
    char *name;
    struct fabc_arg *args;
    size_t nargs;
    struct fabc_strv hosts;         /* host=, hosts= */
    struct fabc_strv roles;         /* role=, roles= */
    struct fabc_strv exclude_hosts; /* exclude_hosts= */
};

struct fabc_cli {
    int list, shortlist, version, help, dry_run, yes;
    int forward_agent, parallel, warn_only, skip_bad_hosts;
    int accept_new_hosts, no_colour;
    int verbosity;             /* -1 quiet, 0, 1 verbose, 2 debug */
    long pool_size;            /* -1: not given */
    long connection_attempts;  /* -1: not given */
    double timeout;            /* -1: not given */
    double command_timeout;    /* -1: not given */
    char *display, *tasks_path, *config_path, *user, *gateway;
    char *ssh_config, *known_hosts, *json;
    struct fabc_strv hosts, roles, exclude_hosts, identities, hide, show;
    struct fabc_arg *set;
    size_t nset;
    char *command;             /* words after "--", joined by spaces */
    struct fabc_task_spec *specs;
    size_t nspecs;
};

/* Parse argv (argv[0] is the program). Returns 0, or -1 with err set
 * (FABC_E_USAGE, exit 2; FABC_E_NOMEM). cli is always initialised, even
 * on failure, so fabc_cli_free() is always safe. */
int fabc_cli_parse(int argc, char **argv, struct fabc_cli *cli,
                   struct fabc_err *err);
void fabc_cli_free(struct fabc_cli *cli);

/* Parse one task spec. Returns 0 or -1 with err set; spec is always
 * initialised; free with fabc_cli_spec_free(). */
int fabc_cli_parse_spec(const char *text, struct fabc_task_spec *spec,
                        struct fabc_err *err);
void fabc_cli_spec_free(struct fabc_task_spec *spec);

/* Split "a,b\,c,k=v" into args (escapes as in task specs). A bare word
 * gives key NULL (positional) unless keys_only, where it gives key=word,
 * value NULL (the --set form). Returns 0/-1. */
int fabc_cli_split_args(const char *text, int keys_only,
                        struct fabc_arg **args, size_t *nargs,
                        struct fabc_err *err);
void fabc_cli_args_free(struct fabc_arg *args, size_t nargs);

/* Split on sep (',' for -H, ';' for hosts=), trimming blanks, dropping
 * empty items; appends to sv. Returns 0/-1. */
int fabc_cli_split_list(const char *text, char sep, struct fabc_strv *sv,
                        struct fabc_err *err);
void fabc_strv_free(struct fabc_strv *sv);

/* The usage text; fabc_cli_usage_text(0) is the short one. */
const char *fabc_cli_usage_text(int full);

#endif
