/*
 * qemu_priv: what the files of the qemu backend share (not for others).
 *
 *   qemu.c         the ops table: init, start/resume, shutdown, destroy,
 *                  reboot, pause/unpause, suspend, stats, agent
 *   qemu_save.c    suspend/resume/save: memory to and from a file
 *   qemu_migrate.c live migration (both sides) and the VM's layout
 *   qemu_proc.c    the VM table, spawning QEMU, the reaper thread, QMP
 *                  events
 *   qemu_state.c   state files (re-attach after a restart), clean-up
 *   qemu_hotplug.c disk and NIC hot-plug/unplug
 *   qemu_snap.c    live snapshots, streams, CBT bitmaps of running disks
 *   qemu_net.c     tap devices and bridges
 *   qemu_accel.c   the accelerator probe
 *
 * Per-VM files in DIR/vms/<uuid>/: qmp.sock, qga.sock, vnc.sock,
 * console.log (guest serial, appended), qemu.log (QEMU's stderr, appended),
 * pid ("<pid> <starttime>"), state.json (spec, taps, root ports).
 *
 * Locking: qemu_lock guards the table and every field of struct qemu_vm
 * except spec and the port/tap arrays, which only the (serialised) op
 * thread of that VM touches. Never hold qemu_lock across QMP calls,
 * qmp_close or process waits.
 */
#ifndef XAPID_VM_QEMU_PRIV_H
#define XAPID_VM_QEMU_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vm/backend.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/qmp.h"

#define QEMU_TAG "vm.qemu"
#define QEMU_TAPNAME 16
#define QEMU_CMD_MS 10000 /* an ordinary QMP command */

/* Where a VM is in a live migration (qemu_migrate.c). */
enum qemu_mig {
	QEMU_MIG_NONE,
	QEMU_MIG_IN,  /* received, stopped: waits for migrate_end */
	QEMU_MIG_OUT, /* sent, stopped (postmigrate): waits for migrate_end */
};

struct qemu_vm {
	char uuid[37];
	char *dir;                 /* DIR/vms/<uuid> */
	int refs;
	pid_t pid;                 /* 0: not spawned */
	int pidfd;                 /* -1 once exited (or unavailable) */
	bool child;                /* spawned by this xapid: reap it */
	unsigned long long starttime; /* /proc/<pid>/stat field 22 */
	struct qmp_mon *mon;
	enum vm_run_state state;
	bool exited;               /* the process is gone */
	bool status_known;
	int wstatus;               /* waitpid status when status_known */
	int expect_exit;           /* > 0: an op of ours is stopping it */
	int op_active;             /* > 0: an op of ours changes the state */
	bool in_table;
	char reason[64];           /* SHUTDOWN reason, "guest-panic" */
	long long log_off;         /* size of qemu.log when this QEMU started */
	double resets_quiet_until; /* RESET events before this are not reported */
	pthread_mutex_t oplock;    /* held by an op, and by the death handler */
	pthread_mutex_t agent_lock; /* one guest-agent connection at a time */
	/* the configuration, kept current by hot-plug (op thread only) */
	struct vm_spec spec;
	int nports;                /* rp1..rpN */
	int *disk_port;            /* per spec disk (see struct qemu_cmdline) */
	int *nic_port;             /* per spec NIC */
	int *pci_port;             /* per spec PCI device */
	char (*taps)[QEMU_TAPNAME]; /* per spec NIC */
	enum qemu_mig mig;         /* op thread only */
	bool mig_was_running;      /* QEMU_MIG_OUT: it ran before */
	struct qemu_mirror
	    *mirrors; /* source: disks being mirrored (op thread) */
	bool nbd_up;  /* destination: the mirror exports are served */
	bool legacy_layout;        /* started by an older xapid: one root port
	                            * per disk, no disk bridges (qemu_state.c) */
	char tls_key[65]; /* the key of the TLS-PSK credentials "xapid-tls"
	                     made for a migration ("": none; op thread) */
};

extern pthread_mutex_t qemu_lock;
extern pthread_cond_t qemu_cond; /* broadcast when a VM exits */
extern char *qemu_vms_dir;       /* DIR/vms */
extern char *qemu_binary;
extern vm_event_cb qemu_event_cb;

/* ---- qemu.c ---- */

