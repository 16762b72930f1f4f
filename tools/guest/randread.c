/*
 * randread: 4 KiB random reads with O_DIRECT at queue depth 1, for a given
 * time, on a block device or file; prints "IOPS <n> READS <n> SECONDS <s>".
 * Built static by bench/bench_snapshot.py and copied into the test guest
 * (which has no fio) to measure the guest's disk path; the host side of the
 * comparison is fio with the same pattern.
 *   randread PATH SECONDS [SEED]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: randread PATH SECONDS [SEED]\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	uint64_t size = 0;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	else if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		size = 0;
	if (size < 4096) {
		fprintf(stderr, "%s: too small\n", argv[1]);
		return 1;
	}
	double secs = atof(argv[2]);
	uint64_t x = argc > 3 ? strtoull(argv[3], NULL, 10) : 88172645463325252ull;
	void *buf;
	if (posix_memalign(&buf, 4096, 4096))
		return 1;
	uint64_t blocks = size / 4096, n = 0;
	double t0 = now(), t = t0;
	while (t - t0 < secs) {
		for (int i = 0; i < 64; i++) {
			x ^= x << 13; /* xorshift64 */
			x ^= x >> 7;
			x ^= x << 17;
			if (pread(fd, buf, 4096, (off_t)((x % blocks) * 4096)) != 4096) {
				perror("pread");
				return 1;
			}
			n++;
		}
		t = now();
	}
	printf("IOPS %.0f READS %llu SECONDS %.2f\n", (double)n / (t - t0), (unsigned long long)n,
	       t - t0);
	return 0;
}
