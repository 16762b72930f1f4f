/* cli_cmds_vm2: vm-uninstall, snapshot-uninstall and vm-vif-list
 * (cli_operations.ml vm_uninstall, snapshot_uninstall,
 * vm_uninstall_common, vm_vif_list). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rpc/cli_conn.h"
#include "rpc/cli_gen.h"
#include "rpc/cli_select.h"
#include "util/xalloc.h"

/* What vm-uninstall destroys for one VM. */
struct cli_doomed {
	char *vm;
	char **vdis; /* VDIs of VBDs whose other-config has "owner" */
	size_t nvdis;
	char *suspend_vdi; /* or NULL */
};

/* Describes a VDI as xapi does (read lock held). */
static void
cli_describe_vdi(struct buf *lines, const struct db_row *vdi)
{
	const struct dm_coll *vbds = vdi->f[DMF_VDI_VBDs].c;

	buf_addf(lines, "VDI: %s (%s) %s\n", vdi->f[DMF_VDI_uuid].s,
		 vdi->f[DMF_VDI_name_label].s,
		 vbds && vbds->n > 1 ? " ** WARNING: disk is shared by other VMs"
				     : "");
}

/* Works out what goes with vm and appends its description to lines. */
static void
cli_choose_doomed(const char *vm, struct cli_doomed *d, struct buf *lines)
{
	const struct db_row *r, *vbd, *vdi;
	const struct dm_coll *vbds;
	const char *sv;

	memset(d, 0, sizeof(*d));
	d->vm = xstrdup(vm);
	db_rdlock();
	r = db_get(DMC_VM, vm);
	if (!r) {
		db_unlock();
		return;
	}
	buf_addf(lines, "VM : %s (%s)\n", r->f[DMF_VM_uuid].s,
		 r->f[DMF_VM_name_label].s);
	vbds = r->f[DMF_VM_VBDs].c;
	d->vdis = xcalloc((vbds ? vbds->n : 0) + 1, sizeof(char *));
	for (size_t i = 0; vbds && i < vbds->n; i++) {
		const struct dm_type *oc =
			dm_classes[DMC_VBD].fields[DMF_VBD_other_config].type;
		union dm_val key = {.s = "owner"};

		vbd = db_get(DMC_VBD, vbds->v[i].s);
		if (!vbd || dmc_map_find(oc->a, vbd->f[DMF_VBD_other_config].c,
					 key) < 0)
			continue;
		vdi = db_get(DMC_VDI, vbd->f[DMF_VBD_VDI].s);
		if (!vdi)
			continue;
		d->vdis[d->nvdis++] = xstrdup(vdi->ref);
		cli_describe_vdi(lines, vdi);
	}
	sv = r->f[DMF_VM_suspend_VDI].s;
	if ((vdi = db_get(DMC_VDI, sv))) {
		d->suspend_vdi = xstrdup(sv);
		cli_describe_vdi(lines, vdi);
	}
	db_unlock();
}

/* Destroys the VBDs and VIFs of a halted VM (VM.destroy does too, in
 * xapi; doing it first keeps no orphans whatever VM.destroy does). */
static int
cli_destroy_devices(struct cli_ctx *ctx, const char *vm)
{
	static const struct {
		int field, cls;
		const char *method;
	} devs[] = {{DMF_VM_VBDs, DMC_VBD, "VBD.destroy"},
		    {DMF_VM_VIFs, DMC_VIF, "VIF.destroy"}};
	const struct db_row *r;
	char **refs = NULL;
	size_t n = 0;
	int rc = 0;

	for (size_t k = 0; rc == 0 && k < 2; k++) {
		db_rdlock();
		r = db_get(DMC_VM, vm);
		if (r && r->f[devs[k].field].c) {
			const struct dm_coll *c = r->f[devs[k].field].c;

			refs = xcalloc(c->n + 1, sizeof(char *));
			for (n = 0; n < c->n; n++)
				refs[n] = xstrdup(c->v[n].s);
		}
		db_unlock();
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = cli_call(ctx, devs[k].method, NULL, xv_str(refs[i]),
				      NULL);
		cli_refs_free(refs, n);
		refs = NULL;
		n = 0;
	}
	return rc;
}

