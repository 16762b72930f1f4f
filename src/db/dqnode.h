/*
 * dqnode: the dqlite node embedded in xapid (DESIGN §3).
 *
 * One node per process and data directory. The node serves both Raft traffic
 * from the other pool members and SQL clients (our dqc) on its address.
 *
 * Node identity: the id is kept in DIR/node-id (decimal, one line). On a
 * fresh directory the id is the configured one, or 1 when none is given.
 * dqlite bootstraps a one-voter cluster when a node with id 1 starts on an
 * empty directory: that is how a one-host pool comes to life. A node started
 * with another id bootstraps nothing and waits to be added (ADD + ASSIGN,
 * see dqc.h) by the leader of an existing cluster.
 *
 * dqlite runs its own thread (libuv loop); the functions here are to be
 * called from one thread at a time.
 */
#ifndef XAPID_DB_DQNODE_H
#define XAPID_DB_DQNODE_H

#include <stdint.h>

struct dqnode_config {
	const char *dir;     /* data directory; created if missing */
	/* The node's address in the Raft configuration, as the other members
	 * reach it: "host:port" (IPv4) or "@abstract-name"; with a connect
	 * function, whatever that function understands. */
	const char *address;
	uint64_t id;         /* 0: DIR/node-id, or 1 on a fresh directory */
	unsigned latency_ms; /* one-way network latency hint; 0 = 20 */
	/* Raft snapshots: one every snapshot_threshold log entries, keeping
	 * snapshot_trailing entries before it; 0 = dqlite's defaults (1024
	 * and 8192; dqlite requires trailing >= threshold and
	 * trailing >= 4). A restart replays the entries since the last snapshot;
	 * each commit is an entry of its WAL frames (4 KiB pages: a one-row
	 * commit is ~17 KB on disk). */
	unsigned snapshot_threshold;
	unsigned snapshot_trailing;
	/* Where the node listens; NULL = address. A pool member binds an
	 * abstract socket and is reached through xapid's TLS relay. */
	const char *bind_address;
	/* Opens a connection to a peer's address (dqlite then speaks its
	 * protocol over the returned fd); NULL = plain TCP. Runs on a dqlite
	 * worker thread and may block. Returns 0 or non-zero. */
	int (*connect)(void *arg, const char *address, int *fd);
	void *connect_arg;
};

struct dqnode;

/* Starts a node: ignores SIGPIPE for the whole process (libuv writes to dead
 * peers without MSG_NOSIGNAL), creates the directory, settles the id (an id
 * given here that differs from DIR/node-id is an error), binds the address,
 * sets the latency (heartbeat = 1.5 x latency, election timeout = 15 x
 * latency) and starts dqlite. Returns NULL and sets *err (malloc'd) on
 * failure. */
struct dqnode *dqnode_start(const struct dqnode_config *cfg, char **err);

/* Stops the node (open client connections are dropped), releases it. NULL is
 * allowed. */
void dqnode_stop(struct dqnode *n);

/* The node's id and the address it listens on (valid until dqnode_stop). */
uint64_t dqnode_id(const struct dqnode *n);
const char *dqnode_address(const struct dqnode *n);
/* The node's address in the Raft configuration (as the peers know it). */
const char *dqnode_raft_address(const struct dqnode *n);

/* Removes the node's data (Raft log, snapshots, node-id) from dir, which
 * no running node may use. Returns 0 or -1 with errno. */
int dqnode_wipe(const char *dir);

/* Reads DIR/node-id into *id. Returns 0, or -1 with errno (ENOENT when the
 * directory has no id yet, EINVAL when the file is malformed). */
int dqnode_read_id(const char *dir, uint64_t *id);

#endif
