/*
 * backend: how a VM is run on this host, behind an ops table (DESIGN §5).
 *
 * The lifecycle code (vm/lifecycle.c) turns DB records into a struct vm_spec
 * and calls the backend; the backend never touches the DB. Backends:
 *   "qemu" (vm/qemu/): one qemu-system-x86_64 per VM, QMP on a Unix socket
 *          under DIR/vms/<uuid>/, survives a xapid restart (re-attached by
 *          attach()).
 *   "sim": no guest at all, for control-plane scale tests only (labelled as
 *          such in host.other_config and logs).
 * All calls are blocking, bounded by timeouts, and thread-safe for different
 * VMs; calls for one VM are serialised by the caller.
 */
#ifndef XAPID_VM_BACKEND_H
#define XAPID_VM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm_disk {
	char id[16];        /* stable device id: "vbd<userdevice>" */
	char *path;         /* image file, or NULL for an empty CD drive */
	char *format;       /* "qcow2", "raw" */
	bool readonly;
	bool cdrom;
	bool bootable;
	bool reset; /* VDI on_boot=reset: writes go to a per-boot overlay
	             * that is dropped when the VM stops or reboots */
	int userdevice;     /* 0..254: also the virtio serial the guest sees */
	int port;           /* qemu: slot on the disk bridges (cmdline.h); 0: assigned at start
			     * (a migration destination gets the source's) */
	bool mirror_in;     /* migration destination: the source's mirror writes
	                     * this     (new, empty) disk while the VM arrives
	                     * (mirror_serve) */
};

struct vm_nic {
	char id[16];        /* "vif<device>" */
	char mac[18];       /* "aa:bb:cc:dd:ee:ff" */
	char *bridge;       /* Linux bridge the tap joins */
	int mtu;
	int port;           /* as vm_disk.port */
};

struct vm_pci {
	char addr[16];      /* "0000:44:00.0" */
};

struct vm_spec {
	char uuid[37];
	char *name;
	int64_t memory;        /* bytes */
	int vcpus_max, vcpus;
	char *kernel, *initrd, *cmdline; /* direct kernel boot (PV_kernel...) */
	char *boot_order;      /* "cd" etc. for firmware boot */
	struct vm_disk *disks;
	size_t ndisks;
	struct vm_nic *nics;
	size_t nnics;
	struct vm_pci *pcis;
	size_t npcis;
	bool start_paused;
	bool vnc;
	bool balloon;          /* a virtio-balloon device (memory target);
	                        * false in specs of QEMUs from before it */
	int hotplug_slots;     /* pcie-root-ports made at boot for hot-plug */
	int nports;            /* all root ports, when the devices' ports are
				* given (migration: the source's); else 0 */
	char *mig_psk; /* migration destination: the one-time key (hex) the
	                * streams from the source are encrypted with (TLS-PSK);
	                * NULL: they come in clear. Never saved. */
};

enum vm_run_state {
	VMR_HALTED,   /* no process */
	VMR_RUNNING,
	VMR_PAUSED,
	VMR_SUSPENDED, /* memory image saved; no process */
	VMR_CRASHED,  /* process died unexpectedly */
};

struct vm_stats {
	int64_t memory_actual;
	double cpu_seconds;
	struct {
		char id[16];
		uint64_t rd_bytes, wr_bytes, rd_ops, wr_ops;
		uint64_t rd_total_ns, wr_total_ns;
	} disks[256];
	size_t ndisks;
};

/* Knobs of a live migration (0: the default). */
struct vm_migrate_opts {
	double downtime_ms;    /* longest pause allowed at the switch-over (100) */
	int64_t bandwidth;     /* bytes/s at most (10 GiB/s: no limit) */
	double stall_s;        /* give up when nothing moves this long (60) */
	const char *psk;       /* one-time key (hex) to encrypt the stream with
	                        * (TLS-PSK; the destination's spec has the same);
	                        * NULL: in clear */
};

