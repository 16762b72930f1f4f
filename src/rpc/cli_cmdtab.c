/* cli_cmdtab: the xe command table (cli_frontend.ml cmdtable_data plus the
 * generated class commands of cli_operations.ml gen_cmds) and `xe help`. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_cmd.h"
#include "util/xalloc.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct cli_cmd cli_explicit[] = {
    {"vm-install", L("new-name-label"),
     L("sr-name-label", "sr-uuid", "template", "copy-bios-strings-from"),
     "Install a new VM from a template. The template parameter can match "
     "either the template name or the uuid.",
     cli_cmd_vm_install, CLI_CMD_STANDARD, NULL},
    {"vm-uninstall", NULL, L("force"),
     "Uninstall a VM. This operation will destroy those VDIs that are "
     "marked RW and connected to this VM only. To simply destroy the VM "
     "record, use vm-destroy.",
     cli_cmd_vm_uninstall, CLI_CMD_STANDARD | CLI_CMD_VM_SEL | CLI_CMD_FD,
     NULL},
    {"snapshot-uninstall", NULL, L("uuid", "snapshot-uuid", "force"),
     "Uninstall a snapshot. This operation will destroy those VDIs that "
     "are marked RW and connected to this snapshot only. To simply "
     "destroy the VM record, use snapshot-destroy.",
     cli_cmd_snapshot_uninstall, CLI_CMD_STANDARD | CLI_CMD_FD, NULL},
    {"vm-destroy", L("uuid"), NULL,
     "Destroy a VM. This leaves the storage associated with the VM intact. "
     "To delete storage too, use vm-uninstall.",
     cli_cmd_vm_destroy, 0, NULL},
    {"vm-vif-list", NULL, NULL, "List the VIFs present on selected VM.",
     cli_cmd_vm_vif_list, CLI_CMD_STANDARD | CLI_CMD_VM_SEL, NULL},
    {"network-create", L("name-label"),
     L("name-description", "MTU", "bridge", "managed"), "Create a new network.",
     cli_cmd_network_create, 0, NULL},
    {"network-destroy", L("uuid"), NULL, "Delete an existing network.",
     cli_cmd_network_destroy, 0, NULL},
    {"message-create", L("name", "priority", "body"),
     L("vm-uuid", "host-uuid", "sr-uuid", "pool-uuid"),
     "Create a message associated with a particular API object. Note "
     "exactly one of the optional parameters must be supplied.",
     cli_cmd_message_create, 0, NULL},
    {"message-destroy", NULL, L("uuid", "uuids"),
     "Destroy one existing message or many", cli_cmd_message_destroy, 0, NULL},
    {"vdi-create", L("sr-uuid", "name-label", "virtual-size"),
     L("sm-config:", "sharable", "tags:", "type"),
     "Create a VDI. Type is 'system' 'user' 'suspend' or 'crashdump'.",
     cli_cmd_vdi_create, 0, NULL},
    {"vbd-create", L("vm-uuid", "device"),
     L("vdi-uuid", "bootable", "type", "mode", "unpluggable"),
     "Create a VBD. Appropriate values for the device field are listed in "
     "the parameter 'allowed-VBD-devices' on the VM. If no VDI is "
     "specified, an empty VBD will be created. The type parameter can be "
     "'Disk', 'CD' or 'Floppy', and the mode is 'RO' or 'RW'.",
     cli_cmd_vbd_create, 0, NULL},
    {"vif-create", L("device", "network-uuid", "vm-uuid"), L("mac"),
     "Create a VIF. Appropriate values for the device are listed in the "
     "parameter 'allowed-VIF-devices' on the VM. If specified, the MAC "
     "parameter is of the form aa:bb:cc:dd:ee:ff. If MAC is not specified "
     "the server will choose an appropriate MAC automatically.",
     cli_cmd_vif_create, 0, NULL},
    {"task-cancel", L("uuid"), NULL, "Set a task to cancelling and return.",
     cli_cmd_task_cancel, 0, NULL},
    {"event-wait", L("class"), NULL,
     "Wait for the event that satisfies the conditions given on the "
     "command line.",
     cli_cmd_event_wait, 0, NULL},
    {"pool-dump-database", L("file-name"), NULL,
     "Download a dump of the pool database.", cli_cmd_pool_dump_db, CLI_CMD_FD,
     NULL},
    {"pool-join", L("master-address", "master-username", "master-password"),
     L("force"), "Instruct host to join an existing pool.", cli_cmd_pool_join,
     0, NULL},
    {"pool-eject", L("host-uuid"), L("force"),
     "Instruct host to leave an existing pool.", cli_cmd_pool_eject, CLI_CMD_FD,
     NULL},
    {"pool-designate-new-master", L("host-uuid"), NULL,
     "Request an orderly handover of the role of master to another host.",
     cli_cmd_pool_designate, 0, NULL},
    {"host-forget", L("uuid"), L("force"),
     "Forget about the host without contacting it explicitly. WARNING: "
     "this call is useful if the host to 'forget' is dead; however, if the "
     "host is live and part of the pool, you should consider using "
     "pool-eject instead.",
     cli_cmd_host_forget, CLI_CMD_FD, NULL},
    {"host-is-in-emergency-mode", NULL, NULL,
     "Query the target host to discover if it is in emergency mode.",
     cli_cmd_host_emergency, 0, NULL},
    {"pool-emergency-reset-master", L("master-address"), NULL,
     "Instruct slave to reset master address.", cli_cmd_pool_emergency_reset, 0,
     NULL},
    {"pool-emergency-transition-to-master", NULL, L("force"),
     "Instruct slave to become pool master. The operation will be ignored "
     "if this host is already master; the optional parameter '--force' "
     "will force the operation.",
     cli_cmd_pool_emergency_master, 0, NULL},
    {"pool-recover-slaves", NULL, NULL,
     "Instruct master to try and reset master-address of all slaves "
     "currently running in emergency mode.",
     cli_cmd_pool_recover_slaves, 0, NULL},
    {"pool-restore-database", L("file-name"), L("dry-run"),
     "Restore a dump of the pool database to the server.",
     cli_cmd_pool_restore_db, CLI_CMD_FD, NULL},
};

#define CLI_NEXPLICIT (sizeof(cli_explicit) / sizeof(cli_explicit[0]))

/* Parameter lists of the generated commands (static storage). */
static const char *const cli_p_uuid[] = {"uuid", NULL};
static const char *const cli_p_uuid_name[] = {"uuid", "param-name", NULL};
static const char *const cli_p_uuid_name_key[] = {"uuid", "param-name",
						  "param-key", NULL};
