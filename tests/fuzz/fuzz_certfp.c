/* Fuzz target: certificate fingerprints (util/certfp.c): the text parser
 * (pins read from STATE/pool-pins and the pool database) and PEM input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/certfp.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	unsigned char d[CERTFP_LEN];
	char out[CERTFP_TEXT_LEN + 1];

	if (certfp_parse(text, d) == 0) {
		/* what is parsed formats back to a pin equal to the input */
		certfp_format(d, out);
		if (!certfp_equal(out, text))
			abort();
	}
	(void)certfp_of_pem(text, strlen(text), out, NULL, NULL);
	free(text);
	return 0;
}
