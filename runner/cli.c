/* cli.c — command-line and task-spec parsing (Python-free). */
#include "cli.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_short[] =
    "usage: fabc [options] TASK[:ARG,KEY=VALUE,...] ...\n"
    "       fabc [options] -- SHELL COMMAND\n";

static const char usage_full[] =
    "usage: fabc [options] TASK[:ARG,KEY=VALUE,...] ...\n"
    "       fabc [options] -- SHELL COMMAND\n"
    "\n"
    "Run Python deployment tasks (Fabric 1 style) with native SSH, cloud\n"
    "and template primitives.\n"
    "\n"
    "Tasks:\n"
    "  -l, --list               list tasks with their first docstring line\n"
    "      --shortlist          list task names only\n"
    "  -d, --display TASK       show a task's signature and docstring\n"
    "  -f, --tasks PATH         task package (default: tasks/ here or in\n"
    "                           the nearest parent that has one)\n"
    "  -c, --config PATH        config file (default: config.yaml beside\n"
    "                           the task package)\n"
    "      --set KEY=VALUE,...  set env keys (lowest precedence)\n"
    "\n"
    "Hosts and connections:\n"
    "  -H, --hosts LIST         comma-separated [user@]host[:port]\n"
    "  -R, --roles LIST         roles from env.roledefs\n"
    "  -x, --exclude-hosts LIST hosts to leave out\n"
    "  -u, --user USER          default remote user\n"
    "  -i, --identity PATH      private key (repeatable)\n"
    "  -A, --forward-agent      forward the local ssh-agent\n"
    "  -g, --gateway HOST       jump host for every connection\n"
    "  -t, --timeout S          connect timeout (default 10)\n"
    "  -T, --command-timeout S  per-command timeout\n"
    "  -n, --connection-attempts N  connect retries with backoff\n"
    "      --skip-bad-hosts     report unreachable hosts and go on\n"
    "      --ssh-config PATH    OpenSSH client config (~/.ssh/config)\n"
    "      --known-hosts PATH   known_hosts file (~/.ssh/known_hosts)\n"
    "      --accept-new-hosts   trust and record hosts seen the first time\n"
    "\n"
    "Execution:\n"
    "  -P, --parallel           run per-host tasks on all hosts at once\n"
    "  -z, --pool-size N        at most N hosts at once\n"
    "  -w, --warn-only          a failing command warns instead of "
    "aborting\n"
    "      --dry-run            show what would change, change nothing\n"
    "  -y, --yes                answer yes to confirmations\n"
    "\n"
    "Output:\n"
    "      --json FILE          write the run report as JSON (- = stdout)\n"
    "      --hide LEVELS        hide output levels (comma-separated)\n"
    "      --show LEVELS        show output levels\n"
    "      --no-colour          never colour output\n"
    "  -q, --quiet              less output\n"
    "  -v, --verbose            more output\n"
    "      --debug              debug output\n"
    "  -V, --version            show the version\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: 0 ok, 1 a task failed, 2 usage error, 3 task package or\n"
    "config not loadable, 130 interrupted.\n";

const char *fabc_cli_usage_text(int full)
{
    return full ? usage_full : usage_short;
}

