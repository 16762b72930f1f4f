/* pool_boot: the replica a slave keeps on disk, and the start of a slave
 * whose master is gone.
 *
 * A slave's replica lives in memory; its dqlite node holds the Raft log,
 * but cannot be read without a leader. So that a slave starting while its
 * master is dead (a two-host pool, or a pool that lost its majority) can
 * still come up, the follower keeps what it applies in STATE/pool-
 * replica.jsonl: a header line {"master": IP}, a full copy (a pool.db_follow
 * answer), then the answers applied after it, one a line, in order. A full
 * copy from the master, or a file grown past twice its base, rewrites it
 * (tmp, fsync, rename); answers are appended without a sync (a torn last
 * line is ignored on reading).
 *
 * At start-up, when no leader is known for PBOOT_AFTER_S, the slave fills
 * its store from that file and comes up as a slave in emergency mode, as
 * xapi's slave does when it cannot reach its master: every call but the
 * emergency ones is refused with HOST_STILL_BOOTING; its host and running
 * VMs are there (resync attaches them; its writes fail at once), so that
 * pool-emergency-transition-to-master makes it the master with the pool's
 * rows. Its node goes on taking part in Raft; once a leader is elected,
 * its master answers again, or another master has replaced its cluster,
 * xapid restarts (as xapi's agent does) and settles as a normal member. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "db/store.h"
#include "pool/pool_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* The file is rewritten from the store once it passes twice the size of
 * its full copy plus this much. */
#define PBOOT_SLACK (1 << 20)

static struct {
	pthread_mutex_t lock;
	int fd;          /* the file, appending; -1: none */
	bool base;       /* it holds a full copy */
	off_t size;      /* its size */
	off_t base_size; /* the size of its full copy */
	bool warned;     /* a failure was logged */
	bool active;     /* came up in emergency mode */
	bool watching, stop;
	pthread_t watcher; /* pboot_main */
} pb = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .fd = -1,
};

static char *pboot_file; /* pboot_set_path */

void
pboot_set_path(const char *path)
{
	pthread_mutex_lock(&pb.lock);
	free(pboot_file);
	pboot_file = path ? xstrdup(path) : NULL;
	pthread_mutex_unlock(&pb.lock);
}

/* Called with pb.lock held, or before any thread keeps the replica. */
static char *
pboot_path(void)
{
	if (pboot_file)
		return xstrdup(pboot_file);
	return xasprintf("%s/pool-replica.jsonl", prole_config()->state_dir);
}

static void
pboot_close(void)
{
	if (pb.fd >= 0)
		close(pb.fd);
	pb.fd = -1;
	pb.base = false;
}

/* Writes all of buf's parts to fd; 0 or -1. */
static int
pboot_writev(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++, n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Replaces the file with the header and the full copy text. */
static int
pboot_rewrite(const char *master, const char *text)
{
	char *path = pboot_path(), *tmp = xasprintf("%s.tmp", path);
	json_t *h = json_pack("{s:s}", "master", master);
	char *head = json_dumps(h, JSON_COMPACT);
	int rc = -1;

	json_decref(h);
	pboot_close();
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct iovec iov[4] = {{head, strlen(head)},
	                       {(void *)"\n", 1},
	                       {(void *)text, strlen(text)},
	                       {(void *)"\n", 1}};
	off_t len = (off_t)(iov[0].iov_len + iov[2].iov_len + 2);
	if (fd >= 0 && pboot_writev(fd, iov, 4) == 0 && fsync(fd) == 0 &&
	    close(fd) == 0 && rename(tmp, path) == 0) {
		fd = -1;
		pb.fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (pb.fd >= 0) {
			pb.base = true;
			pb.size = pb.base_size = len;
			rc = 0;
		}
	} else {
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	if (rc < 0 && !pb.warned) {
		log_warn("pool", "keeping the replica in %s: %s", path,
		         strerror(errno));
		pb.warned = true;
	} else if (rc == 0) {
		pb.warned = false;
	}
	free(head);
	free(tmp);
	free(path);
	return rc;
}

void
pboot_journal(const char *master, const char *text, bool full,
              const char *epoch, uint64_t gen)
{
	pthread_mutex_lock(&pb.lock);
	if (full) {
		pboot_rewrite(master, text);
	} else if (!pb.base || pb.size > 2 * pb.base_size + PBOOT_SLACK) {
		/* no full copy kept (a failure, or none yet), or grown: the
		 * store (the answer is applied) becomes the new base */
		char *dump = pfollow_dump(epoch, gen);
		pboot_rewrite(master, dump);
		free(dump);
	} else {
		struct iovec iov[2] = {{(void *)text, strlen(text)},
		                       {(void *)"\n", 1}};
		if (pboot_writev(pb.fd, iov, 2) == 0) {
			pb.size += (off_t)strlen(text) + 1;
		} else {
			if (!pb.warned)
				log_warn("pool", "keeping the replica: %s",
				         strerror(errno));
			pb.warned = true;
			pboot_close(); /* the next answer rewrites it */
		}
	}
	pthread_mutex_unlock(&pb.lock);
}

void
pboot_drop(void)
{
	char *path = pboot_path();
	pthread_mutex_lock(&pb.lock);
	pboot_close();
	if (unlink(path) == 0)
		log_info("pool", "the replica kept in %s goes", path);
	pthread_mutex_unlock(&pb.lock);
	free(path);
}

bool
pboot_active(void)
{
	pthread_mutex_lock(&pb.lock);
	bool a = pb.active;
	pthread_mutex_unlock(&pb.lock);
	return a;
}

bool
pool_boot_emergency(void)
{
	return pboot_active();
}

int
pboot_read(const char *path, char **master, uint64_t *gen, char **err)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "re");
	int rc = 0;
	long n = 0;

	if (!f) {
		if (errno != ENOENT) {
			*err = xasprintf("%s: %s", path, strerror(errno));
			rc = -1;
		}
		return rc;
	}
	json_t *h = NULL;
	if (getline(&line, &cap, f) > 0)
		h = json_loads(line, 0, NULL);
	const char *m = json_string_value(json_object_get(h, "master"));
	while (m && *m && getline(&line, &cap, f) > 0) {
		json_t *doc = json_loads(line, 0, NULL);
		bool full = json_is_true(json_object_get(doc, "full"));
		json_int_t g =
		    json_integer_value(json_object_get(doc, "generation"));
		json_decref(doc);
		/* the first one must be a full copy; a torn or bad line
		 * ends the file */
		if ((n == 0 && !full) || pfollow_apply_text(line) < 0)
			break;
		*gen = (uint64_t)g;
		n++;
	}
	if (n > 0) {
		*master = xstrdup(m);
		log_warn("pool",
		         "the replica kept in %s: %ld answers of %s read, its "
		         "generation %llu",
		         path, n, m, (unsigned long long)*gen);
		rc = 1;
	} else {
		log_warn("pool", "%s holds no usable replica", path);
	}
	json_decref(h);
	free(line);
	fclose(f);
	return rc;
}

