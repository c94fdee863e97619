/* sftp.c — put/get/mkdir/stat/list/chmod as non-blocking steps. */
#include "sftp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    S_START = 0,
    S_OPEN,
    S_XFER,
    S_SETSTAT,
    S_CLOSE,
    S_DIAG,
    S_MKDIR_STAT,
    S_ERRCLOSE,
    S_DONE
};

const char *fabc_sftp_strerror(unsigned long code)
{
    switch (code) {
    case LIBSSH2_FX_OK:
        return "ok";
    case LIBSSH2_FX_EOF:
        return "end of file";
    case LIBSSH2_FX_NO_SUCH_FILE:
        return "no such file or directory";
    case LIBSSH2_FX_PERMISSION_DENIED:
        return "permission denied";
    case LIBSSH2_FX_FAILURE:
        return "failure";
    case LIBSSH2_FX_BAD_MESSAGE:
        return "bad message";
    case LIBSSH2_FX_NO_CONNECTION:
        return "no connection";
    case LIBSSH2_FX_CONNECTION_LOST:
        return "connection lost";
    case LIBSSH2_FX_OP_UNSUPPORTED:
        return "operation unsupported";
    case LIBSSH2_FX_INVALID_HANDLE:
        return "invalid handle";
    case LIBSSH2_FX_NO_SUCH_PATH:
        return "no such path";
    case LIBSSH2_FX_FILE_ALREADY_EXISTS:
        return "file already exists";
    case LIBSSH2_FX_WRITE_PROTECT:
        return "write protected";
    case LIBSSH2_FX_NO_MEDIA:
        return "no media";
    case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
        return "no space left on device";
    case LIBSSH2_FX_QUOTA_EXCEEDED:
        return "quota exceeded";
    case LIBSSH2_FX_UNKNOWN_PRINCIPAL:
        return "unknown principal";
    case LIBSSH2_FX_LOCK_CONFLICT:
        return "lock conflict";
    case LIBSSH2_FX_DIR_NOT_EMPTY:
        return "directory not empty";
    case LIBSSH2_FX_NOT_A_DIRECTORY:
        return "not a directory";
    case LIBSSH2_FX_INVALID_FILENAME:
        return "invalid file name";
    case LIBSSH2_FX_LINK_LOOP:
        return "link loop";
    default:
        return "unknown SFTP status";
    }
}

void fabc_sftp_abandon(struct fabc_ssh_job *j)
{
    /* The handle is freed with the SFTP channel/session; forget it. */
    j->fh = NULL;
    if (j->lfd >= 0) {
        close(j->lfd);
        j->lfd = -1;
    }
}

static const char *opname(const struct fabc_ssh_job *j)
{
    switch (j->op) {
    case FABC_SFTP_PUT:
        return "put";
    case FABC_SFTP_GET:
        return "get";
    case FABC_SFTP_MKDIR:
        return "mkdir";
    case FABC_SFTP_STAT:
        return "stat";
    case FABC_SFTP_LIST:
        return "list";
    case FABC_SFTP_CHMOD:
        return "chmod";
    default:
        return "sftp";
    }
}

/* Record an SFTP failure "what" on the remote path. For the server's
 * generic "failure" status, go on to S_DIAG to find out (statvfs) whether
 * the file system is full or read-only. */
static int sftp_fail(struct fabc_ssh_job *j, LIBSSH2_SESSION *s,
                     LIBSSH2_SFTP *sftp, const char *what)
{
    int rc = libssh2_session_last_errno(s);
    unsigned long st = 0;
    char *m = NULL;
    const char *host = j->target ? j->target->label : "?";

    if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
        st = libssh2_sftp_last_error(sftp);
        fabc_err_set(&j->err, FABC_E_SFTP, (long)st,
                     "%s %s:%s: %s: %s", opname(j), host, j->remote, what,
                     fabc_sftp_strerror(st));
        fabc_err_host(&j->err, host);
        if (st == LIBSSH2_FX_FAILURE &&
            (j->op == FABC_SFTP_PUT || j->op == FABC_SFTP_MKDIR)) {
            j->state = S_DIAG;
            return FABC_STEP_AGAIN;
        }
        return FABC_STEP_ERROR;
    }
    libssh2_session_last_error(s, &m, NULL, 0);
    fabc_err_set(&j->err, FABC_E_SFTP, rc, "%s %s:%s: %s: %s", opname(j),
                 host, j->remote, what, m ? m : "");
    fabc_err_host(&j->err, host);
    return FABC_STEP_ERROR;
}

