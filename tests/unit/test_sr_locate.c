/* Unit tests for the SR drivers' device_config handling (sr_locate.c,
 * sr_iso.c): where an SR is, and SM's error codes when the config is bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/dmval.h"
#include "storage/sr.h"
#include "util/xalloc.h"

#define SRU "0b2d6b8e-1c1b-4c2b-9d5e-7f2a3c4d5e6f"

/* A map from "k", "v", ..., NULL. */
static struct dm_coll *
map(const char *k, ...)
{
	va_list ap;
	struct dm_coll *c = dmc_new(8);
	size_t n = 0;
	va_start(ap, k);
	for (const char *key = k; key && n < 8;
	     key = va_arg(ap, const char *)) {
		c->v[2 * n].s = xstrdup(key);
		c->v[2 * n + 1].s = xstrdup(va_arg(ap, const char *));
		n++;
	}
	va_end(ap);
	c->n = n;
	return c;
}

static void
map_free(struct dm_coll *c)
{
	for (size_t i = 0; i < 2 * c->n; i++)
		free(c->v[i].s);
	free(c);
}

/* Runs type's locate; returns the error code ("" if none) and fills loc. */
static char *
locate(const char *type, struct dm_coll *dc, struct dm_coll *smc,
       struct sr_loc *loc)
{
	struct api_err *e = sr_driver_find(type)->locate(dc, smc, SRU, loc);
	char *code = xstrdup(e ? e->code : "");
	api_err_free(e);
	map_free(dc);
	if (smc)
		map_free(smc);
	return code;
}

static void
loc_free(struct sr_loc *l)
{
	free(l->path);
	free(l->server);
	free(l->sub);
	memset(l, 0, sizeof(*l));
}

static void
test_nfs_ok(void **state)
{
	struct sr_loc l = {0};
	(void)state;
	char *c = locate(
	    "nfs", map("server", "10.1.2.3", "serverpath", "/srv/nfs/", NULL),
	    NULL, &l);
	assert_string_equal(c, "");
	assert_string_equal(l.server, "10.1.2.3");
	assert_string_equal(l.path, "/srv/nfs");
	assert_string_equal(l.sub, SRU);
	free(c);
	loc_free(&l);
	c = locate(
	    "nfs",
	    map("server", "nas", "serverpath", "/e", "nfsversion", "3", NULL),
	    map("nosubdir", "true", NULL), &l);
	assert_string_equal(c, "");
	assert_string_equal(l.sub, "");
	free(c);
	loc_free(&l);
}

