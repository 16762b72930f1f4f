/*
 * bootstrap: the objects a host must have, made on first start and checked on
 * every start (pool, this host and its metrics/CPUs, the control domain, the
 * built-in templates). Idempotent.
 */
#ifndef XAPID_DAEMON_BOOTSTRAP_H
#define XAPID_DAEMON_BOOTSTRAP_H

struct bootstrap_config {
	const char *state_dir;
	const char *host_name;  /* name-label/hostname of this host */
	const char *address;    /* management address (HOST_IS_SLAVE target) */
	const char *bridge_prefix; /* Linux bridges of networks: <prefix>0... */
	const char *guest_cache;   /* where tools/build-guest.sh put the guest */
};

/* Ensures the records exist; returns this host's ref (malloc'd) or NULL with
 * *err. */
char *bootstrap_run(const struct bootstrap_config *cfg, char **err);

/* This host's ref in the store as it is, writing nothing (a slave come up
 * in emergency mode: no master takes writes); NULL with *err when the
 * store has no record of it. */
char *bootstrap_lookup(const struct bootstrap_config *cfg, char **err);

#endif
