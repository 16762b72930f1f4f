/*
 * mhd_bare: the peer of the RPC benchmark: a bare libmicrohttpd responder
 * with the same threading as xapid, answering every POST with a fixed
 * XML-RPC success document (after reading the body).
 *   mhd_bare PORT
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char bare_reply[] =
	"<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
	"<member><name>Status</name><value>Success</value></member><member>"
	"<name>Value</name><value>h1</value></member></struct></value></param>"
	"</params></methodResponse>";

static enum MHD_Result
bare_handler(void *cls, struct MHD_Connection *c, const char *url,
	     const char *method, const char *version, const char *data,
	     size_t *size, void **con_cls)
{
	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)data;
	if (!*con_cls) {
		*con_cls = (void *)1;
		return MHD_YES;
	}
	if (*size) {
		*size = 0;
		return MHD_YES;
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(
		sizeof(bare_reply) - 1, (void *)bare_reply, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "text/xml");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

int
main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
		(uint16_t)atoi(argv[1]), NULL, NULL, bare_handler, NULL,
		MHD_OPTION_END);
	if (!d)
		return 1;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sig;
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