/* Monotonic seconds. */
double qemu_now(void);
/* A QMP command of an op (args stolen); errors name the VM and command. */
int qemu_qmp(struct qemu_vm *vm, const char *cmd, json_t *args, json_t **ret, int timeout_ms,
	     char **err);
/* Reconnects QMP when the connection was lost (or never made on attach). */
int qemu_ensure_mon(struct qemu_vm *vm, char **err);
/* Passes fd to QEMU under name (getfd). */
int qemu_getfd(struct qemu_vm *vm, const char *name, int fd, char **err);
/* start / resume (image) / migration destination (mig_fd >= 0): adds the
 * VM to the table and launches it; on failure nothing is left. */
int qemu_start_vm(const struct vm_spec *spec, const char *image, int mig_fd, char **err);
/* True when one of the VM's disks is on_boot=reset. */
bool qemu_has_reset_disk(const struct qemu_vm *vm);
/* For such a VM: a guest reboot makes QEMU exit (set-action reboot=
 * shutdown), so that the next boot gets fresh overlays (qemu_relaunch). */
int qemu_reset_action(struct qemu_vm *vm, char **err);
/* The layout of the QEMUs this xapid starts (state.json "layout"): 2 =
 * disks on pcie-pci-bridges, root ports for NICs and PCI devices. A QEMU
 * an older xapid started (no "layout", no bridge on its command line) has
 * one root port per disk: hot-plug and migration would address devices it
 * does not have, so they are refused until a reboot gives it a fresh QEMU.
 * Returns 0, or -1 with *err (what says so, and how to get out of it). */
#define QEMU_LAYOUT 2
int qemu_assert_layout(const struct qemu_vm *vm, const char *what, char **err);
/* A fresh QEMU for a VM whose process is gone (files cleaned, overlays
 * dropped), running; on failure the VM leaves the table (halted). Op lock
 * held. */
int qemu_relaunch(struct qemu_vm *vm, char **err);
/* The process is gone: files, taps, table. Op lock held. */
void qemu_finish(struct qemu_vm *vm, const char *what);

/* ---- qemu_save.c ---- */

/* backend.h suspend and save. */
int qemu_suspend(const char *uuid, const char *path,
                 int (*commit)(void *arg, char **err), void *arg, char **err);
int qemu_save(const char *uuid, const char *path, char **err);
/* Loads the memory image at path into a QEMU started with -incoming defer. */
int qemu_incoming(struct qemu_vm *vm, const char *path, char **err);

/* ---- qemu_migrate.c ---- */

/* backend.h migrate_receive, migrate_send, migrate_end, layout. */
int qemu_migrate_receive(const struct vm_spec *spec, int fd, char **err);
int qemu_migrate_send(const char *uuid, int fd, const struct vm_migrate_opts *o,
		      struct vm_migrate_stats *st, char **err);
int qemu_migrate_end(const char *uuid, bool commit, bool was_running, char **err);
int qemu_layout(const char *uuid, struct vm_spec *out, char **err);
/* The TLS-PSK credentials "xapid-tls" of vm with key psk (hex), as a
 * migration's server (destination: its key file stays in DIR/vms/<uuid>/tls
 * until the VM's files go, GnuTLS reads it at each handshake) or client
 * (source: read at once, the file removed). Kept while the key is the same.
 * Op lock held. */
int qemu_mig_tls(struct qemu_vm *vm, const char *psk, bool server, char **err);
/* In a launch of a migration destination (-incoming defer, QMP up): feeds
 * fd to QEMU and waits until the whole state arrived (VM stopped). */
int qemu_mig_incoming(struct qemu_vm *vm, int fd, char **err);

/* ---- qemu_mirror.c (storage migration) ---- */

/* backend.h mirror_start, mirror_abort, mirror_serve. */
int qemu_mirror_start(const char *uuid, const char *id, int fd, const char *psk,
                      char **err);
void qemu_mirror_abort(const char *uuid);
int qemu_mirror_serve(const char *uuid, int fd, char **err);
/* Source, at the switch-over (vCPUs stopped): lets every mirror of vm copy
 * what is left and end, the destination then holding the same bytes. Op
 * lock held. 0, or -1 with *err (the mirrors are dropped then). */
int qemu_mirror_complete(struct qemu_vm *vm, char **err);
/* Source: cancels and drops every mirror of vm. Op lock held. */
void qemu_mirror_drop(struct qemu_vm *vm);
/* Destination, in the launch: serves the disks with mirror_in over NBD on
 * DIR/vms/<uuid>/nbd.sock (no-op without such disks). */