static int local_fail(struct fabc_ssh_job *j, const char *what, int e)
{
    const char *host = j->target ? j->target->label : "?";

    fabc_err_set(&j->err, FABC_E_SFTP, e, "%s %s:%s: local file %s: %s: %s",
                 opname(j), host, j->remote, j->local, what, strerror(e));
    fabc_err_host(&j->err, host);
    return FABC_STEP_ERROR;
}

static int diag_step(struct fabc_ssh_job *j, LIBSSH2_SFTP *sftp)
{
    LIBSSH2_SFTP_STATVFS vfs;
    char dir[4096];
    const char *slash = strrchr(j->remote, '/');
    int rc;
    const char *why = NULL;

    if (j->op == FABC_SFTP_PUT && slash) {
        snprintf(dir, sizeof(dir), "%.*s",
                 (int)(slash == j->remote ? 1 : slash - j->remote),
                 j->remote);
    } else if (j->op == FABC_SFTP_PUT) {
        snprintf(dir, sizeof(dir), ".");
    } else {
        snprintf(dir, sizeof(dir), "%s", j->remote);
        slash = strrchr(dir, '/');
        if (slash && slash != dir)
            dir[slash - dir] = '\0';
    }
    rc = libssh2_sftp_statvfs(sftp, dir, strlen(dir), &vfs);
    if (rc == LIBSSH2_ERROR_EAGAIN)
        return FABC_STEP_AGAIN;
    if (rc == 0) {
        if (vfs.f_flag & LIBSSH2_SFTP_ST_RDONLY)
            why = "read-only file system";
        else if (vfs.f_bavail == 0 || vfs.f_favail == 0)
            why = "no space left on device";
    }
    if (why) {
        size_t l = strlen(j->err.msg);

        snprintf(j->err.msg + l, sizeof(j->err.msg) - l, " (%s)", why);
    }
    return FABC_STEP_ERROR;
}

static int ensure_buf(struct fabc_ssh_job *j)
{
    if (j->iobuf)
        return 0;
    j->iobuf = fabc_malloc(FABC_SFTP_CHUNK);
    if (!j->iobuf)
        return -1;
    j->iocap = FABC_SFTP_CHUNK;
    return 0;
}

