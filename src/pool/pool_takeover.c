/* pool_takeover: the files of an emergency transition (prole_take_over):
 * the replica written aside before xapid restarts, taken by the new
 * one-node cluster at start-up, and the old node's data kept aside. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/dmval.h"
#include "db/dqnode.h"
#include "db/persist.h"
#include "db/store.h"
#include "pool/pool_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Moves the node's data directory aside (DIR.pre-emergency, replacing an
 * older one): the Raft log of the cluster left behind stays for the
 * administrator. */
int
ptake_set_aside(char **err)
{
	char *aside = xasprintf("%s.pre-emergency", prole_config()->db_dir);
	int rc = 0;

	if (dqnode_wipe(aside) < 0 || (rmdir(aside) < 0 && errno != ENOENT) ||
	    (rename(prole_config()->db_dir, aside) < 0 && errno != ENOENT)) {
		*err = xasprintf("moving %s aside: %s", prole_config()->db_dir,
		                 strerror(errno));
		rc = -1;
	} else {
		log_warn("pool", "the old cluster's Raft log is kept in %s",
		         aside);
	}
	free(aside);
	return rc;
}

static char *
ptake_path(void)
{
	return xasprintf("%s/emergency-master.json", prole_config()->state_dir);
}

/* Writes the replica's persistent rows to the take-over file, durably. */
int
ptake_write(char **err)
{
	json_t *doc = json_object(), *rows = json_array();
	char *path = ptake_path(), *tmp = xasprintf("%s.tmp", path);
	int rc = -1;

	db_rdlock();
	for (int c = 0; c < DMC__COUNT; c++) {
		if (!(dm_classes[c].flags & DMCF_PERSISTENT))
			continue;
		size_t n;
		struct db_row **v = db_list(c, &n);
		for (size_t i = 0; i < n; i++) {
			json_t *o = json_object();
			char *text = db_row_to_json(v[i]);
			json_object_set_new(o, "cls",
			                    json_string(dm_classes[c].name));
			json_object_set_new(o, "ref", json_string(v[i]->ref));
			json_object_set_new(o, "row", json_string(text));
			free(text);
			json_array_append_new(rows, o);
		}
		free(v);
	}
	db_unlock();
	json_object_set_new(doc, "generation",
	                    json_integer((json_int_t)pfollow_generation()));
	json_object_set_new(doc, "rows", rows);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(text);
	if (fd >= 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0 &&
	    close(fd) == 0 && rename(tmp, path) == 0) {
		rc = 0;
	} else {
		*err = xasprintf("writing %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	free(text);
	free(tmp);
	free(path);
	return rc;
}

/* At start-up, after an emergency transition: the new node (a one-node
 * cluster on the emptied directory) takes the rows the take-over file
 * holds. Returns 0 (nothing to do, or done), or -1 with *err. */
int
ptake_import(struct persist *p, char **err)
{
	char *path = ptake_path();
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr);
	int rc = -1;

	if (!doc) {
		if (access(path, F_OK) == 0) {
			*err = xasprintf("%s: %s", path, jerr.text);
			free(path);
			return -1;
		}
		free(path);
		return 0;
	}
	json_t *rows = json_object_get(doc, "rows");
	size_t n = json_array_size(rows);
	struct persist_op *ops = xcalloc(n + 1, sizeof(*ops));
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(rows, i);
		ops[i].kind = PERSIST_PUT;
		ops[i].cls = json_string_value(json_object_get(o, "cls"));
		ops[i].ref = json_string_value(json_object_get(o, "ref"));
		ops[i].data = json_string_value(json_object_get(o, "row"));
		if (!ops[i].cls || !ops[i].ref || !ops[i].data) {
			*err = xasprintf("%s: malformed row %zu", path, i);
			goto out;
		}
	}
	uint64_t gen =
	    (uint64_t)json_integer_value(json_object_get(doc, "generation"));
	if (persist_replace_all(p, ops, n, gen + 1, err) < 0)
		goto out;
	unlink(path);
	log_warn("pool",
	         "emergency transition: the pool database (%zu rows, the "
	         "master's generation %" PRIu64 ") is this host's",
	         n, gen);
	rc = 1;
out:
	free(ops);
	json_decref(doc);
	free(path);
	return rc;
}

/* After the take-over's restart: the pool record names this host, and
 * every other host is down until it is back. */
void
ptake_after(void)
{
	struct db_txn *t = db_txn_begin();
	size_t n;
	char *err = NULL;
	struct db_row **pools = db_list(DMC_pool, &n);
	if (n) {
		struct db_row *p = db_txn_edit(t, DMC_pool, pools[0]->ref);
		db_txn_set(t, p, DMF_pool_master,
		           (union dm_val){.s = xstrdup(prole_host_ref())});
	}
	free(pools);
	struct db_row **hosts = db_list(DMC_host, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(hosts[i]->ref, prole_host_ref()) == 0)
			continue;
		struct db_row *m = db_txn_edit(t, DMC_host_metrics,
		                               hosts[i]->f[DMF_host_metrics].s);
		if (m)
			db_txn_set(t, m, DMF_host_metrics_live,
			           (union dm_val){.b = false});
	}
	free(hosts);
	/* xapi's alert on a host that has just become master
	 * (Xapi_pool_transition.consider_sending_alert) */
	struct db_row *me = db_get(DMC_host, prole_host_ref());
	union dm_val cls;
	if (me && dmv_scalar_parse(
	              dm_classes[DMC_message].fields[DMF_message_cls].type,
	              "Host", &cls) == 0) {
		struct db_row *m = db_txn_create(t, DMC_message, NULL, NULL);
		db_txn_set(
		    t, m, DMF_message_name,
		    (union dm_val){.s = xstrdup("POOL_MASTER_TRANSITION")});
		db_txn_set(t, m, DMF_message_priority, (union dm_val){.i = 4});
		db_txn_set(t, m, DMF_message_cls, cls);
		db_txn_set(
		    t, m, DMF_message_obj_uuid,
		    (union dm_val){.s = xstrdup(me->f[DMF_host_uuid].s)});
		db_txn_set(t, m, DMF_message_body,
		           (union dm_val){.s = xstrdup("")});
		db_txn_set(t, m, DMF_message_timestamp,
		           (union dm_val){.i = (int64_t)time(NULL)});
	}
	if (db_txn_commit(t, &err) < 0) {
		log_warn("pool",
		         "new master: cannot update the pool record: %s", err);
		free(err);
	}
	log_warn("pool", "emergency transition: this host is the master");
}
