/* Unit tests for the CLI records (src/rpc/cli_fields.c, cli_rec_*.c),
 * filters (cli_select.c) and the command table (cli_cmdtab.c), over an
 * in-memory store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/cli_cmd.h"
#include "rpc/cli_select.h"
#include "util/xalloc.h"

#define U_VM "11111111-1111-1111-1111-111111111111"
#define U_HOST "22222222-2222-2222-2222-222222222222"
#define U_MET "33333333-3333-3333-3333-333333333333"
#define U_NET "44444444-4444-4444-4444-444444444444"
#define U_VIF "55555555-5555-5555-5555-555555555555"
#define U_TPL "66666666-6666-6666-6666-666666666666"

static union dm_val
s(const char *v)
{
	return (union dm_val){.s = xstrdup(v)};
}

/* A map or set of strings: n values (2n for a map). */
static union dm_val
coll(size_t n, int map, ...)
{
	struct dm_coll *c = dmc_new(n);
	va_list ap;

	va_start(ap, map);
	for (size_t i = 0; i < (map ? 2 * n : n); i++)
		c->v[i].s = xstrdup(va_arg(ap, const char *));
	va_end(ap);
	return (union dm_val){.c = c};
}

static int
setup(void **state)
{
	char *err = NULL;
	struct db_txn *t;
	struct db_row *r;

	(void)state;
	if (db_open(NULL, &err) < 0)
		return -1;
	t = db_txn_begin();
	r = db_txn_create(t, DMC_host, "OpaqueRef:host", U_HOST);
	db_txn_set(t, r, DMF_host_name_label, s("xs1"));
	r = db_txn_create(t, DMC_VM_metrics, "OpaqueRef:met", U_MET);
	db_txn_set(t, r, DMF_VM_metrics_memory_actual, (union dm_val){.i = 1234});
	r = db_txn_create(t, DMC_VM, "OpaqueRef:vm", U_VM);
	db_txn_set(t, r, DMF_VM_name_label, s("web01"));
	db_txn_set(t, r, DMF_VM_power_state, s("Halted"));
	db_txn_set(t, r, DMF_VM_resident_on, s("OpaqueRef:host"));
	db_txn_set(t, r, DMF_VM_metrics, s("OpaqueRef:met"));
	db_txn_set(t, r, DMF_VM_other_config, coll(2, 1, "b", "2", "a", "1"));
	db_txn_set(t, r, DMF_VM_tags, coll(2, 0, "t1", "t2"));
	db_txn_set(t, r, DMF_VM_actions_after_crash,
		   s("coredump_and_restart"));
	r = db_txn_create(t, DMC_VM, "OpaqueRef:tpl", U_TPL);
	db_txn_set(t, r, DMF_VM_name_label, s("Debian"));
	db_txn_set(t, r, DMF_VM_is_a_template, (union dm_val){.b = true});
	r = db_txn_create(t, DMC_network, "OpaqueRef:net", U_NET);
	db_txn_set(t, r, DMF_network_name_label, s("net0"));
	r = db_txn_create(t, DMC_VIF, "OpaqueRef:vif", U_VIF);
	db_txn_set(t, r, DMF_VIF_VM, s("OpaqueRef:vm"));
	db_txn_set(t, r, DMF_VIF_network, s("OpaqueRef:net"));
	db_txn_set(t, r, DMF_VIF_MAC, s("AA:BB:CC:00:11:22"));
	db_txn_set(t, r, DMF_VIF_device, s("0"));
	return db_txn_commit(t, &err);
}

static int
teardown(void **state)
{
	(void)state;
	db_close();
	return 0;
}

/* The text of field name of the row ref of CLI class cname. */
static char *
text(const char *cname, const char *ref, const char *name)
{
	const struct cli_class *c = cli_class_find(cname);
	const struct cli_fdef *f;
	struct buf b = BUF_INIT;

	assert_non_null(c);
	f = cli_field_find(c, name);
	assert_non_null(f);
	db_rdlock();
	cli_field_text(c, f, db_get(c->cls, ref), &b);
	db_unlock();
	return buf_steal(&b);
}

#define assert_text(cname, ref, name, want)                                    \
	do {                                                                   \
		char *t_ = text(cname, ref, name);                             \
		assert_string_equal(t_, want);                                 \
		free(t_);                                                      \
	} while (0)

