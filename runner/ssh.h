/* ssh.h — the SSH engine: libssh2 sessions in non-blocking mode, each an
 * explicit state machine, all driven by one poll loop in one engine thread.
 *
 * Callers on any thread build jobs (fabc_ssh_job_new), submit them as a
 * batch and wait for the batch with fabc_ssh_batch_wait() (no Python, no
 * GIL needed: callers release it). The engine owns sessions, caches them
 * per target (user@host:port + jump chain) and reuses them for later jobs;
 * one job runs on a session at a time, later ones queue. Sessions are
 * closed by fabc_ssh_shutdown() (at exit) or on cancel (Ctrl-C).
 *
 * Known-hosts checking, host-string resolution and agent/key/password
 * authentication live here too; SFTP job steps are in sftp.c. */
#ifndef FABC_SSH_H
#define FABC_SSH_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <libssh2.h>
#include <libssh2_sftp.h>

#include "err.h"
#include "out.h"
#include "sshconfig.h"
#include "util.h"

/* Connection settings as the caller (remote.py via py_ssh.c) knows them:
 * the env keys. Borrowed strings; NULL/0/-1 for unset. */
struct fabc_ssh_opts {
    const char *user;          /* default remote user (-u) */
    int port;                  /* default port, 0 = 22 */
    const char *const *keys;   /* -i key files */
    size_t nkeys;
    const char *password;      /* env.password */
    const char *passphrase;    /* for encrypted key files */
    const char *gateway;       /* -g host string */
    const char *known_hosts;   /* NULL: ~/.ssh/known_hosts */
    int accept_new;            /* --accept-new-hosts */
    int strict;                /* -1: default (yes) */
    int forward_agent;         /* -A */
    int no_agent;              /* don't try ssh-agent */
    int connect_timeout_ms;    /* -t, 0: 10 s */
    int attempts;              /* -n, 0: 1 */
    int keepalive_s;           /* 0: off */
};

/* A resolved connection target. Owned strings; free with
 * fabc_ssh_target_free (wipes the password). */
struct fabc_ssh_target {
    char *user;
    char *host;     /* what to connect to (HostName) */
    char *alias;    /* host as typed */
    int port;
    char **keys;
    size_t nkeys;
    int identities_only;
    int use_agent;
    char *password;
    char *passphrase;
    char *known_hosts;
    int strict;     /* FABC_STRICT_* */
    int connect_timeout_ms;
    int keepalive_s;
    int attempts;
    int forward_agent;
    struct fabc_ssh_target *jump; /* owned; NULL = direct */
    struct sockaddr_storage addr; /* resolved address (direct only) */
    socklen_t addrlen;            /* 0: not resolved yet */
    char key[1024];  /* cache key */
    char label[320]; /* user@host[:port] for messages */
};

/* Resolve host string `hs` ([user@]host[:port]) with `cfg` (may be NULL)
 * and the caller's options into a new target (ProxyJump chains and the
 * gateway become t->jump). NULL with err set on failure. */
struct fabc_ssh_target *fabc_ssh_target_new(const char *hs,
                                            const struct fabc_ssh_opts *o,
                                            const struct fabc_sshconfig *cfg,
                                            struct fabc_err *err);
/* Resolve the address of the hop fabc connects to directly (t itself, or
 * the first host of its jump chain) in the calling thread, so the engine
 * thread never waits for DNS. Call without the GIL. 0, or -1 with err
 * (FABC_E_CONNECT) set. */
int fabc_ssh_target_resolve(struct fabc_ssh_target *t, struct fabc_err *err);
struct fabc_ssh_target *fabc_ssh_target_dup(const struct fabc_ssh_target *t,
                                            struct fabc_err *err);
void fabc_ssh_target_free(struct fabc_ssh_target *t);

enum fabc_ssh_op {
    FABC_SSH_EXEC,    /* run command */
    FABC_SSH_CONNECT, /* just make sure the session is up */
    FABC_SFTP_PUT,    /* local file -> remote path */
    FABC_SFTP_GET,    /* remote file -> local path */
    FABC_SFTP_MKDIR,  /* remote mkdir (existing dir is fine) */
    FABC_SFTP_STAT,   /* remote stat (follows links) */
    FABC_SFTP_LIST,   /* remote directory listing */
    FABC_SFTP_CHMOD   /* remote chmod */
};

struct fabc_ssh_batch;

/* One operation on one target. Inputs are set by the creator before
 * submission; outputs are valid once the batch is done. The engine
 * never frees a job: the creator frees it with fabc_ssh_job_free after
 * the batch completed. */
