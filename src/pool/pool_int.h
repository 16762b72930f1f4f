/*
 * pool_int: what the files of the pool module share (not for others).
 *
 * pool_link.c   TLS links to other members: internal JSON-RPC calls, HTTP
 *               upgrades, byte relays.
 * pool_raft.c   dqlite's connect function and the /raft relay.
 * pool_follow.c the replica: master side of pool.db_follow, slave follower.
 * pool_write.c  slave writes: the store's forward hook, pool.db_apply.
 * pool_role.c   node start, role settling, leadership watcher.
 * pool_member.c Raft membership changes on the master (add, roles, remove).
 * pool_gate.c   the gate of API calls on a slave, the /cli relay,
 *               session.slave_login, host.is_in_emergency_mode.
 * pool_join.c   pool.join, pool.eject, host.forget, designate_new_master.
 * pool_route.c  calls forwarded by the master to the host they concern.
 * pool_ident.c  the pool secret and the cluster id in the state dir.
 * pool_cert.c   the pinned certificates of the members (link verification).
 * pool_takeover.c  the files of an emergency transition.
 * pool_remote.c the master's sessions and tasks seen from a slave.
 * pool_emerg.c  emergency mode, transition, reset, recover_slaves, and a
 *               superseded master joining the new one.
 * pool_boot.c   the replica kept on disk, and a slave starting while its
 *               master is gone (emergency mode from that replica).
 */
#ifndef XAPID_POOL_POOL_INT_H
#define XAPID_POOL_POOL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/xe_conn.h"
#include "pool/pool.h"

/* The HTTP headers of internal requests: the pool secret, and "treat me
 * as a caller on your Unix socket" (honoured only with the secret). */
#define POOL_SECRET_HEADER "X-Xapid-Pool-Secret"
#define POOL_LOCAL_HEADER "X-Xapid-Local"
/* The sender's Raft cluster, on POST /raft. */
#define POOL_CLUSTER_HEADER "X-Xapid-Cluster"

/* Bounds of internal calls. */
#define POOL_CALL_TIMEOUT_MS (600 * 1000)
#define POOL_CONNECT_TIMEOUT_MS 5000

/* ---- pool_link.c ---- */

/* Opens a TLS connection to address (IP) on the pool's TLS port and sends
 * an HTTP request head (+ body). extra: more header lines, each ending in
 * \r\n, or NULL. Returns 0 or -1 with *err (malloc'd). */
int plink_request(struct xe_conn *c, const char *address, const char *method,
                  const char *path, const char *extra, const char *body,
                  size_t len, char **err);
/* Reads a response head: *status and *content_length (-1 if absent).
 * Returns 0 or -1 with *err. */
int plink_read_head(struct xe_conn *c, int *status, long long *content_length,
                    int timeout_ms, char **err);
/* Calls method with params on address, as pool_call(), within timeout_ms;
 * local: ask to be treated as a Unix-socket caller (root). */
struct api_err *plink_call(const char *address, const char *method,
                           const xv *params, bool local, int timeout_ms,
                           xv **result);
/* Relays bytes between c (taken; closed at the end) and a new local
 * stream; returns the other end of that stream, or -1. */
int plink_relay(struct xe_conn *c);
/* Relays between two plain fds until one side closes (both stay open). */
void plink_pump(int a, int b);
/* Port of the pool's TLS listeners. */
int plink_port(void);
void plink_set_port(int port);

/* ---- pool_cert.c ---- */

/* Reads the fingerprint of this host's certificate (cert_file; NULL: no
 * TLS) and the pins of STATE/pool-pins. 0, or -1 with *err. */
int pcert_load(const char *cert_file, char **err);
/* This host's fingerprint ("" without TLS). */
const char *pcert_own(void);
/* Checks the certificate the peer at address ("IP" or "IP:PORT")
 * presented on c against its pin (the pool database, else STATE/pool-
 * pins; an address never seen is pinned, and that is logged). Call before
 * anything is sent. 0, or -1 with *err (logged). */
