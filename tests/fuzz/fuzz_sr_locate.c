/*
 * Fuzz target for the SR drivers' device_config parsers (src/storage/
 * sr_locate.c, sr_iso.c locate): what sr-create / pbd-plug / sr-probe are
 * given by any client. Input: "key=value" lines (the device_config) and a
 * driver chosen by the first byte. Checks that a location accepted is
 * absolute, has no ".." step or control character, and, on NFS, no URL
 * syntax that would change what QEMU opens.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/dmval.h"
#include "storage/sr.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {"nfs", "iso", "file", "ext"};
	if (size < 1)
		return 0;
	const struct sr_driver *drv = sr_driver_find(types[data[0] % 4]);
	char *text = xstrndup((const char *)data + 1, size - 1);
	struct dm_coll *dc = dmc_new(8);
	size_t n = 0;
	for (char *line = strtok(text, "\n"); line && n < 8;
	     line = strtok(NULL, "\n")) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		dc->v[2 * n].s = xstrdup(line);
		dc->v[2 * n + 1].s = xstrdup(eq + 1);
		n++;
	}
	dc->n = n;
	struct sr_loc loc = {0};
	struct api_err *e =
	    drv->locate(dc, NULL, "0b2d6b8e-1c1b-4c2b-9d5e-7f2a3c4d5e6f", &loc);
	if (!e) {
		/* every location is absolute without ".." steps; what goes into
		 * an nfs:// URL has no URL syntax */
		if (!loc.path || loc.path[0] != '/' || strstr(loc.path, "/../"))
			abort();
		for (const char *p = loc.path; *p; p++)
			if ((unsigned char)*p < ' ')
				abort();
		if (loc.server &&
		    (strpbrk(loc.path, "?#") || strpbrk(loc.server, "/?#@ ")))
			abort();
	}
	api_err_free(e);
	free(loc.path);
	free(loc.server);
	free(loc.sub);
	for (size_t i = 0; i < 2 * n; i++)
		free(dc->v[i].s);
	free(dc);
	free(text);
	return 0;
}
