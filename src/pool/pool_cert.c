/* pool_cert: the pinned certificates of pool members (xapi's host_internal
 * certificates and TLS verification of pool peers).
 *
 * Each member's TLS listener presents its own self-signed certificate
 * (STATE/xapi-ssl.pem). Its SHA-256 fingerprint is recorded in the pool
 * database as a Certificate row of type host_internal (host.certificates,
 * `xe certificate-list`), published by the host at start-up when it has
 * none. Every link to another member (pool_link.c: internal calls, the
 * database follower, Raft, relays, the migration key exchange) checks the
 * certificate the peer presents before anything is sent, the pool secret
 * included, against its pin:
 *   1. the pool database: the host_internal certificate of the host with
 *      that address;
 *   2. else STATE/pool-pins, this host's copy of the pins (lines "IP
 *      FINGERPRINT"), which serves while the database is not loaded yet
 *      (a slave before its first copy) or does not know the address yet
 *      (the master pinned at pool.join, the joiner's pin of its master);
 *   3. else (an address seen for the first time: a pool made before pins
 *      existed, or the joiner's first call to its master, authenticated by
 *      the admin's password) the certificate is pinned, and that is
 *      logged.
 * A certificate that differs from its pin is refused, and logged with both
 * fingerprints. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/store.h"
#include "pool/pool_int.h"
#include "util/certfp.h"
#include "util/log.h"
#include "util/xalloc.h"

#define PCERT_MAX 256
/* A refusal of the same address is logged at most this often (s): Raft
 * retries its links several times a second. */
#define PCERT_LOG_EVERY_S 10

struct pcert_pin {
	char ip[64];
	char fp[CERTFP_TEXT_LEN + 1];
	time_t logged; /* last refusal logged (monotonic s) */
};

static struct {
	pthread_mutex_t lock;
	struct pcert_pin pins[PCERT_MAX];
	size_t n;
	char own[CERTFP_TEXT_LEN + 1]; /* this host's, "" without TLS */
	time_t own_nb, own_na;
	char *path; /* STATE/pool-pins */
} pc = {.lock = PTHREAD_MUTEX_INITIALIZER};

const char *
pcert_own(void)
{
	return pc.own;
}

