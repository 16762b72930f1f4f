/*
 * qemu_migrate_harness: the two "hosts" of qemu_migrate_test (namespaces,
 * the destination child process and its control socket, consoles, the
 * guests' specs, one migration attempt), shared by its stages and its
 * benchmark mode. See qemu_migrate_test.c.
 */
#ifndef XAPID_QEMU_MIGRATE_HARNESS_H
#define XAPID_QEMU_MIGRATE_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "vm/backend.h"

extern const struct vm_backend_ops *be;
extern char dir[64], id[16], ns_a[24], ns_b[24], ip_a[20], ip_b[20];
extern const char *vmlinux, *initrd;
extern int ntest, nfail, ctl, bench_mib, root_ns;
extern pid_t child;
extern char *err;
extern char UUID_1[37], UUID_2[37];
extern struct vm_disk disks[2];
extern struct vm_nic nics[1];

/* The error slot of the last call (emptied), and its text ("" if none). */
char **E(void);
const char *ES(void);
void ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double now(void);
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool enter_ns(const char *ns);
char *vm_path(const char *side, const char *uuid, const char *name);
char *slurp(const char *path);
char *console(const char *side, const char *uuid);
int count(const char *hay, const char *needle);
int last_tick(const char *side, const char *uuid);
bool wait_tick(const char *side, const char *uuid, int n, double timeout_s);
bool wait_console(const char *side, const char *uuid, const char *text,
                  double timeout_s);
bool vm_file(const char *side, const char *uuid, const char *name);
pid_t qemu_pid(const char *side, const char *uuid);
int taps_in(const char *ns);
void dump_vm(const char *side, const char *uuid);
void on_event(const char *uuid, enum vm_run_state st, bool reboot,
              const char *reason);
void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool ctl_read(char *buf, size_t n, double timeout_s);
void dst_recv(char *args);
void dst_main(void);
char *dst(double timeout_s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *dst_wait(double timeout_s);
void make_spec(struct vm_spec *s, const char *uuid, int mib, const char *disk);
int migrate(const char *uuid, const struct vm_spec *dspec,
            const struct vm_migrate_opts *o, struct vm_migrate_stats *st,
            char **dres, void (*during)(const char *));
bool layout(const char *uuid, struct vm_spec *out);
bool boot(const char *uuid, int mib, const char *disk);

#endif
