/* xapid: the per-host daemon: options, start-up order, signals. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/file.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/bootstrap.h"
#include "db/persist.h"
#include "db/store.h"
#include "pool/pool.h"
#include "rpc/api_int.h"
#include "rpc/http.h"
#include "storage/sr.h"
#include "storage/xva.h"
#include "vm/lifecycle.h"
#include "util/htab.h"
#include "util/log.h"
#include "util/xalloc.h"

static void
main_usage(FILE *f)
{
	fprintf(f,
		"usage: xapid [options]\n"
		"  --state-dir DIR       database, sockets, logs (default /var/lib/xapid)\n"
		"  --listen ADDR:PORT    plain HTTP listener (default 0.0.0.0:80)\n"
		"  --tls-listen ADDR:PORT  HTTPS listener (default 0.0.0.0:443)\n"
		"  --no-tls              no HTTPS listener\n"
		"  --password-file FILE  root's password for login instead of PAM\n"
		"  --host-name NAME      name of this host (default: hostname)\n"
		"  --address ADDR        management address (default: from --listen)\n"
		"  --bridge-prefix P     prefix of the Linux bridges made for networks\n"
		"  --db-address ADDR     dqlite raft address (default: abstract socket)\n"
		"  --vm-backend NAME     qemu (default) or sim (no guests: scale tests only)\n"
		"  --worker-pool-size N  VM operations run at once (default 16)\n"
		"  --parallel-chunk N    disks of one VM attached at once (default 10)\n"
		"  --foreground          stay in the foreground (the default)\n"
		"  --debug               verbose log\n");
}

static int
main_mkdir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *state = "/var/lib/xapid", *listen_addr = "0.0.0.0:80",
		   *tls_listen = "0.0.0.0:443", *pwfile = NULL, *db_addr = NULL,
		   *address = NULL, *bridge_prefix = "xenbr",
		   *vm_backend = "qemu";
	char hostname[HOST_NAME_MAX + 1] = "localhost", *host_name = NULL;
	static const struct option opts[] = {
		{"state-dir", required_argument, NULL, 's'},
		{"listen", required_argument, NULL, 'l'},
		{"tls-listen", required_argument, NULL, 't'},
		{"no-tls", no_argument, NULL, 'T'},
		{"password-file", required_argument, NULL, 'p'},
		{"host-name", required_argument, NULL, 'n'},
		{"address", required_argument, NULL, 'a'},
		{"bridge-prefix", required_argument, NULL, 'b'},
		{"db-address", required_argument, NULL, 'd'},
		{"vm-backend", required_argument, NULL, 'v'},
		{"worker-pool-size", required_argument, NULL, 'w'},
		{"parallel-chunk", required_argument, NULL, 'C'},
		{"foreground", no_argument, NULL, 'f'},
		{"debug", no_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	unsigned workers = 16, chunk = 10;
	char *err = NULL;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'l': listen_addr = optarg; break;
		case 't': tls_listen = optarg; break;
		case 'T': tls_listen = NULL; break;
		case 'p': pwfile = optarg; break;
		case 'n': host_name = optarg; break;
		case 'a': address = optarg; break;
		case 'b': bridge_prefix = optarg; break;
		case 'd': db_addr = optarg; break;
		case 'v': vm_backend = optarg; break;
		case 'w': workers = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'C': chunk = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'f': break;
		case 'D': log_set_level(LOG_DEBUG); break;
		case 'h': main_usage(stdout); return 0;
		default: main_usage(stderr); return 2;
		}
	}
	if (chunk < 1 || chunk > 10) {
		fprintf(stderr, "xapid: --parallel-chunk must be 1..10\n");
		return 2;
	}
	/* before any thread exists, so that only sigwait() sees these */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	gethostname(hostname, sizeof(hostname) - 1);
	if (!host_name)
		host_name = hostname;

	char *dir = realpath(state, NULL);
	if (!dir) {
		if (main_mkdir(state) < 0 || !(dir = realpath(state, NULL))) {
			fprintf(stderr, "xapid: cannot use state dir %s: %s\n", state,
				strerror(errno));
			return 1;
		}
	}
	char *logp = xasprintf("%s/xapid.log", dir);
	char *auditp = xasprintf("%s/audit.log", dir);
	char *dbdir = xasprintf("%s/db", dir);
	char *sock = xasprintf("%s/xapi.sock", dir);
	char *cert = xasprintf("%s/xapi-ssl.pem", dir);
	char *key = xasprintf("%s/xapi-ssl.key", dir);
	/* one xapid per state dir */
	char *pidp = xasprintf("%s/xapid.pid", dir);
	int pidfd = open(pidp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pidfd < 0 || flock(pidfd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "xapid: %s is in use by another xapid\n", dir);
		return 1;
	}
	if (ftruncate(pidfd, 0) == 0)
		dprintf(pidfd, "%d\n", (int)getpid());
	free(pidp);
	log_open(logp);
	if (api_audit_open(auditp) < 0)
		log_warn("main", "cannot open audit log %s: %s", auditp, strerror(errno));
	main_mkdir(dbdir);

	char *dq_addr = db_addr ? xstrdup(db_addr)
				: xasprintf("@xapid-%llx", (unsigned long long)htab_hash(dir));
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	char *mgmt = NULL;
	if (address) {
		mgmt = xstrdup(address);
	} else if (listen_addr) {
		mgmt = xstrndup(listen_addr, strcspn(listen_addr, ":"));
		if (!*mgmt || strcmp(mgmt, "0.0.0.0") == 0) {
			free(mgmt);
			mgmt = xstrdup("127.0.0.1");
		}
	} else {
		mgmt = xstrdup("127.0.0.1");
	}
	if (strlen(bridge_prefix) > 10) {
		fprintf(stderr, "xapid: --bridge-prefix %s is too long (10 at most)\n",
			bridge_prefix);
		return 2;
	}
	/* A pool member (TLS on, no plain dqlite address): the node is reached
	 * through the TLS listener, which must run before the role settles. */
	bool pooled = tls_listen && !db_addr;
	if (tls_listen && http_ensure_cert(cert, key, host_name) < 0) {
		tls_listen = NULL;
		pooled = false;
	}
	struct http_config hc = {.listen = listen_addr,
				 .tls_listen = tls_listen,
				 .unix_path = sock,
				 .cert_file = cert,
				 .key_file = key};
	struct persist *p;
	if (pooled) {
		const char *colon = strrchr(tls_listen, ':');
		struct pool_config pc = {dir, mgmt, colon ? atoi(colon + 1) : 443,
					 dbdir, dq_addr, cert};
		pool_set_argv(argv);
		p = pool_start_node(&pc, &err);
	} else {
		struct persist_dqlite_config dq = {.dir = dbdir, .address = dq_addr};
		p = persist_dqlite_open(&dq, &err);
	}
	if (!p) {
		log_err("main", "database: %s", err ? err : "cannot start");
		return 1;
	}
	if (pooled && http_start(&hc, &err) < 0) {
		log_err("main", "%s", err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if ((pooled ? pool_settle(p, &err) : db_open(p, &err)) < 0) {
		log_err("main", "database load: %s", err ? err : "failed");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	log_info(
	    "main",
	    "database loaded, generation %llu (dqlite %.2f s, rows %.2f s)%s",
	    (unsigned long long)db_generation(),
	    (double)(t1.tv_sec - t0.tv_sec) +
	        (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	    (double)(t2.tv_sec - t1.tv_sec) +
	        (double)(t2.tv_nsec - t1.tv_nsec) / 1e9,
	    pooled ? (pool_is_master()        ? " as pool master"
	              : pool_boot_emergency() ? " as slave in emergency mode"
	                                      : " as slave")
	           : "");
	const char *guest_cache = getenv("XAPID_GUEST_CACHE");
	struct bootstrap_config bc = {dir, host_name, mgmt, bridge_prefix,
				      guest_cache ? guest_cache : "/var/cache/xapid/guest"};
	char *host_ref = pooled && pool_boot_emergency()
	                     ? bootstrap_lookup(&bc, &err)
	                     : bootstrap_run(&bc, &err);
	if (!host_ref) {
		log_err("main", "bootstrap: %s", err ? err : "failed");
		/* another node took the leadership while this one settled as
		 * the master (a whole pool starting at once): settle again */
		if (pooled && err && strstr(err, PERSIST_NOT_LEADER))
			pool_restart("lost the pool leadership while starting");
		/* a slave whose master lost the leadership (to this host's
		 * node, restarted) or died while it started: settle again */
		if (pooled && err && !pool_is_master() &&
		    (strstr(err, "HOST_IS_SLAVE") ||
		     strstr(err, "CANNOT_CONTACT_HOST")))
			pool_restart("the pool master changed while starting");
		return 1;
	}
	api_init();
	session_set_password_file(pwfile);
	session_set_this_host(host_ref);
	sr_register(host_ref);
	xva_import_recover(); /* what a crash left of imports */
	const struct vm_backend_ops *be = vm_backend_find(vm_backend);
	if (!be) {
		log_err("main", "unknown VM backend %s", vm_backend);
		return 2;
	}
	const char *lport = listen_addr ? strrchr(listen_addr, ':') : NULL;
	struct vm_config vc = {dir, host_ref, bridge_prefix, be, workers,
			       lport ? atoi(lport + 1) : 0, chunk};
	if (vm_lifecycle_init(&vc, &err) < 0) {
		log_err("main", "VM backend %s: %s", vm_backend, err ? err : "failed");
		return 1;
	}

	if (pooled)
		pool_start(host_ref);
	if (!pooled && http_start(&hc, &err) < 0) {
		log_err("main", "%s", err);
		return 1;
	}
	http_set_serving(true);
	log_info("main", "xapid ready: host %s, unix %s, http %s, https %s",
		 host_name, sock, listen_addr ? listen_addr : "-",
		 tls_listen ? tls_listen : "-");

	int sig = 0;
	sigwait(&set, &sig);
	log_info("main", "signal %d: shutting down", sig);
	http_stop();
	if (pooled)
		pool_stop();
	db_close();
	unlink(sock);
	free(host_ref);
	free(mgmt);
	free(dq_addr);
	free(logp);
	free(auditp);
	free(dbdir);
	free(sock);
	free(cert);
	free(key);
	free(dir);
	return 0;
}
