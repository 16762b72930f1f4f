/*
 * certfp: SHA-256 fingerprints of X.509 certificates, written as xapi
 * writes them (Certificate.fingerprint: the 32 octets in uppercase hex,
 * colon-separated, "AB:CD:...:EF"), and their comparison. Used to pin the
 * certificates of pool members.
 */
#ifndef XAPID_UTIL_CERTFP_H
#define XAPID_UTIL_CERTFP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Octets of a SHA-256 fingerprint, and the length of its text form
 * (without the NUL). */
#define CERTFP_LEN 32
#define CERTFP_TEXT_LEN (3 * CERTFP_LEN - 1)

/* Writes the text form of the octets d to out. */
void certfp_format(const unsigned char d[CERTFP_LEN],
                   char out[CERTFP_TEXT_LEN + 1]);
/* Parses a fingerprint: 32 octets as two hex digits each (either case),
 * all separated by ':' or none separated (64 digits), with no other
 * characters. Returns 0 and fills d, or -1. */
int certfp_parse(const char *text, unsigned char d[CERTFP_LEN]);
/* Whether a and b are well-formed fingerprints of the same octets (a
 * malformed one equals nothing). */
bool certfp_equal(const char *a, const char *b);
/* The fingerprint of a DER-encoded certificate. 0, or -1. */
int certfp_of_der(const void *der, size_t len, char out[CERTFP_TEXT_LEN + 1]);
/* The fingerprint of the first certificate in PEM text (a PEM file may
 * also hold the key), and its validity (Unix times) when not_before /
 * not_after are not NULL. 0, or -1 when there is no readable certificate. */
int certfp_of_pem(const char *pem, size_t len, char out[CERTFP_TEXT_LEN + 1],
                  time_t *not_before, time_t *not_after);
/* The same for the first certificate of a PEM file. 0, or -1. */
int certfp_of_file(const char *path, char out[CERTFP_TEXT_LEN + 1],
                   time_t *not_before, time_t *not_after);

#endif
