/*
 * vm_int: what the VM modules share (not for others).
 */
#ifndef XAPID_VM_INT_H
#define XAPID_VM_INT_H

#include "rpc/api.h"
#include "vm/lifecycle.h"

extern struct vm_config vm_cfg;

/* Starts operation op on a VM in one transaction: the row must exist, not be
 * a template (unless templates_ok), be in one of the power states in allowed
 * (a comma-separated list of lowercase states, as VM_BAD_POWER_STATE shows
 * them), and have no other operation running. Sets *opid (malloc'd). */
struct api_err *vm_op_begin(const char *vm, const char *op, const char *allowed,
			    bool templates_ok, char **opid);
/* VM_BAD_POWER_STATE as xapi words it (expected states ", "-joined). */
struct api_err *vm_bad_power_state(const char *vm, const char *allowed,
				   const char *actual);
/* xapi's allowed_VBD_devices: userdevices 0..254. */
#define VM_MAX_VBDS 255
/* The disk number of a userdevice ("3", "xvdd", "hdd", "sdd" -> 3), or -1. */
int vbd_userdevice_number(const char *userdevice);
/* The guest device name of a VBD userdevice: "0" -> "xvda". */
char *vbd_device_name(const char *userdevice);

/* Ends an operation; if power_state is non-NULL the VM moves to it (and
 * resident_on, metrics, devices follow). */
void vm_op_end(const char *vm, const char *opid, const char *power_state);
/* VM.hard_shutdown of any live or suspended VM (VM.revert's first step). */
struct api_err *vm_hard_shutdown(const char *vm);
/* The SR a VM's memory image goes to: its suspend_SR, else the pool's
 * suspend_image_SR, else the default SR (malloc'd). Read lock held. */
char *vm_suspend_sr(const struct db_row *vm);

/* Builds the backend spec of a VM from the DB; attached_only keeps only the
 * devices attached now (resume: the saved machine must match). */
struct api_err *vm_spec_build(const char *vm, struct vm_spec *spec,
			      bool attached_only);
/* The same for the destination of a storage migration: the disks of the
 * VDIs named in moved (a struct: old VDI ref -> the new VDI ref here) use
 * the new VDI and are marked mirror_in. */
struct api_err *vm_spec_build_moved(const char *vm, struct vm_spec *spec,
                                    bool attached_only, const xv *moved);

/* VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION when one of the VM's VDIs
 * is on_boot=reset (snapshot, checkpoint, suspend, migration), else NULL. */
struct api_err *vm_assert_persistent_disks(const char *vm);

/* Whether the VM gets a VNC framebuffer: platform:vnc=true|false, else as
 * xapi gives HVM guests one (domain_type hvm) and PV/PVH guests none. */
bool vm_wants_vnc(const struct db_row *vm);

/* Marks the VM and its devices as in power_state in a transaction (its
 * console records come and go with it). */
void vm_set_power(struct db_txn *t, struct db_row *vm, const char *power_state);

/* Host memory the VM needs to start (bytes): its dynamic_min and its
 * overhead, as xapi's Memory_check with the Dynamic_min policy (the other
 * VMs are ballooned down to make room: vm_squeeze). */
int64_t vm_memory_needed(const char *vm);
/* What the host has free for new VMs: its guest memory less every VM that
 * runs or is being started here, each with dynamic_min and overhead
 * (xapi's host_compute_free_memory_with_maximum_compression); a VM that
 * cannot balloon with all of its static_max. */
int64_t vm_host_free_memory(const char *except_vm);
/* The host's memory guests may have: MemTotal less what the host keeps
 * for itself (a tenth, at most 1 GiB). */
int64_t vm_host_guest_memory(void);
/* QEMU's own memory for a VM of static_max bytes (bytes). */
int64_t vm_memory_overhead(int64_t static_max);

/* Memory targets (vm_squeeze.c). One VM's dynamic range. */
struct vm_sq {
	int64_t dmin, dmax;
};
/* The targets of n VMs sharing avail bytes as squeezed shares them: the
 * same fraction of every dynamic range, the largest that fits (dynamic_max
 * when all fit, dynamic_min when even those do not). Pure. */
void vm_squeeze_targets(const struct vm_sq *v, size_t n, int64_t avail,
                        int64_t *out);
/* Sets the targets of the VMs running here (backend balloon, and
 * VM.memory_target) after a change: a start, a stop, a new dynamic range.
 * Also run by the metrics sampler, so that what failed (a VM busy in an
 * operation) is done later. Call with no lock held. */
void vm_squeeze(void);
/* True when the VM runs here and cannot balloon (no balloon device). */
bool vm_squeeze_fixed(const char *uuid);
/* Forgets what the squeeze knew of a VM (its QEMU was replaced: a reboot
 * of an older xapid's QEMU gets one with a balloon); the next round sets
 * its target again. */
void vm_squeeze_forget(const char *uuid);
/* True when the VM of uuid runs (or is paused) on this host. */
bool vm_squeeze_live(const char *uuid);

/* The bridge of a network, creating the Linux bridge if missing. */
struct api_err *vm_bridge_ensure(const char *network_ref, char **bridge);

/* A random locally administered MAC (malloc'd). */
char *vif_random_mac(void);

/* The backend seen through the global worker pool of size operations; also
 * starts the parallel queue (size threads, atoms in chunks of chunk, 0: 10)
 * that vm_parallel() uses. */
const struct vm_backend_ops *vm_workers_wrap(const struct vm_backend_ops *inner,
					     unsigned size, unsigned chunk);

/* Registers VM.set_memory_limits, set_memory, set_memory_{static,dynamic}
 * _range and the single-field memory setters (vm_memory.c). */
void vm_memory_register(void);

/* Registers VM.clone, VM.snapshot, VM.revert (vm_copy.c). */
void vm_copy_register(void);

/* Starts the guest-agent poller and registers VIF.configure_ipv4. */
void vm_guest_agent_start(void);

/* VM.pool_migrate and the destination's half (migrate.c). */
void vm_migrate_register(void);

/* Handlers of VBD/VIF plug/unplug (vm_devices.c). */
void vm_devices_register(void);

#endif
