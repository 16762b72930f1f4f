/*
 * cli_server: the server side of `xe` (POST /cli, after the HTTP upgrade).
 *
 * The client sends its argv words (one per line, then "username=..." and
 * "password=..." lines when given). The server parses them, logs in (on the
 * Unix socket the caller is root without a password), runs the command by
 * calling the XenAPI through api_call() like any other client, prints the
 * output in real xe's format and ends with the exit code.
 */
#ifndef XAPID_RPC_CLI_SERVER_H
#define XAPID_RPC_CLI_SERVER_H

#include <stdbool.h>
#include <stddef.h>

/* Runs one xe invocation on the connected socket fd (the thin-CLI handshake
 * has not happened yet). body/len: the request body. local: the request came
 * over the Unix socket. origin: peer description for the audit log. Returns
 * when the command has finished; the caller closes fd. */
void cli_server_run(int fd, const char *body, size_t len, bool local,
		    const char *origin);

/* Whether command name runs on a slave itself rather than on the master
 * (xapi's Neverforward commands that ask about or act on this host, and
 * must work when the master is gone). */
bool cli_server_runs_here(const char *name);

#endif
