/* cli_rec_misc: the CLI records of tasks, messages, consoles and secrets,
 * the classes generated from the datamodel, and the class registry. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_rectab.h"
#include "util/xalloc.h"

/* task_allowed_operations_to_string. */
const char *const cli_em_task_ops[] = {
	"cancel", "Cancel", "destroy", "Destroy", NULL,
};
/* protocol_to_string. */
const char *const cli_em_protocol[] = {
	"vt100", "VT100", "rfb", "RFB", "rdp", "RDP", NULL,
};

#define T(x) DMF_task_##x

static const struct cli_fdef cli_task_fields[] = {
	CF("uuid", T(uuid), 0),
	CF("name-label", T(name_label), 0),
	CF("name-description", T(name_description), 0),
	CF("subtask_of", T(subtask_of), 0),
	CF("subtasks", T(subtasks), 0),
	CF("resident-on", T(resident_on), 0),
	CF("status", T(status), 0),
	CF("progress", T(progress), 0),
	CF("type", T(type), 0),
	CF("result", T(result), 0),
	CF("created", T(created), 0),
	CF("finished", T(finished), 0),
	CF("error_info", T(error_info), 0),
	CFE("allowed_operations", T(allowed_operations), 0, cli_em_task_ops),
	CFE("current_operations", T(current_operations), CLIF_VALS,
	    cli_em_task_ops),
	CF("other-config", T(other_config), CLIF_MAPRW),
};

#undef T

static const struct cli_fdef cli_message_fields[] = {
	CF("uuid", DMF_message_uuid, 0),
	CF("name", DMF_message_name, 0),
	CF("priority", DMF_message_priority, 0),
	CF("class", DMF_message_cls, 0),
	CF("obj-uuid", DMF_message_obj_uuid, 0),
	CF("timestamp", DMF_message_timestamp, 0),
	CF("body", DMF_message_body, 0),
};

static const struct cli_fdef cli_console_fields[] = {
	CF("uuid", DMF_console_uuid, 0),
	CF("vm-uuid", DMF_console_VM, 0),
	CF("vm-name-label", DMF_console_VM, CLIF_NAME),
	CFE("protocol", DMF_console_protocol, 0, cli_em_protocol),
	CF("location", DMF_console_location, 0),
	CF("other-config", DMF_console_other_config, CLIF_MAPRW),
};

static const struct cli_fdef cli_secret_fields[] = {
	CF("uuid", DMF_secret_uuid, 0),
	CF("value", DMF_secret_value, CLIF_RW),
};

static const char *const cli_task_params[] = {
	"uuid", "name-label", "name-description", "status", "progress", NULL};
static const char *const cli_console_params[] = {
	"uuid", "vm-uuid", "vm-name-label", "protocol", "location", NULL};

const struct cli_class cli_class_task = {
	"task",		 DMC_task, cli_task_fields, CLI_NELEM(cli_task_fields),
	cli_task_params, NULL,	   false,	    "tasks",
};
const struct cli_class cli_class_message = {
	"message", DMC_message, cli_message_fields,
	CLI_NELEM(cli_message_fields), NULL, NULL, false, "messages",
};
const struct cli_class cli_class_console = {
	"console",
	DMC_console,
	cli_console_fields,
	CLI_NELEM(cli_console_fields),
	cli_console_params,
	NULL,
	false,
	"consoles",
};
const struct cli_class cli_class_secret = {
	"secret", DMC_secret, cli_secret_fields, CLI_NELEM(cli_secret_fields),
	NULL,	  NULL,	      false,		 "secrets",
};

/* ---- classes generated from the datamodel ---- */

/* A generated class: CLI name, datamodel class, xapi's -list fields. */
struct cli_gen {
	const char *name;
	int cls;
	const char *params; /* comma-separated, "" for all */
};

