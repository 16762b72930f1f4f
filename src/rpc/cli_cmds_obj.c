/* cli_cmds_obj: commands that create and destroy single objects:
 * network-create/-destroy, message-create/-destroy, vdi-create,
 * vbd-create, vif-create, task-cancel (cli_operations.ml net_create,
 * message_create, vdi_create, vbd_create, vif_create, task_cancel...). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "rpc/cli_gen.h"
#include "util/xalloc.h"

/* Prints the uuid of a new object (its ref in res, an API result). */
static int
cli_print_new_uuid(struct cli_ctx *ctx, int cls, const xv *res)
{
	const char *uuid = NULL;
	char *copy = NULL;

	if (!res || res->type != XV_STRING)
		return cli_fail_failure(ctx, "%s.create returned no ref",
					dm_classes[cls].name);
	db_rdlock();
	uuid = cli_ref_uuid(cls, res->u.s);
	copy = xstrdup(uuid ? uuid : "");
	db_unlock();
	cli_out_line(ctx->out, copy);
	free(copy);
	return 0;
}

/* Calls <Class>.create(record) and prints the new uuid. */
static int
cli_create(struct cli_ctx *ctx, int cls, xv *record)
{
	char *m = xasprintf("%s.create", dm_classes[cls].name);
	xv *res = NULL;
	int rc = cli_call(ctx, m, &res, record, NULL);

	free(m);
	if (rc == 0)
		rc = cli_print_new_uuid(ctx, cls, res);
	xv_free(res);
	return rc;
}

/* A map of the "<name>:k=v" parameters. */
static xv *
cli_map_params(struct cli_ctx *ctx, const char *name)
{
	struct cli_kv *kv;
	size_t n = cli_args_map(ctx->args, name, &kv);
	xv *m = xv_struct();

	for (size_t i = 0; i < n; i++)
		xv_set(m, kv[i].k, xv_str(kv[i].v));
	free(kv);
	return m;
}

int
cli_cmd_network_create(struct cli_ctx *ctx)
{
	const char *mtu = cli_param(ctx, "MTU"), *d, *br;
	long long m = 1500;
	char *end;
	bool managed;
	xv *rec;

	if (mtu) {
		m = strtoll(mtu, &end, 10);
		if (end == mtu || *end)
			return cli_fail_failure(ctx, "Int64.of_string");
	}
	if (cli_param_bool(ctx, "managed", true, &managed) < 0)
		return -1;
	d = cli_param(ctx, "name-description");
	br = cli_param(ctx, "bridge");
	rec = xv_struct();
	xv_set(rec, "name_label", xv_str(cli_param(ctx, "name-label")));
	xv_set(rec, "name_description", xv_str(d ? d : ""));
	xv_set(rec, "MTU", xv_int(m));
	xv_set(rec, "other_config", xv_struct());
	xv_set(rec, "bridge", xv_str(br ? br : ""));
	xv_set(rec, "managed", xv_bool(managed));
	xv_set(rec, "tags", xv_array());
	return cli_create(ctx, DMC_network, rec);
}

/* Destroys the uuid= object of class cls with <Class>.destroy. */
static int
cli_destroy_by_uuid(struct cli_ctx *ctx, int cls)
{
	char *ref = cli_ref_by_uuid(ctx, cls, cli_param(ctx, "uuid"));
	char *m;
	int rc;

	if (!ref)
		return -1;
	m = xasprintf("%s.destroy", dm_classes[cls].name);
	rc = cli_call(ctx, m, NULL, xv_str_own(ref), NULL);
	free(m);
	return rc;
}

int
cli_cmd_network_destroy(struct cli_ctx *ctx)
{
	return cli_destroy_by_uuid(ctx, DMC_network);
}

int
cli_cmd_message_create(struct cli_ctx *ctx)
{
	static const char *const sel[] = {"vm-uuid", "VM", "pool-uuid", "Pool",
					  "sr-uuid", "SR", "host-uuid", "Host"};
	const char *prio = cli_param(ctx, "priority"), *obj = NULL, *cls = NULL;
	long long p;
	char *end;

	p = strtoll(prio, &end, 10);
	if (end == prio || *end)
		return cli_fail(ctx, "Priority field should be an integer");
	for (size_t i = 0; i < 8 && !obj; i += 2)
		if ((obj = cli_param(ctx, sel[i])))
			cls = sel[i + 1];
	if (!obj)
		return cli_fail(ctx, "Need one of: vm-uuid, host-uuid, sr-uuid "
				     "or pool-uuid");
	return cli_call(ctx, "message.create", NULL,
			xv_str(cli_param(ctx, "name")), xv_int(p), xv_str(cls),
			xv_str(obj), xv_str(cli_param(ctx, "body")), NULL);
}

