/* cli_cmds_vm: vm-install and vm-destroy (cli_operations.ml vm_install,
 * vm_install_real, vm_destroy). */
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_gen.h"
#include "rpc/cli_select.h"
#include "util/xalloc.h"

/* A string field of a row, copied (NULL if the row is gone). */
static char *
cli_vm_field(int cls, const char *ref, int fi)
{
	const struct db_row *r;
	char *s = NULL;

	db_rdlock();
	r = db_get(cls, ref);
	if (r)
		s = xstrdup(r->f[fi].s ? r->f[fi].s : "");
	db_unlock();
	return s;
}

/* A bool field of a VM (false if it is gone). */
static bool
cli_vm_flag(const char *ref, int fi)
{
	const struct db_row *r;
	bool b = false;

	db_rdlock();
	r = db_get(DMC_VM, ref);
	if (r)
		b = r->f[fi].b;
	db_unlock();
	return b;
}

/* The template named name: a non-control-domain template with that
 * name-label. */
static char *
cli_template_by_name(struct cli_ctx *ctx, const char *name)
{
	struct db_row **rows;
	size_t n, found = 0;
	char *ref = NULL;

	db_rdlock();
	rows = db_list(DMC_VM, &n);
	for (size_t i = 0; i < n; i++) {
		const struct db_row *r = rows[i];

		if (!r->f[DMF_VM_name_label].s ||
		    strcmp(r->f[DMF_VM_name_label].s, name) != 0 ||
		    !r->f[DMF_VM_is_a_template].b ||
		    r->f[DMF_VM_is_control_domain].b)
			continue;
		if (found++ == 0)
			ref = xstrdup(r->ref);
	}
	db_unlock();
	free(rows);
	if (found == 1)
		return ref;
	free(ref);
	cli_fail(ctx, found ? "More than one matching template found"
			    : "No templates matched");
	return NULL;
}

/* The template of vm-install (template-uuid, template-name[-label],
 * template = uuid or name). */
static char *
cli_install_template(struct cli_ctx *ctx)
{
	const char *v;
	char *ref;

	if ((v = cli_param(ctx, "template-uuid"))) {
		ref = cli_ref_by_uuid(ctx, DMC_VM, v);
		if (!ref)
			cli_fail(ctx, "Cannot find template");
		return ref;
	}
	if ((v = cli_param(ctx, "template-name-label")) ||
	    (v = cli_param(ctx, "template-name")))
		return cli_template_by_name(ctx, v);
	if ((v = cli_param(ctx, "template"))) {
		if ((ref = cli_ref_by_uuid(ctx, DMC_VM, v)))
			return ref;
		cli_fail_clear(ctx);
		return cli_template_by_name(ctx, v);
	}
	cli_fail(ctx, "Template must be specified by parameter "
		      "'template-uuid', 'template-name', 'template-name-label' "
		      "or 'template'");
	return NULL;
}

/* Picks the SR named by sr-name-label (checked against sr, the sr-uuid
 * one, if any). Returns the ref, or NULL after recording a failure. */
static char *
cli_install_sr_by_name(struct cli_ctx *ctx, const char *name, char *sr)
{
	xv *res = NULL;
	size_t n;

	if (cli_call(ctx, "SR.get_by_name_label", &res, xv_str(name), NULL) <
	    0) {
		free(sr);
		return NULL;
	}
	n = xv_len(res);
	if (n == 0) {
		cli_fail(ctx, "No SR with that name-label found");
	} else if (sr) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(res->u.a.items[i]->u.s, sr) == 0) {
				xv_free(res);
				return sr;
			}
		cli_fail(ctx, "SR specified via sr-uuid doesn't have the name "
			      "specified via sr-name-label");
	} else if (n == 1) {
		sr = xstrdup(res->u.a.items[0]->u.s);
		xv_free(res);
		return sr;
	} else {
		cli_fail(ctx, "Multiple SRs with that name-label found");
	}
	xv_free(res);
	free(sr);
	return NULL;
}

/* The SR to copy the template to: *sr is NULL for none (clone). Returns 0
 * or -1. */
static int
cli_install_sr(struct cli_ctx *ctx, const char *tmpl, char **sr)
{
	const char *uuid = cli_param(ctx, "sr-uuid");
	const char *name = cli_param(ctx, "sr-name-label");

	*sr = NULL;
	if (cli_vm_flag(tmpl, DMF_VM_is_a_snapshot)) {
		if (!uuid && !name)
			return 0;
		return cli_fail(ctx, "Do not use the sr-name-label or sr-uuid "
				     "argument when installing from a "
				     "snapshot. By default, it will install "
				     "each new disk on the same SR as the "
				     "corresponding snapshot disks.");
	}
	if (uuid && !(*sr = cli_ref_by_uuid(ctx, DMC_SR, uuid)))
		return -1;
	if (name && !(*sr = cli_install_sr_by_name(ctx, name, *sr)))
		return -1;
	return 0;
}