int qemu_nbd_export(struct qemu_vm *vm, char **err);
/* Destination, before the VM runs: stops serving them. */
void qemu_nbd_unexport(struct qemu_vm *vm);

/* ---- qemu_proc.c ---- */

/* Starts the reaper thread. Returns 0 or -1 with *err. */
int qemu_proc_init(char **err);
/* A new VM object (one reference), not in the table yet. */
struct qemu_vm *qemu_vm_new(const char *uuid);
/* Looks a VM up and takes a reference, or NULL with *err. */
struct qemu_vm *qemu_vm_get(const char *uuid, char **err);
/* The same, then takes vm->oplock; NULL (with *err) when the VM left the
 * table meanwhile. Release with qemu_op_put. */
struct qemu_vm *qemu_op_get(const char *uuid, char **err);
void qemu_op_put(struct qemu_vm *vm);
/* qemu_op_get that waits at most timeout_ms for the op lock ("busy"). */
struct qemu_vm *qemu_op_get_timed(const char *uuid, int timeout_ms, char **err);
/* Drops a reference (frees at zero: closes the monitor). */
void qemu_vm_unref(struct qemu_vm *vm);
/* Adds to / removes from the table (the table holds a reference). Add
 * fails (-1) when the uuid is already there. */
int qemu_vm_add(struct qemu_vm *vm);
void qemu_vm_remove(struct qemu_vm *vm);

/* Spawns QEMU with argv (stdout/stderr appended to qemu.log, new session,
 * default signals, no inherited fds) and registers it with the reaper.
 * Returns 0 or -1 with *err. */
int qemu_spawn(struct qemu_vm *vm, char *const argv[], char **err);
/* Starts watching an existing process (attach): pidfd + reaper. */
int qemu_watch(struct qemu_vm *vm, char **err);
/* Connects QMP (bounded; gives up early if QEMU dies). */
int qemu_connect(struct qemu_vm *vm, int timeout_ms, char **err);
/* Waits for the process to exit; true when it did within timeout_ms. */
bool qemu_wait_exit(struct qemu_vm *vm, int timeout_ms);
/* Sends a signal through the pidfd (safe against pid reuse). */
void qemu_signal(struct qemu_vm *vm, int sig);
/* Stops QEMU for good: QMP quit, then SIGKILL after a bound. Returns 0
 * once the process is gone, -1 with *err if even SIGKILL did not end it. */
int qemu_terminate(struct qemu_vm *vm, char **err);
/* After the process is gone: closes QMP, deletes taps, removes the pid,
 * state and socket files (keeps the logs). */
void qemu_cleanup(struct qemu_vm *vm);
/* Writes state.json (spec, ports, taps) and the pid file. */
int qemu_save_state(struct qemu_vm *vm, char **err);
/* Reads a VM left by a previous xapid: NULL when nothing is recorded. */
struct qemu_vm *qemu_load_state(const char *uuid);
/* True when /proc/<pid> is still that QEMU (start time and -uuid match). */
bool qemu_pid_is_ours(pid_t pid, unsigned long long starttime, const char *uuid);
/* True when an argument of process pid's command line contains word. */
bool qemu_cmdline_has(pid_t pid, const char *word);
/* CPU seconds (user + system) of thread tid of process pid (tid <= 0: of
 * the whole process), 0 when it is gone. */
double qemu_proc_cpu(pid_t pid, long long tid);
/* The start time of a process (field 22 of /proc/<pid>/stat), 0 if gone. */
unsigned long long qemu_proc_starttime(pid_t pid);
/* "; qemu.log: <last lines>" for error messages (malloc'd, maybe ""). */
char *qemu_log_tail(const struct qemu_vm *vm);
/* Marks an op of ours as changing the state (suppresses event reports). */
void qemu_op_begin(struct qemu_vm *vm, bool stopping);
void qemu_op_end(struct qemu_vm *vm, bool stopping);
/* Firmware resets the machine again right after a reset (SeaBIOS: two
 * more RESET "guest-reset" events within ~50 ms): after a reset of ours, or
 * a reported guest reboot, RESET events are ignored for a few seconds. */
void qemu_quiet_resets(struct qemu_vm *vm);
/* Sets the run state (under the lock). */
void qemu_set_state(struct qemu_vm *vm, enum vm_run_state st);

/* ---- qemu.c ---- */

