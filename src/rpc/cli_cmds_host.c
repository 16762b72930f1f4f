/*
 * cli_cmds_host: the xe commands of host maintenance and VM migration
 * (cli_operations.ml host_disable, host_enable, host_evacuate,
 * host_get_vms_which_prevent_evacuation over do_host_op's selection:
 * host=<uuid or name>, field filters, --multiple; vm_migrate within the
 * pool over do_vm_op).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_cmd.h"
#include "rpc/cli_gen.h"
#include "rpc/cli_select.h"
#include "rpc/cli_vmop.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* do_host_op: the selected hosts (one, or several with --multiple when
 * multiple), then fn on each through do_multiple. */
static int
cli_do_host_op(struct cli_ctx *ctx, bool multiple, const char *const *ignore,
	       int (*fn)(struct cli_ctx *ctx, const char *host, void *arg), void *arg)
{
	char **hosts;
	size_t n;
	int rc;

	if (cli_do_host_select(ctx, multiple, ignore, &hosts, &n) < 0)
		return -1;
	rc = cli_do_multiple(ctx, hosts, n, fn, arg);
	cli_refs_free(hosts, n);
	return rc;
}

static int
cli_host_method(struct cli_ctx *ctx, const char *host, void *arg)
{
	return cli_call(ctx, (const char *)arg, NULL, xv_str(host), NULL);
}

static int
cli_cmd_host_disable(struct cli_ctx *ctx)
{
	bool auto_enable;

	/* the host comes back enabled when xapid restarts, as xapi's does
	 * with auto-enable=true; the API of this version has no flag for the
	 * other choice */
	if (cli_param_bool(ctx, "auto-enable", true, &auto_enable) < 0)
		return -1;
	if (!auto_enable)
		return cli_fail(ctx, "auto-enable=false is not supported by this host's API "
				     "version");
	return cli_do_host_op(ctx, true, L("auto-enable"), cli_host_method,
			      (void *)"host.disable");
}

/* host-compute-free-memory / host-compute-memory-overhead: one host, the
 * number the call returns. */
static int
cli_host_number(struct cli_ctx *ctx, const char *host, void *arg)
{
	xv *res = NULL;

	if (cli_call(ctx, (const char *)arg, &res, xv_str(host), NULL) < 0)
		return -1;
	char *text =
	    xasprintf("%lld", res && res->type == XV_INT ? (long long)res->u.i
	                      : res && res->type == XV_STRING
	                          ? strtoll(res->u.s, NULL, 10)
	                          : 0LL);
	cli_out_line(ctx->out, text);
	free(text);
	xv_free(res);
	return 0;
}

static int
cli_cmd_host_free_memory(struct cli_ctx *ctx)
{
	return cli_do_host_op(ctx, false, NULL, cli_host_number,
	                      (void *)"host.compute_free_memory");
}

static int
cli_cmd_host_memory_overhead(struct cli_ctx *ctx)
{
	return cli_do_host_op(ctx, false, NULL, cli_host_number,
	                      (void *)"host.compute_memory_overhead");
}

static int
cli_cmd_host_enable(struct cli_ctx *ctx)
{
	return cli_do_host_op(ctx, true, NULL, cli_host_method, (void *)"host.enable");
}

struct cli_evac {
	char *network;
	long long batch;
};

static int
cli_host_evacuate_one(struct cli_ctx *ctx, const char *host, void *arg)
{
	const struct cli_evac *e = arg;

	return cli_call(ctx, "host.evacuate", NULL, xv_str(host), xv_str(e->network),
			xv_int(e->batch), NULL);
}

static int
cli_cmd_host_evacuate(struct cli_ctx *ctx)
{
	const char *net = cli_param(ctx, "network-uuid"), *bs = cli_param(ctx, "batch-size");
	struct cli_evac e = {NULL, 0};
	int rc;

	if (bs) {
		char *end;
		errno = 0;
		e.batch = strtoll(bs, &end, 10);
		if (errno || end == bs || *end || e.batch < 0)
			return cli_fail(ctx, "Failed to parse parameter 'batch-size': expected "
					     "an integer, got %s",
					bs);
	}
	if (net && !(e.network = cli_ref_by_uuid(ctx, DMC_network, net)))
		return -1;
	if (!e.network)
		e.network = xstrdup(DM_NULL_REF);
	rc = cli_do_host_op(ctx, false, L("network-uuid", "batch-size"), cli_host_evacuate_one,
			    &e);
	free(e.network);
	return rc;
}

/* One VM's record: uuid, name-label and reason (or what params= names of
 * them). Read lock held. */
