/*
 * cli_cmd: what the implementations of xe commands share: the command
 * table, the per-invocation context, the ways a command fails, and calling
 * the XenAPI on behalf of the logged-in user.
 *
 * A command is a function that returns 0 on success or -1 after recording
 * why it failed in the context (cli_fail*). The server then prints the
 * failure as xapi does and exits 1; on success it flushes the output and
 * exits 0. Every change a command makes goes through cli_call() (the
 * dispatcher checks, audits and serialises it); reads may use the store
 * directly under its read lock (see cli_records.h), never while holding it
 * across a cli_call().
 */
#ifndef XAPID_RPC_CLI_CMD_H
#define XAPID_RPC_CLI_CMD_H

#include <stdbool.h>

#include "api/errors.h"
#include "rpc/api.h"
#include "rpc/cli_args.h"
#include "rpc/cli_print.h"
#include "rpc/cli_records.h"
#include "util/xv.h"

struct cli_conn;
struct cli_ctx;

typedef int (*cli_cmd_fn)(struct cli_ctx *ctx);

enum cli_cmd_flags {
	CLI_CMD_STANDARD = 1u << 0, /* listed by plain `xe help` */
	CLI_CMD_HIDDEN = 1u << 1,   /* never listed */
	CLI_CMD_VM_SEL = 1u << 2,   /* takes VM selectors */
	CLI_CMD_HOST_SEL = 1u << 3, /* takes host selectors */
	CLI_CMD_SR_SEL = 1u << 4,   /* takes SR selectors */
	CLI_CMD_FD = 1u << 5,       /* talks to the client (files, prompts) */
};

struct cli_cmd {
	const char *name;
	const char *const *reqd; /* NULL-terminated, or NULL */
	const char *const *optn; /* NULL-terminated, or NULL */
	const char *help;
	cli_cmd_fn fn;
	unsigned flags;
	const struct cli_class *cls; /* generated commands: their class */
};

/* Why a command failed (how xapi_cli.ml's exception_handler prints it). */
enum cli_ekind {
	CLI_E_NONE,
	CLI_E_API,     /* a XenAPI error: sentence and named parameters */
	CLI_E_FAIL,    /* Cli_failure: "Error: <msg>" */
	CLI_E_PARAM,   /* "Required parameter not found: <msg>" + usage */
	CLI_E_SYNTAX,  /* "Syntax error: <msg>" + usage */
	CLI_E_UNKNOWN, /* "Unknown command: <msg>" + usage */
	CLI_E_USAGE,   /* "<msg>" + usage (authentication) */
	CLI_E_EXIT,    /* already reported: exit with exit_code */
};

struct cli_ctx {
	struct cli_args *args;
	struct cli_out *out;
	struct api_ctx *api;   /* ->session set once logged in */
	struct cli_conn *conn; /* the client, or NULL (tests) */
	const struct cli_cmd *cmd;
	enum cli_ekind ekind;
	char *emsg;
	struct api_err *eapi;
	int exit_code;
};

/* Records a failure; each returns -1 so that commands can
 * `return cli_fail(ctx, ...)`. A later failure replaces an earlier one. */
