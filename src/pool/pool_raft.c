/* pool_raft: Raft traffic between dqlite nodes over xapid's TLS port.
 *
 * A node's Raft address is its host's "IP:PORT". dqlite calls
 * praft_connect() to reach a peer: we open TLS to that xapid, ask for
 * POST /raft with the pool secret and an Upgrade, and hand dqlite one end
 * of a socketpair whose other end a thread relays into the TLS stream. On
 * the peer, http.c checks the secret and gives the upgraded socket to
 * pool_raft_serve(), which relays it into the local node's abstract
 * socket. dqlite then speaks its own protocol end to end. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pool/pool_int.h"
#include "util/log.h"
#include "util/xalloc.h"

static char *praft_local; /* "@name" */

void
praft_set_local(const char *bind_address)
{
	free(praft_local);
	praft_local = xstrdup(bind_address);
}

int
praft_connect(void *arg, const char *address, int *fd)
{
	struct xe_conn c;
	char *err = NULL;
	int status = 0;
	long long clen;

	(void)arg;
	if (!address || address[0] == '@' || !strchr(address, ':')) {
		log_warn("pool", "raft: cannot reach member at '%s'",
		         address ? address : "");
		return 1;
	}
	char *extra = xasprintf("Connection: Upgrade\r\nUpgrade: dqlite\r\n"
	                        "%s: %s\r\n",
	                        POOL_CLUSTER_HEADER, prole_cluster());
	int rq =
	    plink_request(&c, address, "POST", "/raft", extra, NULL, 0, &err);
	free(extra);
	if (rq < 0) {
		log_debug("pool", "raft: %s: %s", address, err);
		free(err);
		return 1;
	}
	if (plink_read_head(&c, &status, &clen, POOL_CONNECT_TIMEOUT_MS, &err) <
	        0 ||
	    status != 101) {
		log_warn("pool", "raft: %s refused the link: %s (HTTP %d)",
		         address, err ? err : "", status);
		free(err);
		xe_conn_close(&c);
		return 1;
	}
	*fd = plink_relay(&c);
	return *fd < 0;
}

void
pool_raft_serve(int sock)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = -1;
	size_t n = praft_local ? strlen(praft_local) : 0;

	if (n > 1 && n < sizeof(sun.sun_path)) {
		/* "@name": abstract (sun_path[0] = 0, no terminator) */
		memcpy(sun.sun_path + 1, praft_local + 1, n - 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sun,
		            (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		                        n)) < 0) {
			log_warn("pool", "raft: local node %s: %s", praft_local,
			         strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0) {
		plink_pump(sock, fd);
		close(fd);
	}
}
