/* pool_member: changes of the Raft membership, run on the master (the
 * leader's node): add a member as a standby, set the voters for the pool's
 * size, remove a member, hand the leadership over. */
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "db/dqc.h"
#include "pool/pool_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Runs one membership request on a fresh connection to the local node
 * (the leader), with a long bound: promotion waits for the catch-up. */
static int
prole_membership(char op, uint64_t id, const char *address, char **err)
{
	struct dqc *c =
	    dqc_connect(prole_config()->db_bind, POOL_CONNECT_TIMEOUT_MS, err);
	int rc = -1;

	if (!c)
		return -1;
	dqc_set_timeout(c, 60 * 1000);
	switch (op) {
	case 'a':
		/* a standby: it takes the log without counting for the
		 * majority; prole_rebalance() makes voters */
		rc = dqc_add(c, id, address, err);
		if (rc == 0)
			rc = dqc_assign(c, id, DQC_STANDBY, err);
		break;
	case 'r':
		rc = dqc_remove(c, id, err);
		break;
	case 't':
		rc = dqc_transfer(c, id, err);
		break;
	}
	dqc_close(c);
	return rc;
}

int
prole_role_of(uint64_t id)
{
	struct dqc_server *sv = NULL;
	size_t n = 0;
	int role = -1;
	struct dqc *c =
	    dqc_connect(prole_config()->db_bind, POOL_CONNECT_TIMEOUT_MS, NULL);

	if (c && dqc_cluster(c, &sv, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++)
			if (sv[i].id == id)
				role = (int)sv[i].role;
		dqc_servers_free(sv, n);
	}
	dqc_close(c);
	return role;
}

/* Waits (bounded) until the local node leads again. */
static bool
prole_wait_lead(void)
{
	for (int i = 0; i < 300; i++) {
		uint64_t lid = 0;
		char *a = NULL, *e = NULL;
		int rc = prole_leader(&lid, &a, &e);
		free(a);
		free(e);
		if (rc == 0 && lid == prole_node_id())
			return true;
		usleep(100 * 1000);
	}
	return false;
}

int
prole_add_member(uint64_t id, const char *address, char **err)
{
	/* ADD makes a spare; ASSIGN then catches it up and makes it a voter.
	 * The leader may step down while the new voter's first link comes up
	 * (a two-voter cluster needs both): it is re-elected (its log is the
	 * longer one) and the promotion is tried again. A member left half
	 * added is removed, else the cluster could lose its majority. */
	if (prole_membership('a' + 0, id, address, err) == 0)
		return 0;
	for (int attempt = 0; attempt < 8; attempt++) {
		log_warn("pool", "adding node %" PRIu64 ": %s; trying again",
		         id, *err);
		free(*err);
		*err = NULL;
		if (!prole_wait_lead()) {
			*err = xstrdup("this host no longer leads the cluster");
			return -1;
		}
		int role = prole_role_of(id);
		if (role == DQC_VOTER || role == DQC_STANDBY)
			return 0;
		struct dqc *c =
		    dqc_connect(prole_config()->db_bind, POOL_CONNECT_TIMEOUT_MS, err);
		if (!c)
			continue;
		dqc_set_timeout(c, 60 * 1000);
		int rc = role < 0 ? dqc_add(c, id, address, err) : 0;
		if (rc == 0)
			rc = dqc_assign(c, id, DQC_STANDBY, err);
		dqc_close(c);
		if (rc == 0)
			return 0;
	}
	char *e2 = NULL;
	if (prole_wait_lead() && prole_role_of(id) >= 0 &&
	    prole_membership('r', id, NULL, &e2) < 0) {
		log_err("pool", "cannot remove half-added node %" PRIu64 ": %s",
		        id, e2);
		free(e2);
	}
	return -1;
}

void
prole_rebalance(size_t nhosts)
{
	struct dqc_server *sv = NULL;
	size_t n = 0, voters = 0;
	char *err = NULL;
	size_t target = nhosts >= 5 ? 5 : nhosts >= 3 ? 3 : 1;
	uint64_t me = prole_node_id();
	struct dqc *c =
	    dqc_connect(prole_config()->db_bind, POOL_CONNECT_TIMEOUT_MS, &err);

	if (!c || dqc_cluster(c, &sv, &n, &err) < 0)
		goto out;
	dqc_set_timeout(c, 60 * 1000);
	for (size_t i = 0; i < n; i++)
		voters += sv[i].role == DQC_VOTER;
	/* promote standbys (their links are up, their logs caught up) one
	 * at a time; demote voters other than ourselves */
	for (size_t i = 0; i < n && voters < target; i++) {
		if (sv[i].role == DQC_VOTER || sv[i].id == me)
			continue;
		if (dqc_assign(c, sv[i].id, DQC_VOTER, &err) < 0)
			goto out;
		log_info("pool", "node %" PRIu64 " (%s) is a voter", sv[i].id,
		         sv[i].address);
		voters++;
	}
	for (size_t i = 0; i < n && voters > target; i++) {
		if (sv[i].role != DQC_VOTER || sv[i].id == me)
			continue;
		if (dqc_assign(c, sv[i].id, DQC_STANDBY, &err) < 0)
			goto out;
		log_info("pool", "node %" PRIu64 " (%s) is a standby", sv[i].id,
		         sv[i].address);
		voters--;
	}
out:
	if (err) {
		log_warn("pool", "cluster roles: %s", err);
		free(err);
	}
	dqc_servers_free(sv, n);
	dqc_close(c);
}

int
prole_remove_member(uint64_t id, char **err)
{
	return prole_membership('r', id, NULL, err);
}

int
prole_transfer(uint64_t id, char **err)
{
	return prole_membership('t', id, NULL, err);
}
