/* vdi_onboot: VDI.on_boot, as xapi (xapi_vdi.ml set_on_boot and
 * check_operation_error). A VDI with on_boot=reset returns to its state at
 * every boot of the VM that uses it: the VM backend puts a per-boot overlay
 * on it (qemu_hotplug.c) and drops it when the VM stops or reboots; the
 * VDI's own image is never written meanwhile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/api.h"
#include "storage/sr.h"
#include "util/log.h"
#include "util/xalloc.h"

/* xapi's checks of set_on_boot. Read lock held. */
static struct api_err *
onboot_check(const struct db_row *v)
{
	const struct db_row *sr = db_get(DMC_SR, v->f[DMF_VDI_SR].s);
	const char *srtype = sr ? sr->f[DMF_SR_type].s : "";

	/* the SRs whose driver cannot reset a disk (no VDI_RESET_ON_BOOT) */
	if (strcmp(srtype, "iso") == 0 || strcmp(srtype, "udev") == 0)
		return api_error(XE_SR_OPERATION_NOT_SUPPORTED,
		                 v->f[DMF_VDI_SR].s, NULL);
	if (strcmp(v->f[DMF_VDI_type].s, "cbt_metadata") == 0)
		return api_error(XE_VDI_INCOMPATIBLE_TYPE, v->ref,
		                 "CBT metadata", NULL);
	if (v->f[DMF_VDI_cbt_enabled].b)
		return api_error(XE_VDI_CBT_ENABLED, v->ref, NULL);
	const struct dm_coll *b = v->f[DMF_VDI_VBDs].c;
	for (size_t i = 0; b && i < b->n; i++) {
		const struct db_row *vbd = db_get(DMC_VBD, b->v[i].s);
		if (vbd && vbd->f[DMF_VBD_currently_attached].b)
			return api_error(XE_VDI_IN_USE, v->ref, "set_on_boot",
			                 NULL);
	}
	return NULL;
}

static struct api_err *
onboot_set(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *ref = args[0]->u.s, *value = args[1]->u.s;
	struct api_err *err = NULL;
	(void)ctx;
	(void)nargs;
	(void)result;

	if (strcmp(value, "persist") != 0 && strcmp(value, "reset") != 0)
		return api_error(XE_INVALID_VALUE, "on_boot", value, NULL);
	struct db_txn *t = db_txn_begin();
	struct db_row *v = db_txn_edit(t, DMC_VDI, ref);
	if (!v)
		err = api_error(XE_HANDLE_INVALID, "VDI", ref, NULL);
	else
		err = onboot_check(v);
	if (err) {
		db_txn_abort(t);
		return err;
	}
	db_txn_set(t, v, DMF_VDI_on_boot, (union dm_val){.s = xstrdup(value)});
	if (!(err = api_commit(t)))
		log_info("sr", "VDI %s: on_boot=%s", ref, value);
	return err;
}

struct api_err *
sr_vdi_assert_persistent(const char *vdi)
{
	struct api_err *err = NULL;
	db_rdlock();
	const struct db_row *v = db_get(DMC_VDI, vdi);
	if (v && strcmp(v->f[DMF_VDI_on_boot].s, "reset") == 0)
		err = api_error(XE_VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION,
		                NULL);
	db_unlock();
	return err;
}

void
sr_onboot_register(void)
{
	api_register("VDI.set_on_boot", onboot_set, 0);
}