static void
test_nfs_errors(void **state)
{
	static const struct {
		const char *server, *path, *ver, *code;
	} cases[] = {
	    {NULL, "/x", NULL, "SR_BACKEND_FAILURE_102"},
	    {"h", NULL, NULL, "SR_BACKEND_FAILURE_101"},
	    {"h", "", NULL, "SR_BACKEND_FAILURE_101"},
	    {"h", "relative", NULL, "SR_BACKEND_FAILURE_103"},
	    {"h", "/a/../b", NULL, "SR_BACKEND_FAILURE_103"},
	    {"h", "/a/..", NULL, "SR_BACKEND_FAILURE_103"},
	    {"h", "/a?x=1", NULL, "SR_BACKEND_FAILURE_103"},
	    {"h", "/a b", NULL, "SR_BACKEND_FAILURE_103"},
	    {"h/x", "/a", NULL, "SR_BACKEND_FAILURE_108"},
	    {"user@h", "/a", NULL, "SR_BACKEND_FAILURE_108"},
	    {"", "/a", NULL, "SR_BACKEND_FAILURE_108"},
	    {"h", "/a", "2", "SR_BACKEND_FAILURE_72"},
	    {"h", "/a", "4.1", "SR_BACKEND_FAILURE_72"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dm_coll *dc = dmc_new(3);
		size_t n = 0;
		const char *kv[][2] = {{"server", cases[i].server},
		                       {"serverpath", cases[i].path},
		                       {"nfsversion", cases[i].ver}};
		for (size_t k = 0; k < 3; k++)
			if (kv[k][1]) {
				dc->v[2 * n].s = xstrdup(kv[k][0]);
				dc->v[2 * n + 1].s = xstrdup(kv[k][1]);
				n++;
			}
		dc->n = n;
		struct sr_loc l = {0};
		char *c = locate("nfs", dc, NULL, &l);
		assert_string_equal(c, cases[i].code);
		assert_null(l.path);
		free(c);
	}
}

static void
test_iso_forms(void **state)
{
	struct sr_loc l = {0};
	(void)state;
	char *c =
	    locate("iso", map("location", "nfs://nas/isos", NULL), NULL, &l);
	assert_string_equal(c, "");
	assert_string_equal(l.server, "nas");
	assert_string_equal(l.path, "/isos");
	free(c);
	loc_free(&l);
	c = locate("iso", map("location", "nas:/export/isos", NULL), NULL, &l);
	assert_string_equal(c, "");
	assert_string_equal(l.server, "nas");
	assert_string_equal(l.path, "/export/isos");
	free(c);
	loc_free(&l);
	c = locate("iso", map("location", "/var/isos", NULL), NULL, &l);
	assert_string_equal(c, "");
	assert_null(l.server);
	free(c);
	loc_free(&l);
	c = locate("iso", map("location", "\\\\srv\\share", NULL), NULL, &l);
	assert_string_equal(c, "SR_BACKEND_FAILURE_225");
	free(c);
	c = locate("iso", map("location", "/var/../etc", NULL), NULL, &l);
	assert_string_equal(c, "SR_BACKEND_FAILURE_226");
	free(c);
	/* fuzz find: "nfs://" without a path is not "nfs" + ":/..." */
	c = locate("iso", map("location", "nfs://.\0320.1", NULL), NULL, &l);
	assert_string_equal(c, "SR_BACKEND_FAILURE_225");
	free(c);
	c = locate("iso", map("path", "/x", NULL), NULL, &l);

	assert_string_equal(c, "SR_BACKEND_FAILURE_220");
	free(c);
}

static void
test_file_location(void **state)
{
	struct sr_loc l = {0};
	(void)state;
	char *c = locate("ext", map("location", "/var/sr", NULL), NULL, &l);
	assert_string_equal(c, "");
	assert_string_equal(l.path, "/var/sr");
	free(c);
	loc_free(&l);
	c = locate("file", map("device", "/dev/sdb", NULL), NULL, &l);
	assert_string_equal(c, "SR_BACKEND_FAILURE_94");
	free(c);
	/* fuzz finds: ".." steps and control characters in a local path */
	c = locate("file", map("location", "/var/sr/../../etc", NULL), NULL,
	           &l);
	assert_string_equal(c, "SR_BACKEND_FAILURE_91");
	free(c);
	c = locate("file", map("location", "/var/s\tr", NULL), NULL, &l);
	assert_string_equal(c, "SR_BACKEND_FAILURE_91");
	free(c);
	assert_null(l.path);
	assert_null(sr_driver_find("lvmoiscsi"));
}

static void
test_backend_error_params(void **state)
{
	(void)state;
	struct api_err *e =
	    sr_backend_error(73, "NFS mount error", "mount x: denied");
	assert_string_equal(e->code, "SR_BACKEND_FAILURE_73");
	assert_int_equal(e->n, 3);
	assert_string_equal(e->params[0], "");
	assert_string_equal(e->params[1],
	                    "NFS mount error [opterr=mount x: denied]");
	assert_string_equal(e->params[2], "");
	api_err_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nfs_ok),
	    cmocka_unit_test(test_nfs_errors),
	    cmocka_unit_test(test_iso_forms),
	    cmocka_unit_test(test_file_location),
	    cmocka_unit_test(test_backend_error_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
