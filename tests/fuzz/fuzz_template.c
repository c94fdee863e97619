/* fuzz_template.c — libFuzzer target for the Python-free template lexer
 * and parser (runner/template.c): compile arbitrary bytes, dump the tree,
 * free it. The renderer is fuzzed by fuzz_py_template.c. */
#include <stddef.h>
#include <stdint.h>

#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fabc_err err;
    struct fabc_tpl *t;

    fabc_err_clear(&err);
    t = fabc_tpl_compile((const char *)data, size, "fuzz.j2", &err);
    if (t) {
        struct fabc_buf b;

        fabc_buf_init(&b);
        (void)fabc_tpl_dump(t, &b);
        fabc_buf_free(&b);
        fabc_tpl_free(t);
    } else if (err.code != FABC_E_TEMPLATE && err.code != FABC_E_NOMEM) {
        __builtin_trap(); /* a failure must say why */
    }
    return 0;
}