int cli_fail(struct cli_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cli_fail_kind(struct cli_ctx *ctx, enum cli_ekind kind, const char *msg);
/* Takes ownership of e. */
int cli_fail_api(struct cli_ctx *ctx, struct api_err *e);
/* INTERNAL_ERROR with message "Failure: <msg>" (an OCaml Failure). */
int cli_fail_failure(struct cli_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Forgets a recorded failure. */
void cli_fail_clear(struct cli_ctx *ctx);

/*
 * Calls method with the session followed by the given arguments (xv
 * values, NULL-terminated; the call takes ownership of them). On success
 * returns 0 and sets *result if result is non-NULL (the caller frees it);
 * on failure records the API error and returns -1.
 */
int cli_call(struct cli_ctx *ctx, const char *method, xv **result, ...);
/* Same with an array of n arguments (owned by the caller). */
int cli_callv(struct cli_ctx *ctx, const char *method, xv **result,
	      xv *const *args, size_t n);

/* The ref of the object of class cls with this uuid, through
 * <Class>.get_by_uuid (UUID_INVALID otherwise). Returns a malloc'd ref or
 * NULL after recording the error. */
char *cli_ref_by_uuid(struct cli_ctx *ctx, int cls, const char *uuid);

/*
 * Runs op on each ref as xapi's do_multiple does: one ref runs plainly
 * (its failure is the command's); with several, every op runs, failures
 * are collected and printed (stdout, latest first) as "operation failed
 * on <uuid>: <message>", and the command exits 1. Returns 0 or -1.
 */
int cli_do_multiple(struct cli_ctx *ctx, char *const *refs, size_t n,
		    int (*op)(struct cli_ctx *ctx, const char *ref, void *arg),
		    void *arg);

/* Parameter helpers. */
const char *cli_param(struct cli_ctx *ctx, const char *key);
/* get_bool_param: absent gives def; a bad value records
 * "Failed to parse parameter '<key>': Expected 'true',... got <v>" and
 * returns -1. */
int cli_param_bool(struct cli_ctx *ctx, const char *key, bool def, bool *out);

/*
 * Adds commands implemented elsewhere (vm-start, sr-create, ...): cmds must
 * stay valid for the life of the process. Call at start-up, before the
 * first xe connection is served; a name already in the table is ignored
 * (explicit commands win over generated ones, earlier over later).
 */
void cli_cmd_register(const struct cli_cmd *cmds, size_t n);

/* The command table: explicit commands, then the generated class commands.
 * Lookup by exact name; NULL if unknown. */
const struct cli_cmd *cli_cmd_find(const char *name);
/* All commands (for help), *n set to their count. */
const struct cli_cmd *const *cli_cmd_all(size_t *n);

/* `xe help [cmd...] [--all]` (no login needed). */
int cli_help(struct cli_ctx *ctx);

/* Prints the recorded failure of ctx the way xapi does (stderr lines or an
 * Error message to the client) and returns the exit code to use. */
int cli_report(struct cli_ctx *ctx);

/* xapi's user_says_yes: "Type 'yes' to continue", reads a line from the
 * client; false (after printing "Aborted ...") unless it is "yes". */
bool cli_user_says_yes(struct cli_ctx *ctx);

/* Explicit command implementations (cli_cmds_*.c). */
int cli_cmd_vm_install(struct cli_ctx *ctx);
int cli_cmd_vm_uninstall(struct cli_ctx *ctx);
/* snapshot-uninstall: a snapshot and the disks it owns (cli_cmds_vm2.c). */
int cli_cmd_snapshot_uninstall(struct cli_ctx *ctx);
int cli_cmd_vm_destroy(struct cli_ctx *ctx);
int cli_cmd_vm_vif_list(struct cli_ctx *ctx);
int cli_cmd_network_create(struct cli_ctx *ctx);
int cli_cmd_network_destroy(struct cli_ctx *ctx);
int cli_cmd_message_create(struct cli_ctx *ctx);
int cli_cmd_message_destroy(struct cli_ctx *ctx);
int cli_cmd_vdi_create(struct cli_ctx *ctx);
int cli_cmd_vbd_create(struct cli_ctx *ctx);
int cli_cmd_vif_create(struct cli_ctx *ctx);
int cli_cmd_task_cancel(struct cli_ctx *ctx);
int cli_cmd_event_wait(struct cli_ctx *ctx);
int cli_cmd_pool_dump_db(struct cli_ctx *ctx);
int cli_cmd_pool_restore_db(struct cli_ctx *ctx);
int cli_cmd_pool_join(struct cli_ctx *ctx);
int cli_cmd_pool_eject(struct cli_ctx *ctx);
int cli_cmd_pool_designate(struct cli_ctx *ctx);
int cli_cmd_host_forget(struct cli_ctx *ctx);
int cli_cmd_host_emergency(struct cli_ctx *ctx);
int cli_cmd_pool_emergency_master(struct cli_ctx *ctx);
int cli_cmd_pool_emergency_reset(struct cli_ctx *ctx);
int cli_cmd_pool_recover_slaves(struct cli_ctx *ctx);

/* Command tables of the command modules (cli_cmds_power.c,
 * cli_cmds_dev.c), added after the explicit commands above. */
extern const struct cli_cmd cli_power_cmds[];
extern const size_t cli_power_ncmds;
extern const struct cli_cmd cli_dev_cmds[];
extern const size_t cli_dev_ncmds;
/* SR/PBD lifecycle commands (cli_cmds_sr.c). */
extern const struct cli_cmd cli_sr_cmds[];
extern const size_t cli_sr_ncmds;
extern const struct cli_cmd cli_metrics_cmds[];
extern const size_t cli_metrics_ncmds;
/* vm-memory-limits-set and the other memory commands (cli_cmds_mem.c). */
extern const struct cli_cmd cli_mem_cmds[];
extern const size_t cli_mem_ncmds;
extern const struct cli_cmd cli_host_cmds[];
extern const size_t cli_host_ncmds;
extern const struct cli_cmd cli_xva_cmds[];
extern const size_t cli_xva_ncmds;

/* Generated class commands (cli_generic.c): ctx->cmd->cls is the class. */
int cli_gen_list(struct cli_ctx *ctx);
int cli_gen_param_list(struct cli_ctx *ctx);
int cli_gen_param_get(struct cli_ctx *ctx);
int cli_gen_param_set(struct cli_ctx *ctx);
int cli_gen_param_add(struct cli_ctx *ctx);
int cli_gen_param_remove(struct cli_ctx *ctx);
int cli_gen_param_clear(struct cli_ctx *ctx);

/* track_http_operation: creates a task, tells the client to transfer file
 * to/from path?session_id=..&task_id=..<extra>, waits for the client and the
 * task, destroys the task. Returns 0 or -1 (failure recorded). */
int cli_track_http(struct cli_ctx *ctx, bool put, const char *file,
		   const char *path, const char *extra, const char *label);
/* The same, and *result (malloc'd, may be NULL) is the task's result
 * (an XML-RPC value text) when it succeeded. */
int cli_track_http_result(struct cli_ctx *ctx, bool put, const char *file,
			  const char *path, const char *extra, const char *label,
			  char **result);

#endif