int
cli_cmd_message_destroy(struct cli_ctx *ctx)
{
	const char *uuid = cli_param(ctx, "uuid");
	const char *uuids = cli_param(ctx, "uuids");
	xv *msgs;
	char *list, *p, *ref;
	int rc = 0;

	if (uuid && uuids)
		return cli_fail(ctx, "Ambiguous arguments; need one of uuid, "
				     "uuids");
	if (!uuid && !uuids)
		return cli_fail(ctx, "Need one of uuid, uuids");
	msgs = xv_array();
	list = xstrdup(uuid ? uuid : uuids);
	for (p = list; rc == 0;) {
		char *comma = uuid ? NULL : strchr(p, ',');

		if (comma)
			*comma = '\0';
		if ((ref = cli_ref_by_uuid(ctx, DMC_message, p)))
			xv_push(msgs, xv_str_own(ref));
		else
			rc = -1;
		if (!comma)
			break;
		p = comma + 1;
	}
	free(list);
	if (rc == 0 &&
	    cli_callv(ctx, "message.destroy_many", NULL, &msgs, 1) < 0 &&
	    strcmp(ctx->eapi->code, "MESSAGE_METHOD_UNKNOWN") == 0) {
		/* Not served yet: one at a time. */
		cli_fail_clear(ctx);
		for (size_t i = 0; rc == 0 && i < msgs->u.a.n; i++)
			rc = cli_callv(ctx, "message.destroy", NULL,
				       &msgs->u.a.items[i], 1);
	} else if (ctx->ekind != CLI_E_NONE) {
		rc = -1;
	}
	xv_free(msgs);
	return rc;
}

int
cli_cmd_vdi_create(struct cli_ctx *ctx)
{
	static const char *const types[] = {"system", "user", "suspend",
					    "crashdump"};
	const char *size = cli_param(ctx, "virtual-size");
	const char *type = cli_param(ctx, "type");
	struct cli_kv *tags;
	size_t ntags;
	long long vsize;
	bool sharable;
	char *sr;
	xv *rec, *tv;

	if (!(sr = cli_ref_by_uuid(ctx, DMC_SR, cli_param(ctx, "sr-uuid"))))
		return -1;
	if (cli_parse_bytes(size, &vsize) < 0) {
		free(sr);
		return cli_fail(ctx,
				"Failed to parse field 'virtual-size': "
				"expecting an integer (possibly with suffix "
				"KiB, MiB, GiB, TiB), got '%s'",
				size);
	}
	if (type) {
		size_t i;

		for (i = 0; i < 4 && strcmp(types[i], type) != 0; i++)
			;
		if (i == 4) {
			free(sr);
			return cli_fail(ctx, "Unknown vdi type: %s", type);
		}
	}
	if (cli_param_bool(ctx, "sharable", false, &sharable) < 0) {
		free(sr);
		return -1;
	}
	tv = xv_array();
	ntags = cli_args_map(ctx->args, "tags", &tags);
	for (size_t i = 0; i < ntags; i++)
		xv_push(tv, xv_str(tags[i].k));
	free(tags);
	rec = xv_struct();
	xv_set(rec, "name_label", xv_str(cli_param(ctx, "name-label")));
	xv_set(rec, "name_description", xv_str(""));
	xv_set(rec, "SR", xv_str_own(sr));
	xv_set(rec, "virtual_size", xv_int(vsize));
	xv_set(rec, "type", xv_str(type ? type : "user"));
	xv_set(rec, "sharable", xv_bool(sharable));
	xv_set(rec, "read_only", xv_bool(false));
	xv_set(rec, "xenstore_data", xv_struct());
	xv_set(rec, "other_config", xv_struct());
	xv_set(rec, "sm_config", cli_map_params(ctx, "sm-config"));
	xv_set(rec, "tags", tv);
	return cli_create(ctx, DMC_VDI, rec);
}

/* vbd-create's mode= and type= (any case). */
static int
cli_vbd_enums(struct cli_ctx *ctx, const char **mode, const char **type)
{
	const char *m = cli_param(ctx, "mode"), *t = cli_param(ctx, "type");

	*mode = "RW";
	*type = "Disk";
	if (m && strcasecmp(m, "ro") == 0)
		*mode = "RO";
	else if (m && strcasecmp(m, "rw") != 0)
		return cli_fail(ctx, "Unknown mode: %s (should be \"ro\" or "
				     "\"rw\"", m);
	if (t && strcasecmp(t, "cd") == 0)
		*type = "CD";
	else if (t && strcasecmp(t, "floppy") == 0)
		*type = "Floppy";
	else if (t && strcasecmp(t, "disk") != 0)
		return cli_fail(ctx, "\"Unknown type: %s (should be \"cd\", "
				     "\"disk\" or \"floppy\"", t);
	return 0;
}