static void
cli_prevent_rec(struct cli_ctx *ctx, const char *vm, const xv *why, struct cli_table_rec *rec)
{
	const struct cli_class *vc = cli_class_find("vm");
	const char *params = cli_param(ctx, "params");
	const struct db_row *r = db_get(DMC_VM, vm);
	const char *names[] = {"uuid", "name-label", "reason"};
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < 3; i++) {
		if (params && strcmp(params, "all") != 0) {
			char *l = xasprintf(",%s,", params), *k = xasprintf(",%s,", names[i]);
			bool want = strstr(l, k) != NULL;
			free(l);
			free(k);
			if (!want)
				continue;
		}
		buf_reset(&b);
		if (i < 2) {
			const struct cli_fdef *f = cli_field_find(vc, names[i]);
			if (!f || !r)
				continue;
			cli_field_text(vc, f, r, &b);
			cli_rec_add_own(rec, cli_field_key(f), buf_steal(&b));
		} else {
			for (size_t k = 0; why && why->type == XV_ARRAY && k < why->u.a.n; k++)
				buf_addf(&b, "%s%s", k ? "," : "",
					 why->u.a.items[k]->type == XV_STRING ? why->u.a.items[k]->u.s
									     : "");
			cli_rec_add_own(rec, xstrdup("reason ( RO)"), buf_steal(&b));
		}
	}
	buf_free(&b);
}

static int
cli_cmd_host_prevent_evac(struct cli_ctx *ctx)
{
	const char *uuid = cli_param(ctx, "uuid");
	char *host = cli_ref_by_uuid(ctx, DMC_host, uuid);
	xv *res = NULL;

	if (!host)
		return -1;
	if (cli_call(ctx, "host.get_vms_which_prevent_evacuation", &res, xv_str_own(host),
		     NULL) < 0)
		return -1;
	for (size_t i = 0; res && res->type == XV_STRUCT && i < res->u.st.n; i++) {
		struct cli_table_rec rec = {0};
		db_rdlock();
		cli_prevent_rec(ctx, res->u.st.names[i], res->u.st.vals[i], &rec);
		db_unlock();
		cli_out_table(ctx->out, &rec, 1);
		cli_rec_free(&rec);
	}
	xv_free(res);
	return 0;
}

/* ---- vm-migrate ---- */

/* get_host_by_name_or_id. */
static char *
cli_mig_host(struct cli_ctx *ctx, const char *name)
{
	struct db_row **rows;
	char *ref = NULL;
	size_t n;

	db_rdlock();
	rows = db_list(DMC_host, &n);
	for (size_t i = 0; i < n && !ref; i++)
		if (strcmp(rows[i]->f[DMF_host_name_label].s, name) == 0 ||
		    strcmp(rows[i]->f[DMF_host_uuid].s, name) == 0)
			ref = xstrdup(rows[i]->ref);
	db_unlock();
	free(rows);
	if (!ref)
		cli_fail(ctx, "Host %s not found", name);
	return ref;
}

struct cli_mig {
	char *host;
	xv *options;
	xv *vdi_map; /* storage migration: VDI ref -> SR ref (from vdi:) */
	char *sr;    /* storage migration: the SR for the VDIs not mapped */
	char *network;
};

static int
cli_migrate_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	const struct cli_mig *m = arg;

	return cli_call(ctx, "VM.pool_migrate", NULL, xv_str(vm), xv_str(m->host),
			xv_dup(m->options), NULL);
}

/* ---- storage migration within the pool (vdi:<vdi>=<sr>) ---- */

/* The preferred SR as xapi's vm_migrate computes it: of the SRs plugged on
 * the destination, a shared one with the most free space, else a local one
 * (ISO SRs never). Read lock held. */
static char *
cli_sxm_preferred_sr(const char *host)
{
	size_t n;
	struct db_row **pbds = db_list(DMC_PBD, &n);
	struct db_row *best[2] = {NULL, NULL};
	int64_t free_[2] = {-1, -1};

	for (size_t i = 0; i < n; i++) {
		struct db_row *sr = db_get(DMC_SR, pbds[i]->f[DMF_PBD_SR].s);
		if (!sr || strcmp(pbds[i]->f[DMF_PBD_host].s, host) != 0 ||
		    !pbds[i]->f[DMF_PBD_currently_attached].b ||
		    strcmp(sr->f[DMF_SR_content_type].s, "iso") == 0)
			continue;
		int k = sr->f[DMF_SR_shared].b ? 0 : 1;
		int64_t f = sr->f[DMF_SR_physical_size].i -
		            sr->f[DMF_SR_physical_utilisation].i;
		if (f > free_[k]) {
			free_[k] = f;
			best[k] = sr;
		}
	}
	free(pbds);
	return best[0]   ? xstrdup(best[0]->ref)
	       : best[1] ? xstrdup(best[1]->ref)
	                 : NULL;
}

