/*
 * cli_args: the command line of one `xe` invocation, as the server receives
 * it (xapi's cli_frontend.ml parse_commandline and xapi_cli.ml).
 *
 * The body of POST /cli holds the argv words one per line (a trailing "\r"
 * on a line is dropped). An optional first line "session_id=<ref>" carries
 * the session of a forwarded command. The first remaining word is the
 * command; each other word becomes one (key, value) parameter:
 *   key=value     split at the first '=' (the value may contain '=');
 *   word          (word, "");
 *   --flag        (flag, "true");
 *   -u x / -pw x / -s x / -h x / -p x   (username|password|server|port, x).
 * A word starting with '-' that is not one of those switches, a switch
 * without its value, or a command name containing '=' is a syntax error
 * (reported by xapi as "Syntax error: " with an empty reason).
 * "username" and "password" parameters are credentials: they are moved out
 * of the parameter list and must never be logged or echoed.
 */
#ifndef XAPID_RPC_CLI_ARGS_H
#define XAPID_RPC_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

struct cli_kv {
	char *k;
	char *v;
};

struct cli_args {
	char *cmd;       /* command name ("vm-list"); "" if none was given */
	struct cli_kv *kv; /* parameters in command-line order */
	size_t n;
	char *username;  /* NULL if not given */
	char *password;  /* NULL if not given */
	char *session;   /* "session_id=" line of a forwarded command, or NULL */
};

/* Parses body[0..len) into a (which the caller frees with cli_args_free,
 * also after a failure). Returns 0, or -1 on a syntax error. */
int cli_args_parse(struct cli_args *a, const char *body, size_t len);

/* Frees what a owns (credentials are wiped first) and zeroes it. */
void cli_args_free(struct cli_args *a);

/* The value of the first parameter named key, or NULL. */
const char *cli_args_get(const struct cli_args *a, const char *key);

/* True if a parameter named key was given. */
bool cli_args_has(const struct cli_args *a, const char *key);

/* Number of parameters named key. */
size_t cli_args_count(const struct cli_args *a, const char *key);

/*
 * Parses a boolean as xapi's Record_util.bool_of_string does
 * (true/t/yes/y/1, false/f/no/n/0, any case). Returns 0 and sets *out, or
 * -1 if text is none of those.
 */
int cli_parse_bool(const char *text, bool *out);

/* True if key is one of the standard parameters that are never filters:
 * server password port username minimal force multiple all
 * message-priority trace. */
bool cli_args_is_std(const char *key);

/*
 * The parameters "<name>:<key>=v" (or the legacy "<name>-<key>=v"): for
 * each parameter whose name starts with name and is longer than name + 1
 * characters, the part after name + 1 characters and its value, in
 * command-line order (xapi's read_map_params). Returns how many were found
 * and sets *out to a malloc'd array of borrowed pointers into a (free only
 * the array).
 */
size_t cli_args_map(const struct cli_args *a, const char *name,
		    struct cli_kv **out);

#endif
