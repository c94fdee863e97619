/* fuzz_config.c — libFuzzer target for the YAML config loader.
 *
 * Loads arbitrary bytes with fabc_config_load_buffer(); on success dumps
 * the document in the canonical form (walks every node, alias cycles
 * included) and frees it. Seed corpus: the tests/yaml/ documents.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address -Irunner \
 *     tests/fuzz/fuzz_config.c runner/config.c runner/util.c runner/err.c \
 *     $(pkg-config --libs yaml-0.1) -lm -o fuzz_config
 *   ./fuzz_config -jobs=1 -max_total_time=600 corpus/ tests/yaml/
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fabc_err err;
    struct fabc_config *cfg;
    struct fabc_buf out;

    fabc_err_clear(&err);
    fabc_buf_init(&out);
    cfg = fabc_config_load_buffer("fuzz.yaml", data, size, &err);
    if (cfg) {
        if (fabc_config_dump(cfg, &out) < 0)
            __builtin_trap();
    } else if (err.code != FABC_E_CONFIG && err.code != FABC_E_NOMEM) {
        __builtin_trap();
    } else if (err.code == FABC_E_CONFIG
               && (err.line < 1 || err.column < 1 || !err.msg[0])) {
        __builtin_trap();
    }
    fabc_buf_free(&out);
    fabc_config_free(cfg);
    return 0;
}