static void
test_cli_records_text(void **state)
{
	(void)state;
	assert_text("vm", "OpaqueRef:vm", "uuid", U_VM);
	assert_text("vm", "OpaqueRef:vm", "power-state", "halted");
	assert_text("vm", "OpaqueRef:vm", "resident-on", U_HOST);
	assert_text("vm", "OpaqueRef:vm", "affinity", "<not in database>");
	assert_text("vm", "OpaqueRef:vm", "other-config", "b: 2; a: 1");
	assert_text("vm", "OpaqueRef:vm", "tags", "t1, t2");
	assert_text("vm", "OpaqueRef:vm", "memory-actual", "1234");
	assert_text("vm", "OpaqueRef:vm", "os-version", "<not in database>");
	assert_text("vm", "OpaqueRef:vm", "start-time", "19700101T00:00:00Z");
	assert_text("vm", "OpaqueRef:tpl", "start-time", "<unknown time>");
	assert_text("vm", "OpaqueRef:vm", "HVM-shadow-multiplier", "1.000");
	assert_text("vm", "OpaqueRef:vm", "actions-after-crash",
		    "Core dump and restart");
	assert_text("vm", "OpaqueRef:vm", "is-a-template", "false");
	assert_text("vm", "OpaqueRef:vm", "VCPUs-max", "0");
	assert_text("vm", "OpaqueRef:tpl", "hvm", "false");
	assert_text("vif", "OpaqueRef:vif", "vm-uuid", U_VM);
	assert_text("vif", "OpaqueRef:vif", "vm-name-label", "web01");
	assert_text("vif", "OpaqueRef:vif", "network-name-label", "net0");
	assert_text("network", "OpaqueRef:net", "VIF-uuids", U_VIF);
	assert_text("host", "OpaqueRef:host", "memory-total",
		    "<not in database>");
}

static void
test_cli_records_markers(void **state)
{
	const struct cli_class *vm = cli_class_find("vm");

	(void)state;
	assert_string_equal(cli_field_marker(cli_field_find(vm, "uuid")),
			    " ( RO)");
	assert_string_equal(cli_field_marker(cli_field_find(vm, "name-label")),
			    " ( RW)");
	assert_string_equal(cli_field_marker(cli_field_find(vm, "tags")),
			    " (SRW)");
	assert_string_equal(
		cli_field_marker(cli_field_find(vm, "allowed-operations")),
		" (SRO)");
	assert_string_equal(
		cli_field_marker(cli_field_find(vm, "other-config")), " (MRW)");
	assert_string_equal(cli_field_marker(cli_field_find(vm, "os-version")),
			    " (MRO)");
	/* a ref set without set semantics in records.ml */
	assert_string_equal(cli_field_marker(cli_field_find(vm, "snapshots")),
			    " ( RO)");
}

/* Filters every VM row (templates included) by key=value. */
static int
filter(const char *cname, const char *key, const char *value, size_t *n,
       char **err)
{
	const struct cli_class *c = cli_class_find(cname);
	struct db_row **rows;
	int rc;

	*err = NULL;
	db_rdlock();
	rows = db_list(c->cls, n);
	rc = cli_filter_rows(c, rows, n, key, value, err);
	db_unlock();
	free(rows);
	return rc;
}

