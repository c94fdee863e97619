/* loop.h — a small poll(2) loop: watched fds with callbacks, a caller
 * supplied deadline, and a wake pipe that other threads (and the SIGINT
 * handler, through fabc_cancel_add_wakefd) write to.
 *
 * A loop belongs to one thread: only fabc_loop_wake() may be called from
 * other threads or from a signal handler. Callbacks run inside
 * fabc_loop_once(); they may add or remove watches, and a watch removed
 * during dispatch does not get its pending event. */
#ifndef FABC_LOOP_H
#define FABC_LOOP_H

#include <stdint.h>

#include "err.h"

struct fabc_loop;

typedef void (*fabc_loop_cb)(void *arg, int fd, short revents);

/* A new loop with its wake pipe registered as a cancel wake fd. NULL on
 * error (err set). Free with fabc_loop_free. */
struct fabc_loop *fabc_loop_new(struct fabc_err *err);
void fabc_loop_free(struct fabc_loop *loop);

/* Make a sleeping fabc_loop_once() return. Thread- and signal-safe. */
void fabc_loop_wake(struct fabc_loop *loop);

/* Watch fd for `events` (POLLIN/POLLOUT), calling cb(arg, fd, revents).
 * Watching an fd again replaces its events, callback and argument.
 * Returns 0, or -1 (FABC_E_NOMEM, or FABC_E_USAGE for a negative fd). */
int fabc_loop_watch(struct fabc_loop *loop, int fd, short events,
                    fabc_loop_cb cb, void *arg, struct fabc_err *err);
/* Stop watching fd (no-op if not watched). */
void fabc_loop_unwatch(struct fabc_loop *loop, int fd);
/* Number of watched fds (the wake pipe not counted). */
int fabc_loop_count(const struct fabc_loop *loop);

/* Wait until a watched fd is ready, the loop is woken, or the monotonic
 * time deadline_ms (fabc_now_ms() clock; -1 = no deadline) passes, then
 * dispatch the callbacks. *woken is set to 1 if the wake pipe fired.
 * EINTR counts as a wake-up. Returns the number of callbacks run, or -1
 * with err set (FABC_E_OS). */
int fabc_loop_once(struct fabc_loop *loop, int64_t deadline_ms, int *woken,
                   struct fabc_err *err);

#endif
