/* pool_ident: the identities a pool member keeps in its state dir: the
 * pool secret (STATE/pool-secret) and the id of the Raft cluster its node
 * belongs to (STATE/pool-cluster). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/dqnode.h"
#include "db/store.h"
#include "pool/pool_int.h"
#include "util/xalloc.h"

static struct {
	char secret[130];
	char cluster[80];
} pid;

const char *
pool_secret(void)
{
	return pid.secret;
}

bool
pool_secret_ok(const char *s)
{
	size_t n = strlen(pid.secret);
	unsigned char d = 0;
	if (!s || strlen(s) != n || n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(s[i] ^ pid.secret[i]);
	return d == 0;
}

/* ---- secret ---- */

static char *
prole_secret_path(void)
{
	return xasprintf("%s/pool-secret", prole_config()->state_dir);
}

int
prole_set_secret(const char *secret, char **err)
{
	char *path = prole_secret_path(), *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = -1;

	if (fd >= 0 &&
	    write(fd, secret, strlen(secret)) == (ssize_t)strlen(secret) &&
	    fsync(fd) == 0 && close(fd) == 0 && rename(tmp, path) == 0) {
		snprintf(pid.secret, sizeof(pid.secret), "%s", secret);
		rc = 0;
	} else {
		*err = xasprintf("writing %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	free(tmp);
	free(path);
	return rc;
}

int
prole_load_secret(char **err)
{
	char *path = prole_secret_path();
	FILE *f = fopen(path, "re");
	char line[128] = "";

	free(path);
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\r\n")] = '\0';
	}
	if (strlen(line) >= 32) {
		snprintf(pid.secret, sizeof(pid.secret), "%s", line);
		return 0;
	}
	unsigned char rnd[32];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
		if (fd >= 0)
			close(fd);
		*err = xstrdup("cannot read /dev/urandom");
		return -1;
	}
	close(fd);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(line + 2 * i, 3, "%02x", rnd[i]);
	return prole_set_secret(line, err);
}

/* ---- cluster identity ---- */

static char *
prole_cluster_path(void)
{
	return xasprintf("%s/pool-cluster", prole_config()->state_dir);
}

const char *
prole_cluster(void)
{
	return pid.cluster;
}

bool
pool_cluster_ok(const char *id)
{
	return id && pid.cluster[0] && strcmp(id, pid.cluster) == 0;
}

int
prole_set_cluster(const char *id, char **err)
{
	char *path = prole_cluster_path(), *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = -1;

	if (fd >= 0 && write(fd, id, strlen(id)) == (ssize_t)strlen(id) &&
	    fsync(fd) == 0 && close(fd) == 0 && rename(tmp, path) == 0) {
		snprintf(pid.cluster, sizeof(pid.cluster), "%s", id);
		rc = 0;
	} else {
		*err = xasprintf("writing %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	free(tmp);
	free(path);
	return rc;
}

int
prole_new_cluster(char **err)
{
	char *u = db_new_uuid();
	int rc = prole_set_cluster(u, err);
	free(u);
	return rc;
}

/* The cluster id from the state dir; a new one for a new node, and
 * "legacy" for a node made before ids existed (every member of such a
 * pool then agrees). */
int
prole_load_cluster(char **err)
{
	char *path = prole_cluster_path();
	FILE *f = fopen(path, "re");
	char line[80] = "";
	uint64_t id;

	free(path);
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\r\n")] = '\0';
	}
	if (line[0]) {
		snprintf(pid.cluster, sizeof(pid.cluster), "%s", line);
		return 0;
	}
	if (dqnode_read_id(prole_config()->db_dir, &id) == 0)
		return prole_set_cluster("legacy", err);
	return prole_new_cluster(err);
}