/* Shuts the VM down if needed, destroys it, its devices and disks. */
static int
cli_destroy_doomed(struct cli_ctx *ctx, const struct cli_doomed *d)
{
	const struct db_row *r;
	bool halted = true;

	db_rdlock();
	if ((r = db_get(DMC_VM, d->vm)))
		halted = strcmp(r->f[DMF_VM_power_state].s, "Halted") == 0;
	db_unlock();
	if (!halted && cli_call(ctx, "VM.hard_shutdown", NULL, xv_str(d->vm),
				NULL) < 0)
		return -1;
	if (cli_destroy_devices(ctx, d->vm) < 0 ||
	    cli_call(ctx, "VM.destroy", NULL, xv_str(d->vm), NULL) < 0)
		return -1;
	for (size_t i = 0; i < d->nvdis; i++)
		if (cli_call(ctx, "VDI.destroy", NULL, xv_str(d->vdis[i]),
			     NULL) < 0)
			return -1;
	if (d->suspend_vdi &&
	    cli_call(ctx, "VDI.destroy", NULL, xv_str(d->suspend_vdi), NULL) <
		    0)
		cli_fail_clear(ctx);
	return 0;
}

/* user_says_yes: prompts and reads one line. */
bool
cli_user_says_yes(struct cli_ctx *ctx)
{
	struct buf line = BUF_INIT;
	char *s, *e, *msg;
	bool yes = false;

	cli_out_raw(ctx->out, "Type 'yes' to continue");
	buf_adds(&line, "");
	if (ctx->conn && cli_conn_prompt(ctx->conn, &line) == 0) {
		s = line.data;
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		yes = e - s == 3 && strncasecmp(s, "yes", 3) == 0;
	}
	if (!yes) {
		msg = xasprintf("Aborted (you typed: '%s')", line.data);
		cli_out_raw(ctx->out, msg);
		free(msg);
	}
	buf_free(&line);
	return yes;
}

/* vm_uninstall_common: tells what goes (the VMs all, their owned disks
 * and suspend images), asks unless force=true, destroys. Frees all. */
static int
cli_uninstall_common(struct cli_ctx *ctx, char **all, size_t nall)
{
	struct cli_doomed *doomed = NULL;
	struct buf lines = BUF_INIT;
	bool force;
	int rc = 0;

	doomed = xcalloc(nall + 1, sizeof(*doomed));
	buf_adds(&lines, "");
	for (size_t i = 0; i < nall; i++)
		cli_choose_doomed(all[i], &doomed[i], &lines);
	cli_refs_free(all, nall);
	cli_out_raw(ctx->out, "The following items are about to be destroyed");
	for (char *p = lines.data, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		*nl = '\0';
		cli_out_raw(ctx->out, p);
	}
	if (cli_param_bool(ctx, "force", false, &force) < 0)
		rc = -1;
	else if (force || cli_user_says_yes(ctx)) {
		for (size_t i = 0; rc == 0 && i < nall; i++)
			rc = cli_destroy_doomed(ctx, &doomed[i]);
		if (rc == 0)
			cli_out_raw(ctx->out, "All objects destroyed");
	}
	for (size_t i = 0; i < nall; i++) {
		free(doomed[i].vm);
		cli_refs_free(doomed[i].vdis, doomed[i].nvdis);
		free(doomed[i].suspend_vdi);
	}
	free(doomed);
	buf_free(&lines);
	return rc;
}

int
cli_cmd_vm_uninstall(struct cli_ctx *ctx)
{
	char **vms, **all;
	size_t n, nall = 0;

	if (cli_do_vm_select(ctx, true, NULL, &vms, &n) < 0)
		return -1;
	/* The VMs, then their snapshots. */
	all = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		all[nall++] = xstrdup(vms[i]);
	db_rdlock();
	for (size_t i = 0; i < n; i++) {
		const struct db_row *r = db_get(DMC_VM, vms[i]);
		const struct dm_coll *s = r ? r->f[DMF_VM_snapshots].c : NULL;

		for (size_t j = 0; s && j < s->n; j++) {
			all = xrealloc(all, (nall + 2) * sizeof(char *));
			all[nall++] = xstrdup(s->v[j].s);
		}
	}
	db_unlock();
	cli_refs_free(vms, n);
	return cli_uninstall_common(ctx, all, nall);
}

