/* main.c — argv, usage, exit codes; everything else is delegated. */
#include "cli.h"
#include "embed.h"
#include "util.h"

#include <curl/curl.h>
#include <libssh2.h>
#include <stdio.h>
#include <string.h>

static int usage_error(const struct fabc_err *err)
{
    fprintf(stderr, "fabc: %s\n%sUse fabc --help for help with "
                    "command-line options.\n",
            err->msg, fabc_cli_usage_text(0));
    return FABC_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    struct fabc_cli cli;
    struct fabc_err err;
    int rc;

    fabc_err_clear(&err);
    if (fabc_cli_parse(argc, argv, &cli, &err) < 0) {
        rc = err.code == FABC_E_NOMEM ? FABC_EXIT_FAILED : usage_error(&err);
        if (err.code == FABC_E_NOMEM)
            fputs("fabc: out of memory\n", stderr);
        goto out;
    }
    if (cli.help) {
        fputs(fabc_cli_usage_text(1), stdout);
        rc = FABC_EXIT_OK;
        goto out;
    }
    if (cli.version) {
        printf("fabc %s (libssh2 %s, %s, Python %d.%d)\n", FABC_VERSION,
               LIBSSH2_VERSION, curl_version(), 3, 11);
        rc = FABC_EXIT_OK;
        goto out;
    }
    if (!cli.nspecs && !cli.command && !cli.list && !cli.shortlist &&
        !cli.display) {
        fputs(fabc_cli_usage_text(0), stderr);
        fputs("fabc: no task given (fabc --list shows the tasks)\n"
              "Use fabc --help for help with command-line options.\n",
              stderr);
        rc = FABC_EXIT_USAGE;
        goto out;
    }
    /* Global library state, once, before any thread exists. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("fabc: curl_global_init failed\n", stderr);
        rc = FABC_EXIT_FAILED;
        goto out;
    }
    if (libssh2_init(0) != 0) {
        fputs("fabc: libssh2_init failed\n", stderr);
        curl_global_cleanup();
        rc = FABC_EXIT_FAILED;
        goto out;
    }
    rc = fabc_embed_run(&cli, argv[0]);
    libssh2_exit();
    curl_global_cleanup();
out:
    fabc_cli_free(&cli);
    if (fflush(stdout) != 0 && rc == FABC_EXIT_OK) {
        perror("fabc: writing stdout");
        rc = FABC_EXIT_FAILED;
    }
    return rc;
}