static const struct cli_gen cli_gens[] = {
	{"tunnel", DMC_tunnel, "uuid,transport-PIF,access-PIF,status"},
	{"host-crashdump", DMC_host_crashdump, "uuid,host,timestamp,size"},
	{"patch", DMC_pool_patch,
	 "uuid,name-label,name-description,size,hosts,after-apply-guidance"},
	{"update", DMC_pool_update,
	 "uuid,name-label,name-description,version,installation-size,hosts,"
	 "after-apply-guidance"},
	{"sm", DMC_SM,
	 "uuid,type,name-label,name-description,vendor,copyright,"
	 "configuration"},
	{"subject", DMC_subject, "uuid,subject-identifier,other-config,roles"},
	{"role", DMC_role, "uuid,name,description,subroles"},
	{"vmss", DMC_VMSS,
	 "uuid,name-label,name-description,enabled,type,retained-snapshots,"
	 "frequency,schedule,last-run-time,VMs"},
	{"appliance", DMC_VM_appliance, ""},
	{"pgpu", DMC_PGPU,
	 "uuid,pci-uuid,vendor-name,device-name,gpu-group-uuid"},
	{"gpu-group", DMC_GPU_group, "uuid,name-label,name-description"},
	{"vgpu", DMC_VGPU, "uuid,vm-uuid,device,gpu-group-uuid"},
	{"vgpu-type", DMC_VGPU_type,
	 "uuid,vendor-name,model-name,max-resolution,max-heads"},
	{"drtask", DMC_DR_task, ""},
	{"pvs-site", DMC_PVS_site,
	 "uuid,name-label,name-description,pvs-uuid,pvs-server-uuids"},
	{"pvs-server", DMC_PVS_server, "uuid,addresses,pvs-site-uuid"},
	{"pvs-proxy", DMC_PVS_proxy,
	 "uuid,vif-uuid,pvs-site-uuid,currently-attached,cache-sr-uuid"},
	{"pvs-cache-storage", DMC_PVS_cache_storage,
	 "uuid,host-uuid,sr-uuid,pvs-site-uuid,size"},
	{"feature", DMC_Feature,
	 "uuid,name-label,name-description,enabled,experimental,version,"
	 "host-uuid"},
	{"sdn-controller", DMC_SDN_controller, "uuid,protocol,address,port"},
	{"pusb", DMC_PUSB,
	 "uuid,path,product-id,product-desc,vendor-id,vendor-desc,serial,"
	 "version,description,speed"},
	{"usb-group", DMC_USB_group, "uuid,name-label,name-description"},
	{"vusb", DMC_VUSB, "uuid,vm-uuid,usb-group-uuid"},
	{"network-sriov", DMC_network_sriov,
	 "uuid,physical-pif,logical-pif,requires-reboot,configuration-mode"},
	{"cluster", DMC_Cluster,
	 "uuid,cluster-hosts,cluster-token,cluster-stack,allowed-operations,"
	 "current-operations,pool-auto-join,cluster-config,other-config"},
	{"cluster-host", DMC_Cluster_host,
	 "uuid,cluster,pif,host,enabled,allowed-operations,current-operations,"
	 "other-config"},
	{"certificate", DMC_Certificate,
	 "uuid,type,name,host,not-before,not-after,fingerprint,purpose"},
	{"repository", DMC_Repository,
	 "uuid,name-label,name-description,binary-url,source-url,update,hash,"
	 "up-to-date,gpgkey-path,origin"},
	{"vtpm", DMC_VTPM, ""},
	{"observer", DMC_Observer, ""},
	{"pci", DMC_PCI, ""},
};

/* The registry, in xapi's gen_cmds order; NULL slots are generated. */
static const struct cli_class *const cli_hand[] = {
	&cli_class_pool,     &cli_class_pif,	  &cli_class_bond,
	&cli_class_vlan,     &cli_class_vif,	  &cli_class_network,
	&cli_class_console,  &cli_class_vm,	  &cli_class_template,
	&cli_class_snapshot, &cli_class_host,	  &cli_class_host_cpu,
	&cli_class_vdi,	     &cli_class_vbd,	  &cli_class_sr,
	&cli_class_pbd,	     &cli_class_task,	  &cli_class_message,
	&cli_class_secret,
};

