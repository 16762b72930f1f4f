/* dqnode: the embedded dqlite node (see dqnode.h). */
#include "dqnode.h"

#include <dirent.h>
#include <dqlite.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xalloc.h"

struct dqnode {
	dqlite_node *node;
	uint64_t id;
	char *address; /* bound */
	char *raft_address;
	char *dir;
};

/* Creates dir and its missing parents. */
static int
dqnode_mkdirs(const char *dir)
{
	char *p = xstrdup(dir);
	int rv = 0;

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			rv = -1;
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		rv = -1;
	free(p);
	return rv;
}

int
dqnode_read_id(const char *dir, uint64_t *id)
{
	char *path = xasprintf("%s/node-id", dir);
	char line[64], *end;
	FILE *f = fopen(path, "re");
	unsigned long long v;

	free(path);
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		errno = EINVAL;
		return -1;
	}
	fclose(f);
	errno = 0;
	v = strtoull(line, &end, 10);
	if (errno != 0 || end == line || (*end != '\n' && *end != '\0') ||
	    v == 0) {
		errno = EINVAL;
		return -1;
	}
	*id = v;
	return 0;
}

/* Writes DIR/node-id durably (temporary file, fsync, rename, fsync dir). */
static int
dqnode_write_id(const char *dir, uint64_t id)
{
	char *tmp = xasprintf("%s/node-id.tmp", dir);
	char *path = xasprintf("%s/node-id", dir);
	char line[32];
	int fd, dfd, rv = -1;
	int n = snprintf(line, sizeof(line), "%" PRIu64 "\n", id);

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	if (write(fd, line, (size_t)n) != n || fsync(fd) < 0) {
		close(fd);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0)
		goto out;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rv = 0;
out:
	free(tmp);
	free(path);
	return rv;
}

/* Settles the node id: the stored one, else the configured one, else 1. */
static int
dqnode_settle_id(const struct dqnode_config *cfg, uint64_t *id, char **err)
{
	uint64_t stored;

	if (dqnode_read_id(cfg->dir, &stored) == 0) {
		if (cfg->id != 0 && cfg->id != stored) {
			*err = xasprintf("dqlite: %s/node-id holds %" PRIu64
					 ", not %" PRIu64,
					 cfg->dir, stored, cfg->id);
			return -1;
		}
		*id = stored;
		return 0;
	}
	if (errno != ENOENT) {
		*err = xasprintf("dqlite: reading %s/node-id: %s", cfg->dir,
				 strerror(errno));
		return -1;
	}
	*id = cfg->id != 0 ? cfg->id : 1;
	if (dqnode_write_id(cfg->dir, *id) < 0) {
		*err = xasprintf("dqlite: writing %s/node-id: %s", cfg->dir,
				 strerror(errno));
		return -1;
	}
	return 0;
}

struct dqnode *
dqnode_start(const struct dqnode_config *cfg, char **err)
{
	struct dqnode *n;
	const char *step;
	int rv;

	/* libuv and raft write to peer sockets without MSG_NOSIGNAL: a dead
	 * peer would kill the whole process with SIGPIPE (spike pitfall 1). */
	signal(SIGPIPE, SIG_IGN);
	if (!cfg->dir || !cfg->address || !cfg->address[0]) {
		*err = xstrdup("dqlite: node needs a directory and an address");
		return NULL;
	}
	if (dqnode_mkdirs(cfg->dir) < 0) {
		*err = xasprintf("dqlite: creating %s: %s", cfg->dir,
				 strerror(errno));
		return NULL;
	}
	n = xcalloc(1, sizeof(*n));
	n->dir = xstrdup(cfg->dir);
	if (dqnode_settle_id(cfg, &n->id, err) < 0)
		goto fail;
	step = "create";
	rv = dqlite_node_create(n->id, cfg->address, cfg->dir, &n->node);
	if (rv != 0)
		goto dqfail;
	step = "set_bind_address";
	rv = dqlite_node_set_bind_address(
	    n->node, cfg->bind_address ? cfg->bind_address : cfg->address);
	if (rv != 0)
		goto dqfail;
	if (cfg->connect) {
		step = "set_connect_func";
		rv = dqlite_node_set_connect_func(n->node, cfg->connect,
						  cfg->connect_arg);
		if (rv != 0)
			goto dqfail;
	}
	step = "set_network_latency_ms";
	rv = dqlite_node_set_network_latency_ms(
	    n->node, cfg->latency_ms ? cfg->latency_ms : 20);
	if (rv != 0)
		goto dqfail;
	step = "set_snapshot_params";
	if (cfg->snapshot_threshold || cfg->snapshot_trailing) {
		rv = dqlite_node_set_snapshot_params(
		    n->node,
		    cfg->snapshot_threshold ? cfg->snapshot_threshold : 1024,
		    cfg->snapshot_trailing ? cfg->snapshot_trailing : 8192);
		if (rv != 0)
			goto dqfail;
	}
	step = "start";
	rv = dqlite_node_start(n->node);
	if (rv != 0)
		goto dqfail;
	n->address = xstrdup(dqlite_node_get_bind_address(n->node));
	n->raft_address = xstrdup(cfg->address);
	log_info("db", "dqlite node %" PRIu64 " %s started on %s (dir %s)",
		 n->id, n->raft_address, n->address, n->dir);
	return n;
dqfail:
	*err = xasprintf("dqlite: node %s %s: %s (%d)", cfg->address, step,
			 n->node ? dqlite_node_errmsg(n->node) : "failed", rv);
fail:
	if (n->node)
		dqlite_node_destroy(n->node);
	free(n->dir);
	free(n);
	return NULL;
}

void
dqnode_stop(struct dqnode *n)
{
	int rv;

	if (!n)
		return;
	rv = dqlite_node_stop(n->node);
	if (rv != 0)
		log_warn("db", "dqlite node %" PRIu64 " stop: %s (%d)", n->id,
			 dqlite_node_errmsg(n->node), rv);
	dqlite_node_destroy(n->node);
	log_info("db", "dqlite node %" PRIu64 " stopped", n->id);
	free(n->address);
	free(n->raft_address);
	free(n->dir);
	free(n);
}

const char *
dqnode_raft_address(const struct dqnode *n)
{
	return n->raft_address;
}

int
dqnode_wipe(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rv = 0;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		if (unlink(p) < 0 && errno != ENOENT)
			rv = -1;
		free(p);
	}
	closedir(d);
	return rv;
}

uint64_t
dqnode_id(const struct dqnode *n)
{
	return n->id;
}

const char *
dqnode_address(const struct dqnode *n)
{
	return n->address;
}