int pcert_verify(struct xe_conn *c, const char *address, char **err);
/* Pins fp (a fingerprint in any form certfp_parse takes) for ip in STATE/
 * pool-pins; why goes to the log. */
void pcert_pin(const char *ip, const char *fp, const char *why);
/* Forgets the pin of ip, or every pin (leaving the pool). */
void pcert_forget(const char *ip);
void pcert_forget_all(void);
/* Destroys the Certificate rows of host_ref in t (forgetting a host). */
void pcert_forget_host_rows(struct db_txn *t, const char *host_ref);

/* ---- pool_raft.c ---- */

/* dqlite's connect function: address is a member's "IP:PORT". */
int praft_connect(void *arg, const char *address, int *fd);
/* The abstract socket the local node binds. */
void praft_set_local(const char *bind_address);

/* ---- pool_follow.c ---- */

/* The master side (registers pool.db_follow). */
void pfollow_register(void);
/* Starts following the master at address (slave), or stops (NULL). A
 * full copy is taken first. */
void pfollow_set_master(const char *address);
/* Blocks until the replica has applied the master's generation gen of
 * epoch (or timeout_s passed, or the master changed). Returns 1 if it
 * has, 0 otherwise. */
int pfollow_wait(const char *epoch, uint64_t gen, double timeout_s);
/* Waits for the first full copy from the current master. Returns 0, or
 * -1 after timeout_s. */
int pfollow_wait_initial(double timeout_s);
/* Applies one pool.db_follow answer (JSON text) to the store: 0, or -1
 * when it is malformed (nothing applied). */
int pfollow_apply_text(const char *text);
/* Whether the master followed has not answered for after_s seconds (or
 * none is known): a slave's emergency mode. */
bool pfollow_lost(double after_s);
/* The master's generation the replica has reached (0: none; before a
 * copy, the one restored with pfollow_restore). */
uint64_t pfollow_generation(void);
void pfollow_restore(uint64_t gen);
/* How many answers the replica has applied (it grows when a master
 * answers). */
uint64_t pfollow_applied(void);
/* The store's persistent rows as a full pool.db_follow answer of epoch at
 * generation gen (JSON text, malloc'd). */
char *pfollow_dump(const char *epoch, uint64_t gen);
/* This master's epoch (a new one at each promotion). */
const char *pfollow_epoch(void);
void pfollow_new_epoch(void);

/* ---- pool_write.c ---- */

/* Registers pool.db_apply (master side). */
void pwrite_register(void);
/* Applies forwarded ops (JSON text, see db_set_forward) in one
 * transaction; *result: {epoch, generation}. */
struct api_err *pwrite_apply_text(const char *ops_json, xv **result);
/* The store's forward hook (slave side). */
int pwrite_forward(const char *ops_json, char **err);

/* ---- pool_role.c ---- */

/* Current master address (malloc'd) or NULL when none is known. */
char *prole_master(void);
/* The local dqlite node's leader: *id and *address (malloc'd). */
int prole_leader(uint64_t *id, char **address, char **err);
/* The local node's id and Raft address. */
uint64_t prole_node_id(void);
const char *prole_raft_address(void);
/* The state dir and the pool configuration. */
const struct pool_config *prole_config(void);
/* This host's ref. */
const char *prole_host_ref(void);
/* Membership changes, run on the master (the leader): add as a standby,
 * remove, transfer leadership. Return 0 or -1 with *err. */
int prole_add_member(uint64_t id, const char *address, char **err);
int prole_remove_member(uint64_t id, char **err);
/* Sets the Raft roles for a pool of nhosts hosts (on the master): one
 * voter (the master) below three hosts, so that a two-host pool never
 * depends on its slave to commit (losing the master is then the emergency
 * path, as in XenServer); three voters from three hosts, five from five;
 * the others are standbys (they hold the log and can be promoted). */
