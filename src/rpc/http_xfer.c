/* http_xfer: the HTTP handlers that move bytes rather than calls: a VM's
 * serial console (/console) and a VDI's data (/export_raw_vdi,
 * /import_raw_vdi; the upload is streamed to disk). */
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

/* ---- /console: a raw relay to a VM's serial console ---- */

static char *(*http_console_path)(const char *vm_ref);

void
http_set_console_resolver(char *(*fn)(const char *vm_ref))
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
	http_ctx_init(&ctx, c, local);
	struct api_err *err = http_auth(c, local, &ctx);
	char *path = NULL;
	if (!err && (!ref || !http_console_path || !(path = http_console_path(ref))))
		err = api_error(XE_HANDLE_INVALID, "VM", ref ? ref : "", NULL);
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

/* ---- /export_raw_vdi and /import_raw_vdi ---- */

static const char *
http_arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

enum MHD_Result
http_export_vdi(struct MHD_Connection *c, bool local)
{
	struct api_ctx ctx;
	const char *task = http_arg(c, "task_id"), *vdi = http_arg(c, "vdi");
	const char *format = http_arg(c, "format");
	char *tmp = NULL;
	http_ctx_init(&ctx, c, local);
	struct api_err *err = http_auth(c, local, &ctx);
	api_ctx_clear(&ctx);
	if (!err && !vdi)
		err = api_error(XE_HANDLE_INVALID, "VDI", "", NULL);
	if (!err)
		err = sr_vdi_export_file(vdi, format, &tmp);
	if (err)
		return http_fail(c, task, err, MHD_HTTP_BAD_REQUEST);
	int fd = open(tmp, O_RDONLY | O_CLOEXEC);
	struct stat st;
	unlink(tmp); /* gone once sent */
	free(tmp);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return http_fail(c, task, api_internal("export: %s", strerror(errno)),
				 MHD_HTTP_INTERNAL_SERVER_ERROR);
	}
	struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	MHD_add_response_header(r, "Content-Type", "application/octet-stream");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	if (task)
		task_finish(task, NULL, NULL);
	return ret;
}

/* The first call of a PUT /import_raw_vdi: where its body will go. */
void
http_import_begin(struct MHD_Connection *c, struct http_req *rq, bool local)
{
	struct api_ctx ctx;
	const char *vdi = http_arg(c, "vdi");
	rq->up_fd = -1;
	http_ctx_init(&ctx, c, local);
	rq->up_err = http_auth(c, local, &ctx);
	api_ctx_clear(&ctx);
	if (!rq->up_err && !vdi)
		rq->up_err = api_error(XE_HANDLE_INVALID, "VDI", "", NULL);
	if (!rq->up_err)
		rq->up_err = sr_vdi_import_begin(vdi, &rq->up_path);
	if (!rq->up_err) {
		rq->up_fd = open(rq->up_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (rq->up_fd < 0)
			rq->up_err = api_internal("import: %s", strerror(errno));
	}
}

enum MHD_Result
http_import_end(struct MHD_Connection *c, struct http_req *rq)
{
	const char *task = http_arg(c, "task_id");
	struct api_err *err = rq->up_err;
	rq->up_err = NULL;
	if (rq->up_fd >= 0) {
		if (fsync(rq->up_fd) < 0 && !err)
			err = api_internal("import: %s", strerror(errno));
		close(rq->up_fd);
		rq->up_fd = -1;
	}
	if (!err)
		err = sr_vdi_import_finish(http_arg(c, "vdi"), http_arg(c, "format"),
					   rq->up_path);
	else if (rq->up_path)
		unlink(rq->up_path);
	XFREE(rq->up_path);
	if (err)
		return http_fail(c, task, err, MHD_HTTP_BAD_REQUEST);
	if (task)
		task_finish(task, NULL, NULL);
	struct buf b = BUF_INIT;
	return http_reply(c, MHD_HTTP_OK, "text/plain", &b);
}

