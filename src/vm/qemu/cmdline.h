/*
 * cmdline: the qemu-system-x86_64 argv of a VM (libvirt's qemu_command.c).
 * Pure: no file system, no process; the caller probes what needs probing
 * (O_DIRECT, PCI devices, taps) and passes the answers in.
 *
 * Machine: q35, -nodefaults, vCPUs stopped (-S) until xapid says cont.
 * pcie.0 layout (explicit addresses, so nothing moves between boots):
 *   00.0 host bridge      01.0 VGA (only with vnc)   02.0 virtio-serial (agent)
 *   03.0 .. 1e.7 pcie-root-ports rp1, rp2, ... packed 8 functions per slot
 *   1f.x ICH9 (LPC, AHCI with the CD drives on ide.0..ide.5, SMBus)
 *   1f.4 virtio-balloon (spec->balloon; a function ICH9 leaves free)
 * Disks: a PCIe port is a PCI bus of its own and a machine has 256 buses, so
 * XenServer's 255 disks cannot each have a port. rp1..rp9 each carry a
 * pcie-pci-bridge pb1..pb9 whose slots 1..31 take virtio-blk disks (disk
 * slot n: pb((n-1)/31+1), slot (n-1)%31+1), cold-plugged or hot-plugged
 * (279 slots for at most 255 disks). The other PCI devices get a root port
 * each, in this order: virtio-net NICs, vfio-pci devices, then
 * spec->hotplug_slots empty ports for NIC hot-plug (pcie.0 itself cannot
 * hot-plug). When spec->nports is set, there are that many root ports and
 * each disk/NIC goes in the slot/port it names (a migration destination
 * reproduces the source's layout this way). With disks_by_qmp the virtio
 * disks are not on the command line: the backend adds them over QMP while
 * the vCPUs are stopped (in parallel, see qemu.c). Disks and NICs are described
 * in JSON (-blockdev/-device/-netdev accept it), and the same JSON objects are
 * what hot-plug sends over QMP (blockdev-add, device_add, netdev_add).
 */
#ifndef XAPID_VM_QEMU_CMDLINE_H
#define XAPID_VM_QEMU_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "vm/backend.h"

#define QEMU_MAX_PORTS 224    /* 28 slots x 8 functions */
#define QEMU_DISK_BRIDGES 9   /* rp1..rp9 carry pb1..pb9 */
#define QEMU_BRIDGE_SLOTS 31  /* disk slots per bridge (1..31) */
#define QEMU_MAX_DISKS 255    /* virtio disks (xapi's userdevices 0..254) */
#define QEMU_MAX_CDROMS 6     /* AHCI ports */
#define QEMU_MAX_QUEUES 16    /* virtio-net queue pairs */

struct qemu_cmdline_opts {
	const char *binary;      /* NULL: "qemu-system-x86_64" */
	const char *vm_dir;      /* DIR/vms/<uuid>: sockets and logs */
	const char *accel;       /* "tcg" or "kvm" */
	bool stopped;            /* -S: vCPUs stopped until "cont" */
	const char *incoming;    /* -incoming value (e.g. "defer"), or NULL */
	const char *const *taps; /* per spec NIC: tap name (NULL if no NICs) */
	const bool *disk_direct; /* per spec disk: O_DIRECT works; NULL: none */
	bool disks_by_qmp;       /* virtio disks left out: attached over QMP
				    before the vCPUs run (their ports are kept) */
};

/* The argv and where each device went. */
struct qemu_cmdline {
	char **argv;    /* NULL-terminated */
	size_t argc;
	int nports;     /* root ports rp1..rpN */
	int *disk_port; /* per spec disk: disk slot; for a CD -1 - AHCI port */
	int *nic_port;  /* per spec NIC */
	int *pci_port;  /* per spec PCI device */
	int *disk_boot; /* per spec disk: bootindex, 0 for none */
};

/* Builds the argv of spec. Returns 0, or -1 with *err (malloc'd) when the
 * spec cannot be expressed (bad uuid/id/MAC/format/PCI address, too many
 * devices, a socket path longer than a Unix socket allows...). */
int qemu_cmdline_build(const struct vm_spec *spec, const struct qemu_cmdline_opts *o,
		       struct qemu_cmdline *out, char **err);
/* Frees what a built command line holds. NULL-safe, idempotent. */
void qemu_cmdline_free(struct qemu_cmdline *c);

/* Checks a disk / NIC description before use (ids, formats, MACs). */
int qemu_disk_check(const struct vm_disk *d, char **err);
int qemu_nic_check(const struct vm_nic *n, char **err);

/* Node names of a disk's protocol ("<id>-file") and format ("<id>-fmt")
 * layers, and its iothread ("io-<id>"), into buffers of 32 bytes. */
void qemu_disk_names(const char *id, char file[32], char fmt[32], char iothread[32]);
/* virtio-net queue pairs for a VM with vcpus vCPUs (1..QEMU_MAX_QUEUES). */
int qemu_nic_queues(int vcpus);

/* The JSON objects shared by the command line and QMP hot-plug (new
 * references). direct: cache.direct + aio=native. bootindex 0: none. */
json_t *qemu_json_blockdev_file(const struct vm_disk *d, bool direct);
/* The protocol node of an image: a local file or device, or an nfs://
 * URL as QEMU's nfs driver (node-name node; read-only etc. to be added). */
json_t *qemu_json_proto(const char *path, const char *node, bool cdrom);
/* The same with the I/O engine aio ("io_uring", "native", "threads") used
 * when direct. */
json_t *qemu_json_blockdev_aio(const struct vm_disk *d, bool direct, const char *aio);
json_t *qemu_json_blockdev_fmt(const struct vm_disk *d, bool direct);
json_t *qemu_json_iothread(const struct vm_disk *d);
/* A virtio disk in disk slot slot (see above), on its iothread (KVM only:
 * see cmdline.c) or not. */
json_t *qemu_json_disk_device(const struct vm_disk *d, int slot, int bootindex, bool iothread);
json_t *qemu_json_netdev(const struct vm_nic *n, const char *tap, int queues);
json_t *qemu_json_nic_device(const struct vm_nic *n, int port, int queues, int bootindex);

/* Checks that a host PCI device can be passed through: it exists under
 * sysfs_root/bus/pci/devices (sysfs_root NULL: "/sys") and is bound to
 * vfio-pci. Returns 0 or -1 with a clear *err. */
int qemu_pci_check(const char *sysfs_root, const char *addr, char **err);

/* s with every ',' doubled, for QEMU's key=value option syntax (malloc'd). */
char *qemu_opt_escape(const char *s);

#endif
