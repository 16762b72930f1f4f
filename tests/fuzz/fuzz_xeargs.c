/*
 * Fuzz target for the xe argument parser (src/util/xeargs.c).
 *
 * Input: NUL-separated fields: XE_EXTRA_ARGS, the ~/.xe text, a password
 * file's text, then the argv words. Looks for crashes, leaks and undefined
 * behaviour; also checks a few invariants of the result.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "util/xeargs.h"

#define FUZZ_MAX_WORDS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *field[FUZZ_MAX_WORDS + 3];
	struct xeargs a;
	size_t nfield = 0, i;
	char *copy, *p, *end, *body, *c;

	copy = xmalloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	end = copy + size;
	for (p = copy; nfield < FUZZ_MAX_WORDS + 3;) {
		field[nfield++] = p;
		p += strlen(p);
		if (p >= end)
			break;
		p++;
	}
	while (nfield < 3)
		field[nfield++] = "";
	if (xeargs_parse(&a, field + 3, nfield - 3,
	                 field[0][0] ? field[0] : NULL,
	                 field[1][0] ? field[1] : NULL) == 0 &&
	    !a.version) {
		if (a.nwords && a.words[a.nwords] != NULL)
			abort();
		for (i = 0; i < a.nwords; i++)
			if (strchr(a.words[i], '\n'))
				abort();
		xeargs_apply_password_file(&a, field[2]);
		body = xeargs_body(&a);
		free(body);
		for (i = 0; i < a.nwords; i++) {
			c = xeargs_canonicalize("/fuzz/cwd", a.words[i]);
			if (c[0] != '/' || strstr(c, "/../") || strstr(c, "//"))
				abort();
			xeargs_file_permitted(&a, "/fuzz/cwd", c, i & 1);
			free(c);
		}
	}
	xeargs_free(&a);
	free(copy);
	return 0;
}
