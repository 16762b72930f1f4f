/* cli_help: `xe help`, `xe help <command>...` and `xe help --all`
 * (cli_frontend.ml rio_help). */
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_cmd.h"
#include "util/xalloc.h"

static const char cli_vmsel_info[] =
	" VMs can be specified by filtering the full list of VMs on the values "
	"of zero or more fields. For example, specifying 'uuid=<some_uuid>' "
	"will select only the VM with that uuid, and 'power-state=halted' will "
	"select only VMs whose 'power-state' field is equal to 'halted'. The "
	"special pseudo-field 'vm' matches either of name-label or uuid. Where "
	"multiple VMs are matching, the option '--multiple' must be specified "
	"to perform the operation. The full list of fields that can be matched "
	"can be obtained by the command 'xe vm-list params=all'. If no "
	"parameters to select VMs are given, the operation will be performed "
	"on all VMs.";

static const char cli_hostsel_info[] =
	" Hosts can be specified by filtering the full list of hosts on the "
	"values of zero or more fields. For example, specifying "
	"'uuid=<some_uuid>' will select only the host with that uuid, and "
	"'enabled=true' will select only hosts whose 'enabled' field is equal "
	"to 'true'. The special pseudo-field 'host' matches any of hostname, "
	"name-label or uuid. Where multiple hosts are matching, and the "
	"operation can be performed on multiple hosts, the option '--multiple' "
	"must be specified to perform the operation. The full list of fields "
	"that can be matched can be obtained by the command 'xe host-list "
	"params=all'. If no parameters to select hosts are given, the "
	"operation will be performed on all hosts.";

static const char cli_srsel_info[] =
	" SRs can be specified by filtering the full list of SRs on the values "
	"of zero or more fields. For example, specifying 'uuid=<some_uuid>' "
	"will select only the sr with that uuid, and 'enabled=true' will "
	"select only srs whose 'enabled' field is equal to 'true'. The special "
	"pseudo-field 'sr' matches either of name-label or uuid. Where "
	"multiple SRs are matching, and the operation can be performed on "
	"multiple SRs, the option '--multiple' must be specified to perform "
	"the operation. The full list of fields that can be matched can be "
	"obtained by the command 'xe sr-list params=all'. If no parameters to "
	"select SRs are given, the operation will be performed on all SRs.";

static const char cli_usage[] =
	"Usage:\n"
	"  xe <command>\n"
	"    [ -s <server> ]            XenServer host\n"
	"    [ -p <port> ]              XenServer port number\n"
	"    [ -u <username> -pw <password> | -pwf <password file> ]\n"
	"                               User authentication (password or file)\n"
	"    [ --nossl ]                Disable SSL/TLS\n"
	"    [ --debug ]                Enable debug output\n"
	"    [ --debug-on-fail ]        Enable debug output only on failure\n"
	"    [ --traceparent <value> ]  Distributed tracing context\n"
	"    [ <other arguments> ... ]  Command-specific options\n"
	"\n"
	"To get help on a specific command:\n"
	"  xe help <command>\n"
	"\n";

/* Joins a NULL-terminated list with ", " into b. */
static void
cli_help_join(struct buf *b, const char *const *l, bool *first)
{
	for (size_t i = 0; l && l[i]; i++) {
		buf_addf(b, "%s%s", *first ? "" : ", ", l[i]);
		*first = false;
	}
}

/* The help table of one command. */
static void
cli_help_cmd(struct cli_ctx *ctx, const char *name)
{
	const struct cli_cmd *c = cli_cmd_find(name);
	struct cli_table_rec rec = {0};
	struct buf b = BUF_INIT;
	bool first = true;
	char *line;

	if (!c) {
		line = xasprintf("Unknown command '%s'", name);
		cli_out_line(ctx->out, line);
		free(line);
		return;
	}
	cli_rec_add(&rec, "command name        ", c->name);
	buf_adds(&b, "");
	cli_help_join(&b, c->reqd, &first);
	cli_rec_add(&rec, "reqd params     ", b.data);
	buf_reset(&b);
	first = true;
	cli_help_join(&b, c->optn, &first);
	if (c->flags & CLI_CMD_VM_SEL)
		cli_help_join(&b, (const char *const[]){"<vm-selectors>", NULL},
			      &first);
	if (c->flags & CLI_CMD_SR_SEL)
		cli_help_join(&b, (const char *const[]){"<sr-selectors>", NULL},
			      &first);
	if (c->flags & CLI_CMD_HOST_SEL)
		cli_help_join(&b,
			      (const char *const[]){"<host-selectors>", NULL},
			      &first);
	cli_rec_add(&rec, "optional params ", b.data);
	buf_reset(&b);
	buf_adds(&b, c->help);
	switch (c->flags & (CLI_CMD_VM_SEL | CLI_CMD_HOST_SEL | CLI_CMD_SR_SEL)) {
	case CLI_CMD_VM_SEL:
		buf_adds(&b, cli_vmsel_info);
		break;
	case CLI_CMD_HOST_SEL:
		buf_adds(&b, cli_hostsel_info);
		break;
	case CLI_CMD_SR_SEL:
		buf_adds(&b, cli_srsel_info);
		break;
	default:
		break;
	}
	cli_rec_add(&rec, "description     ", b.data);
	cli_out_table(ctx->out, &rec, 1);
	cli_rec_free(&rec);
	buf_free(&b);
}

