/*
 * log: leveled logging to stderr (and a file when log_open() is called),
 * each line stamped with time, level and the module tag.
 */
#ifndef XAPID_UTIL_LOG_H
#define XAPID_UTIL_LOG_H

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the most verbose level printed (default LOG_INFO). */
void log_set_level(enum log_level l);
/* Also appends every line to path. Returns 0 or -1 with errno. */
int log_open(const char *path);
/* Writes one line: "<time> <level> <tag>: <message>". */
void log_msg(enum log_level l, const char *tag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(tag, ...) log_msg(LOG_ERR, tag, __VA_ARGS__)
#define log_warn(tag, ...) log_msg(LOG_WARN, tag, __VA_ARGS__)
#define log_info(tag, ...) log_msg(LOG_INFO, tag, __VA_ARGS__)
#define log_debug(tag, ...) log_msg(LOG_DEBUG, tag, __VA_ARGS__)

#endif