void fabc_strv_free(struct fabc_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        fabc_free(sv->v[i]);
    fabc_free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

static int strv_push(struct fabc_strv *sv, char *s, struct fabc_err *err)
{
    char **v;

    if (!s)
        return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
    v = fabc_realloc(sv->v, (sv->n + 1) * sizeof(*v));
    if (!v) {
        fabc_free(s);
        return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
    }
    v[sv->n++] = s;
    sv->v = v;
    return 0;
}

int fabc_cli_split_list(const char *text, char sep, struct fabc_strv *sv,
                        struct fabc_err *err)
{
    const char *p = text;

    while (*p) {
        const char *end = strchr(p, sep);
        const char *a = p, *b;

        if (!end)
            end = p + strlen(p);
        b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a && strv_push(sv, fabc_strndup(a, (size_t)(b - a)), err) < 0)
            return -1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

void fabc_cli_args_free(struct fabc_arg *args, size_t nargs)
{
    for (size_t i = 0; i < nargs; i++) {
        fabc_free(args[i].key);
        fabc_free(args[i].value);
    }
    fabc_free(args);
}

/* Finish one argument from the key/value buffers. */
static int finish_arg(struct fabc_buf *key, struct fabc_buf *val,
                      int have_eq, int keys_only, const char *text,
                      struct fabc_arg **args, size_t *nargs,
                      struct fabc_err *err)
{
    struct fabc_arg *a, *grown;

    grown = fabc_realloc(*args, (*nargs + 1) * sizeof(**args));
    if (!grown)
        return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
    *args = grown;
    a = &grown[*nargs];
    a->key = NULL;
    a->value = NULL;
    if (have_eq || keys_only) {
        if (key->len == 0)
            return fabc_err_set(err, FABC_E_USAGE, 0,
                                "empty argument name before '=' in '%s'",
                                text);
        a->key = fabc_buf_steal(key, NULL);
        if (!a->key)
            return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        if (have_eq) {
            a->value = fabc_buf_steal(val, NULL);
            if (!a->value) {
                fabc_free(a->key);
                return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
            }
        }
    } else {
        a->value = fabc_buf_steal(key, NULL);
        if (!a->value)
            return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
    }
    (*nargs)++;
    return 0;
}

int fabc_cli_split_args(const char *text, int keys_only,
                        struct fabc_arg **args, size_t *nargs,
                        struct fabc_err *err)
{
    struct fabc_buf key, val;
    int have_eq = 0, rc = -1;
    const char *p;

    *args = NULL;
    *nargs = 0;
    fabc_buf_init(&key);
    fabc_buf_init(&val);
    if (*text == '\0')
        return 0;
    for (p = text;; p++) {
        struct fabc_buf *cur = have_eq ? &val : &key;
        char c = *p;

        if (c == '\\' && (p[1] == ',' || p[1] == '=' || p[1] == '\\')) {
            p++;
            if (fabc_buf_append(cur, p, 1) < 0)
                goto nomem;
            continue;
        }
        if (c == ',' || c == '\0') {
            if (finish_arg(&key, &val, have_eq, keys_only, text, args,
                           nargs, err) < 0)
                goto out;
            fabc_buf_reset(&key);
            fabc_buf_reset(&val);
            have_eq = 0;
            if (c == '\0')
                break;
            continue;
        }
        if (c == '=' && !have_eq) {
            have_eq = 1;
            continue;
        }
        if (fabc_buf_append(cur, p, 1) < 0)
            goto nomem;
    }
    rc = 0;
    goto out;
nomem:
    fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
out:
    fabc_buf_free(&key);
    fabc_buf_free(&val);
    if (rc < 0) {
        fabc_cli_args_free(*args, *nargs);
        *args = NULL;
        *nargs = 0;
    }
    return rc;
}

void fabc_cli_spec_free(struct fabc_task_spec *spec)
{
    fabc_free(spec->name);
    fabc_cli_args_free(spec->args, spec->nargs);
    fabc_strv_free(&spec->hosts);
    fabc_strv_free(&spec->roles);
    fabc_strv_free(&spec->exclude_hosts);
    memset(spec, 0, sizeof(*spec));
}

/* Move reserved keyword arguments out of spec->args. */
static int take_reserved(struct fabc_task_spec *spec, struct fabc_err *err)
{
    size_t keep = 0;

    for (size_t i = 0; i < spec->nargs; i++) {
        struct fabc_arg *a = &spec->args[i];
        struct fabc_strv *dst = NULL;
        char sep = ';';

        if (a->key) {
            if (!strcmp(a->key, "host")) {
                dst = &spec->hosts;
                sep = '\0';
            } else if (!strcmp(a->key, "hosts")) {
                dst = &spec->hosts;
            } else if (!strcmp(a->key, "role")) {
                dst = &spec->roles;
                sep = '\0';
            } else if (!strcmp(a->key, "roles")) {
                dst = &spec->roles;
            } else if (!strcmp(a->key, "exclude_hosts")) {
                dst = &spec->exclude_hosts;
            }
        }
        if (dst) {
            int rc;
            if (sep)
                rc = fabc_cli_split_list(a->value, sep, dst, err);
            else if (*a->value)
                rc = strv_push(dst, fabc_strdup(a->value), err);
            else
                rc = 0;
            fabc_free(a->key);
            fabc_free(a->value);
            if (rc < 0) {
                /* free the not yet visited ones, keep the list sane */
                for (size_t j = i + 1; j < spec->nargs; j++)
                    spec->args[keep++] = spec->args[j];
                spec->nargs = keep;
                return -1;
            }
            continue;
        }
        /* a keyword given twice is an error, not silently the last */
        if (a->key)
            for (size_t j = 0; j < keep; j++)
                if (spec->args[j].key && !strcmp(spec->args[j].key, a->key)) {
                    fabc_err_set(err, FABC_E_USAGE, 0,
                                 "task '%s': argument '%s' given twice",
                                 spec->name, a->key);
                    for (size_t k = i; k < spec->nargs; k++)
                        spec->args[keep++] = spec->args[k];
                    spec->nargs = keep;
                    return -1;
                }
        spec->args[keep++] = *a;
    }
    spec->nargs = keep;
    return 0;
}

int fabc_cli_parse_spec(const char *text, struct fabc_task_spec *spec,
                        struct fabc_err *err)
{
    const char *colon = strchr(text, ':');
    size_t nlen = colon ? (size_t)(colon - text) : strlen(text);

    memset(spec, 0, sizeof(*spec));
    if (nlen == 0)
        return fabc_err_set(err, FABC_E_USAGE, 0,
                            "empty task name in '%s'", text);
    spec->name = fabc_strndup(text, nlen);
    if (!spec->name)
        return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
    if (colon) {
        if (fabc_cli_split_args(colon + 1, 0, &spec->args, &spec->nargs,
                                err) < 0)
            return -1;
        if (take_reserved(spec, err) < 0)
            return -1;
    }
    return 0;
}

void fabc_cli_free(struct fabc_cli *cli)
{
    fabc_free(cli->display);
    fabc_free(cli->tasks_path);
    fabc_free(cli->config_path);
    fabc_free(cli->user);
    fabc_free(cli->gateway);
    fabc_free(cli->ssh_config);
    fabc_free(cli->known_hosts);
    fabc_free(cli->json);
    fabc_free(cli->command);
    fabc_strv_free(&cli->hosts);
    fabc_strv_free(&cli->roles);
    fabc_strv_free(&cli->exclude_hosts);
    fabc_strv_free(&cli->identities);
    fabc_strv_free(&cli->hide);
    fabc_strv_free(&cli->show);
    fabc_cli_args_free(cli->set, cli->nset);
    for (size_t i = 0; i < cli->nspecs; i++)
        fabc_cli_spec_free(&cli->specs[i]);
    fabc_free(cli->specs);
    memset(cli, 0, sizeof(*cli));
    cli->pool_size = -1;
    cli->connection_attempts = -1;
    cli->timeout = -1;
    cli->command_timeout = -1;
}

static int parse_long(const char *opt, const char *s, long min,
                      long *out, struct fabc_err *err)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min)
        return fabc_err_set(err, FABC_E_USAGE, 0,
                            "option %s: '%s' is not a whole number >= %ld",
                            opt, s, min);
    *out = v;
    return 0;
}