/* Disks get an iothread each: with KVM only (QEMU 7.2's TCG asserts when an
 * iothread raises a guest interrupt). */
bool qemu_use_iothreads(void);

/* ---- qemu_net.c ---- */

/* Creates a tap for NIC n of VM uuid (name chosen free and written to
 * name), queues > 1: multi-queue; joins n->bridge, MTU, up. On failure
 * nothing is left behind. */
int qemu_tap_create(const char *uuid, const struct vm_nic *n, int queues,
		    char name[QEMU_TAPNAME], char **err);
/* Deletes a tap (quietly ignores a missing one). */
void qemu_tap_delete(const char *name);

/* ---- qemu_accel.c ---- */

/* Decides the accelerator: XAPID_ACCEL=tcg|kvm, else a cached result for
 * this boot of this host in state_dir/accel, else probes (no /dev/kvm, no
 * vmx/svm CPU flag or a PVM host: tcg; otherwise boots a tiny probe guest
 * with KVM). Writes "tcg" or "kvm" to accel and why to reason. */
void qemu_accel_probe(const char *state_dir, char accel[8], char *reason, size_t n);
/* Boots the probe image with accel ("kvm", "tcg") in dir; true when it
 * printed its marker and exited. (The probe itself; tests use it too.) */
bool qemu_accel_try(const char *dir, const char *accel, char *reason, size_t n);

/* ---- qemu_hotplug.c ---- */

int qemu_disk_plug(const char *uuid, const struct vm_disk *d, char **err);
/* The QMP steps of a disk plug (iothread, protocol and format nodes with
 * O_DIRECT when it works, virtio-blk-pci on root port rp<port>), each undone
 * when a later one fails. Safe to run for several disks of one VM at once
 * (the monitor is shared; the VM's op lock is held by the caller). */
int qemu_disk_attach(struct qemu_vm *vm, const struct vm_disk *d, int port, int bootindex,
		     char **err);
int qemu_disk_unplug(const char *uuid, const char *id, char **err);
/* The per-boot overlay of an on_boot=reset disk (in the VM's dir). */
char *qemu_reset_path(const struct qemu_vm *vm, const char *id);
/* Deletes that overlay (nothing when d is not on_boot=reset): the writes of
 * the boot are gone. */
void qemu_reset_drop(struct qemu_vm *vm, const struct vm_disk *d);
/* The helpers of a plug: a command whose failure is only logged (args
 * stolen); a command of a plug (args stolen; *err names VM and command);
 * the op lock of a running VM with a live monitor; the index of disk id in
 * vm->spec, or -1. */
#define QEMU_HP_CMD_MS 10000
void qemu_hp_quiet(struct qemu_vm *vm, const char *cmd, json_t *args);
int qemu_hp_cmd(struct qemu_vm *vm, const char *cmd, json_t *args, char **err);
struct qemu_vm *qemu_hp_get(const char *uuid, char **err);
long qemu_find_disk(const struct qemu_vm *vm, const char *id);
int qemu_nic_plug(const char *uuid, const struct vm_nic *n, char **err);
int qemu_nic_unplug(const char *uuid, const char *id, char **err);

/* ---- qemu_snap.c ---- */

/* The node on top of disk id's chain (malloc'd), or NULL with *err. */
char *qemu_disk_top(struct qemu_vm *vm, const char *id, char **err);
/* backend.h disk_stream: live coalesce of disk id's chain into its top. */
int qemu_disk_stream(const char *uuid, const char *id, char **err);
/* backend.h disk_snapshot: switches disk id to the overlay new_top. */
int qemu_disk_snapshot(const char *uuid, const char *id, const char *new_top,
		       const char *cbt, char **err);
/* backend.h disk_cbt. */
int qemu_disk_cbt(const char *uuid, const char *id, bool on, char **err);
/* Deletes every block node of disk id (its layers from live snapshots
 * too), top layers first. */
void qemu_disk_nodes_del(struct qemu_vm *vm, const char *id);

/* ---- qemu_hotplug.c (statistics) ---- */

/* Block, memory and vCPU statistics. */
int qemu_stats(const char *uuid, struct vm_stats *out, char **err);
/* backend.h balloon: QMP "balloon" (at most the VM's memory). */
int qemu_balloon(const char *uuid, int64_t target, char **err);
/* O_DIRECT works for the image at path. */
bool qemu_direct_ok(const char *path);

#endif