/* Makes the fresh copy a VM: description, suspend SR, VM.provision (which
 * clears is-a-template; when provisioning is not served yet, just clear
 * it), BIOS strings. */
static int
cli_install_finish(struct cli_ctx *ctx, const char *vm, const char *tmpl,
		   const char *sr)
{
	const char *host_uuid = cli_param(ctx, "copy-bios-strings-from");
	char *suspend_sr, *host;
	int rc;

	if (cli_call(ctx, "VM.set_name_description", NULL, xv_str(vm),
		     xv_str("Installed via xe CLI"), NULL) < 0)
		return -1;
	suspend_sr = sr ? xstrdup(sr)
			: cli_vm_field(DMC_VM, tmpl, DMF_VM_suspend_SR);
	rc = suspend_sr ? cli_call(ctx, "VM.set_suspend_SR", NULL, xv_str(vm),
				   xv_str(suspend_sr), NULL)
			: 0;
	free(suspend_sr);
	if (rc < 0)
		return -1;
	if (cli_call(ctx, "VM.provision", NULL, xv_str(vm), NULL) < 0) {
		if (strcmp(ctx->eapi->code, "MESSAGE_METHOD_UNKNOWN") != 0)
			return -1;
		cli_fail_clear(ctx);
		if (cli_call(ctx, "VM.set_is_a_template", NULL, xv_str(vm),
			     xv_bool(false), NULL) < 0)
			return -1;
	}
	if (!host_uuid)
		return 0;
	if (!(host = cli_ref_by_uuid(ctx, DMC_host, host_uuid)))
		return -1;
	return cli_call(ctx, "VM.copy_bios_strings", NULL, xv_str(vm),
			xv_str_own(host), NULL);
}

/* VM.clone of the template under the new name. */
static int
cli_install_clone(struct cli_ctx *ctx, const char *tmpl, const char *name,
		  xv **vm)
{
	return cli_call(ctx, "VM.clone", vm, xv_str(tmpl), xv_str(name), NULL);
}

/* Destroys a half-installed VM, keeping the error that caused it. */
static void
cli_install_undo(struct cli_ctx *ctx, const char *vm)
{
	struct cli_ctx undo = *ctx;

	undo.ekind = CLI_E_NONE;
	undo.emsg = NULL;
	undo.eapi = NULL;
	cli_call(&undo, "VM.destroy", NULL, xv_str(vm), NULL);
	cli_fail_clear(&undo);
}

int
cli_cmd_vm_install(struct cli_ctx *ctx)
{
	const char *name = cli_param(ctx, "new-name-label");
	char *tmpl, *sr = NULL, *uuid;
	xv *vm = NULL;
	int rc;

	if (!(tmpl = cli_install_template(ctx)))
		return -1;
	if (!cli_vm_flag(tmpl, DMF_VM_is_a_template)) {
		free(tmpl);
		return cli_fail(ctx, "Can only install from templates");
	}
	rc = cli_install_sr(ctx, tmpl, &sr);
	if (rc == 0 && sr) {
		rc = cli_call(ctx, "VM.copy", &vm, xv_str(tmpl), xv_str(name),
			      xv_str(sr), NULL);
		/* While copying is not served, a clone (no disks yet). */
		if (rc < 0 &&
		    strcmp(ctx->eapi->code, "MESSAGE_METHOD_UNKNOWN") == 0) {
			cli_fail_clear(ctx);
			rc = cli_install_clone(ctx, tmpl, name, &vm);
		}
	} else if (rc == 0) {
		rc = cli_install_clone(ctx, tmpl, name, &vm);
	}
	if (rc == 0 && cli_install_finish(ctx, vm->u.s, tmpl, sr) < 0) {
		cli_install_undo(ctx, vm->u.s);
		rc = -1;
	}
	if (rc == 0) {
		uuid = cli_vm_field(DMC_VM, vm->u.s, DMF_VM_uuid);
		cli_out_line(ctx->out, uuid ? uuid : "");
		free(uuid);
	}
	xv_free(vm);
	free(sr);
	free(tmpl);
	return rc;
}

int
cli_cmd_vm_destroy(struct cli_ctx *ctx)
{
	char *vm = cli_ref_by_uuid(ctx, DMC_VM, cli_param(ctx, "uuid"));
	int rc;

	if (!vm)
		return -1;
	if (cli_vm_flag(vm, DMF_VM_is_control_domain))
		rc = cli_fail_api(ctx, api_error(XE_OPERATION_NOT_ALLOWED,
						 "You cannot destroy a control "
						 "domain via the CLI",
						 NULL));
	else
		rc = cli_call(ctx, "VM.destroy", NULL, xv_str(vm), NULL);
	free(vm);
	return rc;
}