static int parse_seconds(const char *opt, const char *s, double *out,
                         struct fabc_err *err)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= 0)
        return fabc_err_set(err, FABC_E_USAGE, 0,
                            "option %s: '%s' is not a positive number of "
                            "seconds", opt, s);
    *out = v;
    return 0;
}

static int set_str(char **dst, const char *s, struct fabc_err *err)
{
    fabc_free(*dst);
    *dst = fabc_strdup(s);
    if (!*dst)
        return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
    return 0;
}

enum {
    OPT_SKIP_BAD = 256, OPT_SSH_CONFIG, OPT_KNOWN_HOSTS, OPT_ACCEPT_NEW,
    OPT_SET, OPT_JSON, OPT_DRY_RUN, OPT_DEBUG, OPT_HIDE, OPT_SHOW,
    OPT_SHORTLIST, OPT_NO_COLOUR
};

static const struct option long_opts[] = {
    {"list", no_argument, NULL, 'l'},
    {"shortlist", no_argument, NULL, OPT_SHORTLIST},
    {"display", required_argument, NULL, 'd'},
    {"tasks", required_argument, NULL, 'f'},
    {"fabfile", required_argument, NULL, 'f'},
    {"config", required_argument, NULL, 'c'},
    {"hosts", required_argument, NULL, 'H'},
    {"roles", required_argument, NULL, 'R'},
    {"exclude-hosts", required_argument, NULL, 'x'},
    {"user", required_argument, NULL, 'u'},
    {"identity", required_argument, NULL, 'i'},
    {"forward-agent", no_argument, NULL, 'A'},
    {"gateway", required_argument, NULL, 'g'},
    {"parallel", no_argument, NULL, 'P'},
    {"pool-size", required_argument, NULL, 'z'},
    {"warn-only", no_argument, NULL, 'w'},
    {"timeout", required_argument, NULL, 't'},
    {"command-timeout", required_argument, NULL, 'T'},
    {"connection-attempts", required_argument, NULL, 'n'},
    {"skip-bad-hosts", no_argument, NULL, OPT_SKIP_BAD},
    {"ssh-config", required_argument, NULL, OPT_SSH_CONFIG},
    {"known-hosts", required_argument, NULL, OPT_KNOWN_HOSTS},
    {"accept-new-hosts", no_argument, NULL, OPT_ACCEPT_NEW},
    {"set", required_argument, NULL, OPT_SET},
    {"json", required_argument, NULL, OPT_JSON},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"yes", no_argument, NULL, 'y'},
    {"hide", required_argument, NULL, OPT_HIDE},
    {"show", required_argument, NULL, OPT_SHOW},
    {"no-colour", no_argument, NULL, OPT_NO_COLOUR},
    {"no-color", no_argument, NULL, OPT_NO_COLOUR},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"debug", no_argument, NULL, OPT_DEBUG},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

