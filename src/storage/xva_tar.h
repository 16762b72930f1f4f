/*
 * xva_tar: the tar framing of XVA files (POSIX ustar headers as xapi writes
 * them; V7, ustar and GNU headers are read).
 *
 * Parsing is strict where a mistake could misplace data: the header
 * checksum must match, sizes must be well-formed octal (or GNU base-256)
 * and names NUL-terminated within their fields.
 */
#ifndef XAPID_STORAGE_XVA_TAR_H
#define XAPID_STORAGE_XVA_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define XVA_TAR_BLOCK 512
#define XVA_TAR_NAME_MAX 260

enum xva_tar_kind {
	XVA_TAR_FILE,     /* a regular file ('0' or NUL) */
	XVA_TAR_LONGNAME, /* GNU 'L': the data is the next entry's name */
	XVA_TAR_SKIP,     /* directories, pax headers, links...: ignored */
};

struct xva_tar_hdr {
	char name[XVA_TAR_NAME_MAX]; /* prefix "/" name for ustar */
	uint64_t size;
	enum xva_tar_kind kind;
};

/* Parses one 512-byte header block. Returns 0, 1 for an all-zero block (end
 * of archive), or -1 if the block is not a valid header. */
int xva_tar_parse(const unsigned char blk[XVA_TAR_BLOCK],
                  struct xva_tar_hdr *h);
/* Fills blk with the ustar header of a regular file (mode 0400, owner 0);
 * name must be shorter than 100 bytes. */
void xva_tar_header(unsigned char blk[XVA_TAR_BLOCK], const char *name,
                    uint64_t size, time_t mtime);
/* Bytes of padding after size bytes of data. */
size_t xva_tar_pad(uint64_t size);

#endif