/* The network of the destination's management PIF. Read lock held. */
static char *
cli_sxm_network(const char *host)
{
	size_t n;
	struct db_row **pifs = db_list(DMC_PIF, &n);
	char *net = NULL;

	for (size_t i = 0; i < n && !net; i++)
		if (strcmp(pifs[i]->f[DMF_PIF_host].s, host) == 0 &&
		    pifs[i]->f[DMF_PIF_management].b)
			net = xstrdup(pifs[i]->f[DMF_PIF_network].s);
	free(pifs);
	return net;
}

static const char *
cli_sxm_uuid(int cls, const char *ref)
{
	struct db_row *r = db_get(cls, ref);
	return r ? r->f[dm_classes[cls].f_uuid].s : "";
}

/* One VM: the VDI map completed with the preferred SR, printed, then
 * Host.migrate_receive and VM.migrate_send. */
static int
cli_sxm_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	const struct cli_mig *m = arg;
	xv *map = xv_dup(m->vdi_map), *dest = NULL;
	struct buf b = BUF_INIT;

	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	const struct dm_coll *vbds = r ? r->f[DMF_VM_VBDs].c : NULL;
	for (size_t i = 0; m->sr && vbds && i < vbds->n; i++) {
		struct db_row *vbd = db_get(DMC_VBD, vbds->v[i].s);
		if (vbd && !vbd->f[DMF_VBD_empty].b &&
		    !xv_get(map, vbd->f[DMF_VBD_VDI].s))
			xv_set(map, vbd->f[DMF_VBD_VDI].s, xv_str(m->sr));
	}
	struct db_row *h = db_get(DMC_host, m->host);
	struct db_row *net = db_get(DMC_network, m->network);
	buf_addf(&b,
	         "Will migrate to remote host: %s, using remote network: %s. "
	         "Here is the "
	         "VDI mapping:",
	         h ? h->f[DMF_host_name_label].s : "",
	         net ? net->f[DMF_network_name_label].s : "");
	cli_out_line(ctx->out, b.data ? b.data : "");
	for (size_t i = 0; i < map->u.st.n; i++) {
		buf_reset(&b);
		buf_addf(&b, "VDI %s -> SR %s",
		         cli_sxm_uuid(DMC_VDI, map->u.st.names[i]),
		         map->u.st.vals[i]->type == XV_STRING
		             ? cli_sxm_uuid(DMC_SR, map->u.st.vals[i]->u.s)
		             : "");
		cli_out_line(ctx->out, b.data ? b.data : "");
	}
	db_unlock();
	buf_free(&b);
	int rc = cli_call(ctx, "host.migrate_receive", &dest, xv_str(m->host),
	                  xv_str(m->network), xv_dup(m->options), NULL);
	if (rc == 0)
		rc = cli_call(ctx, "VM.migrate_send", NULL, xv_str(vm), dest,
		              xv_bool(true), map, xv_struct(),
		              xv_dup(m->options), xv_struct(), NULL);
	else
		xv_free(map);
	return rc;
}

/* vdi:<vdi uuid>=<sr uuid> parameters into m->vdi_map. */
static int
cli_sxm_map(struct cli_ctx *ctx, struct cli_mig *m)
{
	m->vdi_map = xv_struct();
	for (size_t i = 0; i < ctx->args->n; i++) {
		const char *k = ctx->args->kv[i].k, *v = ctx->args->kv[i].v;
		if (strncmp(k, "vdi:", 4) != 0)
			continue;
		char *vdi = cli_ref_by_uuid(ctx, DMC_VDI, k + 4), *sr = NULL;
		if (!vdi || !(sr = cli_ref_by_uuid(ctx, DMC_SR, v))) {
			free(vdi);
			return -1;
		}
		xv_set(m->vdi_map, vdi, xv_str_own(sr));
		free(vdi);
	}
	return 0;
}