static const char *const cli_p_database[] = {"database:", NULL};
static const char *const cli_p_key_database[] = {"param-key", "database:",
						 NULL};
static const char *const cli_p_key[] = {"param-key", NULL};

static const struct cli_cmd **cli_table;
static size_t cli_ntable;
static pthread_once_t cli_table_once = PTHREAD_ONCE_INIT;

/* Commands registered by other modules, folded in when the table is
 * built. */
static const struct cli_cmd **cli_extra;
static size_t cli_nextra;
static pthread_mutex_t cli_extra_lock = PTHREAD_MUTEX_INITIALIZER;

/* A growable NULL-terminated list of strings (names owned elsewhere or
 * leaked with the table, which lives as long as the process). */
struct cli_strl {
	const char **v;
	size_t n;
};

static void
cli_strl_add(struct cli_strl *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 2) * sizeof(*l->v));
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
}

/* Appends c unless a command of that name is already in. */
static void
cli_table_add(const struct cli_cmd *c)
{
	for (size_t i = 0; i < cli_ntable; i++)
		if (strcmp(cli_table[i]->name, c->name) == 0)
			return;
	cli_table = xrealloc(cli_table, (cli_ntable + 1) * sizeof(*cli_table));
	cli_table[cli_ntable++] = c;
}

/* Adds one generated command of class c. */
static void
cli_gen_add(const struct cli_class *c, const char *op,
	    const char *const *reqd, const char *const *optn, char *help,
	    cli_cmd_fn fn, unsigned flags)
{
	struct cli_cmd *cmd = xcalloc(1, sizeof(*cmd));

	cmd->name = xasprintf("%s-%s", c->name, op);
	cmd->reqd = reqd;
	cmd->optn = optn;
	cmd->help = help;
	cmd->fn = fn;
	cmd->flags = flags;
	cmd->cls = c;
	cli_table_add(cmd);
}

