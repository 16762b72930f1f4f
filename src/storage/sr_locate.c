/* sr_locate: the device_config of the file and NFS SRs (which keys, what
 * they mean, SM's errors when they are wrong) and sr-probe on NFS. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <nfsc/libnfs.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nfsc/libnfs-raw-mount.h>
#include <stdlib.h>
#include <string.h>

#include "storage/sr_file.h"
#include "util/buf.h"
#include "util/xalloc.h"

struct api_err *
srf_locate_local(const struct dm_coll *dconf, const struct dm_coll *sm_config,
                 const char *sr_uuid, struct sr_loc *loc)
{
	const char *l = sr_map_get(dconf, "location");
	(void)sm_config;
	(void)sr_uuid;
	if (!l || !*l)
		return sr_backend_error(
		    94, "The request is missing the location parameter", NULL);
	size_t n = strlen(l);
	bool ctl = false;
	for (const char *p = l; *p; p++)
		ctl = ctl || (unsigned char)*p < ' ';
	/* an absolute directory, without ".." steps or control characters */
	if (l[0] != '/' || strstr(l, "/../") ||
	    (n >= 3 && strcmp(l + n - 3, "/..") == 0) || ctl)
		return sr_backend_error(91, "The device is not a valid path",
		                        l);
	loc->path = xstrdup(l);
	return NULL;
}

/* An NFS server name: a host name or an IPv4/IPv6 address, nothing that
 * would change the meaning of the nfs:// URL QEMU is given. */
static bool
srf_server_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(".-:[]_", *s))
			return false;
	return true;
}

/* A server path: absolute, without "..", spaces or URL syntax. */
static bool
srf_path_ok(const char *p)
{
	if (p[0] != '/' || strstr(p, "/../") || strstr(p, "/./"))
		return false;
	size_t n = strlen(p);
	if ((n >= 3 && strcmp(p + n - 3, "/..") == 0) ||
	    (n >= 2 && strcmp(p + n - 2, "/.") == 0))
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= ' ' || strchr("?#%\\", *p))
			return false;
	return true;
}

/* The checks of NFSSR.load and validate_remotepath. */
static struct api_err *
srf_nfs_config(const struct dm_coll *dconf, bool need_path, char **path)
{
	const char *server = sr_map_get(dconf, "server");
	const char *sp = sr_map_get(dconf, "serverpath");
	const char *ver = sr_map_get(dconf, "nfsversion");
	if (!server)
		return sr_backend_error(
		    102, "The request is missing the server parameter", NULL);
	if (!srf_server_ok(server))
		return sr_backend_error(
		    108, "Unable to detect an NFS service on this target.",
		    server);
	if (ver && *ver && strcmp(ver, "3") != 0) {
		if (strncmp(ver, "4", 1) != 0)
			return sr_backend_error(
			    72, "Required NFS server version unsupported",
			    "Invalid nfsversion.");
		/* QEMU reaches disk images over NFSv3 only (its libnfs
		 * driver); a kernel client would be needed for v4 */
		return sr_backend_error(
		    72, "Required NFS server version unsupported",
		    "this host reaches NFS in userspace, which speaks "
		    "NFSv3 only: use nfsversion=3");
	}
	if (need_path && (!sp || !*sp))
		return sr_backend_error(
		    101, "The request is missing the serverpath parameter",
		    NULL);
	if (sp && !srf_path_ok(sp))
		return sr_backend_error(
		    103, "The serverpath argument is not valid", sp);
	if (sp) {
		/* "/srv/x/" and "/srv/x" are the same directory */
		*path = xstrdup(sp);
		size_t n = strlen(*path);
		while (n > 1 && (*path)[n - 1] == '/')
			(*path)[--n] = '\0';
	}
	return NULL;
}

struct api_err *
srf_locate_nfs(const struct dm_coll *dconf, const struct dm_coll *sm_config,
               const char *sr_uuid, struct sr_loc *loc)
{
	char *path = NULL;
	struct api_err *e = srf_nfs_config(dconf, true, &path);
	if (e)
		return e;
	const char *nosub = sr_map_get(sm_config, "nosubdir");
	loc->server = xstrdup(sr_map_get(dconf, "server"));
	loc->path = path;
	loc->sub = xstrdup(nosub && strcmp(nosub, "true") == 0 ? ""
	                   : sr_uuid                           ? sr_uuid
	                                                       : "");
	return NULL;
}

