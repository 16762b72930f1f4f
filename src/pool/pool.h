/*
 * pool: pool membership and the master/slave roles (DESIGN §3).
 *
 * Every host runs a dqlite node inside xapid. The node binds an abstract
 * socket; its address in the Raft configuration is the host's TLS endpoint
 * "IP:PORT", and peers reach it through an HTTP upgrade (POST /raft) on
 * xapid's TLS listener, authenticated with the pool secret and relayed into
 * the local socket (pool_raft.c). Plain TCP between hosts is never used.
 * Every link checks the peer's certificate against the fingerprint the pool
 * pinned for it (xapi's host_internal certificates, pool_cert.c) before
 * anything is sent, the pool secret included.
 *
 * Master = the dqlite leader. It holds the pool database in memory (the
 * store) and commits every write to dqlite before acknowledging. A slave
 * keeps a read replica of the store, fed by the master through a long-poll
 * internal call (pool.db_follow, pool_follow.c), so code that reads the
 * store works unchanged on slaves; a slave's writes are sent to the master
 * as field-level changes (pool.db_apply) and the commit returns once the
 * replica has caught up with them (pool_write.c).
 *
 * API on a slave (pool_gate()): over TCP, session.login_with_password and
 * calls with pool sessions fail with HOST_IS_SLAVE [master address]; calls
 * on the Unix socket are forwarded to the master; `xe` (/cli) is relayed to
 * the master. Internal calls carry the pool secret.
 *
 * Leadership is watched (pool_role.c): a slave whose node becomes leader
 * reloads the store from dqlite and becomes master (automatic failover in
 * pools of three or more, designate-new-master); a master whose node loses
 * leadership becomes a slave of the new leader.
 */
#ifndef XAPID_POOL_POOL_H
#define XAPID_POOL_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "rpc/api.h"

struct persist;

struct pool_config {
	const char *state_dir;
	const char *address; /* management IP of this host */
	int tls_port;        /* xapid's TLS port (the same on every host) */
	const char *db_dir;  /* data directory of the dqlite node */
	const char *db_bind; /* abstract socket the node binds ("@...") */
	const char *cert_file; /* this host's TLS certificate (PEM) */
};

/* Starts the dqlite node (as a pool member: reached over TLS) and returns
 * the durable store for db_open(); reads or makes the pool secret. NULL
 * and *err on failure. Call before http_start(). */
struct persist *pool_start_node(const struct pool_config *cfg, char **err);

/* Waits (without bound: a restarting member waits for its peers, logging
 * while it does) until a leader is known, then settles this host's role:
 * the master loads the store from dqlite (db_open); a slave takes a full
 * copy from the master and follows it. Returns 0, or -1 with *err. */
int pool_settle(struct persist *p, char **err);

/* After bootstrap: this host's ref (for internal logins) and the
 * registration of the pool's API calls; starts the leadership watcher. */
void pool_start(const char *host_ref);

/* Records this host's certificate in the pool database (in t, at
 * bootstrap): a Certificate row of type host_internal for host_ref, made
 * when there is none (a pool made before pins existed) and replaced while
 * the host is alone; in a pool, a row that differs from the certificate is
 * kept (the other members refuse the host's links until its pinned
 * certificate is back) and that is logged. host and pool (also new_pool,
 * a pool row made in t, or NULL) get tls_verification_enabled. Nothing for
 * a host without TLS. */
struct db_txn;
void pool_cert_publish(struct db_txn *t, const char *host_ref,
                       const char *new_pool);

/* The program's argv, for the restart after an eject. */
void pool_set_argv(char **argv);

/* The role this host settled in changed before it was up (another node
 * took the leadership during start-up): stops the node and runs xapid again
 * with the same arguments, to settle afresh. Logs why; does not return. */
_Noreturn void pool_restart(const char *why);

/* Stops the watcher and follower threads (shutdown). */
void pool_stop(void);

/* Whether this host is the master (or a lone host). */
bool pool_is_master(void);
/* Whether this host is a slave in emergency mode (its master has not
 * answered for the master connection timeout). */
bool pool_emergency(void);
/* Whether this host came up in emergency mode (a slave that found no
 * master at start-up: pool_boot.c). Its store holds the replica it kept;
 * its start-up writes nothing (they fail), and xapid restarts once the
 * pool has a master again. */
bool pool_boot_emergency(void);
/* True once the role is settled and the store usable. */
bool pool_ready(void);
/* The master's management address (malloc'd; "" when unknown). */
char *pool_master_address(void);
/* The pool secret (valid for the process lifetime). */
const char *pool_secret(void);
/* Whether id is the id of this host's Raft cluster (POST /raft). */
bool pool_cluster_ok(const char *id);
/* Whether s is the pool secret (constant time). */
bool pool_secret_ok(const char *s);

/*
 * The gate of every API call (called by api_call). Returns false when the
 * call is to run here. Returns true when it has been dealt with: *err is
 * HOST_IS_SLAVE, or the call was forwarded to the master and *err and *result
 * hold its outcome.
 */
bool pool_gate(struct api_ctx *ctx, const char *method, const xv *params,
               xv **result, struct api_err **err);

/* The socket of the /cli relay on a slave: connects to the master's /cli
 * over TLS, sends body, and returns the connected stream as a local fd
 * (a socketpair end relayed by a thread), or -1. local: the request came
 * on our Unix socket (the master then treats it as root's). */
int pool_cli_relay(const char *body, size_t len, bool local);

/* xapid's TLS port on every pool member (443 unless configured). */
int pool_tls_port(void);

/* Relays bytes between two sockets until one side closes. */
void pool_pump(int a, int b);

/* Server side of POST /raft: relays the upgraded socket sock into the
 * local dqlite node until either side closes (the caller closes sock). */
void pool_raft_serve(int sock);

/*
 * Calls method on another pool member over TLS as an internal caller
 * (address "IP"; the pool's TLS port). params is the full list; for calls
 * that take a session the caller passes a session obtained with
 * pool_host_session(). Returns NULL and sets *result, or the error.
 */
struct api_err *pool_call(const char *address, const char *method,
                          const xv *params, xv **result);

/* pool_call with an answer awaited timeout_ms at most (CANNOT_CONTACT_HOST
 * when none came). */
struct api_err *pool_call_timeout(const char *address, const char *method,
                                  const xv *params, int timeout_ms,
                                  xv **result);

/*
 * Calls method on the pool member host (a host ref) with an internal
 * session there (session.slave_login; cached, renewed when it has gone):
 * args are the parameters after the session (an XV_ARRAY, or NULL).
 * This is how the master makes a host run what must run there (a VM's
 * start, operations on a VM resident there, a migration's receiving end).
 * Returns NULL and sets *result, or the error (CANNOT_CONTACT_HOST when
 * the host does not answer).
 */
struct api_err *pool_call_host(const char *host, const char *method,
                               const xv *args, xv **result);

#endif
