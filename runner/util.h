/* util.h — small Python-free helpers shared by every subsystem:
 * monotonic time, the run-wide cancel flag, allocation with fault
 * injection, growable byte buffers. */
#ifndef FABC_UTIL_H
#define FABC_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in milliseconds. */
int64_t fabc_now_ms(void);

/* The run-wide cancel flag. fabc_cancel_request() is async-signal-safe:
 * it sets the flag and writes one byte to every registered wake fd so
 * sleeping poll() loops return at once. Waits check fabc_cancelled()
 * on every wake-up and give up with FABC_E_INTERRUPTED. */
void fabc_cancel_request(void);
int fabc_cancelled(void);
void fabc_cancel_reset(void);
/* Register/unregister the write end of a wake pipe (at most 16). */
int fabc_cancel_add_wakefd(int fd);
void fabc_cancel_del_wakefd(int fd);

/* malloc/realloc/free used by the core. fabc_malloc_fail_after(n) makes
 * the n-th following allocation (0-based) and all later ones fail; -1
 * turns injection off. For unit tests only. */
void *fabc_malloc(size_t n);
void *fabc_calloc(size_t n, size_t size);
void *fabc_realloc(void *p, size_t n);
char *fabc_strdup(const char *s);
char *fabc_strndup(const char *s, size_t n);
void fabc_free(void *p);
void fabc_malloc_fail_after(long n);

/* A growable byte buffer, always NUL-terminated when data != NULL. */
struct fabc_buf {
    char *data;
    size_t len;
    size_t cap;
};
void fabc_buf_init(struct fabc_buf *b);
int fabc_buf_append(struct fabc_buf *b, const void *p, size_t n); /* 0/-1 */
int fabc_buf_puts(struct fabc_buf *b, const char *s);
int fabc_buf_printf(struct fabc_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void fabc_buf_reset(struct fabc_buf *b);  /* len = 0, keeps memory */
void fabc_buf_free(struct fabc_buf *b);
/* Hand the data to the caller (free with fabc_free); b is left empty. */
char *fabc_buf_steal(struct fabc_buf *b, size_t *len);

/* snprintf into a fixed buffer; returns 0, or -1 if truncated. */
int fabc_strlcpy(char *dst, const char *src, size_t size);

#endif