static const char short_opts[] = ":ld:f:c:H:R:x:u:i:Ag:Pz:wt:T:n:yqvVh";

/* Name of the option that getopt just failed on, for messages. */
static void bad_option(char **argv, int optidx, int c, struct fabc_err *err,
                       const char *why)
{
    const char *word = (optidx > 0 && argv[optidx - 1]) ? argv[optidx - 1]
                                                        : "?";
    if (c && c != '?' && c != ':' && c < 256 && word[0] == '-' &&
        word[1] != '-')
        fabc_err_set(err, FABC_E_USAGE, 0, "option -%c %s", c, why);
    else
        fabc_err_set(err, FABC_E_USAGE, 0, "option '%s' %s", word, why);
}

static int join_words(int argc, char **argv, int from, char **out,
                      struct fabc_err *err)
{
    struct fabc_buf b;

    fabc_buf_init(&b);
    for (int i = from; i < argc; i++)
        if ((i > from && fabc_buf_append(&b, " ", 1) < 0) ||
            fabc_buf_puts(&b, argv[i]) < 0) {
            fabc_buf_free(&b);
            return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        }
    *out = fabc_buf_steal(&b, NULL);
    if (!*out)
        return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
    return 0;
}

int fabc_cli_parse(int argc, char **argv, struct fabc_cli *cli,
                   struct fabc_err *err)
{
    int dashdash = argc, c, rc = -1;
    char **av = NULL;
    struct fabc_strv positional = {NULL, 0};

    memset(cli, 0, sizeof(*cli));
    cli->pool_size = -1;
    cli->connection_attempts = -1;
    cli->timeout = -1;
    cli->command_timeout = -1;

