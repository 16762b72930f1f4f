/* sr_iso: the "iso" SR: a local directory or an NFS share of ISO images,
 * each *.iso / *.img file a read-only VDI named after the file (SM's
 * ISOSR). device_config:location is a local path, nfs://server/path or
 * server:/path. */
#include <ctype.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "storage/sr_file.h"
#include "util/xalloc.h"

static struct api_err *
iso_locate(const struct dm_coll *dconf, const struct dm_coll *sm_config,
           const char *sr_uuid, struct sr_loc *loc)
{
	const char *l = sr_map_get(dconf, "location");
	const char *colon;
	(void)sm_config;
	(void)sr_uuid;
	if (!l || !*l)
		return sr_backend_error(
		    220,
		    "'Location' parameter must be specified in Device "
		    "Configuration",
		    NULL);
	if (l[0] == '/') {
		loc->path = xstrdup(l);
	} else if (strncmp(l, "nfs://", 6) == 0 &&
	           (colon = strchr(l + 6, '/')) && colon > l + 6) {
		loc->server = xstrndup(l + 6, (size_t)(colon - (l + 6)));
		loc->path = xstrdup(colon);
	} else if (strncmp(l, "nfs:", 4) != 0 && (colon = strstr(l, ":/")) &&
	           colon > l && !memchr(l, '/', (size_t)(colon - l))) {
		loc->server = xstrndup(l, (size_t)(colon - l));
		loc->path = xstrdup(colon + 1);
	} else {
		return sr_backend_error(
		    225,
		    "Incorrect Location string format. String must be in "
		    "the format SERVER:PATH for NFS targets, or "
		    "\\\\SERVER\\PATH for CIFS targets",
		    l);
	}
	bool bad = strstr(loc->path, "/..") || strpbrk(loc->path, "?#%");
	for (const char *p = loc->path; *p && !bad; p++)
		bad = (unsigned char)*p <= ' ' && loc->server;
	for (const char *p = loc->path; *p && !bad; p++)
		bad = (unsigned char)*p < ' ';
	for (const char *p = loc->server; p && *p && !bad; p++)
		bad = !isalnum((unsigned char)*p) && !strchr(".-:[]_", *p);
	if (bad) {
		free(loc->path);
		free(loc->server);
		loc->path = loc->server = NULL;
		return sr_backend_error(226, "Invalid local path", l);
	}
	return NULL;
}

static struct api_err *
iso_attach(const struct sr_ctx *sr)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	if (!fs)
		return e;
	if (!sr_fs_dir_exists(fs))
		e = sr->server ? sr_backend_error(
		                     222,
		                     "Could not mount the directory specified "
		                     "in Device Configuration",
		                     sr_fs_error(fs))
		               : sr_backend_error(226, "Invalid local path",
		                                  sr_fs_error(fs));
	sr_fs_close(fs);
	return e;
}

static bool
iso_is_image(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 4 &&
	       (strcasecmp(name + n - 4, ".iso") == 0 ||
	        strcasecmp(name + n - 4, ".img") == 0);
}

static struct api_err *
iso_scan(const struct sr_ctx *sr, struct sr_found **found, size_t *n)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	if (!fs)
		return e;
	char **names = sr_fs_list(fs);
	*found = NULL;
	*n = 0;
	if (!names)
		e = sr_backend_error(47, "The SR is not available",
		                     sr_fs_error(fs));
	for (size_t i = 0; names && names[i]; i++) {
		int64_t size = 0;
		if (!iso_is_image(names[i]) ||
		    sr_fs_stat(fs, names[i], &size, NULL) < 0)
			continue;
		*found = xrealloc(*found, (*n + 1) * sizeof(**found));
		struct sr_found *f = &(*found)[(*n)++];
		f->location = xstrdup(names[i]);
		f->name_label = xstrdup(names[i]);
		f->virtual_size = size;
		f->used = size;
		f->read_only = true;
	}
	sr_fs_names_free(names);
	sr_fs_close(fs);
	return e;
}

static int64_t
iso_vdi_used(const struct sr_ctx *sr, const char *location)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	int64_t size = -1;
	if (!fs) {
		api_err_free(e);
		return -1;
	}
	if (sr_fs_stat(fs, location, &size, NULL) < 0)
		size = -1;
	sr_fs_close(fs);
	return size;
}

static char *
iso_vdi_path(const struct sr_ctx *sr, const char *location, const char **format)
{
	*format = "raw";
	if (sr->server)
		return xasprintf("nfs://%s%s/%s", sr->server, sr->path,
		                 location);
	return xasprintf("%s/%s", sr->path, location);
}

const struct sr_driver sr_iso_driver = {
    .type = "iso",
    .content_type = "iso",
    .shared = true,
    .locate = iso_locate,
    .create = iso_attach,
    .attach = iso_attach,
    .scan = iso_scan,
    .vdi_used = iso_vdi_used,
    .stat = srf_stat,
    .vdi_path = iso_vdi_path,
};
