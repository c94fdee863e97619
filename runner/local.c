/* local.c — local commands via posix_spawn. */
#include "local.h"
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void fabc_local_result_free(struct fabc_local_result *res)
{
    fabc_buf_free(&res->out);
    fabc_buf_free(&res->err);
}

/* environ with opts->env_set applied; the array is owned by the caller,
 * the strings are borrowed. */
static char **build_env(char *const *set)
{
    size_t n = 0, m = 0, k = 0;
    char **envp;

    while (environ[n])
        n++;
    while (set && set[m])
        m++;
    envp = fabc_calloc(n + m + 1, sizeof(*envp));
    if (!envp)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        int overridden = 0;
        for (size_t j = 0; j < m; j++)
            if (!strncmp(set[j], environ[i], klen) && set[j][klen] == '=')
                overridden = 1;
        if (!overridden)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        envp[k++] = set[j];
    envp[k] = NULL;
    return envp;
}

static void drain(int *fd, struct fabc_buf *buf, struct fabc_linebuf *lb,
                  const struct fabc_local_opts *o, enum fabc_stream s,
                  int *oom)
{
    char chunk[16384];
    ssize_t n = read(*fd, chunk, sizeof(chunk));

    if (n > 0) {
        if (fabc_buf_append(buf, chunk, (size_t)n) < 0)
            *oom = 1;
        if (o->stream)
            fabc_linebuf_feed(lb, o->label, s, chunk, (size_t)n);
        return;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    close(*fd);
    *fd = -1;
}

static void kill_group(pid_t pid)
{
    /* the child leads its own process group: end all of it */
    if (kill(-pid, SIGTERM) < 0)
        kill(pid, SIGTERM);
}

int fabc_local_run(const struct fabc_local_opts *o,
                   struct fabc_local_result *res, struct fabc_err *err)
{
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, wake[2] = {-1, -1};
    int rc = -1, spawned = 0, status = 0, oom = 0, wake_added = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int fa_init = 0, attr_init = 0;
    char **envp = NULL;
    pid_t pid = -1;
    int64_t start = fabc_now_ms(), deadline, killed_at = 0;
    struct fabc_linebuf lbo, lbe;
    enum { RUNNING, TIMEDOUT, CANCELLED } why = RUNNING;
    char *argv[4];
    sigset_t none;

    memset(res, 0, sizeof(*res));
    fabc_buf_init(&res->out);
    fabc_buf_init(&res->err);
    fabc_linebuf_init(&lbo);
    fabc_linebuf_init(&lbe);
    deadline = o->timeout_ms > 0 ? start + o->timeout_ms : 0;

    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
        pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        fabc_err_set(err, FABC_E_OS, errno, "local: pipe: %s",
                     strerror(errno));
        goto out;
    }
    if (fabc_cancel_add_wakefd(wake[1]) == 0)
        wake_added = 1;
    envp = build_env(o->env_set);
    if (!envp) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    if ((errno = posix_spawn_file_actions_init(&fa)) != 0) {
        fabc_err_set(err, FABC_E_OS, errno, "local: %s", strerror(errno));
        goto out;
    }
    fa_init = 1;
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    if (o->stdin_null)
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (o->cwd && *o->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    if ((errno = posix_spawnattr_init(&attr)) != 0) {
        fabc_err_set(err, FABC_E_OS, errno, "local: %s", strerror(errno));
        goto out;
    }
    attr_init = 1;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    {
        sigset_t def;
        sigemptyset(&def);
        sigaddset(&def, SIGINT);
        sigaddset(&def, SIGPIPE);
        sigaddset(&def, SIGTERM);
        posix_spawnattr_setsigdefault(&attr, &def);
    }
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                        POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    argv[0] = (char *)(o->shell ? o->shell : "/bin/sh");
    argv[1] = (char *)"-c";
    argv[2] = (char *)o->command;
    argv[3] = NULL;
    if ((errno = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp)) != 0) {
        fabc_err_set(err, FABC_E_OS, errno, "local: cannot run %s%s%s: %s",
                     argv[0], o->cwd && *o->cwd ? " in " : "",
                     o->cwd && *o->cwd ? o->cwd : "", strerror(errno));
        goto out;
    }
    spawned = 1;
    close(outp[1]);
    outp[1] = -1;
    close(errp[1]);
    errp[1] = -1;

    while (outp[0] >= 0 || errp[0] >= 0) {
        struct pollfd pfd[3];
        int n = 0, timeout = -1, pr;
        int64_t now = fabc_now_ms();

        if (why == RUNNING && fabc_cancelled()) {
            why = CANCELLED;
            kill_group(pid);
            killed_at = now;
        }
        if (why == RUNNING && deadline && now >= deadline) {
            why = TIMEDOUT;
            kill_group(pid);
            killed_at = now;
        }
        if (why != RUNNING) {
            /* grace period, then SIGKILL; stop reading after that */
            if (now - killed_at >= 2000) {
                kill(-pid, SIGKILL);
                break;
            }
            timeout = (int)(killed_at + 2000 - now);
        } else if (deadline) {
            timeout = (int)(deadline - now);
        }
        if (outp[0] >= 0) {
            pfd[n].fd = outp[0];
            pfd[n++].events = POLLIN;
        }
        if (errp[0] >= 0) {
            pfd[n].fd = errp[0];
            pfd[n++].events = POLLIN;
        }
        pfd[n].fd = wake[0];
        pfd[n++].events = POLLIN;
        pr = poll(pfd, (nfds_t)n, timeout);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            fabc_err_set(err, FABC_E_OS, errno, "local: poll: %s",
                         strerror(errno));
            kill_group(pid);
            goto reap;
        }
        for (int i = 0; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if (pfd[i].fd == wake[0]) {
                char junk[64];
                while (read(wake[0], junk, sizeof(junk)) > 0)
                    ;
            } else if (pfd[i].fd == outp[0]) {
                drain(&outp[0], &res->out, &lbo, o, FABC_OUT, &oom);
            } else if (pfd[i].fd == errp[0]) {
                drain(&errp[0], &res->err, &lbe, o, FABC_ERR, &oom);
            }
        }
    }
reap:
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    spawned = 0;
    if (o->stream) {
        fabc_linebuf_flush(&lbo, o->label, FABC_OUT);
        fabc_linebuf_flush(&lbe, o->label, FABC_ERR);
    }
    res->elapsed_ms = fabc_now_ms() - start;
    if (WIFEXITED(status)) {
        res->exit_status = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        res->exit_status = -1;
        res->term_signal = WTERMSIG(status);
    }
    if (err && err->code != FABC_E_OK)
        goto out;
    if (why == TIMEDOUT) {
        fabc_err_set(err, FABC_E_TIMEOUT, 0,
                     "local: command timed out after %.3gs and was killed: "
                     "%s", (double)o->timeout_ms / 1000.0, o->command);
        goto out;
    }
    if (why == CANCELLED) {
        fabc_err_set(err, FABC_E_INTERRUPTED, 0, "local: interrupted");
        goto out;
    }
    if (oom) {
        fabc_err_set(err, FABC_E_NOMEM, 0, "out of memory");
        goto out;
    }
    rc = 0;
out:
    if (spawned) {
        kill_group(pid);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (wake_added)
        fabc_cancel_del_wakefd(wake[1]);
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
        if (wake[i] >= 0)
            close(wake[i]);
    }
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_init)
        posix_spawnattr_destroy(&attr);
    fabc_free(envp);
    fabc_linebuf_free(&lbo);
    fabc_linebuf_free(&lbe);
    return rc;
}
