/*
 * xe_console: `xe console`'s terminal relay (HttpConnect of the thin CLI).
 */
#ifndef XAPID_CLI_XE_CONSOLE_H
#define XAPID_CLI_XE_CONSOLE_H

#include "cli/xe_conn.h"

/* Opens url (resolved against base) as a console and relays the terminal
 * until either side ends. Returns 0, or -1 after printing why. */
int xe_console_connect(const struct xe_target *base, const char *url);

#endif
