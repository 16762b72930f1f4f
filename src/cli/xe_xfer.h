/*
 * xe_xfer: how xe's HTTP transfers move their bytes: the progress bar on a
 * terminal, downloads spliced into pipes and devices or written into files
 * with holes for zeros, uploads of files sent with sendfile (holes from a
 * memfd's hole). xe_http decides what to send; this moves it.
 */
#ifndef XAPID_CLI_XE_XFER_H
#define XAPID_CLI_XE_XFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli/xe_http.h"

/* A progress bar on stderr when it is a terminal. */
struct xe_xfer_progress {
	int on;
	long long total; /* -1 unknown */
	long long done;
	int64_t start;
	int64_t last;
};

/* Starts a bar for total bytes (-1: unknown). */
void xe_xfer_progress_init(struct xe_xfer_progress *p, long long total);
/* n more bytes moved (redrawn at most 5 times a second). */
void xe_xfer_progress_add(struct xe_xfer_progress *p, size_t n);
/* The final state and a new line. */
void xe_xfer_progress_end(struct xe_xfer_progress *p);

/* Writes all n bytes at p to fd: 0 or -1 with errno. */
int xe_xfer_write_fd(int fd, const char *p, size_t n);
/* Writes n bytes at block to fd; if sparse, runs of all-zero 64 KiB
 * pieces become holes (lseek), as cp --sparse does. 0 or -1 with errno. */
int xe_xfer_write_block(int fd, const char *block, size_t n, int sparse);
/*
 * Moves the rest of a plain-socket body of known length (or up to the end
 * of the stream) to fd, which is not a regular file, with splice: the
 * bytes go from the socket to the pipe or device without a copy through
 * memory of ours. Returns 0, -1 (reading, errno) or -2 (writing, errno);
 * 1 if it does not apply (TLS, chunked, a regular file: nothing moved).
 */
int xe_xfer_splice(struct xe_http_body *b, int fd,
                   struct xe_xfer_progress *prog);
/*
 * Sends size bytes of the regular file fd (from its offset) into c's plain
 * socket with sendfile: data from the page cache, holes (SEEK_HOLE) from a
 * memfd's hole. Returns 0, -1 on error, 1 if it does not apply (TLS, not a
 * regular file, unknown size: nothing sent).
 */
int xe_xfer_send_file(struct xe_conn *c, int fd, long long size,
                      struct xe_xfer_progress *prog);

#endif