/* Writes the table to STATE/pool-pins; lock held. */
static void
pcert_save(void)
{
	if (!pc.path)
		return;
	char *tmp = xasprintf("%s.tmp", pc.path);
	FILE *f = fopen(tmp, "we");
	bool ok = f != NULL;
	for (size_t i = 0; ok && i < pc.n; i++)
		ok = fprintf(f, "%s %s\n", pc.pins[i].ip, pc.pins[i].fp) > 0;
	if (f && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		ok = false;
	if (f && fclose(f) != 0)
		ok = false;
	if (!ok || rename(tmp, pc.path) < 0) {
		log_err("pool", "cannot write %s: %s", pc.path,
		        strerror(errno));
		unlink(tmp);
	}
	free(tmp);
}

static struct pcert_pin *
pcert_find(const char *ip)
{
	for (size_t i = 0; i < pc.n; i++)
		if (strcmp(pc.pins[i].ip, ip) == 0)
			return &pc.pins[i];
	return NULL;
}

/* Sets the pin of ip; lock held. Returns whether it changed. */
static bool
pcert_set(const char *ip, const char *fp)
{
	struct pcert_pin *p = pcert_find(ip);

	if (p && strcmp(p->fp, fp) == 0)
		return false;
	if (!p && pc.n == PCERT_MAX)
		memmove(pc.pins, pc.pins + 1, --pc.n * sizeof(pc.pins[0]));
	if (!p) {
		p = &pc.pins[pc.n++];
		memset(p, 0, sizeof(*p));
		snprintf(p->ip, sizeof(p->ip), "%s", ip);
	}
	snprintf(p->fp, sizeof(p->fp), "%s", fp);
	return true;
}

int
pcert_load(const char *cert_file, char **err)
{
	char line[256];

	pthread_mutex_lock(&pc.lock);
	free(pc.path);
	pc.path = xasprintf("%s/pool-pins", prole_config()->state_dir);
	pc.n = 0;
	pc.own[0] = '\0';
	if (cert_file &&
	    certfp_of_file(cert_file, pc.own, &pc.own_nb, &pc.own_na) < 0) {
		*err = xasprintf("cannot read the certificate %s", cert_file);
		pthread_mutex_unlock(&pc.lock);
		return -1;
	}
	FILE *f = fopen(pc.path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		char ip[64], fp[128];
		unsigned char d[CERTFP_LEN];
		if (sscanf(line, "%63s %127s", ip, fp) != 2 ||
		    certfp_parse(fp, d) < 0) {
			log_warn("pool", "%s: ignoring a malformed line",
			         pc.path);
			continue;
		}
		certfp_format(d, fp);
		pcert_set(ip, fp);
	}
	if (f)
		fclose(f);
	pthread_mutex_unlock(&pc.lock);
	log_info("pool",
	         "this host's certificate: SHA-256 %s; %zu pinned peers",
	         *pc.own ? pc.own : "-", pc.n);
	return 0;
}

void
pcert_pin(const char *ip, const char *fp, const char *why)
{
	unsigned char d[CERTFP_LEN];
	char norm[CERTFP_TEXT_LEN + 1];

	if (certfp_parse(fp, d) < 0)
		return;
	certfp_format(d, norm);
	pthread_mutex_lock(&pc.lock);
	bool changed = pcert_set(ip, norm);
	if (changed)
		pcert_save();
	pthread_mutex_unlock(&pc.lock);
	if (changed)
		log_info("pool",
		         "pinned the certificate of %s (SHA-256 %s): %s", ip,
		         norm, why);
}

void
pcert_forget(const char *ip)
{
	pthread_mutex_lock(&pc.lock);
	struct pcert_pin *p = pcert_find(ip);
	if (p) {
		size_t i = (size_t)(p - pc.pins);
		memmove(p, p + 1, (pc.n - i - 1) * sizeof(*p));
		pc.n--;
		pcert_save();
	}
	pthread_mutex_unlock(&pc.lock);
	if (p)
		log_info("pool", "forgot the certificate pinned for %s", ip);
}

void
pcert_forget_all(void)
{
	pthread_mutex_lock(&pc.lock);
	pc.n = 0;
	if (pc.path)
		unlink(pc.path);
	pthread_mutex_unlock(&pc.lock);
}

/* The fingerprint the pool database pins for the host at ip, into fp;
 * false when the database has none. The host's uuid goes to uuid. */
static bool
pcert_db_pin(const char *ip, char fp[CERTFP_TEXT_LEN + 1], char uuid[37])
{
	size_t nh, nc;
	bool found = false;

	db_rdlock();
	struct db_row **hosts = db_list(DMC_host, &nh);
	struct db_row **certs = db_list(DMC_Certificate, &nc);
	for (size_t i = 0; i < nh && !found; i++) {
		const char *a = hosts[i]->f[DMF_host_address].s;
		if (!a || strcmp(a, ip) != 0)
			continue;
		for (size_t k = 0; k < nc && !found; k++) {
			const struct db_row *c = certs[k];
			unsigned char d[CERTFP_LEN];
			if (strcmp(c->f[DMF_Certificate_type].s,
			           "host_internal") != 0 ||
			    strcmp(c->f[DMF_Certificate_host].s,
			           hosts[i]->ref) != 0 ||
			    certfp_parse(c->f[DMF_Certificate_fingerprint].s,
			                 d) < 0)
				continue;
			certfp_format(d, fp);
			snprintf(uuid, 37, "%s", hosts[i]->f[DMF_host_uuid].s);
			found = true;
		}
	}
	free(hosts);
	free(certs);
	db_unlock();
	return found;
}

/* The fingerprint of the certificate the peer presented on c. */
static int
pcert_peer(struct xe_conn *c, char fp[CERTFP_TEXT_LEN + 1])
{
	unsigned int n = 0;
	const gnutls_datum_t *certs =
	    c->tls ? gnutls_certificate_get_peers(c->tls, &n) : NULL;

	if (!certs || n == 0)
		return -1;
	return certfp_of_der(certs[0].data, certs[0].size, fp);
}

int
pcert_verify(struct xe_conn *c, const char *address, char **err)
{
	char ip[64], seen[CERTFP_TEXT_LEN + 1], want[CERTFP_TEXT_LEN + 1];
	char uuid[37] = "";
	struct timespec now;

	snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(address, ":"), address);
	if (pcert_peer(c, seen) < 0) {
		*err = xasprintf(
		    "%s presented no certificate: refusing the link", ip);
		log_err("pool", "%s", *err);
		return -1;
	}
	bool in_db = pcert_db_pin(ip, want, uuid);
	pthread_mutex_lock(&pc.lock);
	struct pcert_pin *p = pcert_find(ip);
	if (!in_db && !p) {
		pcert_set(ip, seen);
		pcert_save();
		pthread_mutex_unlock(&pc.lock);
		log_warn("pool",
		         "no certificate pinned for %s yet: pinning the one it "
		         "presents on first contact (SHA-256 %s)",
		         ip, seen);
		return 0;
	}
	if (!in_db)
		snprintf(want, sizeof(want), "%s", p->fp);
	if (certfp_equal(seen, want)) {
		/* the local copy follows the database */
		if (in_db && pcert_set(ip, want))
			pcert_save();
		pthread_mutex_unlock(&pc.lock);
		return 0;
	}
	char *who = *uuid ? xasprintf("%s (host %s)", ip, uuid) : xstrdup(ip);
	*err = xasprintf("the certificate of %s is not the one pinned in %s "
	                 "(it presents SHA-256 %s, pinned %s): refusing the "
	                 "link",
	                 who, in_db ? "the pool database" : pc.path, seen,
	                 want);
	free(who);
	/* the local copy follows the database */
	if (in_db && pcert_set(ip, want))
		pcert_save();
	clock_gettime(CLOCK_MONOTONIC, &now);
	p = pcert_find(ip);
	bool say =
	    !p || !p->logged || now.tv_sec - p->logged >= PCERT_LOG_EVERY_S;
	if (p && say)
		p->logged = now.tv_sec;
	pthread_mutex_unlock(&pc.lock);
	if (say)
		log_err("pool", "%s", *err);
	return -1;
}