/* snapshot-uninstall snapshot-uuid= (or uuid=) [force=true]: the snapshot
 * and the disks it owns (cli_operations.ml snapshot_uninstall). */
int
cli_cmd_snapshot_uninstall(struct cli_ctx *ctx)
{
	const char *uuid = cli_param(ctx, "snapshot-uuid");
	char *ref, **all;
	bool snap;

	if (!uuid)
		uuid = cli_param(ctx, "uuid");
	if (!uuid)
		return cli_fail_failure(
		    ctx,
		    "Required parameter not found: snapshot-uuid or uuid.");
	if (!(ref = cli_ref_by_uuid(ctx, DMC_VM, uuid)))
		return -1;
	db_rdlock();
	const struct db_row *r = db_get(DMC_VM, ref);
	snap = r && r->f[DMF_VM_is_a_snapshot].b;
	db_unlock();
	if (!snap) {
		free(ref);
		return cli_fail_failure(ctx,
		                        "This operation can only be performed "
		                        "on a VM snapshot. %s is not a VM "
		                        "snapshot.",
		                        uuid);
	}
	all = xcalloc(2, sizeof(char *));
	all[0] = ref;
	return cli_uninstall_common(ctx, all, 1);
}

/* The VIF table of one VM (fields picked like <class>-list, but hidden
 * and expensive fields are shown as asked). */
static void
cli_vif_table(struct cli_ctx *ctx, const struct cli_class *vc,
	      const char *vm)
{
	static const char *const defaults[] = {
		"uuid",		      "device",		"MAC", "network-uuid",
		"network-name-label", "vm-name-label", NULL};
	const char *params = cli_param(ctx, "params");
	struct cli_table_rec *recs;
	const struct db_row *r;
	const struct dm_coll *vifs;
	struct buf b = BUF_INIT;
	size_t n = 0;

	db_rdlock();
	r = db_get(DMC_VM, vm);
	vifs = r ? r->f[DMF_VM_VIFs].c : NULL;
	recs = xcalloc((vifs ? vifs->n : 0) + 1, sizeof(*recs));
	for (size_t i = 0; vifs && i < vifs->n; i++) {
		const struct db_row *vif = db_get(DMC_VIF, vifs->v[i].s);

		if (!vif)
			continue;
		for (size_t j = 0; j < vc->nfields; j++) {
			const struct cli_fdef *f = &vc->fields[j];
			bool want = false;

			if (params && strcmp(params, "all") == 0) {
				want = true;
			} else if (params) {
				char *l = xasprintf(",%s,", params);
				char *k = xasprintf(",%s,", f->name);
				want = strstr(l, k) != NULL;
				free(l);
				free(k);
			} else {
				for (size_t d = 0; defaults[d] && !want; d++)
					want = strcmp(defaults[d], f->name) == 0;
			}
			if (!want)
				continue;
			buf_reset(&b);
			cli_field_text(vc, f, vif, &b);
			cli_rec_add_own(&recs[n], cli_field_key(f),
					buf_steal(&b));
		}
		n++;
	}
	db_unlock();
	cli_out_table(ctx->out, recs, n);
	cli_records_free(recs, n);
	buf_free(&b);
}

int
cli_cmd_vm_vif_list(struct cli_ctx *ctx)
{
	static const char *const ignore[] = {"params", NULL};
	const struct cli_class *vc = cli_class_find("vif");
	char **vms;
	size_t n;

	if (cli_select_vms(ctx, false, false, ignore, &vms, &n) < 0)
		return -1;
	if (n == 0) {
		cli_refs_free(vms, n);
		return cli_fail(ctx, "No matching VMs found");
	}
	for (size_t i = 0; i < n; i++)
		cli_vif_table(ctx, vc, vms[i]);
	cli_refs_free(vms, n);
	return 0;
}
