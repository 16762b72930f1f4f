/* xe_console: the client side of `xe console`: on the server's HttpConnect
 * it opens the VM's console (POST + HTTP upgrade, as /cli does) and relays
 * the terminal until the console closes, stdin ends, or the user types
 * Ctrl-] (as telnet). */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/xe_conn.h"
#include "cli/xe_http.h"
#include "cli/xe_console.h"
#include "util/xalloc.h"

#define XE_CONSOLE_ESCAPE 0x1d /* Ctrl-] */

int
xe_console_connect(const struct xe_target *base, const char *url)
{
	struct xe_target t;
	struct xe_conn c;
	struct xe_http_resp r;
	char err[256], *path = NULL;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	c.fd = -1;
	if (xe_target_from_url(base, url, &t, &path) < 0) {
		fprintf(stderr, "Bad console URL: %s\n", url);
		return -1;
	}
	if (xe_conn_open(&c, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "Cannot connect to the console: %s\n", err);
		goto out;
	}
	char *head = xasprintf("POST %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\n"
			       "Upgrade: xe-console\r\nContent-Length: 0\r\n\r\n",
			       path, c.host_header);
	int w = xe_conn_write(&c, head, strlen(head));
	free(head);
	if (w < 0 || xe_http_read_head(&c, &r, 30000, err, sizeof(err)) < 0) {
		fprintf(stderr, "Console connection failed\n");
		goto out;
	}
	if (r.status != 101) {
		fprintf(stderr, "The console is not available (%s)\n", r.status_line);
		goto out;
	}
	struct termios saved, raw;
	int tty = isatty(0) && tcgetattr(0, &saved) == 0;
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
		fprintf(stderr, "Connected to the console; Ctrl-] to leave.\r\n");
	}
	bool stdin_open = true;
	char buf[4096];
	for (;;) {
		/* data the head reader buffered, or the socket */
		if (xe_conn_readable(&c, 0) > 0) {
			ssize_t n = xe_conn_read(&c, buf, sizeof(buf), 1000);
			if (n <= 0)
				break;
			if (write(1, buf, (size_t)n) < 0)
				break;
			continue;
		}
		struct pollfd pf[2] = {{c.fd, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
		/* without a terminal, leave a little after stdin ends */
		int pr = poll(pf, 2, stdin_open ? -1 : 2000);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr == 0)
			break;
		if (pf[1].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				stdin_open = false;
				continue;
			}
			if (tty && memchr(buf, XE_CONSOLE_ESCAPE, (size_t)n))
				break;
			if (xe_conn_write(&c, buf, (size_t)n) < 0)
				break;
		}
		if (pf[0].revents) {
			ssize_t n = xe_conn_read(&c, buf, sizeof(buf), 1000);
			if (n <= 0)
				break;
			if (write(1, buf, (size_t)n) < 0)
				break;
		}
	}
	if (tty) {
		tcsetattr(0, TCSANOW, &saved);
		fprintf(stderr, "\r\n");
	}
	rc = 0;
out:
	xe_http_resp_free(&r);
	xe_conn_close(&c);
	xe_target_free(&t);
	free(path);
	return rc;
}
