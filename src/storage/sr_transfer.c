/* sr_transfer: a VDI's data out (vdi-export, raw or dynamic VHD) and in
 * (vdi-import), through temporary files in the VDI's own SR directory, made
 * and read with qemu-img. An import replaces the VDI's image atomically. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/store.h"
#include "storage/sr.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"

static struct api_err *
tr_qemu_img(char *const argv[])
{
	struct buf e = BUF_INIT;
	int rc = spawn_run(argv, NULL, &e, 3600);
	struct api_err *err = NULL;
	if (rc != 0) {
		char *m = e.data ? e.data : (char *)"qemu-img failed";
		size_t n = strlen(m);
		while (n && m[n - 1] == '\n')
			m[--n] = '\0';
		err = api_error(XE_SR_BACKEND_FAILURE, "1", "", m, NULL);
	}
	buf_free(&e);
	return err;
}

/* The VDI's file and format, refusing a VDI a running VM writes to. */
static struct api_err *
tr_source(const char *vdi_ref, char **path, const char **fmt)
{
	struct api_err *err = NULL;
	db_rdlock();
	struct db_row *vdi = db_get(DMC_VDI, vdi_ref);
	if (!vdi) {
		err = api_error(XE_HANDLE_INVALID, "VDI", vdi_ref, NULL);
	} else {
		if (sr_vdi_written(vdi))
			err = api_error(XE_VDI_IN_USE, vdi_ref, "export", NULL);
		if (!err)
			*path = sr_vdi_path(vdi_ref, fmt, &err);
	}
	db_unlock();
	return err;
}

static char *
tr_tmp_next_to(const char *path, const char *what)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	char *u = db_new_uuid();
	char *t = xasprintf("%s/.%s-%s.tmp", dir, what, u);
	free(u);
	free(dir);
	return t;
}

struct api_err *
sr_vdi_export_file(const char *vdi_ref, const char *format, char **tmp_path)
{
	char *src = NULL;
	const char *fmt = NULL;
	bool vhd = format && strcmp(format, "vhd") == 0;
	if (format && *format && !vhd && strcmp(format, "raw") != 0)
		return api_error(XE_INVALID_VALUE, "format", format, NULL);
	struct api_err *err = tr_source(vdi_ref, &src, &fmt);
	if (err)
		return err;
	char *tmp = tr_tmp_next_to(src, "export");
	char *argv_raw[] = {"qemu-img", "convert", "-q", "-f", (char *)fmt, "-O", "raw",
			    src, tmp, NULL};
	char *argv_vhd[] = {"qemu-img", "convert", "-q", "-f", (char *)fmt, "-O", "vpc",
			    "-o", "subformat=dynamic,force_size=on", src, tmp, NULL};
	err = tr_qemu_img(vhd ? argv_vhd : argv_raw);
	if (err) {
		unlink(tmp);
		free(tmp);
	} else {
		*tmp_path = tmp;
	}
	free(src);
	return err;
}

struct api_err *
sr_vdi_import_begin(const char *vdi_ref, char **tmp_path)
{
	char *dst = NULL;
	const char *fmt = NULL;
	struct api_err *err = tr_source(vdi_ref, &dst, &fmt);
	if (err)
		return err;
	*tmp_path = tr_tmp_next_to(dst, "import");
	free(dst);
	return NULL;
}

struct api_err *
sr_vdi_import_finish(const char *vdi_ref, const char *format, const char *tmp_path)
{
	char *dst = NULL, *next = NULL;
	const char *fmt = NULL;
	int64_t vsize = 0;
	bool vhd = format && strcmp(format, "vhd") == 0;
	struct api_err *err = tr_source(vdi_ref, &dst, &fmt);
	if (!err && format && *format && !vhd && strcmp(format, "raw") != 0)
		err = api_error(XE_INVALID_VALUE, "format", format, NULL);
	db_rdlock();
	struct db_row *vdi = db_get(DMC_VDI, vdi_ref);
	if (vdi)
		vsize = vdi->f[DMF_VDI_virtual_size].i;
	db_unlock();
	struct stat st;
	if (!err && !vhd && stat(tmp_path, &st) == 0 && st.st_size > vsize) {
		char n[32];
		snprintf(n, sizeof(n), "%lld", (long long)st.st_size);
		err = api_error(XE_VDI_TOO_SMALL, vdi_ref, n, NULL);
	}
	if (!err) {
		/* a fresh image beside the VDI's, then renamed over it */
		next = tr_tmp_next_to(dst, "new");
		char sz[32];
		snprintf(sz, sizeof(sz), "%lld", (long long)vsize);
		char *create[] = {"qemu-img", "create", "-q", "-f", (char *)fmt, next, sz, NULL};
		char *conv[] = {"qemu-img", "convert", "-q", "-n", "-f", vhd ? "vpc" : "raw",
				"-O", (char *)fmt, (char *)tmp_path, next, NULL};
		if (!(err = tr_qemu_img(create)) && !(err = tr_qemu_img(conv)) &&
		    rename(next, dst) < 0)
			err = api_error(XE_SR_BACKEND_FAILURE, "1", "", strerror(errno), NULL);
		if (err)
			unlink(next);
		else
			log_info("sr", "VDI %s: %s image imported", vdi_ref, vhd ? "vhd" : "raw");
	}
	unlink(tmp_path);
	free(next);
	free(dst);
	return err;
}
