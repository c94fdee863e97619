/* arena.h — bump allocation for trees of many small objects that are
 * freed all at once (config documents, template syntax trees).
 *
 *     struct fabc_arena a = FABC_ARENA_INIT;
 *     node = fabc_arena_alloc(&a, sizeof(*node));   // NULL when out of memory
 *     ...
 *     fabc_arena_free(&a);                          // every allocation at once
 *
 * Memory comes from fabc_malloc (so allocation-failure tests reach it) in
 * blocks of 16 KiB; a request larger than a quarter block gets a block of
 * its own. Returned memory is aligned for any type and not zeroed. */
#ifndef FABC_ARENA_H
#define FABC_ARENA_H

#include <stddef.h>

struct fabc_arena_block;

struct fabc_arena {
    struct fabc_arena_block *blocks;
};

#define FABC_ARENA_INIT {NULL}

void *fabc_arena_alloc(struct fabc_arena *a, size_t n);
/* A NUL-terminated copy of n bytes of s, in the arena. */
char *fabc_arena_strndup(struct fabc_arena *a, const char *s, size_t n);
/* Release every block; the arena is empty (and reusable) afterwards. */
void fabc_arena_free(struct fabc_arena *a);

#endif