int
pboot_settle(bool opened, char **err)
{
	char *master = NULL, *path = pboot_path();
	uint64_t gen = 0;

	if (access(path, F_OK) < 0) {
		log_warn("pool",
		         "no master, and no replica of the pool database kept "
		         "in %s: waiting for the master",
		         path);
		free(path);
		return 0;
	}
	if (!opened && db_open(NULL, err) < 0) {
		free(path);
		return -1;
	}
	/* answers from a master being followed would mix with the file's */
	char *was = prole_master();
	pfollow_set_master(NULL);
	char *e = NULL;
	int rc = pboot_read(path, &master, &gen, &e);
	if (rc < 0) {
		/* not readable: this host waits for its master */
		log_err("pool", "the replica kept here: %s", e);
		free(e);
		rc = 0;
	}
	free(path);
	if (rc == 0) {
		pfollow_set_master(was);
		free(was);
		return rc;
	}
	free(was);
	pthread_mutex_lock(&pb.lock);
	pb.active = true;
	pthread_mutex_unlock(&pb.lock);
	prole_set_boot_emergency(master);
	pfollow_restore(gen);
	log_warn("pool",
	         "cannot contact the master %s: running in slave emergency "
	         "mode from the replica kept here (it is tried again; "
	         "pool-emergency-transition-to-master makes this host the "
	         "master)",
	         master);
	free(master);
	return 1;
}

bool
prole_has_leader(void)
{
	uint64_t id = 0;
	char *addr = NULL, *err = NULL;
	bool known = prole_leader(&id, &addr, &err) == 0 && id != 0;
	free(addr);
	free(err);
	return known;
}

/* Looks at the leader: another node's is followed from now on, and xapid
 * restarts once its master answers (its start-up is over: a restart of
 * ours earlier would disrupt its election); true when our node leads (the
 * restart settles this host as the master). */
static bool
pboot_leader(void)
{
	uint64_t id = 0;
	char *addr = NULL, *err = NULL;
	bool ours = false;

	if (prole_leader(&id, &addr, &err) == 0 && id != 0) {
		ours = id == prole_node_id();
		char *ip = xstrndup(addr, strcspn(addr, ":")),
		     *cur = prole_master();
		if (!ours && (!cur || strcmp(cur, ip) != 0)) {
			log_warn("pool",
			         "the pool's leader is now %s: waiting for its "
			         "master to answer",
			         addr);
			prole_set_boot_emergency(ip);
		}
		free(ip);
		free(cur);
	}
	free(addr);
	free(err);
	return ours;
}

/* Restarts xapid once the pool has a master this host can follow again. */
static void *
pboot_main(void *arg)
{
	uint64_t base = pfollow_applied();
	(void)arg;
	for (unsigned i = 1;; i++) {
		sleep(1);
		pthread_mutex_lock(&pb.lock);
		bool stop = pb.stop;
		pthread_mutex_unlock(&pb.lock);
		if (stop)
			break;
		prole_change_lock();
		/* a transition under way (its node is closed) restarts too */
		if (!prole_persist() || pool_is_master()) {
			prole_change_unlock();
			continue;
		}
		const char *why = NULL;
		char *sup = NULL;
		if (pfollow_applied() != base)
			why = "the master answers again";
		else if (pboot_leader())
			why = "this host's node leads the pool";
		else if (i % 5 == 0 && (sup = pemerg_superseded()))
			why = "another master leads the pool";
		free(sup);
		if (why)
			pool_restart(why);
		prole_change_unlock();
	}
	return NULL;
}

void
pboot_start(void)
{
	pthread_mutex_lock(&pb.lock);
	if (pb.active && !pb.watching) {
		if (pthread_create(&pb.watcher, NULL, pboot_main, NULL) == 0)
			pb.watching = true;
		else
			log_err("pool",
			        "cannot start the emergency mode watcher");
	}
	pthread_mutex_unlock(&pb.lock);
}

void
pboot_stop(void)
{
	pthread_mutex_lock(&pb.lock);
	pb.stop = true;
	bool w = pb.watching;
	pb.watching = false;
	pthread_mutex_unlock(&pb.lock);
	/* not when the watcher itself restarts xapid (pool_restart) */
	if (w && !pthread_equal(pb.watcher, pthread_self()))
		pthread_join(pb.watcher, NULL);
}