static void
test_cli_records_filters(void **state)
{
	size_t n;
	char *err;

	(void)state;
	assert_int_equal(filter("vm", "power-state", "halted", &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(filter("vm", "name-label", "web01", &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(filter("vm", "other-config:a", "1", &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(filter("vm", "other-config-a", "1", &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(filter("vm", "other-config:a", "2", &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(filter("vm", "tags:contains", "t2", &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(filter("vif", "MAC", "aa:bb:cc:00:11:22", &n, &err),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(filter("vm", "resident-on", U_HOST, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(filter("vm", "nosuch", "1", &n, &err), -1);
	assert_string_equal(err, "Unknown field 'nosuch'");
	free(err);
	assert_int_equal(filter("vm", "name-label:x", "1", &n, &err), -1);
	assert_string_equal(err, "Field 'name-label' is not a set or map");
	free(err);
	assert_int_equal(filter("vm", "tags:has", "t1", &n, &err), -1);
	assert_string_equal(err, "Invalid syntax for set filtering (should be "
				 "set-param:contains=key)");
	free(err);
	/* no rows: never an error */
	assert_int_equal(filter("pif", "nosuch", "1", &n, &err), 0);
	assert_int_equal(n, 0);
}

/* Every settable field has its message in the datamodel. */
static void
test_cli_records_setters(void **state)
{
	const struct cli_class *const *all;
	size_t n;
	char name[200];
	int bad = 0;

	(void)state;
	all = cli_classes(&n);
	assert_true(n > 40);
	for (size_t i = 0; i < n; i++) {
		const struct cli_class *c = all[i];
		const struct dm_class *dc = &dm_classes[c->cls];

		for (size_t j = 0; j < c->nfields; j++) {
			const struct cli_fdef *f = &c->fields[j];
			const char *fn = f->fi >= 0 && f->via < 0
						 ? dc->fields[f->fi].name
						 : "?";

			if (f->flags & (CLIF_RW | CLIF_SETMAP | CLIF_CLEARMAP)) {
				snprintf(name, sizeof(name), "%s",
					 f->msg ? f->msg : "");
				if (!f->msg)
					snprintf(name, sizeof(name), "set_%s",
						 fn);
				/* hidden from xapi's docs, so not in the
				 * published API the datamodel comes from */
				if (strcmp(name, "set_is_default_template") ==
				    0)
					continue;
				if (!dm_message_find(c->cls, name)) {
					print_error("missing %s.%s (%s %s)\n",
						    dc->name, name, c->name,
						    f->name);
					bad++;
				}
			}
			if (f->flags & CLIF_SETINMAP)
				assert_non_null(dm_message_find(c->cls, f->msg));
			if (f->flags & CLIF_MAPRW) {
				snprintf(name, sizeof(name), "add_to_%s", fn);
				bad += !dm_message_find(c->cls, name);
				snprintf(name, sizeof(name), "remove_from_%s",
					 fn);
				bad += !dm_message_find(c->cls, name);
			}
			if (f->flags & CLIF_SETRW) {
				snprintf(name, sizeof(name), "%s",
					 f->add ? f->add : "");
				if (!f->add)
					snprintf(name, sizeof(name), "add_%s",
						 fn);
				if (!dm_message_find(c->cls, name)) {
					print_error("missing %s.%s\n", dc->name,
						    name);
					bad++;
				}
				snprintf(name, sizeof(name), "%s",
					 f->remove ? f->remove : "");
				if (!f->remove)
					snprintf(name, sizeof(name),
						 "remove_%s", fn);
				if (!dm_message_find(c->cls, name)) {
					print_error("missing %s.%s\n", dc->name,
						    name);
					bad++;
				}
			}
		}
	}
	assert_int_equal(bad, 0);
}

static void
test_cli_records_commands(void **state)
{
	const struct cli_cmd *const *all;
	const struct cli_cmd *c;
	size_t n;

	(void)state;
	assert_non_null(cli_cmd_find("vm-install"));
	c = cli_cmd_find("vm-list");
	assert_non_null(c);
	assert_true(c->flags & CLI_CMD_STANDARD);
	assert_ptr_equal(c->cls, cli_class_find("vm"));
	c = cli_cmd_find("template-param-set");
	assert_non_null(c);
	assert_string_equal(c->reqd[0], "uuid");
	assert_non_null(cli_cmd_find("host-cpu-list"));
	assert_non_null(cli_cmd_find("pool-param-set"));
	assert_non_null(cli_cmd_find("sm-list"));
	/* VLANs have nothing settable, addable or clearable */
	assert_null(cli_cmd_find("vlan-param-set"));
	assert_null(cli_cmd_find("vlan-param-add"));
	assert_null(cli_cmd_find("vlan-param-clear"));
	assert_non_null(cli_cmd_find("vlan-param-get"));
	assert_null(cli_cmd_find("help"));
	/* names are unique */
	all = cli_cmd_all(&n);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(all[i]->name, all[j]->name) == 0)
				fail_msg("duplicate command %s", all[i]->name);
	assert_string_equal(cli_class_find("patch")->plural, "patches");
}

/* Runs a selector over a parsed command line. */
static int
select_run(const char *body, int which, char ***refs, size_t *n,
	   char **err)
{
	struct cli_args a;
	struct cli_ctx ctx = {0};
	int rc;

	assert_int_equal(cli_args_parse(&a, body, strlen(body)), 0);
	ctx.args = &a;
	rc = which == 0	  ? cli_do_vm_select(&ctx, true, NULL, refs, n)
	     : which == 1 ? cli_do_host_select(&ctx, false, NULL, refs, n)
			  : cli_select_vms(&ctx, true, true, NULL, refs, n);
	*err = ctx.emsg ? xstrdup(ctx.emsg) : NULL;
	cli_fail_clear(&ctx);
	cli_args_free(&a);
	return rc;
}

static void
test_cli_records_selectors(void **state)
{
	char **refs, *err;
	size_t n;

	(void)state;
	assert_int_equal(select_run("vm-x\nvm=web01", 0, &refs, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(refs[0], "OpaqueRef:vm");
	cli_refs_free(refs, n);
	assert_int_equal(select_run("vm-x\nvm=" U_VM "\n--force", 0, &refs, &n,
				    &err),
			 0);
	assert_int_equal(n, 1);
	cli_refs_free(refs, n);
	/* templates are not selected unless asked for */
	assert_int_equal(select_run("vm-x\nvm=Debian", 0, &refs, &n, &err),
			 -1);
	assert_string_equal(err, "No matching VMs found");
	free(err);
	assert_int_equal(select_run("vm-x\nvm=Debian", 2, &refs, &n, &err), 0);
	assert_int_equal(n, 1);
	cli_refs_free(refs, n);
	assert_int_equal(select_run("vm-x\npower-state=halted\nmultiple=maybe",
				    2, &refs, &n, &err),
			 0);
	assert_int_equal(n, 2);
	cli_refs_free(refs, n);
	assert_int_equal(select_run("vm-x\nnosuch=1", 0, &refs, &n, &err), -1);
	assert_string_equal(err, "Unknown field 'nosuch'");
	free(err);
	assert_int_equal(select_run("host-x\nhost=xs1", 1, &refs, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(refs[0], "OpaqueRef:host");
	cli_refs_free(refs, n);
	assert_int_equal(select_run("host-x\nhost=nope", 1, &refs, &n, &err),
			 -1);
	assert_string_equal(err, "No matching hosts found");
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_records_text),
		cmocka_unit_test(test_cli_records_markers),
		cmocka_unit_test(test_cli_records_filters),
		cmocka_unit_test(test_cli_records_setters),
		cmocka_unit_test(test_cli_records_commands),
		cmocka_unit_test(test_cli_records_selectors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
