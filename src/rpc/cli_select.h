/*
 * cli_select: choosing records by field filters, as xapi's
 * filter_records_on_fields and the VM selectors (select_vms, do_vm_op) do.
 *
 * A filter key names a field ("power-state=halted": the shown text must be
 * equal), a map key ("other-config:foo=bar", or the legacy
 * "other-config-foo=bar"), or set membership ("tags:contains=x"). Fields
 * marked case-insensitive (MAC) compare ignoring case. Filtering an empty
 * list never fails; otherwise an unknown field fails with "Unknown field
 * '<key>'".
 */
#ifndef XAPID_RPC_CLI_SELECT_H
#define XAPID_RPC_CLI_SELECT_H

#include <stddef.h>

#include "rpc/cli_cmd.h"

enum cli_ftype { CLI_FT_NORMAL, CLI_FT_MAP, CLI_FT_SET };

/*
 * How key is read against class c (xapi's get_field_type): sets *f to the
 * field and returns its kind, or returns -1 with a malloc'd message in
 * *err ("Unknown field 'k'", "Field 'f' is not a set or map").
 */
int cli_field_kind(const struct cli_class *c, const char *key,
		   const struct cli_fdef **f, char **err);

/*
 * Keeps in rows[0..*n) (rows of class c, read lock held) those matching
 * key=value, preserving order. Returns 0, or -1 with a malloc'd message in
 * *err.
 */
int cli_filter_rows(const struct cli_class *c, struct db_row **rows,
		    size_t *n, const char *key, const char *value, char **err);

/*
 * Selects VMs as xapi's select_vms: not control domains unless
 * include_control, not templates unless include_templates, vm=<uuid or
 * name-label>, then every parameter as a filter except the standard ones,
 * "params" and those in ignore (NULL-terminated, matched on the part
 * before ':'). Returns 0 with a malloc'd array of malloc'd refs, or -1
 * after recording the failure.
 */
int cli_select_vms(struct cli_ctx *ctx, bool include_control,
		   bool include_templates, const char *const *ignore,
		   char ***refs, size_t *n);

/* select_hosts: host=<uuid, hostname or name-label>, then filters as
 * above; select_srs: sr=<uuid or name-label>. */
int cli_select_hosts(struct cli_ctx *ctx, const char *const *ignore,
		     char ***refs, size_t *n);
int cli_select_srs(struct cli_ctx *ctx, const char *const *ignore,
		   char ***refs, size_t *n);

/*
 * xapi's do_vm_op / do_host_op / do_sr_op selection rule over the
 * selectors: no match fails ("No matching VMs found"); several need
 * --multiple when multiple is allowed, and fail otherwise. Returns 0 with
 * the refs (free with cli_refs_free), or -1 after recording the failure.
 */
int cli_do_vm_select(struct cli_ctx *ctx, bool multiple,
		     const char *const *ignore, char ***refs, size_t *n);
int cli_do_host_select(struct cli_ctx *ctx, bool multiple,
		       const char *const *ignore, char ***refs, size_t *n);
int cli_do_sr_select(struct cli_ctx *ctx, bool multiple,
		     const char *const *ignore, char ***refs, size_t *n);

/* Frees an array of n strings. */
void cli_refs_free(char **refs, size_t n);

#endif
