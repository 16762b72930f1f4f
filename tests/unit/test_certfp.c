/* Unit tests of certificate fingerprints (util/certfp.c): the text form
 * xapi writes, parsing, comparison, and the fingerprint of a PEM file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/certfp.h"

/* A self-signed certificate and what `openssl x509 -fingerprint -sha256
 * -dates` says of it. */
static const char certfp_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBgzCCASmgAwIBAgIUXVggYitsPlxSw987h26pAYXKUQQwCgYIKoZIzj0EAwIw\n"
    "FjEUMBIGA1UEAwwLY2VydGZwLXRlc3QwIBcNMjYxMTIzMjIyOTE4WhgPMjEyNjEw\n"
    "MzAyMjI5MThaMBYxFDASBgNVBAMMC2NlcnRmcC10ZXN0MFkwEwYHKoZIzj0CAQYI\n"
    "KoZIzj0DAQcDQgAEI3fsdwd8QFcSJNbqjWLUnkqvJ+Gdm+UJPQ3SYqewwmWuvlKX\n"
    "E0tauC3/nqRvk2naFCGz61O77kkBBhdqhrNj+KNTMFEwHQYDVR0OBBYEFMSPlyvX\n"
    "e9Z6xg3MdJr9UCPExJoEMB8GA1UdIwQYMBaAFMSPlyvXe9Z6xg3MdJr9UCPExJoE\n"
    "MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAO7gejmEG1wiB3Q+\n"
    "+ALlAFOjTdnnylVfkrFnR6yvrMU7AiBle8796DnidjtrBQezN30TgkNEGnjBhxBy\n"
    "YD//ymKRZw==\n"
    "-----END CERTIFICATE-----\n";
static const char certfp_want[] =
    "C3:99:63:64:B5:0C:C2:97:CE:6A:13:71:25:0E:1C:4D:"
    "14:A9:C1:EC:12:7F:CD:7F:75:F0:E3:7D:EC:ED:9E:5C";

static void
test_certfp_format_parse(void **state)
{
	unsigned char d[CERTFP_LEN], e[CERTFP_LEN];
	char text[CERTFP_TEXT_LEN + 1];

	(void)state;
	for (size_t i = 0; i < CERTFP_LEN; i++)
		d[i] = (unsigned char)(i * 37 + 5);
	certfp_format(d, text);
	assert_int_equal(strlen(text), CERTFP_TEXT_LEN);
	assert_int_equal(strncmp(text, "05:2A:4F:", 9), 0);
	assert_int_equal(certfp_parse(text, e), 0);
	assert_memory_equal(d, e, CERTFP_LEN);
	/* lowercase, and the bare 64 digits, parse to the same octets */
	assert_int_equal(certfp_parse("c3:99:63:64:b5:0c:c2:97:ce:6a:13:71:25:"
	                              "0e:1c:4d:14:a9:c1:ec:12:7f:cd:7f:75:f0:"
	                              "e3:7d:ec:ed:9e:5c",
	                              d),
	                 0);
	assert_int_equal(certfp_parse("C3996364B50CC297CE6A1371250E1C4D14A9C1EC"
	                              "127FCD7F75F0E37DECED9E5C",
	                              e),
	                 0);
	assert_memory_equal(d, e, CERTFP_LEN);
	certfp_format(d, text);
	assert_string_equal(text, certfp_want);
}

static void
test_certfp_malformed(void **state)
{
	unsigned char d[CERTFP_LEN];
	char text[sizeof(certfp_want)];

	(void)state;
	assert_int_equal(certfp_parse(NULL, d), -1);
	assert_int_equal(certfp_parse("", d), -1);
	/* one octet short, one too many */
	assert_int_equal(certfp_parse(certfp_want + 3, d), -1);
	char *longer = malloc(strlen(certfp_want) + 4);
	sprintf(longer, "%s:00", certfp_want);
	assert_int_equal(certfp_parse(longer, d), -1);
	free(longer);
	/* a separator that is not ':', a digit that is not hex */
	memcpy(text, certfp_want, sizeof(text));
	text[2] = '-';
	assert_int_equal(certfp_parse(text, d), -1);
	memcpy(text, certfp_want, sizeof(text));
	text[4] = 'G';
	assert_int_equal(certfp_parse(text, d), -1);
	/* colons in the bare form, the bare form with a space */
	assert_int_equal(certfp_parse("C3:9963:64B50CC297CE6A1371250E1C4D14A9C1"
	                              "EC127FCD7F75F0E37DECED9E5C",
	                              d),
	                 -1);
	assert_int_equal(certfp_parse("C39963 64B50CC297CE6A1371250E1C4D14A9C1E"
	                              "C127FCD7F75F0E37DECED9E5C",
	                              d),
	                 -1);
}

static void
test_certfp_equal(void **state)
{
	char other[sizeof(certfp_want)];

	(void)state;
	assert_true(certfp_equal(certfp_want, certfp_want));
	assert_true(certfp_equal(certfp_want,
	                         "c3996364b50cc297ce6a1371250e1c4d14a9c1ec127f"
	                         "cd7f75f0e37deced9e5c"));
	memcpy(other, certfp_want, sizeof(other));
	other[sizeof(other) - 2] = 'D'; /* ...:9E:5D */
	assert_false(certfp_equal(certfp_want, other));
	/* a malformed pin equals nothing, itself included */
	assert_false(certfp_equal("", ""));
	assert_false(certfp_equal("xyz", "xyz"));
	assert_false(certfp_equal(NULL, certfp_want));
}

static void
test_certfp_pem(void **state)
{
	char fp[CERTFP_TEXT_LEN + 1];
	time_t nb = 0, na = 0;
	char path[] = "/tmp/test_certfp_XXXXXX";

	(void)state;
	assert_int_equal(
	    certfp_of_pem(certfp_pem, strlen(certfp_pem), fp, &nb, &na), 0);
	assert_string_equal(fp, certfp_want);
	assert_int_equal((long long)nb, 1795472958LL);
	assert_int_equal((long long)na, 4949072958LL);
	/* a file with a key before the certificate */
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	      f);
	fputs(certfp_pem, f);
	fclose(f);
	memset(fp, 0, sizeof(fp));
	assert_int_equal(certfp_of_file(path, fp, NULL, NULL), 0);
	assert_string_equal(fp, certfp_want);
	unlink(path);
	assert_int_equal(certfp_of_file(path, fp, NULL, NULL), -1);
	/* no certificate, a damaged one */
	assert_int_equal(certfp_of_pem("hello", 5, fp, NULL, NULL), -1);
	char *bad = strdup(certfp_pem);
	bad[100] = bad[100] == 'A' ? 'B' : 'A';
	bad[101] = '*';
	assert_int_equal(certfp_of_pem(bad, strlen(bad), fp, NULL, NULL), -1);
	free(bad);
	assert_int_equal(certfp_of_der(NULL, 0, fp), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_certfp_format_parse),
	    cmocka_unit_test(test_certfp_malformed),
	    cmocka_unit_test(test_certfp_equal),
	    cmocka_unit_test(test_certfp_pem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
