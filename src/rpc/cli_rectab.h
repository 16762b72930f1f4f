/*
 * cli_rectab: what the CLI record tables (cli_rec_*.c) share: the macros
 * that declare fields, the enum spellings of xapi's Record_util, and the
 * tables themselves. Internal to cli_records.
 */
#ifndef XAPID_RPC_CLI_RECTAB_H
#define XAPID_RPC_CLI_RECTAB_H

#include "rpc/cli_records.h"

/* A field of the row itself. */
#define CF(n, f, fl) {.name = (n), .fi = (f), .via = -1, .flags = (fl)}
/* ... with enum spellings. */
#define CFE(n, f, fl, em)                                                      \
	{.name = (n), .fi = (f), .via = -1, .flags = (fl), .emap = (em)}
/* ... with a setter message other than set_<field>. */
#define CFM(n, f, fl, m)                                                       \
	{.name = (n), .fi = (f), .via = -1, .flags = (fl), .msg = (m)}
/* A field of the row the ref field v points at; nn when it is missing. */
#define CFV(n, v, f, fl, nn)                                                   \
	{.name = (n), .fi = (f), .via = (v), .flags = (fl), .none = (nn)}
#define CFVE(n, v, f, fl, nn, em)                                              \
	{.name = (n), .fi = (f), .via = (v), .flags = (fl), .none = (nn),      \
	 .emap = (em)}
/* A field computed by code. */
#define CFC(n, fn, fl) {.name = (n), .fi = -1, .via = -1, .flags = (fl), .custom = (fn)}
/* Same, but the code reads field f (for setters and types). */
#define CFCF(n, f, fn, fl)                                                     \
	{.name = (n), .fi = (f), .via = -1, .flags = (fl), .custom = (fn)}

#define CLI_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Enum spellings (Record_util). */
extern const char *const cli_em_power_state[];
extern const char *const cli_em_on_normal_exit[];
extern const char *const cli_em_on_softreboot[];
extern const char *const cli_em_on_crash[];
extern const char *const cli_em_vm_ops[];
extern const char *const cli_em_host_ops[];
extern const char *const cli_em_sr_ops[];
extern const char *const cli_em_domain_type[];
extern const char *const cli_em_tristate[];
extern const char *const cli_em_vdi_type[];
extern const char *const cli_em_task_ops[];
extern const char *const cli_em_protocol[];

/* Hand-written classes. */
extern const struct cli_class cli_class_vm, cli_class_template,
	cli_class_snapshot;
extern const struct cli_class cli_class_pool, cli_class_host,
	cli_class_host_cpu;
extern const struct cli_class cli_class_sr, cli_class_vdi, cli_class_vbd,
	cli_class_pbd;
extern const struct cli_class cli_class_network, cli_class_pif,
	cli_class_vif, cli_class_bond, cli_class_vlan;
extern const struct cli_class cli_class_task, cli_class_message,
	cli_class_console, cli_class_secret;

#endif
