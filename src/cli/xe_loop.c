/* xe_loop: the client side of the thin-CLI protocol, command by command. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/xe.h"
#include "cli/xe_console.h"
#include "cli/xe_http.h"
#include "util/xalloc.h"

/* Load sends the file in chunks of this size. */
#define XE_LOOP_CHUNK (1024 * 1024)
/* Interval of the Wait heartbeats sent while a transfer runs. */
#define XE_LOOP_HEARTBEAT_MS 5000

/* A thread sending Response Wait while the main thread transfers a file. */
struct xe_heartbeat {
	struct cliproto_stream *s;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
};

static void *
xe_heartbeat_main(void *arg)
{
	struct xe_heartbeat *hb = arg;
	struct timespec ts;

	pthread_mutex_lock(&hb->lock);
	while (!hb->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += XE_LOOP_HEARTBEAT_MS / 1000;
		ts.tv_nsec += (XE_LOOP_HEARTBEAT_MS % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!hb->stop &&
		       pthread_cond_timedwait(&hb->cond, &hb->lock, &ts) == 0)
			;
		if (hb->stop)
			break;
		if (cliproto_write_response(hb->s, CLIPROTO_WAIT) < 0)
			break; /* the main loop will notice the broken link */
	}
	pthread_mutex_unlock(&hb->lock);
	return NULL;
}

static void
xe_heartbeat_start(struct xe_heartbeat *hb, struct cliproto_stream *s)
{
	pthread_condattr_t ca;

	memset(hb, 0, sizeof(*hb));
	hb->s = s;
	pthread_mutex_init(&hb->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&hb->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&hb->thread, NULL, xe_heartbeat_main, hb) != 0) {
		xe_debug("cannot start the heartbeat thread\n");
		hb->stop = 2;
	}
}

static void
xe_heartbeat_stop(struct xe_heartbeat *hb)
{
	int started = hb->stop != 2;

	pthread_mutex_lock(&hb->lock);
	hb->stop = 1;
	pthread_cond_signal(&hb->cond);
	pthread_mutex_unlock(&hb->lock);
	if (started)
		pthread_join(hb->thread, NULL);
	pthread_cond_destroy(&hb->cond);
	pthread_mutex_destroy(&hb->lock);
}

/* Dies on a lost server link, as xapi's xe does. */
__attribute__((noreturn)) static void
xe_loop_lost(struct cliproto_stream *s)
{
	xe_debug("connection: %s\n", s->err);
	fprintf(stderr, "Lost connection to the server.\n");
	xe_exit(1);
}

static void
xe_loop_send(struct cliproto_stream *s, enum cliproto_type type)
{
	if (cliproto_write_response(s, type) < 0)
		xe_loop_lost(s);
}

/* Refuses files the user did not name on the command line. */
static void
xe_loop_check_file(const struct xeargs *args, const char *file, int allow_cwd)
{
	char *cwd = getcwd(NULL, 0);
	int ok = xeargs_file_permitted(args, cwd ? cwd : "/", file, allow_cwd);

	free(cwd);
	if (ok)
		return;
	fprintf(stderr,
	        "File not permitted: Blocked upload/download of the file %s,"
	        " which was requested by the server. The file name was not"
	        " present on the command line.\n",
	        file);
	xe_exit(1);
}

/* Load: uploads a local file as Blob chunks, or answers Failed. */
static void
xe_loop_load(struct cliproto_stream *s, const struct xeargs *args,
             const char *file)
{
	struct stat st;
	char *block;
	ssize_t n;
	int fd;

	xe_loop_check_file(args, file, 0);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		xe_debug("cannot read %s: %s\n", file,
		         fd < 0 ? strerror(errno) : "is a directory");
		if (fd >= 0)
			close(fd);
		xe_loop_send(s, CLIPROTO_FAILED);
		return;
	}
	xe_loop_send(s, CLIPROTO_OK);
	block = xmalloc(XE_LOOP_CHUNK);
	for (;;) {
		n = read(fd, block, XE_LOOP_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr,
			        "Client Side error: Failed to upload"
			        " file %s: %s.\n",
			        file, strerror(errno));
			xe_exit(1);
		}
		if (n == 0)
			break;
		if (cliproto_write_chunk(s, block, (size_t)n) < 0)
			xe_loop_lost(s);
	}
	free(block);
	close(fd);
	if (cliproto_write_end(s) < 0)
		xe_loop_lost(s);
}

/* Prompt: sends one line of stdin (empty at end of input). */
static void
xe_loop_prompt(struct cliproto_stream *s)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	fflush(stdout);
	n = getline(&line, &cap, stdin);
	if (n < 0)
		n = 0;
	if (n > 0 && line[n - 1] == '\n')
		n--;
	if ((n > 0 && cliproto_write_chunk(s, line, (size_t)n) < 0) ||
	    cliproto_write_end(s) < 0) {
		free(line);
		xe_loop_lost(s);
	}
	free(line);
}

/* Reports the outcome of a transfer to the server. */
static void
xe_loop_transfer_done(struct cliproto_stream *s, enum xe_http_result r,
                      const char *err)
{
	xe_loop_send(s, r == XE_HTTP_OK ? CLIPROTO_OK : CLIPROTO_FAILED);
	if (r == XE_HTTP_CLIENT_ERROR) {
		fprintf(stderr, "Operation failed. Error: %s\n", err);
		xe_exit(1);
	}
}

static int
xe_loop_is_stdio(const char *file)
{
	return file[0] == '\0' || strcmp(file, "-") == 0;
}

