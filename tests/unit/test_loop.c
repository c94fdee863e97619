/* test_loop.c — the poll loop: watches, deadlines, wake pipe, cancel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "util.h"

struct hit {
    int n;
    short re;
    struct fabc_loop *loop;
    int unwatch_other;
};

static void on_fd(void *arg, int fd, short re)
{
    struct hit *h = arg;
    char c;

    h->n++;
    h->re = re;
    if (re & POLLIN) {
        ssize_t r = read(fd, &c, 1);
        (void)r;
    }
    if (h->unwatch_other >= 0)
        fabc_loop_unwatch(h->loop, h->unwatch_other);
}

static void test_watch_and_deadline(void **state)
{
    struct fabc_err err;
    struct fabc_loop *l;
    int p[2], woken = 0;
    struct hit h = {0, 0, NULL, -1};
    int64_t t0;

    (void)state;
    fabc_err_clear(&err);
    l = fabc_loop_new(&err);
    assert_non_null(l);
    h.loop = l;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fabc_loop_watch(l, p[0], POLLIN, on_fd, &h, &err), 0);
    assert_int_equal(fabc_loop_count(l), 1);
    /* nothing ready: returns at the deadline */
    t0 = fabc_now_ms();
    assert_int_equal(fabc_loop_once(l, t0 + 50, &woken, &err), 0);
    assert_true(fabc_now_ms() - t0 >= 45);
    assert_int_equal(woken, 0);
    /* ready fd: callback runs */
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(fabc_loop_once(l, -1, &woken, &err), 1);
    assert_int_equal(h.n, 1);
    assert_true(h.re & POLLIN);
    /* re-watching replaces; unwatch removes */
    assert_int_equal(fabc_loop_watch(l, p[0], POLLIN, on_fd, &h, &err), 0);
    assert_int_equal(fabc_loop_count(l), 1);
    fabc_loop_unwatch(l, p[0]);
    fabc_loop_unwatch(l, p[0]);
    assert_int_equal(fabc_loop_count(l), 0);
    close(p[0]);
    close(p[1]);
    fabc_loop_free(l);
}

static void *waker(void *arg)
{
    usleep(30000);
    fabc_loop_wake(arg);
    return NULL;
}

static void test_wake_and_cancel(void **state)
{
    struct fabc_err err;
    struct fabc_loop *l;
    pthread_t th;
    int woken = 0;

    (void)state;
    fabc_err_clear(&err);
    l = fabc_loop_new(&err);
    assert_non_null(l);
    pthread_create(&th, NULL, waker, l);
    assert_int_equal(fabc_loop_once(l, fabc_now_ms() + 5000, &woken, &err),
                     0);
    assert_int_equal(woken, 1);
    pthread_join(th, NULL);
    /* the cancel request writes to the registered wake pipe */
    fabc_cancel_request();
    woken = 0;
    assert_int_equal(fabc_loop_once(l, fabc_now_ms() + 5000, &woken, &err),
                     0);
    assert_int_equal(woken, 1);
    assert_true(fabc_cancelled());
    fabc_cancel_reset();
    fabc_loop_free(l);
}

static void test_unwatch_in_callback(void **state)
{
    struct fabc_err err;
    struct fabc_loop *l;
    int a[2], b[2], woken;
    struct hit ha = {0, 0, NULL, -1}, hb = {0, 0, NULL, -1};

    (void)state;
    fabc_err_clear(&err);
    l = fabc_loop_new(&err);
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    ha.loop = hb.loop = l;
    /* whichever runs first removes the other: only one callback runs */
    ha.unwatch_other = b[0];
    hb.unwatch_other = a[0];
    fabc_loop_watch(l, a[0], POLLIN, on_fd, &ha, &err);
    fabc_loop_watch(l, b[0], POLLIN, on_fd, &hb, &err);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    assert_int_equal(fabc_loop_once(l, -1, &woken, &err), 1);
    assert_int_equal(ha.n + hb.n, 1);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    fabc_loop_free(l);
}

static void test_many_fds(void **state)
{
    struct fabc_err err;
    struct fabc_loop *l;
    int fds[200][2], woken;
    struct hit h = {0, 0, NULL, -1};

    (void)state;
    fabc_err_clear(&err);
    l = fabc_loop_new(&err);
    h.loop = l;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        assert_int_equal(
            fabc_loop_watch(l, fds[i][0], POLLIN, on_fd, &h, &err), 0);
    }
    for (int i = 0; i < 200; i += 2)
        assert_int_equal(write(fds[i][1], "x", 1), 1);
    assert_int_equal(fabc_loop_once(l, -1, &woken, &err), 100);
    assert_int_equal(h.n, 100);
    for (int i = 0; i < 200; i++) {
        fabc_loop_unwatch(l, fds[i][0]);
        close(fds[i][0]);
        close(fds[i][1]);
    }
    assert_int_equal(fabc_loop_count(l), 0);
    fabc_loop_free(l);
}

static void test_alloc_failure(void **state)
{
    struct fabc_err err;

    (void)state;
    for (long n = 0; n < 4; n++) {
        struct fabc_loop *l;

        fabc_err_clear(&err);
        fabc_malloc_fail_after(n);
        l = fabc_loop_new(&err);
        fabc_malloc_fail_after(-1);
        if (l)
            fabc_loop_free(l);
        else
            assert_int_equal(err.code, FABC_E_NOMEM);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_and_deadline),
        cmocka_unit_test(test_wake_and_cancel),
        cmocka_unit_test(test_unwatch_in_callback),
        cmocka_unit_test(test_many_fds),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