/* make_list: names comma-joined on lines of at most ~74 characters,
 * indented by four spaces. */
static void
cli_help_make_list(struct cli_ctx *ctx, const char *const *names, size_t n)
{
	struct buf cur = BUF_INIT;

	buf_addf(&cur, "    %s", n ? names[0] : "");
	for (size_t i = 1; i < n; i++) {
		if (cur.len + strlen(names[i]) > 74) {
			cli_out_line(ctx->out, cur.data);
			buf_reset(&cur);
			buf_addf(&cur, "    %s", names[i]);
		} else {
			buf_addf(&cur, ", %s", names[i]);
		}
	}
	cli_out_line(ctx->out, cur.data);
	buf_free(&cur);
}

static int
cli_help_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Lists the commands whose names start with prefix (NULL: those not
 * starting with "host-" or "vm-"). */
static void
cli_help_group(struct cli_ctx *ctx, const char *const *names, size_t n,
	       const char *prefix)
{
	const char **sel = xcalloc(n + 1, sizeof(*sel));
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		bool host = strncmp(names[i], "host-", 5) == 0;
		bool vm = strncmp(names[i], "vm-", 3) == 0;

		if (prefix ? strncmp(names[i], prefix, strlen(prefix)) == 0
			   : !host && !vm)
			sel[k++] = names[i];
	}
	cli_help_make_list(ctx, sel, k);
	free(sel);
}

int
cli_help(struct cli_ctx *ctx)
{
	const struct cli_args *a = ctx->args;
	static const char *const skip[] = {"server", "username", "password",
					   "port",   "minimal",  "all"};
	const struct cli_cmd *const *all;
	const char **names;
	size_t n, k = 0, asked = 0;
	bool full = false, sk;

	for (size_t i = 0; i < a->n; i++) {
		sk = false;
		for (size_t j = 0; j < sizeof(skip) / sizeof(skip[0]); j++)
			sk = sk || strcmp(a->kv[i].k, skip[j]) == 0;
		if (!sk) {
			cli_help_cmd(ctx, a->kv[i].k);
			asked++;
		}
	}
	if (asked)
		return 0;
	all = cli_cmd_all(&n);
	names = xcalloc(n + 1, sizeof(*names));
	full = cli_args_get(a, "all") && strcmp(cli_args_get(a, "all"),
						"true") == 0;
	for (size_t i = 0; i < n; i++) {
		if (all[i]->flags & CLI_CMD_HIDDEN)
			continue;
		if (!full && !(all[i]->flags & CLI_CMD_STANDARD))
			continue;
		names[k++] = all[i]->name;
	}
	qsort(names, k, sizeof(*names), cli_help_cmp);
	if (ctx->out->minimal) {
		cli_out_list(ctx->out, names, k);
	} else if (full) {
		struct buf h = BUF_INIT;

		buf_adds(&h, cli_usage);
		buf_adds(&h, "Full command list\n-----------------\n");
		cli_out_line(ctx->out, h.data);
		buf_free(&h);
		cli_help_group(ctx, names, k, "host-");
		cli_help_make_list(ctx, (const char *const[]){""}, 1);
		cli_help_group(ctx, names, k, "vm-");
		cli_help_make_list(ctx, (const char *const[]){""}, 1);
		cli_help_group(ctx, names, k, NULL);
	} else {
		struct buf h = BUF_INIT;

		buf_adds(&h, cli_usage);
		buf_adds(&h, "To get a full listing of commands:\n"
			     "  xe help --all\n\nCommon command list\n"
			     "-------------------\n");
		cli_out_line(ctx->out, h.data);
		buf_free(&h);
		cli_help_make_list(ctx, names, k);
	}
	free(names);
	return 0;
}