#define CLI_NCLASSES (CLI_NELEM(cli_hand) + CLI_NELEM(cli_gens))

static const struct cli_class *cli_all[CLI_NCLASSES];
static struct cli_class cli_gen_classes[CLI_NELEM(cli_gens)];
static pthread_once_t cli_once = PTHREAD_ONCE_INIT;

/* True if class c has a message named prefix + field. */
static bool
cli_has_msg(int c, const char *prefix, const char *field)
{
	char name[160];

	snprintf(name, sizeof(name), "%s%s", prefix, field);
	return dm_message_find(c, name) != NULL;
}

/* Builds the CLI view of a datamodel class. */
static void
cli_gen_build(struct cli_class *out, const struct cli_gen *g)
{
	const struct dm_class *dc = &dm_classes[g->cls];
	struct cli_fdef *fs = xcalloc(dc->nfields + 1, sizeof(*fs));
	const char **params;
	size_t np = 0;
	char *list, *tok, *save = NULL;

	for (size_t i = 0; i < dc->nfields; i++) {
		const struct dm_field *f = &dc->fields[i];
		char *name = xstrdup(f->name);

		for (char *p = name; *p; p++)
			if (*p == '_')
				*p = '-';
		fs[i].name = name;
		fs[i].fi = (int)i;
		fs[i].via = -1;
		if (f->type->kind == DMK_MAP)
			fs[i].flags = cli_has_msg(g->cls, "add_to_", f->name)
					      ? CLIF_MAPRW
					      : CLIF_MAP;
		else if (f->type->kind == DMK_SET)
			fs[i].flags = cli_has_msg(g->cls, "add_", f->name)
					      ? CLIF_SETRW
					      : CLIF_SET;
		else if (cli_has_msg(g->cls, "set_", f->name))
			fs[i].flags = CLIF_RW;
		if (f->deprecated)
			fs[i].flags |= CLIF_DEPRECATED;
	}
	/* Keep only the default fields that exist; none left means all. */
	params = xcalloc(strlen(g->params) + 2, sizeof(*params));
	list = xstrdup(g->params);
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (size_t i = 0; i < dc->nfields; i++)
			if (strcmp(fs[i].name, tok) == 0) {
				params[np++] = fs[i].name;
				break;
			}
	}
	free(list);
	if (np == 0) {
		free(params);
		params = NULL;
	}
	out->name = g->name;
	out->cls = g->cls;
	out->fields = fs;
	out->nfields = dc->nfields;
	out->def_params = params;
	out->def_filters = NULL;
	out->standard = false;
	out->plural = strcmp(g->name, "patch") == 0 ? "patches"
						  : xasprintf("%ss", g->name);
}

static void
cli_classes_init(void)
{
	size_t n = 0;

	for (size_t i = 0; i < CLI_NELEM(cli_hand); i++)
		cli_all[n++] = cli_hand[i];
	for (size_t i = 0; i < CLI_NELEM(cli_gens); i++) {
		if (!(dm_classes[cli_gens[i].cls].flags & DMCF_TABLE))
			continue;
		cli_gen_build(&cli_gen_classes[i], &cli_gens[i]);
		cli_all[n++] = &cli_gen_classes[i];
	}
	while (n < CLI_NCLASSES)
		cli_all[n++] = NULL;
}

const struct cli_class *const *
cli_classes(size_t *n)
{
	size_t c = 0;

	pthread_once(&cli_once, cli_classes_init);
	while (c < CLI_NCLASSES && cli_all[c])
		c++;
	*n = c;
	return cli_all;
}

const struct cli_class *
cli_class_find(const char *name)
{
	size_t n;
	const struct cli_class *const *all = cli_classes(&n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}