static void
srf_xml_text(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			buf_adds(b, "&lt;");
		else if (*s == '>')
			buf_adds(b, "&gt;");
		else if (*s == '&')
			buf_adds(b, "&amp;");
		else
			buf_addf(b, "%c", *s);
	}
}

/* SM's _testHost: a TCP connection to the NFS port within a few seconds,
 * else SR_BACKEND_FAILURE_108 (NFSTarget). */
static struct api_err *
srf_test_host(const char *server)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int rc = getaddrinfo(server, "2049", &hints, &ai), fd = -1, ok = 0;
	if (rc == 0) {
		fd = socket(ai->ai_family,
		            SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0 && (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		                errno == EINPROGRESS)) {
			struct pollfd p = {fd, POLLOUT, 0};
			int e = 0;
			socklen_t l = sizeof(e);
			ok =
			    poll(&p, 1, 10000) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) == 0 &&
			    e == 0;
		}
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
	}
	if (ok)
		return NULL;
	char *m = xasprintf("%s:2049: %s", server,
	                    rc ? gai_strerror(rc) : "no NFS service");
	struct api_err *e = sr_backend_error(
	    108, "Unable to detect an NFS service on this target.", m);
	free(m);
	return e;
}

/* The server's exports as SM's scan_exports prints them. */
static char *
srf_exports_xml(const char *server)
{
	struct exportnode *ex = mount_getexports(server);
	struct buf b = BUF_INIT;
	buf_adds(&b, "<?xml version=\"1.0\" ?>\n");
	if (!ex) {
		buf_adds(&b, "<nfs-exports/>\n");
		return buf_steal(&b);
	}
	buf_adds(&b, "<nfs-exports>\n");
	for (struct exportnode *e = ex; e; e = e->ex_next) {
		buf_adds(&b, "\t<Export>\n\t\t<Target>");
		srf_xml_text(&b, server);
		buf_adds(&b, "</Target>\n\t\t<Path>");
		srf_xml_text(&b, e->ex_dir);
		buf_adds(&b, "</Path>\n\t\t<Accesslist>");
		if (!e->ex_groups)
			buf_adds(&b, "*");
		for (struct groupnode *g = e->ex_groups; g; g = g->gr_next) {
			srf_xml_text(&b, g->gr_name);
			if (g->gr_next)
				buf_adds(&b, ",");
		}
		buf_adds(&b, "</Accesslist>\n\t</Export>\n");
	}
	buf_adds(&b, "</nfs-exports>\n");
	mount_free_export_list(ex);
	return buf_steal(&b);
}

static bool
srf_is_uuid(const char *s)
{
	static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	if (strlen(s) != sizeof(pat) - 1)
		return false;
	for (size_t i = 0; pat[i]; i++)
		if (pat[i] == '-' ? s[i] != '-'
		                  : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

struct api_err *
srf_probe_nfs(const struct dm_coll *dconf, const struct dm_coll *sm_config,
              char **xml)
{
	char *path = NULL;
	struct api_err *e = srf_nfs_config(dconf, false, &path);
	(void)sm_config;
	if (e)
		return e;
	const char *server = sr_map_get(dconf, "server");
	if ((e = srf_test_host(server))) {
		free(path);
		return e;
	}
	if (!path) {
		/* xapi: the exports go to stderr, the third parameter */
		char *ex = srf_exports_xml(server);
		e = sr_backend_error(
		    101, "The request is missing the serverpath parameter",
		    NULL);
		free(e->params[2]);
		e->params[2] = ex;
		return e;
	}
	struct sr_ctx ctx = {NULL, path, server, ""};
	struct sr_fs *fs = srf_open(&ctx, &e);
	free(path);
	if (!fs)
		return e;
	char **names = sr_fs_list_top(fs);
	if (!names) {
		e = sr_backend_error(73, "NFS mount error", sr_fs_error(fs));
		sr_fs_close(fs);
		return e;
	}
	struct buf b = BUF_INIT;
	size_t n = 0;
	buf_adds(&b, "<?xml version=\"1.0\" ?>\n");
	for (size_t i = 0; names[i]; i++) {
		if (!srf_is_uuid(names[i]))
			continue;
		buf_adds(&b, n++ ? "" : "<SRlist>\n");
		buf_addf(&b, "\t<SR>\n\t\t<UUID>%s</UUID>\n\t</SR>\n",
		         names[i]);
	}
	buf_adds(&b, n ? "</SRlist>\n" : "<SRlist/>\n");
	*xml = buf_steal(&b);
	sr_fs_names_free(names);
	sr_fs_close(fs);
	return NULL;
}
