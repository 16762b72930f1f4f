/* workers: the global worker pool, as xenopsd's worker-pool-size: at most N
 * backend operations (starts, stops, reboots, suspends, device plugs) run at
 * once across all VMs; the rest wait their turn. Per-VM ordering is kept by
 * the operation guard (one operation per VM at a time). It wraps the
 * backend's ops table, so no caller has to remember it. */
#include <errno.h>
#include <semaphore.h>

#include "util/log.h"
#include "vm/vm_int.h"

static sem_t workers_sem;
static const struct vm_backend_ops *workers_inner;
static struct vm_backend_ops workers_ops;

static void
workers_enter(void)
{
	while (sem_wait(&workers_sem) < 0 && errno == EINTR)
		;
}

static void
workers_leave(void)
{
	sem_post(&workers_sem);
}

#define WORKERS_WRAP(name, decl, args)                                         \
	static int workers_##name decl                                         \
	{                                                                      \
		workers_enter();                                               \
		int rc = workers_inner->name args;                             \
		workers_leave();                                               \
		return rc;                                                     \
	}

WORKERS_WRAP(start, (const struct vm_spec *s, char **e), (s, e))
WORKERS_WRAP(shutdown, (const char *u, double t, char **e), (u, t, e))
WORKERS_WRAP(destroy, (const char *u, char **e), (u, e))
WORKERS_WRAP(reboot, (const char *u, bool h, char **e), (u, h, e))
WORKERS_WRAP(suspend, (const char *u, const char *p, char **e), (u, p, e))
WORKERS_WRAP(save, (const char *u, const char *p, char **e), (u, p, e))
WORKERS_WRAP(resume, (const struct vm_spec *s, const char *p, char **e), (s, p, e))
WORKERS_WRAP(disk_plug, (const char *u, const struct vm_disk *d, char **e), (u, d, e))
WORKERS_WRAP(disk_unplug, (const char *u, const char *i, char **e), (u, i, e))
WORKERS_WRAP(nic_plug, (const char *u, const struct vm_nic *n, char **e), (u, n, e))
WORKERS_WRAP(nic_unplug, (const char *u, const char *i, char **e), (u, i, e))
WORKERS_WRAP(migrate_receive, (const struct vm_spec *s, int fd, char **e), (s, fd, e))
WORKERS_WRAP(migrate_send,
	     (const char *u, int fd, const struct vm_migrate_opts *o, struct vm_migrate_stats *st,
	      char **e),
	     (u, fd, o, st, e))

const struct vm_backend_ops *
vm_workers_wrap(const struct vm_backend_ops *inner, unsigned size)
{
	if (size == 0)
		size = 1;
	sem_init(&workers_sem, 0, size);
	workers_inner = inner;
	workers_ops = *inner;
	workers_ops.start = workers_start;
	workers_ops.shutdown = workers_shutdown;
	workers_ops.destroy = workers_destroy;
	workers_ops.reboot = workers_reboot;
	workers_ops.suspend = workers_suspend;
	workers_ops.resume = workers_resume;
	if (inner->save)
		workers_ops.save = workers_save;
	workers_ops.disk_plug = workers_disk_plug;
	workers_ops.disk_unplug = workers_disk_unplug;
	workers_ops.nic_plug = workers_nic_plug;
	workers_ops.nic_unplug = workers_nic_unplug;
	if (inner->migrate_receive)
		workers_ops.migrate_receive = workers_migrate_receive;
	if (inner->migrate_send)
		workers_ops.migrate_send = workers_migrate_send;
	log_info("vm", "worker pool of %u", size);
	return &workers_ops;
}
