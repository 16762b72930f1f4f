/*
 * replay_main: a main() for the fuzz targets when they are not linked with
 * libFuzzer. Every file named on the command line (directories are walked
 * recursively) is fed once to LLVMFuzzerTestOneInput, as sqlite's fuzzcheck
 * replays its corpus: the run looks for crashes, sanitizer reports and
 * leaks, not for particular outputs. Prints "replayed N inputs".
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a whole file; returns a malloc'd buffer (NULL on error). */
static uint8_t *
replay_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	do {
		if (n == cap) {
			uint8_t *p;
			cap = cap ? cap * 2 : 4096;
			p = realloc(data, cap);
			if (!p) {
				free(data);
				fclose(f);
				return NULL;
			}
			data = p;
		}
		got = fread(data + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		free(data);
		data = NULL;
	}
	fclose(f);
	*len = n;
	return data;
}

/* Replays path (a file, or a directory walked recursively). Returns the
 * number of inputs run, or -1 on an I/O error. */
static long
replay_path(const char *path)
{
	struct stat st;
	long total = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		struct dirent **ents;
		int n = scandir(path, &ents, NULL, alphasort);
		if (n < 0) {
			fprintf(stderr, "replay: %s: %s\n", path,
				strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++) {
			const char *name = ents[i]->d_name;
			if (name[0] != '.') {
				size_t len = strlen(path) + strlen(name) + 2;
				char *sub = malloc(len);
				long r;
				if (!sub)
					return -1;
				snprintf(sub, len, "%s/%s", path, name);
				r = replay_path(sub);
				free(sub);
				if (r < 0)
					total = -1;
				else if (total >= 0)
					total += r;
			}
			free(ents[i]);
		}
		free(ents);
		return total;
	}
	size_t len = 0;
	uint8_t *data = replay_read(path, &len);
	if (!data) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		return -1;
	}
	/* Hand over an exact-size copy so that ASan sees any overread. */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		free(data);
		return -1;
	}
	memcpy(exact, data, len);
	free(data);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 1;
}

int
main(int argc, char **argv)
{
	long total = 0;
	int status = 0;

	for (int i = 1; i < argc; i++) {
		long r = replay_path(argv[i]);
		if (r < 0)
			status = 1;
		else
			total += r;
	}
	printf("replayed %ld inputs\n", total);
	return status;
}