static int put_step(struct fabc_ssh_job *j, LIBSSH2_SESSION *s,
                    LIBSSH2_SFTP *sftp)
{
    for (;;) {
        switch (j->state) {
        case S_START: {
            struct stat st;

            j->lfd = open(j->local, O_RDONLY | O_CLOEXEC);
            if (j->lfd < 0)
                return local_fail(j, "open", errno);
            if (fstat(j->lfd, &st) < 0)
                return local_fail(j, "stat", errno);
            if (j->mode < 0)
                j->st_mode = st.st_mode & 07777;
            if (ensure_buf(j) < 0)
                return local_fail(j, "buffer", ENOMEM);
            j->state = S_OPEN;
            break;
        }
        case S_OPEN:
            j->fh = libssh2_sftp_open_ex(
                sftp, j->remote, (unsigned)strlen(j->remote),
                LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC,
                j->mode >= 0 ? j->mode : (long)(j->st_mode & 0777),
                LIBSSH2_SFTP_OPENFILE);
            if (!j->fh) {
                if (libssh2_session_last_errno(s) == LIBSSH2_ERROR_EAGAIN)
                    return FABC_STEP_AGAIN;
                return sftp_fail(j, s, sftp, "cannot open for writing");
            }
            j->iolen = j->iooff = 0;
            j->state = S_XFER;
            break;
        case S_XFER:
            if (j->iooff == j->iolen) {
                ssize_t n = read(j->lfd, j->iobuf, j->iocap);

                if (n < 0) {
                    if (errno == EINTR)
                        continue;
                    return local_fail(j, "read", errno);
                }
                if (n == 0) {
                    j->state = j->mode >= 0 ? S_SETSTAT : S_CLOSE;
                    break;
                }
                j->iolen = (size_t)n;
                j->iooff = 0;
            }
            {
                ssize_t w = libssh2_sftp_write(j->fh, j->iobuf + j->iooff,
                                               j->iolen - j->iooff);
                if (w == LIBSSH2_ERROR_EAGAIN)
                    return FABC_STEP_AGAIN;
                if (w < 0)
                    return sftp_fail(j, s, sftp, "write failed");
                j->iooff += (size_t)w;
                j->bytes += (uint64_t)w;
            }
            break;
        case S_SETSTAT: {
            LIBSSH2_SFTP_ATTRIBUTES a;
            int rc;

            memset(&a, 0, sizeof(a));
            a.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
            a.permissions = (unsigned long)j->mode;
            rc = libssh2_sftp_fsetstat(j->fh, &a);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            if (rc < 0)
                return sftp_fail(j, s, sftp, "cannot set mode");
            j->state = S_CLOSE;
            break;
        }
        case S_CLOSE: {
            int rc = libssh2_sftp_close_handle(j->fh);

            if (rc == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            j->fh = NULL;
            close(j->lfd);
            j->lfd = -1;
            if (rc < 0)
                return sftp_fail(j, s, sftp, "close failed");
            return FABC_STEP_DONE;
        }
        case S_DIAG:
            return diag_step(j, sftp);
        default:
            return FABC_STEP_ERROR;
        }
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int get_step(struct fabc_ssh_job *j, LIBSSH2_SESSION *s,
                    LIBSSH2_SFTP *sftp)
{
    for (;;) {
        switch (j->state) {
        case S_START:
            j->fh = libssh2_sftp_open_ex(sftp, j->remote,
                                         (unsigned)strlen(j->remote),
                                         LIBSSH2_FXF_READ, 0,
                                         LIBSSH2_SFTP_OPENFILE);
            if (!j->fh) {
                if (libssh2_session_last_errno(s) == LIBSSH2_ERROR_EAGAIN)
                    return FABC_STEP_AGAIN;
                return sftp_fail(j, s, sftp, "cannot open for reading");
            }
            if (ensure_buf(j) < 0)
                return local_fail(j, "buffer", ENOMEM);
            j->lfd = open(j->local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                          j->mode >= 0 ? (mode_t)j->mode : 0644);
            if (j->lfd < 0)
                return local_fail(j, "open", errno);
            j->state = S_XFER;
            break;
        case S_XFER: {
            ssize_t n = libssh2_sftp_read(j->fh, j->iobuf, j->iocap);

            if (n == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            if (n < 0)
                return sftp_fail(j, s, sftp, "read failed");
            if (n == 0) {
                j->state = S_CLOSE;
                break;
            }
            if (write_all(j->lfd, j->iobuf, (size_t)n) < 0)
                return local_fail(j, "write", errno);
            j->bytes += (uint64_t)n;
            break;
        }
        case S_CLOSE: {
            int rc = libssh2_sftp_close_handle(j->fh);

            if (rc == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            j->fh = NULL;
            if (close(j->lfd) < 0) {
                j->lfd = -1;
                return local_fail(j, "close", errno);
            }
            j->lfd = -1;
            return FABC_STEP_DONE;
        }
        default:
            return FABC_STEP_ERROR;
        }
    }
}

static int list_step(struct fabc_ssh_job *j, LIBSSH2_SESSION *s,
                     LIBSSH2_SFTP *sftp)
{
    char name[1024];
    LIBSSH2_SFTP_ATTRIBUTES a;

    for (;;) {
        switch (j->state) {
        case S_START:
            j->fh = libssh2_sftp_open_ex(sftp, j->remote,
                                         (unsigned)strlen(j->remote), 0, 0,
                                         LIBSSH2_SFTP_OPENDIR);
            if (!j->fh) {
                if (libssh2_session_last_errno(s) == LIBSSH2_ERROR_EAGAIN)
                    return FABC_STEP_AGAIN;
                return sftp_fail(j, s, sftp, "cannot open directory");
            }
            j->state = S_XFER;
            break;
        case S_XFER: {
            int n = libssh2_sftp_readdir_ex(j->fh, name, sizeof(name) - 1,
                                            NULL, 0, &a);
            char type = '?';

            if (n == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            if (n < 0)
                return sftp_fail(j, s, sftp, "readdir failed");
            if (n == 0) {
                j->state = S_CLOSE;
                break;
            }
            name[n] = '\0';
            if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                break;
            if (a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) {
                if (LIBSSH2_SFTP_S_ISDIR(a.permissions))
                    type = 'd';
                else if (LIBSSH2_SFTP_S_ISLNK(a.permissions))
                    type = 'l';
                else
                    type = 'f';
            }
            if (fabc_buf_append(&j->listing, &type, 1) < 0 ||
                fabc_buf_append(&j->listing, name, (size_t)n + 1) < 0)
                return local_fail(j, "listing", ENOMEM);
            break;
        }
        case S_CLOSE: {
            int rc = libssh2_sftp_close_handle(j->fh);

            if (rc == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            j->fh = NULL;
            return FABC_STEP_DONE;
        }
        default:
            return FABC_STEP_ERROR;
        }
    }
}

static int step1(struct fabc_ssh_job *j, LIBSSH2_SESSION *s,
                 LIBSSH2_SFTP *sftp)
{
    LIBSSH2_SFTP_ATTRIBUTES a;
    int rc;

    if (j->state == S_DIAG)
        return diag_step(j, sftp);
    switch (j->op) {
    case FABC_SFTP_PUT:
        return put_step(j, s, sftp);
    case FABC_SFTP_GET:
        return get_step(j, s, sftp);
    case FABC_SFTP_LIST:
        return list_step(j, s, sftp);
    case FABC_SFTP_STAT:
        memset(&a, 0, sizeof(a));
        rc = libssh2_sftp_stat_ex(sftp, j->remote,
                                  (unsigned)strlen(j->remote),
                                  LIBSSH2_SFTP_STAT, &a);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return FABC_STEP_AGAIN;
        if (rc < 0)
            return sftp_fail(j, s, sftp, "cannot stat");
        j->st_size = (long long)a.filesize;
        j->st_mode = a.permissions;
        return FABC_STEP_DONE;
    case FABC_SFTP_CHMOD:
        memset(&a, 0, sizeof(a));
        a.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
        a.permissions = (unsigned long)(j->mode >= 0 ? j->mode : 0644);
        rc = libssh2_sftp_stat_ex(sftp, j->remote,
                                  (unsigned)strlen(j->remote),
                                  LIBSSH2_SFTP_SETSTAT, &a);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return FABC_STEP_AGAIN;
        if (rc < 0)
            return sftp_fail(j, s, sftp, "cannot chmod");
        return FABC_STEP_DONE;
    case FABC_SFTP_MKDIR:
        if (j->state == S_MKDIR_STAT) {
            memset(&a, 0, sizeof(a));
            rc = libssh2_sftp_stat_ex(sftp, j->remote,
                                      (unsigned)strlen(j->remote),
                                      LIBSSH2_SFTP_STAT, &a);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            if (rc == 0 && LIBSSH2_SFTP_S_ISDIR(a.permissions)) {
                fabc_err_clear(&j->err);
                return FABC_STEP_DONE;
            }
            return FABC_STEP_ERROR; /* the mkdir error stands */
        }
        rc = libssh2_sftp_mkdir_ex(sftp, j->remote,
                                   (unsigned)strlen(j->remote),
                                   j->mode >= 0 ? j->mode : 0755);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return FABC_STEP_AGAIN;
        if (rc < 0) {
            rc = sftp_fail(j, s, sftp, "cannot create directory");
            j->state = S_MKDIR_STAT;
            return rc == FABC_STEP_ERROR ? FABC_STEP_AGAIN : rc;
        }
        return FABC_STEP_DONE;
    default:
        fabc_err_set(&j->err, FABC_E_USAGE, 0, "not an SFTP operation");
        return FABC_STEP_ERROR;
    }
}

int fabc_sftp_step(struct fabc_ssh_job *j, LIBSSH2_SESSION *s,
                   LIBSSH2_SFTP *sftp)
{
    /* A state change without I/O (to S_DIAG, S_MKDIR_STAT) is progress:
     * step again instead of waiting for the socket. A failed transfer
     * still closes its remote handle (S_ERRCLOSE) before reporting, so
     * the session stays clean for the next operation. */
    for (int guard = 0; guard < 8; guard++) {
        int before = j->state, rc;

        if (j->state == S_ERRCLOSE) {
            rc = libssh2_sftp_close_handle(j->fh);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return FABC_STEP_AGAIN;
            j->fh = NULL;
            return FABC_STEP_ERROR;
        }
        rc = step1(j, s, sftp);
        if (rc == FABC_STEP_ERROR && j->fh) {
            j->state = S_ERRCLOSE;
            continue;
        }
        if (rc != FABC_STEP_AGAIN || j->state == before)
            return rc;
    }
    return FABC_STEP_AGAIN;
}