/* ---- this host's row ---- */

/* Links between members are always verified: host and pool say so
 * (xapi's tls_verification_enabled after pool.enable_tls_verification). */
static void
pcert_mark_enabled(struct db_txn *t, const char *host_ref, const char *new_pool)
{
	size_t n;
	struct db_row *h = db_txn_edit(t, DMC_host, host_ref);
	struct db_row **pools = db_list(DMC_pool, &n);

	if (h && !h->f[DMF_host_tls_verification_enabled].b)
		db_txn_set(t, h, DMF_host_tls_verification_enabled,
		           (union dm_val){.b = true});
	for (size_t i = 0; i < n; i++) {
		struct db_row *p = pools[i];
		if (!p->f[DMF_pool_tls_verification_enabled].b &&
		    (p = db_txn_edit(t, DMC_pool, p->ref)))
			db_txn_set(t, p, DMF_pool_tls_verification_enabled,
			           (union dm_val){.b = true});
	}
	free(pools);
	struct db_row *np =
	    new_pool ? db_txn_edit(t, DMC_pool, new_pool) : NULL;
	if (np)
		db_txn_set(t, np, DMF_pool_tls_verification_enabled,
		           (union dm_val){.b = true});
}

void
pool_cert_publish(struct db_txn *t, const char *host_ref, const char *new_pool)
{
	size_t n, nh;
	struct db_row *mine = NULL;

	if (!*pc.own)
		return;
	struct db_row **certs = db_list(DMC_Certificate, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(certs[i]->f[DMF_Certificate_type].s,
		           "host_internal") == 0 &&
		    strcmp(certs[i]->f[DMF_Certificate_host].s, host_ref) ==
		        0) {
			if (mine) /* one row per host */
				db_txn_destroy(t, DMC_Certificate,
				               certs[i]->ref);
			else
				mine = certs[i];
		}
	free(certs);
	free(db_list(DMC_host, &nh));
	pcert_mark_enabled(t, host_ref, new_pool);
	if (mine &&
	    certfp_equal(mine->f[DMF_Certificate_fingerprint].s, pc.own))
		return;
	if (mine && nh > 1) {
		/* a member's certificate changes only through the pool: the
		 * others keep refusing this one */
		log_err("pool",
		        "this host's certificate (SHA-256 %s) is not the one "
		        "the pool pinned for it (%s): the other members will "
		        "refuse their links to this host until the pinned "
		        "certificate is back in place",
		        pc.own, mine->f[DMF_Certificate_fingerprint].s);
		return;
	}
	struct db_row *r = mine ? db_txn_edit(t, DMC_Certificate, mine->ref)
	                        : db_txn_create(t, DMC_Certificate, NULL, NULL);
	if (!mine) {
		db_txn_set(t, r, DMF_Certificate_type,
		           (union dm_val){.s = xstrdup("host_internal")});
		db_txn_set(t, r, DMF_Certificate_host,
		           (union dm_val){.s = xstrdup(host_ref)});
	}
	db_txn_set(t, r, DMF_Certificate_fingerprint,
	           (union dm_val){.s = xstrdup(pc.own)});
	db_txn_set(t, r, DMF_Certificate_not_before,
	           (union dm_val){.i = (int64_t)pc.own_nb});
	db_txn_set(t, r, DMF_Certificate_not_after,
	           (union dm_val){.i = (int64_t)pc.own_na});
	log_info("pool",
	         "%s this host's certificate in the pool database "
	         "(SHA-256 %s)",
	         mine ? "replaced" : "recorded", pc.own);
}

void
pcert_forget_host_rows(struct db_txn *t, const char *host_ref)
{
	size_t n;
	struct db_row **certs = db_list(DMC_Certificate, &n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(certs[i]->f[DMF_Certificate_host].s, host_ref) == 0)
			db_txn_destroy(t, DMC_Certificate, certs[i]->ref);
	free(certs);
}