static int
cli_cmd_vm_migrate(struct cli_ctx *ctx)
{
	static const char *const sxm[] = {"remote-master", "remote-username", "remote-password",
					  "remote-network", "vif:", "vdi:", "image-format:"};
	const char *host = cli_param(ctx, "host");
	struct cli_mig m = {NULL, NULL, NULL, NULL, NULL};
	struct cli_vm_op op = {true, false, true,
			       L("host", "host-uuid", "host-name", "live", "compress"),
			       cli_migrate_one, &m};
	int rc;

	static const char *const sxm_ignore[] = {
	    "host",  "host-uuid",    "host-name", "live",
	    "force", "copy",         "compress",  "vif",
	    "vdi",   "image-format", NULL};
	bool use_sxm = false;
	for (size_t i = 0; i < ctx->args->n; i++)
		for (size_t k = 0; k < sizeof(sxm) / sizeof(sxm[0]); k++) {
			if (strncmp(ctx->args->kv[i].k, sxm[k],
			            strlen(sxm[k])) != 0)
				continue;
			if (strncmp(sxm[k], "remote-", 7) == 0)
				return cli_fail(ctx, "Migration to another "
				                     "pool is not supported "
				                     "by this host");
			use_sxm = true;
		}
	if (!host)
		host = cli_param(ctx, "host-uuid");
	if (!host)
		host = cli_param(ctx, "host-name");
	if (!host)
		return cli_fail(ctx, "No destination host specified");
	if (!(m.host = cli_mig_host(ctx, host)))
		return -1;
	/* restrict_with_default "false" [force; live; copy], each a bool */
	m.options = xv_struct();
	const char *keys[] = {"force", "live", "copy"};
	for (size_t i = 0; i < 3; i++) {
		bool b;
		if (cli_param_bool(ctx, keys[i], false, &b) < 0) {
			rc = -1;
			goto out;
		}
		xv_set(m.options, keys[i], xv_str(b ? "true" : "false"));
	}
	if (cli_param(ctx, "compress"))
		xv_set(m.options, "compress", xv_str(cli_param(ctx, "compress")));
	if (use_sxm) {
		/* within the pool: the destination is this pool's host */
		cli_out_line(
		    ctx->out,
		    "Performing a storage live migration. Your VM's VDIs will "
		    "be migrated with the VM.");
		if (cli_sxm_map(ctx, &m) < 0) {
			rc = -1;
			goto out;
		}
		db_rdlock();
		m.sr = cli_sxm_preferred_sr(m.host);
		m.network = cli_sxm_network(m.host);
		db_unlock();
		if (!m.network) {
			rc = cli_fail_failure(
			    ctx, "Could not find management PIF on host %s",
			    host);
			goto out;
		}
		op.fn = cli_sxm_one;
		op.ignore = sxm_ignore;
	}
	rc = cli_do_vm_op(ctx, &op);
out:
	free(m.host);
	free(m.sr);
	free(m.network);
	xv_free(m.vdi_map);
	xv_free(m.options);
	return rc;
}

const struct cli_cmd cli_host_cmds[] = {
	{"host-disable", NULL, L("auto-enable"),
	 "Disable the XE host. Setting auto-enable=false will keep the host persistently "
	 "disabled until manually re-enabled with Host.enable.",
	 cli_cmd_host_disable, CLI_CMD_STANDARD | CLI_CMD_HOST_SEL, NULL},
	{"host-enable", NULL, NULL, "Enable the XE host.", cli_cmd_host_enable,
	 CLI_CMD_STANDARD | CLI_CMD_HOST_SEL, NULL},
	{"host-compute-free-memory", NULL, NULL, "Computes the amount of free memory on the host.",
	 cli_cmd_host_free_memory, CLI_CMD_HOST_SEL, NULL},
	{"host-compute-memory-overhead", NULL, NULL,
	 "Computes the virtualization memory overhead of a host.", cli_cmd_host_memory_overhead,
	 CLI_CMD_HOST_SEL, NULL},
	{"host-evacuate", NULL, L("network-uuid", "batch-size"), "Migrate all VMs off a host.",
	 cli_cmd_host_evacuate, CLI_CMD_HOST_SEL, NULL},
	{"host-get-vms-which-prevent-evacuation", L("uuid"), NULL,
	 "Return a list of VMs which prevent the evacuation of a specific host and display "
	 "reasons for each one.",
	 cli_cmd_host_prevent_evac, 0, NULL},
	{"vm-migrate", NULL,
	 L("live", "host", "host-uuid", "remote-master", "remote-username", "remote-password",
	   "remote-network", "force", "copy", "compress", "vif:", "vdi:", "image-format:"),
	 "Migrate the selected VM(s). The parameter '--live' will migrate the VM without "
	 "shutting it down. The 'host' parameter matches can be either the name or the uuid "
	 "of the host. If you are migrating a VM to a remote pool, you will need to specify "
	 "the remote-master, remote-username, and remote-password parameters. remote-master "
	 "is the network address of the master host. To migrate to a particular host within "
	 "a remote pool, you may additionally specify the host or host-uuid parameters. Also "
	 "for cross-pool migration, setting 'copy=true' will enable the copy mode so that a "
	 "stopped vm can be copied, instead of migrating, to the destination pool. The vif "
	 "and vdi mapping parameters take the form 'vif:<source vif uuid>=<dest network "
	 "uuid>' and 'vdi:<source vdi uuid>=<dest sr uuid>'. You can also specify the "
	 "destination image format of the VDI using 'image-format:<source vdi "
	 "uuid>=<destination image format>'. Unfortunately, destination uuids cannot be "
	 "tab-completed.",
	 cli_cmd_vm_migrate, CLI_CMD_STANDARD | CLI_CMD_VM_SEL, NULL},
};

const size_t cli_host_ncmds = sizeof(cli_host_cmds) / sizeof(cli_host_cmds[0]);