struct fabc_ssh_job {
    /* inputs (owned) */
    enum fabc_ssh_op op;
    struct fabc_ssh_target *target;
    char *command;
    int pty;
    int64_t timeout_ms;   /* 0: none */
    char *label;          /* output prefix, NULL: none */
    int show_out, show_err;
    char *prompt;         /* sudo prompt to answer */
    char *answer;         /* its answer (wiped on free), NULL: none */
    char *local, *remote;
    long mode;            /* -1: default */
    /* outputs */
    struct fabc_err err;  /* code FABC_E_OK on success */
    int exit_status;      /* -1 when none was received */
    char exit_signal[32]; /* "" or e.g. "KILL" */
    struct fabc_buf out, errout;
    int64_t started_ms, ended_ms;
    long long st_size;    /* STAT */
    unsigned long st_mode;
    struct fabc_buf listing; /* LIST: "<type char><name>\0"... */
    uint64_t bytes;       /* PUT/GET bytes moved */
    /* engine private */
    struct fabc_ssh_batch *batch;
    struct fabc_ssh_job *next;
    int state;
    LIBSSH2_CHANNEL *chan;
    LIBSSH2_SFTP_HANDLE *fh;
    int lfd;
    char *iobuf;
    size_t iolen, iooff, iocap;
    uint64_t total;
    int prompts_seen;
    size_t answer_off;
    int auth_failed;
    int eof_sent;
    int blanked;          /* prompts answered with an empty line */
    size_t disp_out, disp_err;
    struct fabc_linebuf lb_out, lb_err;
    int64_t deadline;
};

/* A new job (zeroed, exit_status -1, mode -1, lfd -1). NULL on NOMEM. */
struct fabc_ssh_job *fabc_ssh_job_new(enum fabc_ssh_op op);
void fabc_ssh_job_free(struct fabc_ssh_job *job);

struct fabc_ssh_batch *fabc_ssh_batch_new(struct fabc_err *err);
/* Hand jobs to the engine (starting its thread on first use). On -1 no
 * job was submitted. A job fails with FABC_E_INTERRUPTED at once while a
 * cancel is pending. */
int fabc_ssh_submit(struct fabc_ssh_batch *b, struct fabc_ssh_job **jobs,
                    size_t n, struct fabc_err *err);
/* Wait up to timeout_ms (-1: forever) for every job of the batch. Returns
 * 1 when all are done, 0 on timeout or EINTR (check signals, wait again).
 * Call without the GIL. */
int fabc_ssh_batch_wait(struct fabc_ssh_batch *b, int timeout_ms);
/* Make the engine fail the batch's unfinished jobs (FABC_E_INTERRUPTED)
 * and drop their sessions; then wait for it as usual. */
void fabc_ssh_batch_cancel(struct fabc_ssh_batch *b);
/* Free a batch whose jobs are all done. */
void fabc_ssh_batch_free(struct fabc_ssh_batch *b);

/* Close every cached session (SSH disconnect, bounded by ~2 s) and stop
 * the engine thread. Safe to call when the engine never started. */
void fabc_ssh_shutdown(void);
/* Number of sessions currently cached (for tests). */
int fabc_ssh_session_count(void);

/* ---- known_hosts (OpenSSH format, hashed entries too) ---- */
enum fabc_kh_result {
    FABC_KH_MATCH = 0,     /* a line has this exact key */
    FABC_KH_MISMATCH = 1,  /* a line has another key of the same type */
    FABC_KH_NOTFOUND = 2,  /* no line for this host and key type */
    FABC_KH_OTHERTYPE = 3  /* only keys of other types for this host */
};
/* The "host" or "[host]:port" name known_hosts uses. */
void fabc_kh_name(char *out, size_t size, const char *host, int port);
/* 1 if known_hosts host field `field` (comma list of patterns, !neg,
 * or |1|salt|hash) matches `name` (from fabc_kh_name). */
int fabc_kh_field_match(const char *field, const char *name);
/* Check `text` (the file's contents). On MISMATCH *line is the line of
 * the old key. types (may be NULL) receives the comma-separated key types
 * known for the host. Returns a result, or -1 (NOMEM). */
int fabc_kh_check_text(const char *text, const char *name,
                       const char *keytype, const unsigned char *key,
                       size_t keylen, int *line, char *types,
                       size_t types_size, struct fabc_err *err);
/* Same on a file; a missing file is NOTFOUND. */
int fabc_kh_check_file(const char *path, const char *name,
                       const char *keytype, const unsigned char *key,
                       size_t keylen, int *line, char *types,
                       size_t types_size, struct fabc_err *err);
/* Append "name keytype base64" to path (creating it, mode 0600). */
int fabc_kh_add(const char *path, const char *name, const char *keytype,
                const unsigned char *key, size_t keylen,
                struct fabc_err *err);

/* Base64 (standard alphabet). encode returns a new string; decode writes
 * at most outsize bytes, returns the length or -1 on bad input. */
char *fabc_b64_encode(const unsigned char *in, size_t n, int pad);
long fabc_b64_decode(const char *in, size_t n, unsigned char *out,
                     size_t outsize);

/* ---- sftp.c ---- */
enum { FABC_STEP_AGAIN = 0, FABC_STEP_DONE = 1, FABC_STEP_ERROR = -1 };
/* Advance an SFTP job on an initialised SFTP channel until it blocks
 * (AGAIN), finishes (DONE) or fails (ERROR, job->err set). */
int fabc_sftp_step(struct fabc_ssh_job *job, LIBSSH2_SESSION *s,
                   LIBSSH2_SFTP *sftp);
/* Release what a job holds (handle, local fd) when it is abandoned. */
void fabc_sftp_abandon(struct fabc_ssh_job *job);
/* The name of an SFTP status code ("permission denied", ...). */
const char *fabc_sftp_strerror(unsigned long code);

#endif
