/*
 * spawn: run a helper program (qemu-img, ip, ...) and collect its output,
 * bounded in time. No shell is involved: argv is passed as is.
 */
#ifndef XAPID_UTIL_SPAWN_H
#define XAPID_UTIL_SPAWN_H

#include "util/buf.h"

/* Runs argv[0] (looked up in PATH) and waits at most timeout_s seconds
 * (then kills it). out/err (may be NULL) receive stdout/stderr. Returns the
 * exit status (0..255), 128+signal if killed, or -1 if it could not run
 * (errno set). */
int spawn_run(char *const argv[], struct buf *out, struct buf *err,
	      double timeout_s);

#endif