/* What a completed live migration measured (source side, from QMP). */
struct vm_migrate_stats {
	double total_ms;       /* migrate command to completion */
	double downtime_ms;    /* QEMU's: vCPUs stopped until the state was sent */
	double setup_ms;
	uint64_t ram_bytes;    /* memory bytes sent */
	int64_t dirty_syncs;   /* pre-copy passes over memory */
};

/* Called by a backend when a VM changes state on its own (guest power-off
 * or reboot, QEMU died). reason is for the log ("guest-shutdown", "killed by
 * signal 9", ...). Runs on a backend thread: must not block for long. */
typedef void (*vm_event_cb)(const char *uuid, enum vm_run_state state,
			    bool reboot, const char *reason);

struct vm_backend_ops {
	const char *name;
	/* Prepares the backend: state dir, accelerator probe, event callback. */
	int (*init)(const char *state_dir, vm_event_cb cb, char **err);
	/* Re-attaches to a VM left running by a previous xapid; its state. */
	enum vm_run_state (*attach)(const char *uuid);
	int (*start)(const struct vm_spec *spec, char **err);
	/* Clean shutdown: ask the guest (ACPI); fails after timeout_s. */
	int (*shutdown)(const char *uuid, double timeout_s, char **err);
	int (*destroy)(const char *uuid, char **err); /* hard: kill */
	int (*reboot)(const char *uuid, bool hard, char **err);
	int (*pause)(const char *uuid, char **err);
	int (*unpause)(const char *uuid, char **err);
	/* Saves the memory image to path and stops the VM. Once the image is
	 * written and before the VM is stopped for good, commit (if not
	 * NULL) is called with arg: when it fails (the image did not reach
	 * its storage) the VM goes on as it was and suspend fails with its
	 * message. */
	int (*suspend)(const char *uuid, const char *path,
	               int (*commit)(void *arg, char **err), void *arg,
	               char **err);
	/* Writes the memory image of a paused VM to path as suspend does, but
	 * the VM stays (paused; unpause continues it): VM.checkpoint. NULL:
	 * not supported. */
	int (*save)(const char *uuid, const char *path, char **err);
	/* Starts from a saved image (spec as for start). */
	int (*resume)(const struct vm_spec *spec, const char *path, char **err);
	int (*disk_plug)(const char *uuid, const struct vm_disk *d, char **err);
	int (*disk_unplug)(const char *uuid, const char *id, char **err);
	int (*nic_plug)(const char *uuid, const struct vm_nic *n, char **err);
	int (*nic_unplug)(const char *uuid, const char *id, char **err);
	/* Live snapshot of a disk: new_top is a qcow2 overlay (made by the
	 * caller, backing = the file the disk used so far, which the caller
	 * renamed) that becomes the disk's active layer; from then on the old
	 * layer no longer changes. Crash-consistent. NULL: not supported. */
	int (*disk_snapshot)(const char *uuid, const char *id,
			     const char *new_top, const char *cbt, char **err);
	/* Changed-block tracking of a running disk (cbt above, when not NULL,
	 * says what the snapshot does with it: the new top always gets a
	 * persistent bitmap "xapid-cbt" at 64 KiB; with "" the old top's bits
	 * go on in it, with a file name they go to that qcow2 file as bitmap
	 * "cbt", with "-" they are dropped). disk_cbt starts (on) or stops
	 * the tracking in the disk's top layer. NULL: not supported. */
	int (*disk_cbt)(const char *uuid, const char *id, bool on, char **err);
	/* Live coalesce: copies everything below the disk's top layer into it
	 * (block-stream) and drops the backing chain; blocks until done.
	 * NULL: not supported. */
	int (*disk_stream)(const char *uuid, const char *id, char **err);
	int (*stats)(const char *uuid, struct vm_stats *out, char **err);
	/*
	 * Live migration, in two steps on each side. fd is a connected stream
	 * socket to the other side, made by the caller (who keeps its copy and
	 * closes it after step 1); what travels on it is the backend's business.
	 * Step 1, destination: migrate_receive starts the VM of spec (disk and
	 * NIC ports as layout() gave them on the source; start_paused ignored)
	 * with its state coming from fd, and returns once all of it arrived: the
	 * VM then waits here, stopped. Step 1, source: migrate_send sends the VM
	 * (pre-copy while it runs, then a short pause for the rest) and returns
	 * once all was sent: the VM is then stopped here, its disks handed over.
	 * A failure in step 1 leaves the source running as before (if it was)
	 * and nothing on the destination.
	 * Step 2, migrate_end on both sides: commit on the destination runs the
	 * VM (paused if it was paused on the source: was_running false); on the
	 * source it ends the old process. Without commit the destination's VM is
	 * removed and the source resumes (if it was running).
	 * NULL: the backend cannot migrate.
	 */
	int (*migrate_receive)(const struct vm_spec *spec, int fd, char **err);
	int (*migrate_send)(const char *uuid, int fd, const struct vm_migrate_opts *o,
			    struct vm_migrate_stats *st, char **err);
	int (*migrate_end)(const char *uuid, bool commit, bool was_running, char **err);
	/*
	 * Storage migration: disks that move with the VM are copied live by the
	 * source's QEMU into the arriving QEMU before the memory goes.
	 * Source: mirror_start copies disk id of the running VM to the disk of
	 * the same id at the destination over fd (a connection to the
	 * destination's mirror_serve; the backend keeps its own copy;
	 * encrypted with psk, as vm_migrate_opts says) and
	 * returns once the copy is in step; writes go on being mirrored until
	 * migrate_send completes every mirror of the VM at the switch-over. A
	 * failed migrate_send, or mirror_abort, drops the mirrors: the VM goes
	 * on with its own disks, untouched. Destination: mirror_serve waits
	 * (bounded) until the VM that migrate_receive is building (its disks
	 * with mirror_in) can take the copy, says so on fd, then serves fd
	 * until the source closes it. NULL: not supported.
	 */
	int (*mirror_start)(const char *uuid, const char *id, int fd,
	                    const char *psk, char **err);
	void (*mirror_abort)(const char *uuid);
	int (*mirror_serve)(const char *uuid, int fd, char **err);
	/* The running VM's spec as it is now (hot-plugged devices included),
	 * with every device's root port and nports filled in: what a migration
	 * destination must reproduce. */
	int (*layout)(const char *uuid, struct vm_spec *out, char **err);
	/* Sets the memory target of a running VM (bytes): the guest's balloon
	 * driver gives back what is above it (or takes it again). Returns 0,
	 * 1 when the VM has no balloon (its memory stays as it is), -1 with
	 * *err. NULL: not supported. */
	int (*balloon)(const char *uuid, int64_t target, char **err);
	/* Runs a guest-agent command (JSON text) and returns its JSON reply. */
	int (*agent)(const char *uuid, const char *json, char **reply,
		     double timeout_s, char **err);
	/* Accelerator in use: "kvm", "tcg", "sim". */
	const char *(*accel)(void);
};

extern const struct vm_backend_ops vm_backend_qemu;
extern const struct vm_backend_ops vm_backend_sim;

/* Runs fn(ctx, i) for every i < n on the worker pool's parallel queue, in
 * chunks of at most vm_parallel_chunk() atoms (xenopsd's 10), and returns
 * once all are done; the caller keeps its own worker meanwhile. Before the
 * pool exists (a backend tested alone) the atoms run in turn. (workers.c) */
void vm_parallel(size_t n, void (*fn)(void *ctx, size_t i), void *ctx);
unsigned vm_parallel_chunk(void);

/* Frees what a spec owns (not the struct itself). */
void vm_spec_clear(struct vm_spec *s);

#endif
