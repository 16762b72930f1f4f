/* log: leveled, timestamped log lines to stderr and optionally a file. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level log_level = LOG_INFO;
static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

void
log_set_level(enum log_level l)
{
	log_level = l;
}

int
log_open(const char *path)
{
	FILE *f = fopen(path, "ae");
	if (!f)
		return -1;
	setvbuf(f, NULL, _IOLBF, 0);
	pthread_mutex_lock(&log_lock);
	if (log_file)
		fclose(log_file);
	log_file = f;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void
log_msg(enum log_level l, const char *tag, const char *fmt, ...)
{
	char line[2048], stamp[40];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int saved = errno;

	if (l > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, ts.tv_nsec / 1000000,
		log_names[l], tag, line);
	if (log_file)
		fprintf(log_file, "%s.%03ldZ %s %s: %s\n", stamp,
			ts.tv_nsec / 1000000, log_names[l], tag, line);
	pthread_mutex_unlock(&log_lock);
	errno = saved;
}