void prole_rebalance(size_t nhosts);
int prole_transfer(uint64_t id, char **err);
/* The role of member id (enum dqc_role) in the local node's view of the
 * configuration, or -1 if it is not a member. */
int prole_role_of(uint64_t id);
/* Lists the Raft members (id, address). */
int prole_members(uint64_t **ids, char ***addrs, size_t *n, char **err);
/* Leaves the current cluster: stops the node, wipes its data and starts a
 * fresh node with id (0: a new random id) that bootstraps nothing, or
 * (bootstrap) a one-node cluster of its own. The store is unchanged. */
int prole_restart_node(uint64_t id, bool bootstrap, char **err);
/* Stops the node whatever the role (the store keeps its rows, writes
 * nothing durable any more): before xapid runs itself again. */
void prole_stop_node(void);
/* The dqlite backend of this host. */
struct persist *prole_persist(void);
/* Stops the node and wipes its data (leaving the pool for good). */
void prole_leave(void);
/* The id of the Raft cluster this host's node belongs to (STATE/pool-
 * cluster): Raft links between nodes of different clusters are refused,
 * so that the nodes a cluster left behind (an emergency transition) can
 * never reach its nodes. Set (and written) when joining, new for a new
 * cluster. */
const char *prole_cluster(void);
int prole_set_cluster(const char *id, char **err);
int prole_new_cluster(char **err);
/* Reads the pool secret from the state dir, or makes a new one; reads the
 * cluster id, or makes one (pool_ident.c). 0 or -1 with *err. */
int prole_load_secret(char **err);
int prole_load_cluster(char **err);
/* Sets the pool secret (joining a pool) and writes it to the state dir. */
int prole_set_secret(const char *secret, char **err);
/* Joining (false): this host is no longer the master of its own pool and
 * not yet a member of the other (the watcher settles the role once the
 * cluster has it); true: a pool of its own again (a failed join). */
void prole_set_alone(bool alone);
/* Makes this host a slave of the master at address (after a join). */
void prole_become_slave(const char *address);
/* Records host_ref's liveness in its metrics. */
void prole_mark_live(const char *host_ref, bool live);
/* The emergency transition: the replica is written to STATE/emergency-
 * master.json, the node stopped and its data moved to DB_DIR.pre-emergency,
 * and xapid restarts: a one-node cluster takes the rows and this host is
 * the master, every other host marked down. 0 (the restart follows), or
 * -1 with *err. */
int prole_take_over(char **err);
/* A slave come up in emergency mode (pboot_settle): master is the address
 * of the master it last followed; it keeps trying it. */
void prole_set_boot_emergency(const char *master);
/* Holds off the leadership watcher and node restarts (recursive). */
void prole_change_lock(void);
void prole_change_unlock(void);

/* ---- pool_gate.c ---- */

/* Registers session.slave_login and host.is_in_emergency_mode (and starts
 * pool_remote.c). */
void pgate_register(void);

/* ---- pool_remote.c ---- */

/* Registers pool.session_user and pool.task_update (the master answers
 * them) and sets the dispatcher's remote ops (a slave asks them). */
void premote_start(void);

/* ---- pool_emerg.c ---- */

/* A slave is in emergency mode once its master has not answered for this
 * long (s): xapi's master connection timeout (master_connection_default_
 * timeout). */
#define PEMERG_AFTER_S 10.0

/* Whether this host is a slave in emergency mode. */
bool pemerg_active(void);
/* Asks the other hosts (those of our node's configuration and of the
 * database) whether one is a master whose configuration leaves our node
 * out: returns its address (malloc'd), or NULL. */
char *pemerg_superseded(void);
/* Leaves our cluster and joins the master at ip again as a slave: a new
 * empty node that the master adds, our replica following it. 0, or -1
 * with *err (NULL on entry). */
int pemerg_rejoin(const char *ip, char **err);
/* Takes the cluster id of the master at ip (joining it). 0, or -1 with
 * *err. */
