/*
 * vdi_stream: a VDI's virtual contents as a list of extents, read straight
 * from the image files of its qcow2 chain (no temporary copy).
 *
 * The map comes from qemu (`qemu-img info --backing-chain` + `qemu-img
 * map`, both JSON): each extent is either data at an offset of one of the
 * chain's files, or zeros. With a base VDI, each extent also says whether
 * it may differ from the base: it does where a layer of either chain above
 * their common ancestor allocates it (everything, if they share none).
 *
 * Images whose data cannot be read in place (compressed clusters, encrypted
 * images, other formats, and images on NFS, which are nfs:// URLs here) are
 * read through qemu-nbd instead: their data extents have file -1, and only
 * vdi_stream_pread reaches them.
 *
 * A stream holds open file descriptors, so its bytes stay valid while the
 * SR's garbage collector works (bases are only ever unlinked or appended to,
 * never rewritten in place). Reading a stream is thread-safe.
 */
#ifndef XAPID_STORAGE_VDI_STREAM_H
#define XAPID_STORAGE_VDI_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/errors.h"

struct vdi_extent {
	int64_t start;  /* virtual byte offset */
	int64_t length; /* bytes, > 0 */
	bool data;      /* false: reads as zeros */
	bool changed;   /* may differ from the base (always true without one) */
	int file;       /* data: index into vdi_stream.fds; -1: through NBD */
	int64_t offset; /* data: byte offset of start in that file */
};

struct vdi_stream {
	int64_t size;  /* virtual size in bytes */
	bool has_base; /* opened with a base: `changed` is meaningful */
	size_t n;      /* extents: sorted, contiguous, cover [0, size) */
	struct vdi_extent *ext;
	size_t nfiles;
	int *fds;           /* read-only descriptors of the chain's files */
	struct vs_nbd *nbd; /* private: the qemu-nbd reader, or NULL */
};

/* Opens the contents of VDI vdi_ref (and, if base_ref is neither NULL nor
 * empty, its differences from VDI base_ref). Refuses a VDI (or base) that a
 * running VM writes to now (VDI_IN_USE, operation op) and unknown refs
 * (HANDLE_INVALID); a qemu-img failure is SR_BACKEND_FAILURE. Call without
 * locks. */
struct api_err *vdi_stream_open(const char *vdi_ref, const char *base_ref,
                                const char *op, struct vdi_stream **out);

/* The same for image files, local paths or nfs:// URLs: path in format fmt
 * ("qcow2", "raw", ...), and optionally base_path (format base_fmt). */
struct api_err *vdi_stream_open_path(const char *path, const char *fmt,
                                     const char *base_path,
                                     const char *base_fmt,
                                     struct vdi_stream **out);

/* Builds a stream from qemu-img's JSON (for tests and fuzzing): chain_json
 * is `qemu-img info --backing-chain --output=json`, map_json `qemu-img map
 * --output=json` of the same image; base_* the same for the base, or NULL.
 * No files are opened (fds are -1). Returns NULL and sets *why on bad input. */
struct vdi_stream *vdi_stream_from_json(const char *chain_json,
                                        const char *map_json,
                                        const char *base_chain_json,
                                        const char *base_map_json,
                                        const char **why);

/* The index of the extent holding virtual offset off (0 <= off < size). */
size_t vdi_stream_find(const struct vdi_stream *s, int64_t off);

/* Reads len bytes of the virtual contents at off (zeros past the end).
 * Returns 0, or -1 with errno set. */
int vdi_stream_pread(const struct vdi_stream *s, void *buf, size_t len,
                     int64_t off);

/* Bytes of data extents (only the changed ones when there is a base): the
 * amount a sparse writer has to copy. */
int64_t vdi_stream_data_bytes(const struct vdi_stream *s);

/* Closes the files and frees s (NULL is fine). */
void vdi_stream_free(struct vdi_stream *s);

#endif
