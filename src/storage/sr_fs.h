/*
 * sr_fs: the file operations of an SR's storage, in a local directory or in
 * a directory of an NFS export reached in userspace through libnfs (these
 * hosts have no kernel NFS client; DESIGN §6).
 *
 * An sr_fs is opened for one driver operation and closed after it (a libnfs
 * context is not shared between threads). Names are file names inside the
 * SR's directory; what QEMU and qemu-img open is sr_fs_url() of a name: a
 * local path, or an absolute nfs:// URL (QEMU 7.2 resolves relative backing
 * names on nfs wrongly, so backing names are always written as these URLs).
 * Every call returns 0 or -1 with errno set and sr_fs_error() describing
 * the failure in the tool's words.
 */
#ifndef XAPID_STORAGE_SR_FS_H
#define XAPID_STORAGE_SR_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sr_fs;

/* Where an SR's files are. */
struct sr_fs_loc {
	const char *server; /* NFS server, or NULL for a local directory */
	const char *path;   /* local directory, or the export's path */
	const char *sub;    /* a directory below path ("" or NULL: none) */
};

/* Opens the location (for NFS: mounts the export over NFSv3, waiting at
 * most timeout_s seconds for the server). NULL on failure with *msg set
 * (malloc'd). */
struct sr_fs *sr_fs_open(const struct sr_fs_loc *loc, int timeout_s,
                         char **msg);
/* Closes and frees fs (NULL allowed). */
void sr_fs_close(struct sr_fs *fs);

/* What the last failed call said. */
const char *sr_fs_error(const struct sr_fs *fs);
/* True for an NFS location. */
bool sr_fs_remote(const struct sr_fs *fs);

/* The path or nfs:// URL of name (malloc'd); name "" is the directory. */
char *sr_fs_url(const struct sr_fs *fs, const char *name);

/* Makes / removes the SR's directory (sub, or path when there is no sub). */
int sr_fs_mkdir(struct sr_fs *fs);
int sr_fs_rmdir(struct sr_fs *fs);
/* Whether the SR's directory exists and is a directory. */
bool sr_fs_dir_exists(struct sr_fs *fs);

/* The names in the SR's directory (without "." and ".."), NULL-terminated
 * and malloc'd (free with sr_fs_names_free); NULL on failure. */
char **sr_fs_list(struct sr_fs *fs);
void sr_fs_names_free(char **names);

/* Names of directories right below the export path (sr-probe). */
char **sr_fs_list_top(struct sr_fs *fs);

/* 0 if name exists; sets *size (bytes) and *used (allocated bytes) if not
 * NULL. */
int sr_fs_stat(struct sr_fs *fs, const char *name, int64_t *size,
               int64_t *used);
int sr_fs_unlink(struct sr_fs *fs, const char *name);
int sr_fs_rename(struct sr_fs *fs, const char *from, const char *to);
int sr_fs_chmod(struct sr_fs *fs, const char *name, int mode);
/* Total and used bytes of the file system holding the SR. */
int sr_fs_space(struct sr_fs *fs, int64_t *size, int64_t *used);
/* Writes a small file (created or truncated) and syncs it. With excl, fails
 * with EEXIST if the file exists. */
int sr_fs_write(struct sr_fs *fs, const char *name, const char *data,
                bool excl);
/* Reads a small file (at most 64 KiB) into a malloc'd NUL-terminated
 * string; NULL on failure. */
char *sr_fs_read(struct sr_fs *fs, const char *name);

/* A file of the SR opened for streaming (memory images, CBT logs); it
 * belongs to fs and is used by one thread at a time, as fs is. With write,
 * the file is created or truncated. NULL on failure. */
struct sr_fs_file;
struct sr_fs_file *sr_fs_file_open(struct sr_fs *fs, const char *name,
                                   bool write);
/* Reads up to n bytes at off: the count (0 at the end), or -1. */
int64_t sr_fs_file_pread(struct sr_fs_file *f, void *buf, size_t n,
                         int64_t off);
/* Writes the n bytes at off; 0 or -1. */
int sr_fs_file_pwrite(struct sr_fs_file *f, const void *buf, size_t n,
                      int64_t off);
/* Syncs a file opened for writing, then closes it (NULL allowed); 0, or
 * -1 when the sync failed. */
int sr_fs_file_close(struct sr_fs_file *f);

/* The path or nfs:// URL of name in the SR at loc, as sr_fs_url() of an
 * opened loc says it (malloc'd; name "" is the directory). */
char *sr_fs_loc_url(const struct sr_fs_loc *loc, const char *name);

#endif