int
cli_cmd_vbd_create(struct cli_ctx *ctx)
{
	const char *vdi_uuid = cli_param(ctx, "vdi-uuid"), *mode, *type;
	char *vm, *vdi = NULL;
	bool bootable, unpluggable;
	xv *rec;

	if (!(vm = cli_ref_by_uuid(ctx, DMC_VM, cli_param(ctx, "vm-uuid"))))
		return -1;
	if (vdi_uuid && !(vdi = cli_ref_by_uuid(ctx, DMC_VDI, vdi_uuid))) {
		free(vm);
		return -1;
	}
	if (cli_param_bool(ctx, "bootable", false, &bootable) < 0 ||
	    cli_vbd_enums(ctx, &mode, &type) < 0 ||
	    cli_param_bool(ctx, "unpluggable", true, &unpluggable) < 0) {
		free(vm);
		free(vdi);
		return -1;
	}
	if (strcmp(type, "Disk") == 0 && !vdi) {
		free(vm);
		return cli_fail(ctx, "Empty VBDs can only be made for type=CD");
	}
	rec = xv_struct();
	xv_set(rec, "VM", xv_str_own(vm));
	xv_set(rec, "VDI", vdi ? xv_str_own(vdi) : xv_str(DM_NULL_REF));
	xv_set(rec, "userdevice", xv_str(cli_param(ctx, "device")));
	xv_set(rec, "bootable", xv_bool(bootable));
	xv_set(rec, "mode", xv_str(mode));
	xv_set(rec, "type", xv_str(type));
	xv_set(rec, "unpluggable", xv_bool(unpluggable));
	xv_set(rec, "empty", xv_bool(vdi_uuid == NULL));
	xv_set(rec, "qos_algorithm_type", xv_str(""));
	xv_set(rec, "qos_algorithm_params", xv_struct());
	xv_set(rec, "other_config", xv_struct());
	xv_set(rec, "device", xv_str(""));
	xv_set(rec, "currently_attached", xv_bool(false));
	return cli_create(ctx, DMC_VBD, rec);
}

/* Record_util.random_mac_local: one random byte repeated, made locally
 * administered and unicast. */
static char *
cli_random_mac(void)
{
	unsigned b = (unsigned)(time(NULL) ^ (unsigned)rand()) & 0xff;
	unsigned b0 = (b | 0x2) & ~0x1u;

	return xasprintf("%02x:%02x:%02x:%02x:%02x:%02x", b0, b, b, b, b, b);
}

int
cli_cmd_vif_create(struct cli_ctx *ctx)
{
	const char *mac = cli_param(ctx, "mac");
	const struct db_row *net;
	long long mtu = 1500;
	char *vm, *network;
	xv *rec;

	if (!(vm = cli_ref_by_uuid(ctx, DMC_VM, cli_param(ctx, "vm-uuid"))))
		return -1;
	network = cli_ref_by_uuid(ctx, DMC_network,
				  cli_param(ctx, "network-uuid"));
	if (!network) {
		free(vm);
		return -1;
	}
	db_rdlock();
	if ((net = db_get(DMC_network, network)))
		mtu = (long long)net->f[DMF_network_MTU].i;
	db_unlock();
	rec = xv_struct();
	xv_set(rec, "device", xv_str(cli_param(ctx, "device")));
	xv_set(rec, "network", xv_str_own(network));
	xv_set(rec, "VM", xv_str_own(vm));
	xv_set(rec, "MAC", mac && strcmp(mac, "random") == 0
				   ? xv_str_own(cli_random_mac())
				   : xv_str(mac ? mac : ""));
	xv_set(rec, "MTU", xv_int(mtu));
	xv_set(rec, "other_config", xv_struct());
	xv_set(rec, "currently_attached", xv_bool(false));
	xv_set(rec, "qos_algorithm_type", xv_str(""));
	xv_set(rec, "qos_algorithm_params", xv_struct());
	xv_set(rec, "locking_mode", xv_str("network_default"));
	xv_set(rec, "ipv4_allowed", xv_array());
	xv_set(rec, "ipv6_allowed", xv_array());
	return cli_create(ctx, DMC_VIF, rec);
}

int
cli_cmd_task_cancel(struct cli_ctx *ctx)
{
	char *task = cli_ref_by_uuid(ctx, DMC_task, cli_param(ctx, "uuid"));

	if (!task)
		return -1;
	return cli_call(ctx, "task.cancel", NULL, xv_str_own(task), NULL);
}
