/* sftp.h — SFTP job steps for the SSH engine. The functions are declared
 * in ssh.h (fabc_sftp_step, fabc_sftp_abandon, fabc_sftp_strerror), since
 * they work on struct fabc_ssh_job; this header only pulls that in. */
#ifndef FABC_SFTP_H
#define FABC_SFTP_H

#include "ssh.h"

/* Size of the transfer buffer: big writes and reads let libssh2 keep many
 * SFTP requests in flight (pipelining). */
#define FABC_SFTP_CHUNK (2 * 1024 * 1024)

#endif
