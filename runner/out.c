/* out.c — line-atomic output. */
#include "out.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int out_prefix = 1;
static int out_colour = 0;

void fabc_out_configure(int prefix_lines, int colour)
{
    out_prefix = prefix_lines;
    out_colour = colour;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* EPIPE/EIO: nothing useful to do for output */
        }
        p += w;
        n -= (size_t)w;
    }
}

void fabc_out_raw(int fd, const char *text, size_t len)
{
    pthread_mutex_lock(&out_lock);
    write_all(fd, text, len);
    pthread_mutex_unlock(&out_lock);
}

void fabc_out_line(const char *host, enum fabc_stream stream,
                   const char *line, size_t len)
{
    struct fabc_buf b;
    const char *tag = stream == FABC_ERR ? "err" : "out";

    fabc_buf_init(&b);
    if (out_prefix && host && *host) {
        if (out_colour && stream == FABC_ERR)
            fabc_buf_printf(&b, "\033[31m[%s] %s:\033[0m ", host, tag);
        else
            fabc_buf_printf(&b, "[%s] %s: ", host, tag);
    }
    if (fabc_buf_append(&b, line, len) < 0 ||
        fabc_buf_append(&b, "\n", 1) < 0) {
        /* Out of memory: still write the line, unprefixed. */
        pthread_mutex_lock(&out_lock);
        write_all(1, line, len);
        write_all(1, "\n", 1);
        pthread_mutex_unlock(&out_lock);
        fabc_buf_free(&b);
        return;
    }
    fabc_out_raw(1, b.data, b.len);
    fabc_buf_free(&b);
}

void fabc_linebuf_init(struct fabc_linebuf *lb)
{
    lb->data = NULL;
    lb->len = 0;
    lb->cap = 0;
}

void fabc_linebuf_feed(struct fabc_linebuf *lb, const char *host,
                       enum fabc_stream stream, const char *data, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;

        if (nl && lb->len == 0) {
            fabc_out_line(host, stream, data, take);
        } else {
            if (lb->len + take > lb->cap) {
                size_t cap = lb->cap ? lb->cap : 256;
                char *d;
                while (cap < lb->len + take)
                    cap *= 2;
                d = fabc_realloc(lb->data, cap);
                if (!d) { /* emit what we have rather than lose it */
                    fabc_out_line(host, stream, lb->data, lb->len);
                    lb->len = 0;
                    fabc_out_line(host, stream, data, take);
                    goto next;
                }
                lb->data = d;
                lb->cap = cap;
            }
            memcpy(lb->data + lb->len, data, take);
            lb->len += take;
            if (nl) {
                fabc_out_line(host, stream, lb->data, lb->len);
                lb->len = 0;
            }
        }
    next:
        if (!nl)
            return;
        data = nl + 1;
        n -= take + 1;
    }
}

void fabc_linebuf_flush(struct fabc_linebuf *lb, const char *host,
                        enum fabc_stream stream)
{
    if (lb->len > 0) {
        fabc_out_line(host, stream, lb->data, lb->len);
        lb->len = 0;
    }
}

void fabc_linebuf_free(struct fabc_linebuf *lb)
{
    fabc_free(lb->data);
    fabc_linebuf_init(lb);
}
