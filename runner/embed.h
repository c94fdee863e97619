/* embed.h — the embedded CPython interpreter. */
#ifndef FABC_EMBED_H
#define FABC_EMBED_H

#include "cli.h"

/* Initialise CPython (isolated PyConfig, _fabc in the inittab, the
 * runner's Python package on sys.path), run fabc._runner.main() with the
 * parsed command line, finalise. Returns the process exit status. */
int fabc_embed_run(const struct fabc_cli *cli, const char *argv0);

#endif