/* HttpGet: downloads url into file ("" or "-": stdout). */
static void
xe_loop_http_get(struct cliproto_stream *s, const struct xe_target *base,
                 const struct xeargs *args, const char *file, const char *url)
{
	struct xe_heartbeat hb;
	enum xe_http_result r;
	char err[512] = "";
	int to_stdout = xe_loop_is_stdio(file);

	if (!to_stdout)
		xe_loop_check_file(args, file, 1);
	xe_heartbeat_start(&hb, s);
	r = xe_http_get(base, url, to_stdout ? NULL : file, err, sizeof(err));
	xe_heartbeat_stop(&hb);
	xe_loop_transfer_done(s, r, err);
}

/* HttpPut: uploads file ("" or "-": stdin) to url. */
static void
xe_loop_http_put(struct cliproto_stream *s, const struct xe_target *base,
                 const struct xeargs *args, const char *file, const char *url)
{
	struct xe_heartbeat hb;
	enum xe_http_result r;
	struct stat st;
	long long size = -1;
	char err[512];
	int fd = STDIN_FILENO;

	if (!xe_loop_is_stdio(file)) {
		xe_loop_check_file(args, file, 0);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, sizeof(err), "file '%s' does not exist",
			         file);
			if (errno != ENOENT)
				snprintf(err, sizeof(err),
				         "cannot open '%s': %s", file,
				         strerror(errno));
			xe_loop_transfer_done(s, XE_HTTP_CLIENT_ERROR, err);
			return;
		}
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		size = (long long)st.st_size;
	xe_heartbeat_start(&hb, s);
	r = xe_http_put(base, url, fd, size);
	xe_heartbeat_stop(&hb);
	if (fd != STDIN_FILENO)
		close(fd);
	xe_loop_transfer_done(s, r, "");
}

/* Error: an API error the server left to the client to print. */
static void
xe_loop_error(const struct cliproto_msg *m)
{
	size_t i;

	fprintf(stderr, "Error code: %s\n", m->text);
	fprintf(stderr, "Error parameters: ");
	for (i = 0; i < m->nparams; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", m->params[i]);
	fprintf(stderr, "\n");
}

/* Checks the server's handshake and answers it. */
static void
xe_loop_handshake(struct cliproto_stream *s)
{
	int32_t major, minor;

	if (cliproto_read_handshake(s, &major, &minor) < 0) {
		xe_debug("handshake: %s\n", s->err);
		if (errno == EPROTO) {
			fprintf(stderr, "Failed to contact a running"
			                " management agent.\n"
			                "Try specifying a server name and"
			                " port.\n");
			xe_usage();
			xe_exit(1);
		}
		xe_loop_lost(s);
	}
	xe_debug("Server has protocol version %d.%d. Client has %d.%d\n",
	         (int)major, (int)minor, CLIPROTO_MAJOR, CLIPROTO_MINOR);
	if (major != CLIPROTO_MAJOR) {
		fprintf(stderr,
		        "Protocol version mismatch: Server has protocol version"
		        " %d.%d. Client has %d.%d.\n"
		        "Try specifying a server name and port on the"
		        " command-line.\n",
		        (int)major, (int)minor, CLIPROTO_MAJOR, CLIPROTO_MINOR);
		xe_usage();
		xe_exit(1);
	}
	if (cliproto_write_handshake(s) < 0)
		xe_loop_lost(s);
}

int
xe_loop_run(struct cliproto_stream *s, const struct xe_target *base,
            const struct xeargs *args)
{
	struct cliproto_msg m;
	int r, code;

	xe_loop_handshake(s);
	for (;;) {
		r = cliproto_read_msg(s, &m);
		if (r == 0)
			xe_loop_lost(s);
		if (r < 0) {
			cliproto_msg_free(&m);
			if (errno == EPROTO || errno == EMSGSIZE) {
				fprintf(stderr,
				        "Unexpected message from"
				        " server: %s\n",
				        s->err);
				xe_exit(1);
			}
			xe_loop_lost(s);
		}
		xe_debug("Read: %s\n", cliproto_type_name(m.type));
		switch (m.type) {
		case CLIPROTO_PRINT:
			fwrite(m.text, 1, m.text_len, stdout);
			fputc('\n', stdout);
			fflush(stdout);
			break;
		case CLIPROTO_PRINT_STDERR:
			fwrite(m.text, 1, m.text_len, stderr);
			fflush(stderr);
			break;
		case CLIPROTO_DEBUG:
			xe_debug("debug from server: %s\n", m.text);
			break;
		case CLIPROTO_LOAD:
			xe_loop_load(s, args, m.text);
			break;
		case CLIPROTO_PROMPT:
			xe_loop_prompt(s);
			break;
		case CLIPROTO_HTTP_GET:
			xe_loop_http_get(s, base, args, m.text, m.url);
			break;
		case CLIPROTO_HTTP_PUT:
			xe_loop_http_put(s, base, args, m.text, m.url);
			break;
		case CLIPROTO_HTTP_CONNECT:
			xe_loop_send(s, xe_console_connect(base, m.url) == 0
					     ? CLIPROTO_OK
					     : CLIPROTO_FAILED);
			break;
		case CLIPROTO_ERROR:
			xe_loop_error(&m);
			break;
		case CLIPROTO_EXIT:
			code = m.num;
			cliproto_msg_free(&m);
			return code;
		default:
			fprintf(stderr, "Unexpected message from server: %s\n",
			        cliproto_type_name(m.type));
			cliproto_msg_free(&m);
			xe_exit(1);
		}
		cliproto_msg_free(&m);
	}
}