int pemerg_adopt_cluster(const char *ip, char **err);
/* Registers the emergency calls; starts the master's supersession check. */
void pemerg_register(void);

/* ---- pool_takeover.c ---- */

/* Moves the node's data directory to DB_DIR.pre-emergency. 0 or -1. */
int ptake_set_aside(char **err);
/* Writes the replica's persistent rows to STATE/emergency-master.json. */
int ptake_write(char **err);
/* At start-up: the fresh node p takes the rows of that file (removed
 * then). 1 when it did, 0 when there is none, -1 with *err. */
int ptake_import(struct persist *p, char **err);
/* After such a start: the pool names this host master, the others are
 * marked down. */
void ptake_after(void);

/* ---- pool_boot.c ---- */

/* A slave that finds no master for this long (s) at start-up comes up in
 * emergency mode from the replica it keeps. */
#define PBOOT_AFTER_S PEMERG_AFTER_S

/* Keeps the answer text of the master at master, just applied to the
 * replica (full: a full copy; epoch/gen: where the replica is now), in
 * STATE/pool-replica.jsonl. Called by the follower with its lock held, in
 * the order of application. A failure is logged, and the next answer
 * rewrites the whole file. */
void pboot_journal(const char *master, const char *text, bool full,
                   const char *epoch, uint64_t gen);
/* Where the replica is kept instead of STATE/pool-replica.jsonl (tests);
 * NULL: there again. */
void pboot_set_path(const char *path);
/* Removes the kept replica (this host is the master, or leaves the pool:
 * it would go stale). */
void pboot_drop(void);
/* At start-up, no master found: when a replica is kept, fills the store
 * with it (opened: db_open has been called) and makes this host a slave
 * in emergency mode of the master it last followed (1). 0 when there is
 * none, or none readable (nothing changed: it waits for its master), -1
 * with *err (the store cannot open). */
int pboot_settle(bool opened, char **err);
/* Reads a replica kept in path into the store (db_open done): 1 with
 * *master (malloc'd) and *gen, the master's generation it reached; 0
 * when there is no file or no full copy in it (the store unchanged), -1
 * with *err. A torn or malformed line ends what is read. */
int pboot_read(const char *path, char **master, uint64_t *gen, char **err);
/* Whether this host came up in emergency mode (until it restarts). */
bool pboot_active(void);
/* Whether a leader is known (the local node's or its voters'). */
bool prole_has_leader(void);
/* Starts the thread that restarts xapid once the pool has a master again
 * (when pboot_active). */
void pboot_start(void);
/* Stops that thread (waits for it, unless called from it). */
void pboot_stop(void);

/* ---- pool_route.c ---- */

/* Installs the router of host-bound calls (api_set_router). */
void proute_register(void);
/* Where the master runs a storage call (pool_route_sr.c): a host with the
 * SR attached (VDI.create/destroy/resize/snapshot/clone/copy, CBT calls,
 * SR.scan), or the host of the running VM writing to the VDI; NULL: here.
 * all: the call's parameters, session first. */
char *proute_sr_target(const char *method, xv *const *all, size_t nall);

/* ---- pool_join.c ---- */

/* Registers pool.join, join_force, initial_auth and join_member. */
void pjoin_register(void);
/* A call on the master (or any member) at address; frees params. */
struct api_err *pjoin_call(const char *master, const char *method, xv *params,
			   xv **result);
/* An XML-RPC argument array: session (if not NULL) then the NULL-ended
 * strings. */
xv *pjoin_args(const char *session, ...);
/* Sets the Raft roles for the pool's current size. */
void pjoin_rebalance(void);

/* ---- pool_eject.c ---- */

/* Registers pool.eject, eject_self, host.destroy and
 * pool.designate_new_master. */
void peject_register(void);
/* Restarts xapid (the same argv) a second later, from another thread. */
void peject_restart_later(void);

#endif
