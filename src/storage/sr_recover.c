/* sr_recover: what a crash of xapid in the middle of a disk operation
 * leaves behind, found and undone at start-up; and the small DB helpers
 * the multi-step operations use to make that possible (see sr.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc/api.h"
#include "storage/sr.h"
#include "storage/sr_memimg.h"
#include "util/log.h"
#include "util/xalloc.h"

void
sr_map_put(struct db_txn *t, struct db_row *r, int field, const char *key,
	   const char *val)
{
	const struct dm_coll *c = r->f[field].c;
	size_t n = c ? c->n : 0, k = 0;
	struct dm_coll *nc = dmc_new(n + 1);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(c->v[2 * i].s, key) == 0)
			continue;
		nc->v[2 * k].s = xstrdup(c->v[2 * i].s);
		nc->v[2 * k + 1].s = xstrdup(c->v[2 * i + 1].s);
		k++;
	}
	if (val) {
		nc->v[2 * k].s = xstrdup(key);
		nc->v[2 * k + 1].s = xstrdup(val);
		k++;
	}
	nc->n = k;
	db_txn_set(t, r, field, (union dm_val){.c = nc});
}

/* Copies file src to dst (created, or a FIFO: sr_memimg.h); 0 or -1 with
 * errno. */
static int
sr_copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
	char buf[1 << 16];
	if (in < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		goto done;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto done;
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				goto done;
			off += w;
		}
	}
	rc = fsync(out) < 0 && errno != EINVAL ? -1 : 0;
done:
	if (out >= 0 && close(out) < 0)
		rc = -1;
	close(in);
	return rc;
}

struct api_err *
sr_suspend_vdi_copy(const char *src, char **out)
{
	struct api_err *err = NULL;
	char *sr = NULL;
	int64_t size = 0;
	struct sr_memimg *from = NULL, *to = NULL;
	db_rdlock();
	struct db_row *v = db_get(DMC_VDI, src);
	if (!v) {
		err = api_error(XE_HANDLE_INVALID, "VDI", src, NULL);
	} else {
		sr = xstrdup(v->f[DMF_VDI_SR].s);
		size = v->f[DMF_VDI_virtual_size].i;
	}
	db_unlock();
	*out = NULL;
	bool written = false;
	if (!err && !(err = sr_memimg_open(src, false, &from)) &&
	    !(err = sr_suspend_vdi_create(sr, size, out)) &&
	    !(err = sr_memimg_open(*out, true, &to))) {
		written = true;
		int rc = sr_copy_file(sr_memimg_path(from), sr_memimg_path(to));
		char *m = rc < 0 ? xasprintf("copy of the memory image: %s",
		                             strerror(errno))
		                 : NULL;
		err = sr_memimg_close(to, rc == 0);
		to = NULL;
		if (m) {
			api_err_free(err);
			err =
			    api_error(XE_SR_BACKEND_FAILURE, "1", "", m, NULL);
			free(m);
		}
	}
	api_err_free(sr_memimg_close(to, false));
	api_err_free(sr_memimg_close(from, !err));
	if (err && *out) {
		sr_suspend_vdi_abandon(*out, written);
		free(*out);
		*out = NULL;
	}
	free(sr);
	return err;
}

/* Refs of the VDIs a crash left (malloc'd list, NULL-terminated), and
 * the pending marks of finished operations dropped. */
static char **
sr_recover_scan(void)
{
	size_t n, nv, k = 0;
	struct db_txn *t = db_txn_begin();
	struct db_row **v = db_list(DMC_VDI, &n);
	struct db_row **vms = db_list(DMC_VM, &nv);
	char **gone = xcalloc(n + 1, sizeof(char *));
	bool edited = false;
	for (size_t i = 0; i < n; i++) {
		const struct dm_coll *sm = v[i]->f[DMF_VDI_sm_config].c;
		bool pending = false, image = false;
		bool used =
		    v[i]->f[DMF_VDI_VBDs].c && v[i]->f[DMF_VDI_VBDs].c->n;
		for (size_t j = 0; sm && j < sm->n; j++) {
			pending = pending || strcmp(sm->v[2 * j].s, SR_PENDING_KEY) == 0;
			image = image || strcmp(sm->v[2 * j].s,
			                        SR_MEMORY_IMAGE_KEY) == 0;
		}
		if (pending && used) {
			struct db_row *w = db_txn_edit(t, DMC_VDI, v[i]->ref);
			sr_map_put(t, w, DMF_VDI_sm_config, SR_PENDING_KEY, NULL);
			edited = true;
			continue;
		}
		if (!pending && image) {
			/* a memory image of ours no VM (or checkpoint) holds */
			for (size_t j = 0; j < nv && !used; j++)
				used = strcmp(vms[j]->f[DMF_VM_suspend_VDI].s, v[i]->ref) == 0;
			pending = !used;
		}
		if (pending && !used)
			gone[k++] = xstrdup(v[i]->ref);
	}
	free(v);
	free(vms);
	if (edited)
		api_err_free(api_commit(t));
	else
		db_txn_abort(t);
	return gone;
}

void
sr_recover(void)
{
	sr_memimg_cleanup();
	char **gone = sr_recover_scan();
	for (size_t i = 0; gone[i]; i++) {
		struct api_err *e = sr_vdi_delete(gone[i]);
		if (e)
			log_warn("sr", "recovery: cannot remove %s left by a crash: %s", gone[i],
				 e->n > 2 ? e->params[2] : e->code);
		else
			log_warn("sr", "recovery: removed %s, left by an interrupted operation",
				 gone[i]);
		api_err_free(e);
		free(gone[i]);
	}
	free(gone);
	size_t n;
	db_rdlock();
	struct db_row **srs = db_list(DMC_SR, &n);
	char **refs = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		refs[i] = xstrdup(srs[i]->ref);
	free(srs);
	db_unlock();
	for (size_t i = 0; i < n; i++) {
		sr_coalesce(refs[i]); /* quietly skips SRs not attached here */
		free(refs[i]);
	}
	free(refs);
}
