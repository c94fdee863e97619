#!/bin/sh
# Build the test-only extension _fabc_tpl_test (see pyext.c) into
# tests/template/build/. Usage: sh tests/template/build_ext.sh [extra CFLAGS]
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mkdir -p "$here/build"
${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
  -Wstrict-prototypes -Wmissing-prototypes -Wno-format-truncation -O2 -g -fPIC \
  -shared "$@" \
  -I"$root/runner" $(pkg-config --cflags python-3.11-embed) \
  -o "$here/build/_fabc_tpl_test$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')" \
  "$here/pyext.c" "$root/runner/py_template.c" "$root/runner/template.c" \
  "$root/runner/util.c" "$root/runner/err.c" -lm
