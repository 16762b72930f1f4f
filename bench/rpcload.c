/*
 * rpcload: a keep-alive HTTP POST load generator for the RPC benchmarks.
 *   rpcload HOST PORT PATH BODYFILE THREADS SECONDS
 * Each thread keeps one connection and sends the same request back to back;
 * prints "requests N seconds S rate R/s errors E".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *load_host, *load_path;
static int load_port;
static char *load_req;
static size_t load_reqlen;
static double load_secs;

struct load_res {
	long n, errors;
};

static double
load_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
load_connect(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)load_port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, load_host, &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Reads one response; returns 0 if it was a 200. */
static int
load_read(int fd, char *buf, size_t cap)
{
	size_t have = 0;
	char *end;
	for (;;) {
		ssize_t r = read(fd, buf + have, cap - have - 1);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")))
			break;
	}
	char *cl = strcasestr(buf, "content-length:");
	size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;
	size_t hdr = (size_t)(end + 4 - buf);
	while (have < hdr + body) {
		ssize_t r = read(fd, buf, cap - 1 < hdr + body - have ? cap - 1 : hdr + body - have);
		if (r <= 0)
			return -1;
		have += (size_t)r;
	}
	return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
}

static void *
load_main(void *p)
{
	struct load_res *res = p;
	char *buf = malloc(1 << 20);
	int fd = load_connect();
	double end = load_now() + load_secs;
	while (fd >= 0 && load_now() < end) {
		if (write(fd, load_req, load_reqlen) != (ssize_t)load_reqlen ||
		    load_read(fd, buf, 1 << 20) < 0) {
			res->errors++;
			close(fd);
			fd = load_connect();
			continue;
		}
		res->n++;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

int
main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: rpcload HOST PORT PATH BODYFILE THREADS SECONDS\n");
		return 2;
	}
	load_host = argv[1];
	load_port = atoi(argv[2]);
	load_path = argv[3];
	FILE *f = fopen(argv[4], "r");
	if (!f)
		return 1;
	static char body[65536];
	size_t blen = fread(body, 1, sizeof(body), f);
	fclose(f);
	int threads = atoi(argv[5]);
	load_secs = atof(argv[6]);
	load_req = malloc(blen + 512);
	load_reqlen = (size_t)sprintf(load_req,
				      "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/xml\r\n"
				      "Content-Length: %zu\r\n\r\n",
				      load_path, load_host, blen);
	memcpy(load_req + load_reqlen, body, blen);
	load_reqlen += blen;
	pthread_t th[256];
	struct load_res res[256] = {{0, 0}};
	double t0 = load_now();
	for (int i = 0; i < threads && i < 256; i++)
		pthread_create(&th[i], NULL, load_main, &res[i]);
	long n = 0, e = 0;
	for (int i = 0; i < threads && i < 256; i++) {
		pthread_join(th[i], NULL);
		n += res[i].n;
		e += res[i].errors;
	}
	double dt = load_now() - t0;
	printf("requests %ld seconds %.2f rate %.0f errors %ld\n", n, dt, (double)n / dt, e);
	return 0;
}
