/* util.c — time, cancel flag, allocation, buffers. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t fabc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define MAX_WAKEFDS 16
static atomic_int cancel_flag;
static atomic_int wake_fds[MAX_WAKEFDS] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};

void fabc_cancel_request(void)
{
    int saved = errno;

    atomic_store(&cancel_flag, 1);
    for (int i = 0; i < MAX_WAKEFDS; i++) {
        int fd = atomic_load(&wake_fds[i]);
        if (fd >= 0) {
            ssize_t r = write(fd, "c", 1);
            (void)r;
        }
    }
    errno = saved;
}

int fabc_cancelled(void)
{
    return atomic_load(&cancel_flag);
}

void fabc_cancel_reset(void)
{
    atomic_store(&cancel_flag, 0);
}

int fabc_cancel_add_wakefd(int fd)
{
    for (int i = 0; i < MAX_WAKEFDS; i++) {
        int expected = -1;
        if (atomic_compare_exchange_strong(&wake_fds[i], &expected, fd))
            return 0;
    }
    return -1;
}

void fabc_cancel_del_wakefd(int fd)
{
    for (int i = 0; i < MAX_WAKEFDS; i++) {
        int expected = fd;
        if (atomic_compare_exchange_strong(&wake_fds[i], &expected, -1))
            return;
    }
}

static atomic_long fail_after = -1;

static int should_fail(void)
{
    long n = atomic_load(&fail_after);

    if (n < 0)
        return 0;
    if (n == 0)
        return 1;
    atomic_store(&fail_after, n - 1);
    return 0;
}

void fabc_malloc_fail_after(long n)
{
    atomic_store(&fail_after, n);
}

void *fabc_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *fabc_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *fabc_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

char *fabc_strndup(const char *s, size_t n)
{
    char *d = fabc_malloc(n + 1);

    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *fabc_strdup(const char *s)
{
    return fabc_strndup(s, strlen(s));
}

void fabc_free(void *p)
{
    free(p);
}

void fabc_buf_init(struct fabc_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int fabc_buf_append(struct fabc_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *d;

        while (cap < b->len + n + 1)
            cap *= 2;
        d = fabc_realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int fabc_buf_puts(struct fabc_buf *b, const char *s)
{
    return fabc_buf_append(b, s, strlen(s));
}

int fabc_buf_printf(struct fabc_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    int n;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || fabc_buf_append(b, NULL, 0) < 0) {
        va_end(ap2);
        return -1;
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap;
        char *d;

        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        d = fabc_realloc(b->data, cap);
        if (!d) {
            va_end(ap2);
            return -1;
        }
        b->data = d;
        b->cap = cap;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return 0;
}

void fabc_buf_reset(struct fabc_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void fabc_buf_free(struct fabc_buf *b)
{
    fabc_free(b->data);
    fabc_buf_init(b);
}

char *fabc_buf_steal(struct fabc_buf *b, size_t *len)
{
    char *d = b->data;

    if (len)
        *len = b->len;
    if (!d)
        d = fabc_strdup("");
    fabc_buf_init(b);
    return d;
}

int fabc_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);

    if (size == 0)
        return -1;
    if (n >= size) {
        memcpy(dst, src, size - 1);
        dst[size - 1] = '\0';
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}
