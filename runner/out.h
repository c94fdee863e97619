/* out.h — line-atomic, host-prefixed output shared by every thread.
 *
 * All terminal output of a run goes through here so that no line from two
 * hosts is ever mixed: each call writes whole lines under one mutex.
 * A struct fabc_linebuf collects a stream's partial data and emits every
 * complete line; fabc_linebuf_flush() emits the partial last line. */
#ifndef FABC_OUT_H
#define FABC_OUT_H

#include <stddef.h>

enum fabc_stream { FABC_OUT = 1, FABC_ERR = 2 };

/* Output settings, set once at start-up by the runner. */
void fabc_out_configure(int prefix_lines, int colour);

/* Write one line (without its '\n') as "[host] out: line\n" to stdout
 * (FABC_OUT) or "[host] err: line\n" (FABC_ERR also goes to stdout, as in
 * Fabric). host may be NULL or "" for no prefix. */
void fabc_out_line(const char *host, enum fabc_stream stream,
                   const char *line, size_t len);

/* Write a complete message (may contain several lines) atomically to fd 1
 * or 2 with no prefix. */
void fabc_out_raw(int fd, const char *text, size_t len);

struct fabc_linebuf {
    char *data;
    size_t len, cap;
};
void fabc_linebuf_init(struct fabc_linebuf *lb);
/* Append data; emit each complete line through fabc_out_line. */
void fabc_linebuf_feed(struct fabc_linebuf *lb, const char *host,
                       enum fabc_stream stream, const char *data, size_t n);
/* Emit what is left (a last line without '\n'). */
void fabc_linebuf_flush(struct fabc_linebuf *lb, const char *host,
                        enum fabc_stream stream);
void fabc_linebuf_free(struct fabc_linebuf *lb);

#endif
