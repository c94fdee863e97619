/* arena.c — bump allocation, freed all at once. */
#include "arena.h"
#include "util.h"

#include <stdalign.h>
#include <stddef.h>
#include <string.h>

struct fabc_arena_block {
    struct fabc_arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

#define BLOCK_SIZE 16384

void *fabc_arena_alloc(struct fabc_arena *a, size_t n)
{
    struct fabc_arena_block *b = a->blocks;
    size_t align = alignof(max_align_t);
    void *p;

    n = (n + align - 1) / align * align;
    if (n == 0)
        n = align;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > BLOCK_SIZE / 4 ? n : BLOCK_SIZE;

        b = fabc_malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        if (cap == n && a->blocks) {
            /* a big one-off: keep the current block in front */
            b->next = a->blocks->next;
            a->blocks->next = b;
        } else {
            b->next = a->blocks;
            a->blocks = b;
        }
    }
    p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

char *fabc_arena_strndup(struct fabc_arena *a, const char *s, size_t n)
{
    char *d = fabc_arena_alloc(a, n + 1);

    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void fabc_arena_free(struct fabc_arena *a)
{
    struct fabc_arena_block *b, *next;

    for (b = a->blocks; b; b = next) {
        next = b->next;
        fabc_free(b);
    }
    a->blocks = NULL;
}
