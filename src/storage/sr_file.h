/*
 * sr_file: what the qcow2 drivers (ext/file/nfs, sr_file.c), their
 * device_config handling (sr_locate.c) and the ISO driver (sr_iso.c) share.
 */
#ifndef XAPID_STORAGE_SR_FILE_H
#define XAPID_STORAGE_SR_FILE_H

#include "storage/sr.h"
#include "storage/sr_fs.h"

/* Seconds an NFS server gets to answer one call. */
#define SRF_NFS_TIMEOUT 20

/* The drivers (sr_file.c, sr_iso.c). */
extern const struct sr_driver sr_file_ext, sr_file_file, sr_file_nfs,
    sr_iso_driver;

/* Opens the SR's storage; NULL with *err (SR_BACKEND_FAILURE_73 for an NFS
 * mount failure, _47 for a missing local directory). */
struct sr_fs *srf_open(const struct sr_ctx *sr, struct api_err **err);
/* SR_BACKEND_FAILURE_1 "<what>: <the fs's message>". */
struct api_err *srf_fs_fail(struct sr_fs *fs, const char *what);
/* The SR's size and space used as its storage reports them: the stat op
 * of every driver keeping its files through sr_fs (file, ext, nfs, iso). */
struct api_err *srf_stat(const struct sr_ctx *sr, int64_t *size,
			 int64_t *used);
/* Runs qemu-img; its failure as SR_BACKEND_FAILURE_1 with its stderr. */
struct api_err *srf_qemu_img(const char *what, char *const argv[]);
/* The path or nfs:// URL of a VDI's image (malloc'd). */
char *srf_vdi_url(const struct sr_ctx *sr, const char *location);

/* device_config:location= of a local directory SR. */
struct api_err *srf_locate_local(const struct dm_coll *dconf,
                                 const struct dm_coll *sm_config,
                                 const char *sr_uuid, struct sr_loc *loc);
/* device_config:server= serverpath= [nfsversion=] of an NFS SR; the SR is
 * the directory <serverpath>/<sr uuid> (sm_config:nosubdir=true: serverpath
 * itself). */
struct api_err *srf_locate_nfs(const struct dm_coll *dconf,
                               const struct dm_coll *sm_config,
                               const char *sr_uuid, struct sr_loc *loc);
/* sr-probe type=nfs: the SR directories under serverpath (xapi's SRlist
 * XML), or without serverpath the server's exports (SR_BACKEND_FAILURE_101
 * with the nfs-exports XML, as xapi does). */
struct api_err *srf_probe_nfs(const struct dm_coll *dconf,
                              const struct dm_coll *sm_config, char **xml);

#endif
