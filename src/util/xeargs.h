/*
 * xeargs: the `xe` client's argument handling, as xapi's xe does it
 * (ocaml/xe-cli/newcli.ml, options.ml), kept free of I/O so that it can be
 * unit-tested and fuzzed.
 *
 * Connection options come from, in falling priority: the command line
 * (`-s/-h host`, `-p port`, `-u user`, `-pw pass`, `-pwf file`, `--nossl`,
 * `--debug`, `--debug-on-fail`, `--traceparent tp`, or the key=value forms
 * server= port= username= password= passwordfile= nossl= debug=
 * debugonfail= traceparent=), XE_EXTRA_ARGS (comma-separated, `\,` escapes
 * a comma), ~/.xe (key=value lines), defaults. Every other word is passed to
 * the server: command-line words first, then those of XE_EXTRA_ARGS, then
 * those of ~/.xe; `--flag` after the command name is sent as `flag=true`.
 */
#ifndef XAPID_UTIL_XEARGS_H
#define XAPID_UTIL_XEARGS_H

#include <stddef.h>

#define XEARGS_LOCALHOST "127.0.0.1"

struct xeargs {
	char *server;        /* host; XEARGS_LOCALHOST by default */
	int port;            /* -1 until given */
	char *username;      /* "root" by default */
	char *password;      /* NULL until given */
	char *password_file; /* NULL until given */
	char *traceparent;   /* NULL until given */
	int nossl;
	int debug;
	int debug_on_fail;
	int auth_given; /* a username, password or password file was given */
	int version;    /* "-version" seen: print the version, nothing else */
	int help;       /* "-help"/"--help" seen, or no command: print usage */
	int rc_error;   /* the rc text had a bad line; its defaults were dropped
	                 */
	char **words;   /* sent to the server, NULL-terminated */
	size_t nwords;
	char err[256]; /* why xeargs_parse failed */
};

/*
 * Parses args (the words after the program name), the value of
 * XE_EXTRA_ARGS (NULL if unset) and the text of ~/.xe (NULL if absent) into
 * a, which the caller frees with xeargs_free (also after a failure).
 * Returns 0, or -1 with a message in a->err (bad port, bad nossl value, a
 * newline inside a word).
 */
int xeargs_parse(struct xeargs *a, const char *const *args, size_t nargs,
                 const char *extra_args, const char *rc_text);

/* Frees what a owns. */
void xeargs_free(struct xeargs *a);

/*
 * Applies the contents of a password file: the username on the first line,
 * the password on the second. Returns 0, or -1 if the second line is
 * missing.
 */
int xeargs_apply_password_file(struct xeargs *a, const char *text);

/*
 * Returns the body of POST /cli as a malloc'd string: the words joined by
 * "\n", then "username=<u>" and "password=<p>" lines if a->auth_given.
 */
char *xeargs_body(const struct xeargs *a);

/*
 * Returns path made absolute against cwd and normalised lexically ("." and
 * ".." segments and repeated or trailing slashes removed), malloc'd.
 */
char *xeargs_canonicalize(const char *cwd, const char *path);

/*
 * Whether the server may make the client read or write file: as xapi's xe
 * does, only files named as the value of some key=value word are allowed
 * (compared after canonicalisation against cwd), plus cwd itself when
 * allow_cwd is set. Returns 1 or 0.
 */
int xeargs_file_permitted(const struct xeargs *a, const char *cwd,
                          const char *file, int allow_cwd);

#endif
