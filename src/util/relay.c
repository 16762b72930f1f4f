/* relay: see relay.h. */
#include "util/relay.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_BUF (256u << 10)

/* Moves what is readable on from to to. Returns the bytes moved (0 when
 * nothing was there after all), -1 at the end of the stream or on an
 * error. */
static long long
relay_move(int from, int to, char *buf)
{
	ssize_t n = recv(from, buf, RELAY_BUF, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	for (ssize_t off = 0; off < n;) {
		ssize_t w =
		    send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd p = {to, POLLOUT, 0};
			(void)poll(&p, 1, 1000);
			continue;
		}
		if (w <= 0)
			return -1;
		off += w;
	}
	return n;
}

long long
relay_run(int a, int b, int stop_fd)
{
	char *buf = malloc(RELAY_BUF);
	long long ab = 0;
	bool done = !buf;

	while (!done) {
		struct pollfd p[3] = {
		    {a, POLLIN, 0}, {b, POLLIN, 0}, {stop_fd, POLLIN, 0}};
		int n = poll(p, stop_fd >= 0 ? 3 : 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (stop_fd >= 0 && p[2].revents))
			break;
		if (p[0].revents) {
			long long m = relay_move(a, b, buf);
			if (m < 0)
				done = true;
			else
				ab += m;
		}
		if (!done && p[1].revents && relay_move(b, a, buf) < 0)
			done = true;
	}
	free(buf);
	shutdown(a, SHUT_RDWR);
	shutdown(b, SHUT_RDWR);
	return ab;
}
