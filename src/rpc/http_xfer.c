/* http_xfer: the HTTP handler that relays rather than calls: a VM's serial
 * console (/console). A VDI's data moves in http_vdi.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc/api_int.h"
#include "rpc/http.h"
#include "rpc/http_int.h"
#include "storage/sr.h"
#include "util/log.h"
#include "util/xalloc.h"

/* ---- /console: a raw relay to a VM's console (serial or VNC) ---- */

static char *(*http_console_path)(const char *ref, const char *uuid);

void
http_set_console_resolver(char *(*fn)(const char *ref, const char *uuid))
{
	http_console_path = fn;
}

struct http_relay {
	char *path;
	MHD_socket sock;
	struct MHD_UpgradeResponseHandle *urh;
};

static void *
http_console_main(void *p)
{
	struct http_relay *r = p;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", r->path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		struct pollfd pf[2] = {{r->sock, POLLIN, 0}, {fd, POLLIN, 0}};
		char buf[4096];
		for (;;) {
			if (poll(pf, 2, -1) < 0 && errno != EINTR)
				break;
			if (pf[0].revents) {
				ssize_t n = recv(r->sock, buf, sizeof(buf), 0);
				if (n <= 0 || send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
					break;
			}
			if (pf[1].revents) {
				ssize_t n = recv(fd, buf, sizeof(buf), 0);
				if (n <= 0 || send(r->sock, buf, (size_t)n, MSG_NOSIGNAL) != n)
					break;
			}
		}
	} else {
		static const char msg[] = "The VM's console is not available.\r\n";
		if (send(r->sock, msg, sizeof(msg) - 1, MSG_NOSIGNAL) < 0)
			log_info("http", "console client gone");
	}
	if (fd >= 0)
		close(fd);
	MHD_upgrade_action(r->urh, MHD_UPGRADE_ACTION_CLOSE);
	free(r->path);
	free(r);
	return NULL;
}

static void
http_console_upgraded(void *cls, struct MHD_Connection *c, void *req_cls,
		      const char *extra_in, size_t extra_in_size, MHD_socket sock,
		      struct MHD_UpgradeResponseHandle *urh)
{
	struct http_relay *r = cls;
	(void)c;
	(void)req_cls;
	(void)extra_in;
	(void)extra_in_size;
	r->sock = sock;
	r->urh = urh;
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, http_console_main, r) != 0)
		http_console_main(r);
	pthread_attr_destroy(&attr);
}

enum MHD_Result
http_console(struct MHD_Connection *c, bool local)
{
	struct api_ctx ctx;
	const char *ref = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ref");
	const char *uuid = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "uuid");
	http_ctx_init(&ctx, c, local);
	struct api_err *err = http_auth(c, local, &ctx);
	char *path = NULL;
	if (!err && ((!ref && !uuid) || !http_console_path ||
		     !(path = http_console_path(ref, uuid))))
		err = api_error(XE_HANDLE_INVALID, "console", uuid ? uuid : ref ? ref : "", NULL);
	api_ctx_clear(&ctx);
	if (err)
		return http_fail(c, NULL, err, MHD_HTTP_NOT_FOUND);
	struct http_relay *r = xcalloc(1, sizeof(*r));
	r->path = path;
	struct MHD_Response *resp =
		MHD_create_response_for_upgrade(http_console_upgraded, r);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "xe-console");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	return ret;
}
