/*
 * cli_cmds_metrics: the xe commands over a VM's data sources
 * (cli_operations.ml vm_data_source_list, _record, _query, _forget):
 * one VM chosen by the selectors (control domains included), then
 * VM.get_data_sources / record_data_source / query_data_source /
 * forget_data_source_archives.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_gen.h"
#include "rpc/cli_vmop.h"
#include "util/xalloc.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* OCaml's string_of_float: "%.12g", with a "." when it reads as an
 * integer; "inf", "-inf", "nan". */
static void
cli_ocaml_float(double f, char out[40])
{
	if (isnan(f)) {
		snprintf(out, 40, "nan");
		return;
	}
	if (isinf(f)) {
		snprintf(out, 40, f > 0 ? "inf" : "-inf");
		return;
	}
	int n = snprintf(out, 40, "%.12g", f);
	if (strspn(out, "-0123456789") == (size_t)n)
		snprintf(out + n, 40 - (size_t)n, ".");
}

static const char *
cli_ds_str(const xv *ds, const char *k)
{
	const xv *v = xv_get(ds, k);
	return v && v->type == XV_STRING ? v->u.s : "";
}

static double
cli_ds_float(const xv *ds, const char *k)
{
	const xv *v = xv_get(ds, k);
	if (v && v->type == XV_FLOAT)
		return v->u.f;
	if (v && v->type == XV_INT)
		return (double)v->u.i;
	if (v && v->type == XV_STRING)
		return strtod(v->u.s, NULL); /* "inf" as XML-RPC carries it */
	return 0;
}

static int
cli_ds_list_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	xv *res = NULL;
	(void)arg;
	if (cli_call(ctx, "VM.get_data_sources", &res, xv_str(vm), NULL) < 0)
		return -1;
	size_t n = res->type == XV_ARRAY ? res->u.a.n : 0;
	struct cli_table_rec *recs = xcalloc(n + 1, sizeof(*recs));
	for (size_t i = 0; i < n; i++) {
		const xv *ds = res->u.a.items[i];
		const xv *b;
		char f[40];
		cli_rec_add(&recs[i], "name_label", cli_ds_str(ds, "name_label"));
		cli_rec_add(&recs[i], "name_description", cli_ds_str(ds, "name_description"));
		b = xv_get(ds, "enabled");
		cli_rec_add(&recs[i], "enabled", b && b->type == XV_BOOL && b->u.b ? "true" : "false");
		b = xv_get(ds, "standard");
		cli_rec_add(&recs[i], "standard", b && b->type == XV_BOOL && b->u.b ? "true" : "false");
		cli_ocaml_float(cli_ds_float(ds, "min"), f);
		cli_rec_add(&recs[i], "min", f);
		cli_ocaml_float(cli_ds_float(ds, "max"), f);
		cli_rec_add(&recs[i], "max", f);
		cli_rec_add(&recs[i], "units", cli_ds_str(ds, "units"));
	}
	cli_out_table(ctx->out, recs, n);
	cli_records_free(recs, n);
	xv_free(res);
	return 0;
}

static int
cli_ds_query_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	xv *res = NULL;
	char line[64];
	(void)arg;
	if (cli_call(ctx, "VM.query_data_source", &res, xv_str(vm),
		     xv_str(cli_param(ctx, "data-source")), NULL) < 0)
		return -1;
	double v = res->type == XV_FLOAT ? res->u.f
		   : res->type == XV_INT ? (double)res->u.i
		   : res->type == XV_STRING ? strtod(res->u.s, NULL) : 0;
	snprintf(line, sizeof(line), "%f", v);
	cli_out_line(ctx->out, line);
	xv_free(res);
	return 0;
}

static int
cli_ds_method_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	return cli_call(ctx, arg, NULL, xv_str(vm),
			xv_str(cli_param(ctx, "data-source")), NULL);
}

static int
cli_cmd_vm_ds_list(struct cli_ctx *ctx)
{
	struct cli_vm_op op = {true, false, false, NULL, cli_ds_list_one, NULL};
	return cli_do_vm_op(ctx, &op);
}

static int
cli_cmd_vm_ds_query(struct cli_ctx *ctx)
{
	struct cli_vm_op op = {true, false, false, L("data-source"), cli_ds_query_one, NULL};
	return cli_do_vm_op(ctx, &op);
}

static int
cli_cmd_vm_ds_record(struct cli_ctx *ctx)
{
	struct cli_vm_op op = {true, false, false, L("data-source"), cli_ds_method_one,
			       (void *)"VM.record_data_source"};
	return cli_do_vm_op(ctx, &op);
}

static int
cli_cmd_vm_ds_forget(struct cli_ctx *ctx)
{
	struct cli_vm_op op = {true, false, false, L("data-source"), cli_ds_method_one,
			       (void *)"VM.forget_data_source_archives"};
	return cli_do_vm_op(ctx, &op);
}

/* cli_frontend.ml cmdtable_data: flags [Vm_selectors] (not standard). */
const struct cli_cmd cli_metrics_cmds[] = {
	{"vm-data-source-list", NULL, NULL,
	 "List the data sources that can be recorded for a VM.",
	 cli_cmd_vm_ds_list, CLI_CMD_VM_SEL, NULL},
	{"vm-data-source-record", L("data-source"), NULL,
	 "Record the specified data source for a VM.",
	 cli_cmd_vm_ds_record, CLI_CMD_VM_SEL, NULL},
	{"vm-data-source-query", L("data-source"), NULL,
	 "Query the last value read from a VM data source.",
	 cli_cmd_vm_ds_query, CLI_CMD_VM_SEL, NULL},
	{"vm-data-source-forget", L("data-source"), NULL,
	 "Stop recording the specified data source for a VM, and forget all "
	 "of the recorded data.",
	 cli_cmd_vm_ds_forget, CLI_CMD_VM_SEL, NULL},
};

const size_t cli_metrics_ncmds = sizeof(cli_metrics_cmds) / sizeof(cli_metrics_cmds[0]);
