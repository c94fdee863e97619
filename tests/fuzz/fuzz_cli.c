/* fuzz_cli.c — libFuzzer target for the task-spec and argv parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cli.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fabc_strndup((const char *)data, size);
    char *argv[16];
    int argc = 0;
    struct fabc_task_spec spec;
    struct fabc_cli cli;
    struct fabc_err err;

    if (!text)
        return 0;
    /* 1: the whole input as one task spec */
    fabc_err_clear(&err);
    if (fabc_cli_parse_spec(text, &spec, &err) == 0) {
        /* invariants: a name, and reserved keys never reach the task */
        if (!spec.name || !*spec.name)
            __builtin_trap();
        for (size_t i = 0; i < spec.nargs; i++)
            if (spec.args[i].key &&
                (!strcmp(spec.args[i].key, "host") ||
                 !strcmp(spec.args[i].key, "hosts") ||
                 !strcmp(spec.args[i].key, "roles") ||
                 !strcmp(spec.args[i].key, "role") ||
                 !strcmp(spec.args[i].key, "exclude_hosts")))
                __builtin_trap();
    } else if (err.msg[0] == '\0') {
        __builtin_trap();
    }
    fabc_cli_spec_free(&spec);
    /* 2: split on newlines into an argv */
    argv[argc++] = (char *)"fabc";
    for (char *p = text; p && argc < 15;) {
        char *nl = strchr(p, '\n');
        argv[argc++] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    argv[argc] = NULL;
    fabc_err_clear(&err);
    (void)fabc_cli_parse(argc, argv, &cli, &err);
    fabc_cli_free(&cli);
    fabc_free(text);
    return 0;
}
