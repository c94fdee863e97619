/* loop.c — poll(2) loop with a wake pipe. */
#include "loop.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

struct watch {
    int fd;
    fabc_loop_cb cb;
    void *arg;
};

struct fabc_loop {
    int wake_rd, wake_wr;
    int registered;
    struct pollfd *pfds; /* [0] is the wake pipe */
    struct watch *w;     /* parallel to pfds */
    size_t n, cap;
    int *slot_of; /* fd -> index in pfds, -1 if none */
    size_t nslot;
};

static int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

struct fabc_loop *fabc_loop_new(struct fabc_err *err)
{
    struct fabc_loop *l = fabc_calloc(1, sizeof(*l));
    int p[2] = {-1, -1};

    if (!l) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "loop: out of memory");
        goto fail;
    }
    if (pipe(p) < 0 || set_nonblock_cloexec(p[0]) < 0 ||
        set_nonblock_cloexec(p[1]) < 0) {
        fabc_err_set(err, FABC_E_OS, errno, "loop: pipe: %s",
                     strerror(errno));
        goto fail;
    }
    l->wake_rd = p[0];
    l->wake_wr = p[1];
    l->cap = 16;
    l->pfds = fabc_calloc(l->cap, sizeof(*l->pfds));
    l->w = fabc_calloc(l->cap, sizeof(*l->w));
    if (!l->pfds || !l->w) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "loop: out of memory");
        goto fail;
    }
    l->pfds[0].fd = l->wake_rd;
    l->pfds[0].events = POLLIN;
    l->n = 1;
    l->registered = fabc_cancel_add_wakefd(l->wake_wr) == 0;
    return l;
fail:
    if (l) {
        fabc_free(l->pfds);
        fabc_free(l->w);
        fabc_free(l);
    }
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    return NULL;
}

void fabc_loop_free(struct fabc_loop *l)
{
    if (!l)
        return;
    if (l->registered)
        fabc_cancel_del_wakefd(l->wake_wr);
    close(l->wake_rd);
    close(l->wake_wr);
    fabc_free(l->pfds);
    fabc_free(l->w);
    fabc_free(l->slot_of);
    fabc_free(l);
}

void fabc_loop_wake(struct fabc_loop *l)
{
    int saved = errno;
    ssize_t r = write(l->wake_wr, "w", 1);

    (void)r; /* a full pipe already means "wake up" */
    errno = saved;
}

static int slot_get(const struct fabc_loop *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->nslot)
        return -1;
    return l->slot_of[fd];
}

int fabc_loop_watch(struct fabc_loop *l, int fd, short events,
                    fabc_loop_cb cb, void *arg, struct fabc_err *err)
{
    int s;

    if (fd < 0)
        return fabc_err_set(err, FABC_E_USAGE, 0, "loop: bad fd %d", fd);
    if ((size_t)fd >= l->nslot) {
        size_t nn = l->nslot ? l->nslot : 64;
        int *ns;

        while (nn <= (size_t)fd)
            nn *= 2;
        ns = fabc_realloc(l->slot_of, nn * sizeof(*ns));
        if (!ns)
            return fabc_err_set(err, FABC_E_NOMEM, 0, "loop: out of memory");
        for (size_t i = l->nslot; i < nn; i++)
            ns[i] = -1;
        l->slot_of = ns;
        l->nslot = nn;
    }
    s = l->slot_of[fd];
    if (s < 0) {
        if (l->n == l->cap) {
            size_t nc = l->cap * 2;
            struct pollfd *np = fabc_realloc(l->pfds, nc * sizeof(*np));
            struct watch *nw;

            if (!np)
                return fabc_err_set(err, FABC_E_NOMEM, 0,
                                    "loop: out of memory");
            l->pfds = np;
            nw = fabc_realloc(l->w, nc * sizeof(*nw));
            if (!nw)
                return fabc_err_set(err, FABC_E_NOMEM, 0,
                                    "loop: out of memory");
            l->w = nw;
            l->cap = nc;
        }
        s = (int)l->n++;
        l->slot_of[fd] = s;
    }
    l->pfds[s].fd = fd;
    l->pfds[s].events = events;
    l->pfds[s].revents = 0;
    l->w[s].fd = fd;
    l->w[s].cb = cb;
    l->w[s].arg = arg;
    return 0;
}

void fabc_loop_unwatch(struct fabc_loop *l, int fd)
{
    int s = slot_get(l, fd);
    size_t last;

    if (s <= 0)
        return;
    last = l->n - 1;
    if ((size_t)s != last) {
        l->pfds[s] = l->pfds[last];
        l->w[s] = l->w[last];
        l->slot_of[l->w[s].fd] = s;
    }
    l->slot_of[fd] = -1;
    l->n--;
}

int fabc_loop_count(const struct fabc_loop *l)
{
    return (int)l->n - 1;
}

int fabc_loop_once(struct fabc_loop *l, int64_t deadline_ms, int *woken,
                   struct fabc_err *err)
{
    int timeout = -1, rc, ran = 0;
    size_t n;

    *woken = 0;
    if (deadline_ms >= 0) {
        int64_t d = deadline_ms - fabc_now_ms();

        if (d < 0)
            d = 0;
        timeout = d > 60000 ? 60000 : (int)d;
    }
    rc = poll(l->pfds, l->n, timeout);
    if (rc < 0) {
        if (errno == EINTR) {
            *woken = 1;
            return 0;
        }
        return fabc_err_set(err, FABC_E_OS, errno, "loop: poll: %s",
                            strerror(errno));
    }
    if (rc == 0)
        return 0;
    if (l->pfds[0].revents) {
        char buf[256];

        while (read(l->wake_rd, buf, sizeof(buf)) > 0)
            ;
        *woken = 1;
        l->pfds[0].revents = 0;
    }
    /* Dispatch from the end: a callback may unwatch its own fd (moving
     * the last slot into its place) or add new ones (appended past n). */
    n = l->n;
    for (size_t i = n; i-- > 1;) {
        short re;
        struct watch w;

        if (i >= l->n)
            continue;
        re = l->pfds[i].revents;
        if (!re)
            continue;
        l->pfds[i].revents = 0;
        w = l->w[i];
        w.cb(w.arg, w.fd, re);
        ran++;
    }
    return ran;
}