/* The commands xapi generates for class c (make_param_funs). */
static void
cli_gen_class(const struct cli_class *c)
{
	struct cli_strl all = {0}, settable = {0}, sets = {0}, clear = {0};
	bool addable = false;
	struct buf h = BUF_INIT;
	bool std;

	cli_strl_add(&all, "params");
	cli_strl_add(&all, "database:");
	for (size_t i = 0; i < c->nfields; i++) {
		const struct cli_fdef *f = &c->fields[i];

		if (f->flags & CLIF_HIDDEN)
			continue;
		cli_strl_add(&all, f->name);
		if (f->flags & CLIF_RW)
			cli_strl_add(&settable, f->name);
		if (cli_field_is_set(f))
			cli_strl_add(&sets, xasprintf("%s:contains", f->name));
		if (f->flags & (CLIF_SETRW | CLIF_MAPRW))
			addable = true;
		if ((f->flags & CLIF_RW) || cli_field_is_set(f) ||
		    cli_field_is_map(f))
			cli_strl_add(&clear, f->name);
	}
	for (size_t i = 0; i < c->nfields; i++) {
		const struct cli_fdef *f = &c->fields[i];

		if (!(f->flags & CLIF_HIDDEN) &&
		    (f->flags & (CLIF_MAPRW | CLIF_SETINMAP | CLIF_SETMAP)))
			cli_strl_add(&settable, xasprintf("%s:", f->name));
	}
	for (size_t i = 0; i < sets.n; i++)
		cli_strl_add(&all, sets.v[i]);
	free(sets.v);
	std = strcmp(c->name, "vm") == 0 || strcmp(c->name, "network") == 0 ||
	      strcmp(c->name, "sr") == 0;
	if (settable.n)
		cli_gen_add(c, "param-set", cli_p_uuid, settable.v,
			    xstrdup("Sets the parameter specified. If "
				    "param-value is not given, the parameter "
				    "is set to a null value. To set a "
				    "(key,value) pair in a map parameter, use "
				    "the syntax 'map-param:key=value'."),
			    cli_gen_param_set, 0);
	cli_gen_add(c, "list", NULL, all.v,
		    xasprintf("Lists all the %s, filtering on the optional "
			      "arguments. To filter on map parameters, use the "
			      "syntax 'map-param:key=value'",
			      c->plural),
		    cli_gen_list, std ? CLI_CMD_STANDARD : 0);
	cli_gen_add(c, "param-list", cli_p_uuid, cli_p_database,
		    xstrdup("Lists all the parameters of the object specified "
			    "by the uuid."),
		    cli_gen_param_list, 0);
	cli_gen_add(c, "param-get", cli_p_uuid_name, cli_p_key_database,
		    xstrdup("Gets the parameter specified of the object. If "
			    "the parameter is a map of key=value pairs, use "
			    "'param-key=<key>' to get the value associated "
			    "with a particular key."),
		    cli_gen_param_get, 0);
	if (addable) {
		cli_gen_add(c, "param-add", cli_p_uuid_name, cli_p_key,
			    xstrdup("Adds to a set or map parameter. If the "
				    "parameter is a set, use param-key=<key to "
				    "add>. If the parameter is a map, pass the "
				    "values to add as 'key=value' pairs."),
			    cli_gen_param_add, 0);
		cli_gen_add(c, "param-remove", cli_p_uuid_name_key, NULL,
			    xstrdup("Removes a member or a key,value pair from "
				    "a set/map respectively."),
			    cli_gen_param_remove, 0);
	}
	if (clear.n) {
		buf_adds(&h, "Clears the specified parameter (param-name can "
			     "be ");
		for (size_t i = 0; i < clear.n; i++)
			buf_addf(&h, "%s%s", i ? "," : "", clear.v[i]);
		buf_adds(&h, ").");
		cli_gen_add(c, "param-clear", cli_p_uuid_name, NULL,
			    buf_steal(&h), cli_gen_param_clear, 0);
	}
	free(clear.v);
}

void
cli_cmd_register(const struct cli_cmd *cmds, size_t n)
{
	pthread_mutex_lock(&cli_extra_lock);
	cli_extra = xrealloc(cli_extra, (cli_nextra + n) * sizeof(*cli_extra));
	for (size_t i = 0; i < n; i++)
		cli_extra[cli_nextra++] = &cmds[i];
	pthread_mutex_unlock(&cli_extra_lock);
}

static void
cli_table_init(void)
{
	const struct cli_class *const *classes;
	size_t n;

	for (size_t i = 0; i < CLI_NEXPLICIT; i++)
		cli_table_add(&cli_explicit[i]);
	for (size_t i = 0; i < cli_power_ncmds; i++)
		cli_table_add(&cli_power_cmds[i]);
	for (size_t i = 0; i < cli_dev_ncmds; i++)
		cli_table_add(&cli_dev_cmds[i]);
	for (size_t i = 0; i < cli_sr_ncmds; i++)
		cli_table_add(&cli_sr_cmds[i]);
	for (size_t i = 0; i < cli_metrics_ncmds; i++)
		cli_table_add(&cli_metrics_cmds[i]);
	for (size_t i = 0; i < cli_mem_ncmds; i++)
		cli_table_add(&cli_mem_cmds[i]);
	for (size_t i = 0; i < cli_host_ncmds; i++)
		cli_table_add(&cli_host_cmds[i]);
	for (size_t i = 0; i < cli_xva_ncmds; i++)
		cli_table_add(&cli_xva_cmds[i]);
	pthread_mutex_lock(&cli_extra_lock);
	for (size_t i = 0; i < cli_nextra; i++)
		cli_table_add(cli_extra[i]);
	pthread_mutex_unlock(&cli_extra_lock);
	classes = cli_classes(&n);
	for (size_t i = 0; i < n; i++)
		cli_gen_class(classes[i]);
}

const struct cli_cmd *const *
cli_cmd_all(size_t *n)
{
	pthread_once(&cli_table_once, cli_table_init);
	*n = cli_ntable;
	return cli_table;
}

const struct cli_cmd *
cli_cmd_find(const char *name)
{
	size_t n;
	const struct cli_cmd *const *all = cli_cmd_all(&n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}