    /* Words after a bare "--" are the shell command. Find it first, so
     * that getopt's permutation never mixes command words with tasks. */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            dashdash = i;
            break;
        }
    av = fabc_calloc((size_t)dashdash + 1, sizeof(*av));
    if (!av)
        return fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
    memcpy(av, argv, (size_t)dashdash * sizeof(*av));

    optind = 0; /* full re-initialisation (GNU) */
    opterr = 0;
    while ((c = getopt_long(dashdash, av, short_opts, long_opts, NULL)) !=
           -1) {
        int r = 0;
        struct fabc_arg *sargs;
        size_t nsargs;

        switch (c) {
        case 'l': cli->list = 1; break;
        case OPT_SHORTLIST: cli->shortlist = 1; break;
        case 'd': r = set_str(&cli->display, optarg, err); break;
        case 'f': r = set_str(&cli->tasks_path, optarg, err); break;
        case 'c': r = set_str(&cli->config_path, optarg, err); break;
        case 'H': r = fabc_cli_split_list(optarg, ',', &cli->hosts, err);
            break;
        case 'R': r = fabc_cli_split_list(optarg, ',', &cli->roles, err);
            break;
        case 'x':
            r = fabc_cli_split_list(optarg, ',', &cli->exclude_hosts, err);
            break;
        case 'u': r = set_str(&cli->user, optarg, err); break;
        case 'i': r = strv_push(&cli->identities, fabc_strdup(optarg), err);
            break;
        case 'A': cli->forward_agent = 1; break;
        case 'g': r = set_str(&cli->gateway, optarg, err); break;
        case 'P': cli->parallel = 1; break;
        case 'z': r = parse_long("-z/--pool-size", optarg, 1,
                                 &cli->pool_size, err);
            break;
        case 'w': cli->warn_only = 1; break;
        case 't': r = parse_seconds("-t/--timeout", optarg, &cli->timeout,
                                    err);
            break;
        case 'T': r = parse_seconds("-T/--command-timeout", optarg,
                                    &cli->command_timeout, err);
            break;
        case 'n': r = parse_long("-n/--connection-attempts", optarg, 1,
                                 &cli->connection_attempts, err);
            break;
        case OPT_SKIP_BAD: cli->skip_bad_hosts = 1; break;
        case OPT_SSH_CONFIG: r = set_str(&cli->ssh_config, optarg, err);
            break;
        case OPT_KNOWN_HOSTS: r = set_str(&cli->known_hosts, optarg, err);
            break;
        case OPT_ACCEPT_NEW: cli->accept_new_hosts = 1; break;
        case OPT_SET:
            r = fabc_cli_split_args(optarg, 1, &sargs, &nsargs, err);
            if (r == 0 && nsargs > 0) {
                struct fabc_arg *g = fabc_realloc(
                    cli->set, (cli->nset + nsargs) * sizeof(*g));
                if (!g) {
                    fabc_cli_args_free(sargs, nsargs);
                    r = fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
                    break;
                }
                memcpy(g + cli->nset, sargs, nsargs * sizeof(*g));
                cli->set = g;
                cli->nset += nsargs;
                fabc_free(sargs);
            }
            break;
        case OPT_JSON: r = set_str(&cli->json, optarg, err); break;
        case OPT_DRY_RUN: cli->dry_run = 1; break;
        case 'y': cli->yes = 1; break;
        case OPT_HIDE: r = fabc_cli_split_list(optarg, ',', &cli->hide, err);
            break;
        case OPT_SHOW: r = fabc_cli_split_list(optarg, ',', &cli->show, err);
            break;
        case OPT_NO_COLOUR: cli->no_colour = 1; break;
        case 'q': cli->verbosity = -1; break;
        case 'v': if (cli->verbosity < 1) cli->verbosity = 1; break;
        case OPT_DEBUG: cli->verbosity = 2; break;
        case 'V': cli->version = 1; break;
        case 'h': cli->help = 1; break;
        case ':':
            bad_option(av, optind, optopt, err, "needs a value");
            goto out;
        default:
            if (optopt && optopt < 256)
                fabc_err_set(err, FABC_E_USAGE, 0, "unknown option -%c",
                             optopt);
            else
                bad_option(av, optind, 0, err, "is not a fabc option");
            goto out;
        }
        if (r < 0)
            goto out;
    }
    for (int i = optind; i < dashdash; i++)
        if (strv_push(&positional, fabc_strdup(av[i]), err) < 0)
            goto out;
    if (positional.n) {
        cli->specs = fabc_calloc(positional.n, sizeof(*cli->specs));
        if (!cli->specs) {
            fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < positional.n; i++) {
            cli->nspecs++;
            if (fabc_cli_parse_spec(positional.v[i], &cli->specs[i], err) <
                0)
                goto out;
        }
    }
    if (dashdash < argc) {
        if (dashdash + 1 >= argc) {
            fabc_err_set(err, FABC_E_USAGE, 0,
                         "nothing to run after '--'");
            goto out;
        }
        if (join_words(argc, argv, dashdash + 1, &cli->command, err) < 0)
            goto out;
    }
    rc = 0;
out:
    fabc_strv_free(&positional);
    fabc_free(av);
    return rc;
}
