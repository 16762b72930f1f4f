/* certfp: SHA-256 fingerprints of X.509 certificates (certfp.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "util/certfp.h"

void
certfp_format(const unsigned char d[CERTFP_LEN], char out[CERTFP_TEXT_LEN + 1])
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < CERTFP_LEN; i++) {
		out[3 * i] = hex[d[i] >> 4];
		out[3 * i + 1] = hex[d[i] & 15];
		if (i + 1 < CERTFP_LEN)
			out[3 * i + 2] = ':';
	}
	out[CERTFP_TEXT_LEN] = '\0';
}

static int
certfp_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
certfp_parse(const char *text, unsigned char d[CERTFP_LEN])
{
	size_t n = text ? strlen(text) : 0;
	bool colons;

	if (n == CERTFP_TEXT_LEN)
		colons = true;
	else if (n == 2 * CERTFP_LEN)
		colons = false;
	else
		return -1;
	for (size_t i = 0; i < CERTFP_LEN; i++) {
		const char *p = text + (colons ? 3 * i : 2 * i);
		int hi = certfp_digit(p[0]), lo = certfp_digit(p[1]);
		if (hi < 0 || lo < 0)
			return -1;
		if (colons && i + 1 < CERTFP_LEN && p[2] != ':')
			return -1;
		d[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

bool
certfp_equal(const char *a, const char *b)
{
	unsigned char da[CERTFP_LEN], db[CERTFP_LEN];

	return certfp_parse(a, da) == 0 && certfp_parse(b, db) == 0 &&
	       memcmp(da, db, CERTFP_LEN) == 0;
}

int
certfp_of_der(const void *der, size_t len, char out[CERTFP_TEXT_LEN + 1])
{
	unsigned char d[CERTFP_LEN];

	if (!der || !len ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, d) < 0)
		return -1;
	certfp_format(d, out);
	return 0;
}

int
certfp_of_pem(const char *pem, size_t len, char out[CERTFP_TEXT_LEN + 1],
              time_t *not_before, time_t *not_after)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t in = {(unsigned char *)pem, (unsigned int)len}, der;
	int rc = -1;

	if (!pem || len > (size_t)1 << 24 || gnutls_x509_crt_init(&crt) < 0)
		return -1;
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) >= 0 &&
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) >= 0) {
		rc = certfp_of_der(der.data, der.size, out);
		gnutls_free(der.data);
		if (not_before)
			*not_before = gnutls_x509_crt_get_activation_time(crt);
		if (not_after)
			*not_after = gnutls_x509_crt_get_expiration_time(crt);
	}
	gnutls_x509_crt_deinit(crt);
	return rc;
}

int
certfp_of_file(const char *path, char out[CERTFP_TEXT_LEN + 1],
               time_t *not_before, time_t *not_after)
{
	gnutls_datum_t d;
	int rc;

	if (gnutls_load_file(path, &d) < 0)
		return -1;
	rc = certfp_of_pem((const char *)d.data, d.size, out, not_before,
	                   not_after);
	gnutls_free(d.data);
	return rc;
}
