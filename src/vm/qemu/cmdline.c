/* cmdline: qemu-system-x86_64 argv from a struct vm_spec (see cmdline.h). */
#include "vm/qemu/cmdline.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/xalloc.h"
#include "vm/vmspec.h"

#define QEMU_FIRST_PORT_SLOT 3 /* pcie.0 slot of rp1 */

/* A growing argv. */
struct qemu_argv {
	char **v;
	size_t n, cap;
};

static void
qemu_arg(struct qemu_argv *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->v = xrealloc(a->v, a->cap * sizeof(char *));
	}
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void qemu_argf(struct qemu_argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
qemu_argf(struct qemu_argv *a, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	qemu_arg(a, b.data ? b.data : "");
	buf_free(&b);
}

/* Adds "opt" and the compact JSON of o, and releases o. */
static void
qemu_arg_json(struct qemu_argv *a, const char *opt, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	qemu_arg(a, opt);
	qemu_arg(a, s);
	free(s);
	json_decref(o);
}

char *
qemu_opt_escape(const char *s)
{
	struct buf b = BUF_INIT;

	for (; *s; s++) {
		buf_addc(&b, *s);
		if (*s == ',')
			buf_addc(&b, ',');
	}
	return b.data ? buf_steal(&b) : xstrdup("");
}

/* ---- checks ---- */

/* A QEMU id: a letter, then letters, digits, '-', '_' (at most 15). */
static bool
qemu_id_ok(const char *id)
{
	if (!isalpha((unsigned char)id[0]) || strlen(id) > 15)
		return false;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
	return true;
}

int
qemu_disk_check(const struct vm_disk *d, char **err)
{
	const char *f = d->format ? d->format : "raw";

	if (!qemu_id_ok(d->id)) {
		*err = xasprintf("invalid disk id '%s'", d->id);
		return -1;
	}
	if (!d->path && !d->cdrom) {
		*err = xasprintf("disk %s has no image", d->id);
		return -1;
	}
	if (strcmp(f, "raw") != 0 && strcmp(f, "qcow2") != 0 && strcmp(f, "vpc") != 0 &&
	    strcmp(f, "vmdk") != 0 && strcmp(f, "vhdx") != 0) {
		*err = xasprintf("disk %s: unsupported image format '%s'", d->id, f);
		return -1;
	}
	if (d->userdevice < 0 || d->userdevice > 254) {
		*err = xasprintf("disk %s: userdevice %d out of range", d->id, d->userdevice);
		return -1;
	}
	return 0;
}

int
qemu_nic_check(const struct vm_nic *n, char **err)
{
	unsigned b[6];
	char tail;

	if (!qemu_id_ok(n->id)) {
		*err = xasprintf("invalid NIC id '%s'", n->id);
		return -1;
	}
	if (sscanf(n->mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5], &tail) != 6 ||
	    strlen(n->mac) != 17 || (b[0] & 1)) {
		*err = xasprintf("NIC %s: invalid MAC address '%s'", n->id, n->mac);
		return -1;
	}
	if (n->mtu < 0 || n->mtu > 65535 || (n->mtu && n->mtu < 68)) {
		*err = xasprintf("NIC %s: invalid MTU %d", n->id, n->mtu);
		return -1;
	}
	return 0;
}

/* "0000:44:00.0": domain:bus:slot.function in lowercase hex. */
static bool
qemu_pci_addr_ok(const char *a)
{
	unsigned d, b, s, f;
	char tail;

	return strlen(a) == 12 && sscanf(a, "%4x:%2x:%2x.%1x%c", &d, &b, &s, &f, &tail) == 4 &&
	       s < 32 && f < 8;
}

int
qemu_pci_check(const char *sysfs_root, const char *addr, char **err)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	if (!qemu_pci_addr_ok(addr)) {
		*err = xasprintf("invalid PCI address '%s'", addr);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sysfs_root ? sysfs_root : "/sys",
		 addr);
	if (access(path, F_OK) != 0) {
		*err = xasprintf("PCI device %s does not exist on this host", addr);
		return -1;
	}
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/driver");
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		*err = xasprintf("PCI device %s is not bound to vfio-pci (no driver)", addr);
		return -1;
	}
	link[n] = 0;
	const char *drv = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	if (strcmp(drv, "vfio-pci") != 0) {
		*err = xasprintf("PCI device %s is bound to %s, not vfio-pci", addr, drv);
		return -1;
	}
	return 0;
}

/* ---- JSON pieces ---- */

void
qemu_disk_names(const char *id, char file[32], char fmt[32], char iothread[32])
{
	snprintf(file, 32, "%s-file", id);
	snprintf(fmt, 32, "%s-fmt", id);
	snprintf(iothread, 32, "io-%s", id);
}

int
qemu_nic_queues(int vcpus)
{
	return vcpus < 1 ? 1 : vcpus > QEMU_MAX_QUEUES ? QEMU_MAX_QUEUES : vcpus;
}

json_t *
qemu_json_proto(const char *path, const char *node, bool cdrom)
{
	if (strncmp(path, "nfs://", 6) == 0) {
		/* an image on an NFS SR, reached by QEMU's own NFSv3 client */
		const char *slash = strchr(path + 6, '/');
		char *host = slash ? strndup(path + 6, (size_t)(slash - (path + 6))) : strdup(path + 6);
		json_t *o = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}", "driver", "nfs", "server",
				      "type", "inet", "host", host, "path", slash ? slash : "/",
				      "node-name", node);
		free(host);
		return o;
	}
	const char *drv = strncmp(path, "/dev/", 5) != 0 ? "file" : cdrom ? "host_cdrom" : "host_device";
	return json_pack("{s:s, s:s, s:s}", "driver", drv, "filename", path, "node-name", node);
}

json_t *
qemu_json_blockdev_aio(const struct vm_disk *d, bool direct, const char *aio)
{
	char file[32], fmt[32], io[32];
	json_t *o;

	qemu_disk_names(d->id, file, fmt, io);
	o = qemu_json_proto(d->path, file, d->cdrom);
	json_object_set_new(o, "read-only", json_boolean(d->readonly || d->cdrom));
	if (direct) {
		json_object_set_new(o, "cache", json_pack("{s:b, s:b}", "direct", 1, "no-flush", 0));
		if (strncmp(d->path, "nfs://", 6) != 0)
			json_object_set_new(o, "aio", json_string(aio ? aio : "native"));
	}
	if (!d->readonly && !d->cdrom)
		json_object_set_new(o, "discard", json_string("unmap"));
	return o;
}

json_t *
qemu_json_blockdev_file(const struct vm_disk *d, bool direct)
{
	return qemu_json_blockdev_aio(d, direct, "native");
}

json_t *
qemu_json_blockdev_fmt(const struct vm_disk *d, bool direct)
{
	char file[32], fmt[32], io[32];
	json_t *o;

	qemu_disk_names(d->id, file, fmt, io);
	o = json_pack("{s:s, s:s, s:s, s:b}", "driver", d->format ? d->format : "raw",
		      "node-name", fmt, "file", file, "read-only", d->readonly || d->cdrom);
	if (direct)
		json_object_set_new(o, "cache", json_pack("{s:b, s:b}", "direct", 1, "no-flush", 0));
	if (!d->readonly && !d->cdrom)
		json_object_set_new(o, "discard", json_string("unmap"));
	return o;
}

json_t *
qemu_json_iothread(const struct vm_disk *d)
{
	char file[32], fmt[32], io[32];

	qemu_disk_names(d->id, file, fmt, io);
	return json_pack("{s:s, s:s}", "qom-type", "iothread", "id", io);
}

json_t *
qemu_json_disk_device(const struct vm_disk *d, int slot, int bootindex, bool iothread)
{
	char file[32], fmt[32], io[32], serial[16], bus[16], addr[8];
	json_t *o;

	qemu_disk_names(d->id, file, fmt, io);
	snprintf(serial, sizeof(serial), "%d", d->userdevice);
	snprintf(bus, sizeof(bus), "pb%d", (slot - 1) / QEMU_BRIDGE_SLOTS + 1);
	snprintf(addr, sizeof(addr), "0x%x", (slot - 1) % QEMU_BRIDGE_SLOTS + 1);
	/* modern-only: on a conventional bus a transitional device would
	 * want I/O ports, of which a machine has too few for 255 disks */
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "driver", "virtio-blk-pci", "id",
		      d->id, "drive", fmt, "serial", serial, "bus", bus, "addr", addr,
		      "disable-legacy", "on");
	if (iothread)
		json_object_set_new(o, "iothread", json_string(io));
	if (bootindex > 0)
		json_object_set_new(o, "bootindex", json_integer(bootindex));
	return o;
}

json_t *
qemu_json_netdev(const struct vm_nic *n, const char *tap, int queues)
{
	char id[32];

	snprintf(id, sizeof(id), "net-%s", n->id);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:i}", "type", "tap", "id", id, "ifname",
			 tap, "script", "no", "downscript", "no", "vhost", 0, "queues", queues);
}

json_t *
qemu_json_nic_device(const struct vm_nic *n, int port, int queues, int bootindex)
{
	char netdev[32], bus[16];
	json_t *o;

	snprintf(netdev, sizeof(netdev), "net-%s", n->id);
	snprintf(bus, sizeof(bus), "rp%d", port);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "driver", "virtio-net-pci", "id", n->id,
		      "netdev", netdev, "mac", n->mac, "bus", bus);
	if (queues > 1) {
		json_object_set_new(o, "mq", json_true());
		json_object_set_new(o, "vectors", json_integer(2 * queues + 2));
	}
	if (n->mtu > 0 && n->mtu != 1500)
		json_object_set_new(o, "host_mtu", json_integer(n->mtu));
	if (bootindex > 0)
		json_object_set_new(o, "bootindex", json_integer(bootindex));
	return o;
}

/* ---- the command line ---- */

/* A Unix socket path under vm_dir, checked against sun_path (malloc'd). */
static char *
qemu_sock_path(const char *vm_dir, const char *name, char **err)
{
	struct sockaddr_un sa;
	char *p = xasprintf("%s/%s", vm_dir, name);

	if (strlen(p) >= sizeof(sa.sun_path)) {
		*err = xasprintf("socket path %s is longer than a Unix socket allows (%zu); "
				 "use a shorter state directory",
				 p, sizeof(sa.sun_path) - 1);
		free(p);
		return NULL;
	}
	return p;
}

/* Root port rpN: a function of slot 3 + (N-1)/8. */
static json_t *
qemu_json_root_port(int n)
{
	int slot = QEMU_FIRST_PORT_SLOT + (n - 1) / 8, fn = (n - 1) % 8;
	char id[16], addr[16];
	json_t *o;

	snprintf(id, sizeof(id), "rp%d", n);
	snprintf(addr, sizeof(addr), "0x%x.0x%x", slot, fn);
	o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:i}", "driver", "pcie-root-port", "id",
		      id, "bus", "pcie.0", "chassis", n, "slot", n, "port", n, "addr", addr,
		      "io-reserve", 0);
	if (fn == 0)
		json_object_set_new(o, "multifunction", json_true());
	return o;
}

/* Boot priority of each device, from boot_order ("c" disks, "d" CDs, "n"
 * NICs; default "cd"): fills disk_boot/nic_boot with 1, 2, ... or 0. */
static void
qemu_boot_order(const struct vm_spec *s, int *disk_boot, int *nic_boot)
{
	const char *order = s->boot_order && *s->boot_order ? s->boot_order : "cd";
	int next = 1;

	for (const char *c = order; *c; c++) {
		switch (tolower((unsigned char)*c)) {
		case 'c':
			/* bootable disks first, then the others, each in spec order */
			for (int pass = 0; pass < 2; pass++)
				for (size_t i = 0; i < s->ndisks; i++)
					if (!s->disks[i].cdrom && !disk_boot[i] &&
					    s->disks[i].bootable == (pass == 0))
						disk_boot[i] = next++;
			break;
		case 'd':
			for (size_t i = 0; i < s->ndisks; i++)
				if (s->disks[i].cdrom && !disk_boot[i])
					disk_boot[i] = next++;
			break;
		case 'n':
			for (size_t i = 0; i < s->nnics; i++)
				if (!nic_boot[i])
					nic_boot[i] = next++;
			break;
		default:
			break;
		}
	}
}

/* Checks the spec as a whole. */
static int
qemu_spec_check(const struct vm_spec *s, const struct qemu_cmdline_opts *o, char **err)
{
	size_t ncd = 0, nvirtio = 0;

	if (!vm_uuid_valid(s->uuid)) {
		*err = xasprintf("invalid VM uuid '%s'", s->uuid);
		return -1;
	}
	if (s->memory < (16 << 20)) {
		*err = xasprintf("VM memory %lld bytes is too small (16 MiB at least)",
				 (long long)s->memory);
		return -1;
	}
	if (s->vcpus < 1 || s->vcpus > 255 || (s->vcpus_max && s->vcpus_max < s->vcpus) ||
	    s->vcpus_max > 255) {
		*err = xasprintf("invalid vCPU counts %d/%d", s->vcpus, s->vcpus_max);
		return -1;
	}
	if (!o->accel || (strcmp(o->accel, "tcg") != 0 && strcmp(o->accel, "kvm") != 0)) {
		*err = xasprintf("invalid accelerator '%s'", o->accel ? o->accel : "(none)");
		return -1;
	}
	if (!o->vm_dir) {
		*err = xstrdup("no VM directory");
		return -1;
	}
	for (size_t i = 0; i < s->ndisks; i++) {
		if (qemu_disk_check(&s->disks[i], err) < 0)
			return -1;
		ncd += s->disks[i].cdrom;
		nvirtio += !s->disks[i].cdrom;
		for (size_t j = 0; j < i; j++)
			if (strcmp(s->disks[i].id, s->disks[j].id) == 0) {
				*err = xasprintf("two disks with id %s", s->disks[i].id);
				return -1;
			}
	}
	if (ncd > QEMU_MAX_CDROMS) {
		*err = xasprintf("%zu CD drives: at most %d", ncd, QEMU_MAX_CDROMS);
		return -1;
	}
	for (size_t i = 0; i < s->nnics; i++) {
		if (qemu_nic_check(&s->nics[i], err) < 0)
			return -1;
		if (!o->taps || !o->taps[i] || !*o->taps[i]) {
			*err = xasprintf("NIC %s has no tap", s->nics[i].id);
			return -1;
		}
	}
	for (size_t i = 0; i < s->npcis; i++)
		if (!qemu_pci_addr_ok(s->pcis[i].addr)) {
			*err = xasprintf("invalid PCI address '%s'", s->pcis[i].addr);
			return -1;
		}
	if (nvirtio > QEMU_MAX_DISKS) {
		*err = xasprintf("%zu disks: at most %d", nvirtio, QEMU_MAX_DISKS);
		return -1;
	}
	if (QEMU_DISK_BRIDGES + s->nnics + s->npcis +
		    (size_t)(s->hotplug_slots > 0 ? s->hotplug_slots : 0) >
	    QEMU_MAX_PORTS) {
		*err = xasprintf("too many PCI devices and hot-plug slots (at most %d)",
				 QEMU_MAX_PORTS);
		return -1;
	}
	return 0;
}

/* Machine, CPU, memory, identity, consoles, monitor, agent channel. */
static int
qemu_cmdline_base(struct qemu_argv *a, const struct vm_spec *s,
		  const struct qemu_cmdline_opts *o, char **err)
{
	char *qmp = qemu_sock_path(o->vm_dir, "qmp.sock", err), *qga = NULL, *vnc = NULL;
	char *e, *e2;
	int rc = -1;

	if (!qmp || !(qga = qemu_sock_path(o->vm_dir, "qga.sock", err)) ||
	    (s->vnc && !(vnc = qemu_sock_path(o->vm_dir, "vnc.sock", err))))
		goto out;
	qemu_arg(a, o->binary ? o->binary : "qemu-system-x86_64");
	e = qemu_opt_escape(s->name && *s->name ? s->name : s->uuid);
	qemu_arg(a, "-name");
	qemu_argf(a, "guest=%s,debug-threads=on", e);
	free(e);
	qemu_arg(a, "-uuid");
	qemu_arg(a, s->uuid);
	qemu_arg(a, "-msg");
	qemu_arg(a, "timestamp=on");
	qemu_arg(a, "-no-user-config");
	qemu_arg(a, "-nodefaults");
	qemu_arg(a, "-accel");
	qemu_arg(a, o->accel);
	qemu_arg(a, "-M");
	qemu_arg(a, "q35");
	qemu_arg(a, "-cpu");
	qemu_arg(a, strcmp(o->accel, "kvm") == 0 ? "host" : "max");
	qemu_arg(a, "-m");
	qemu_argf(a, "size=%lldM", (long long)((s->memory + (1 << 20) - 1) >> 20));
	qemu_arg(a, "-smp");
	qemu_argf(a, "cpus=%d,maxcpus=%d", s->vcpus, s->vcpus_max ? s->vcpus_max : s->vcpus);
	if (s->vnc) {
		e = qemu_opt_escape(vnc);
		qemu_arg(a, "-vnc");
		qemu_argf(a, "unix:%s", e);
		free(e);
		qemu_arg_json(a, "-device",
			      json_pack("{s:s, s:s, s:s, s:s}", "driver", "VGA", "id", "video0",
					"bus", "pcie.0", "addr", "0x1"));
	} else {
		qemu_arg(a, "-display");
		qemu_arg(a, "none");
	}
	/* the serial console: a socket `xe console` attaches to, everything
	 * also appended to console.log */
	e = xasprintf("%s/console.log", o->vm_dir);
	e2 = qemu_opt_escape(e);
	char *cs = xasprintf("%s/console.sock", o->vm_dir), *cs2 = qemu_opt_escape(cs);
	qemu_arg(a, "-chardev");
	qemu_argf(a, "socket,id=serial0,path=%s,server=on,wait=off,logfile=%s,logappend=on",
		  cs2, e2);
	free(cs);
	free(cs2);
	free(e);
	free(e2);
	qemu_arg(a, "-serial");
	qemu_arg(a, "chardev:serial0");
	e = qemu_opt_escape(qmp);
	qemu_arg(a, "-chardev");
	qemu_argf(a, "socket,id=qmp,path=%s,server=on,wait=off", e);
	free(e);
	qemu_arg(a, "-mon");
	qemu_arg(a, "chardev=qmp,mode=control");
	e = qemu_opt_escape(qga);
	qemu_arg(a, "-chardev");
	qemu_argf(a, "socket,id=qga0,path=%s,server=on,wait=off", e);
	free(e);
	qemu_arg_json(a, "-device",
		      json_pack("{s:s, s:s, s:s, s:s}", "driver", "virtio-serial-pci", "id", "vser0",
				"bus", "pcie.0", "addr", "0x2"));
	qemu_arg_json(a, "-device",
		      json_pack("{s:s, s:s, s:s, s:s}", "driver", "virtserialport", "bus",
				"vser0.0", "chardev", "qga0", "name", "org.qemu.guest_agent.0"));
	qemu_arg(a, "-device");
	qemu_arg(a, "pvpanic");
	if (s->balloon) /* a free function of the ICH9 slot: no root port
	                 * moves, migration from a QEMU without it stays
	                 * possible */
		qemu_arg_json(a, "-device",
		              json_pack("{s:s, s:s, s:s, s:s}", "driver",
		                        "virtio-balloon-pci", "id", "balloon0",
		                        "bus", "pcie.0", "addr", "0x1f.4"));
	if (s->kernel && *s->kernel) {
		qemu_arg(a, "-kernel");
		qemu_arg(a, s->kernel);
		if (s->initrd && *s->initrd) {
			qemu_arg(a, "-initrd");
			qemu_arg(a, s->initrd);
		}
		if (s->cmdline && *s->cmdline) {
			qemu_arg(a, "-append");
			qemu_arg(a, s->cmdline);
		}
	}
	rc = 0;
out:
	free(qmp);
	free(qga);
	free(vnc);
	return rc;
}

/* Marks port p used (1..nports); false when out of range or taken. */
static bool
qemu_take_port(bool *used, int nports, int p)
{
	if (p < 1 || p > nports || used[p])
		return false;
	used[p] = true;
	return true;
}

/* The lowest free port (taken), or 0. */
static int
qemu_next_port(bool *used, int nports)
{
	for (int p = 1; p <= nports; p++)
		if (qemu_take_port(used, nports, p))
			return p;
	return 0;
}

/* Ports as the spec gives them (a migration destination reproduces the
 * source's layout, hot-plugged devices included): a disk names its slot on
 * the bridges, a NIC its root port; devices without one (PCI passthrough, a
 * device plugged since) take the lowest free one. */
static int
qemu_given_ports(const struct vm_spec *s, struct qemu_cmdline *out, char **err)
{
	int n = s->nports, ide = 0, nslots = QEMU_DISK_BRIDGES * QEMU_BRIDGE_SLOTS, rc = -1;
	bool *used, *sused;

	if (n > QEMU_MAX_PORTS || n < QEMU_DISK_BRIDGES) {
		*err = xasprintf("%d root ports: %d to %d", n, QEMU_DISK_BRIDGES, QEMU_MAX_PORTS);
		return -1;
	}
	used = xcalloc((size_t)n + 1, sizeof(bool));
	sused = xcalloc((size_t)nslots + 1, sizeof(bool));
	for (int p = 1; p <= QEMU_DISK_BRIDGES; p++)
		used[p] = true; /* the bridges' */
	for (size_t i = 0; i < s->ndisks; i++) {
		const struct vm_disk *d = &s->disks[i];
		if (d->cdrom)
			out->disk_port[i] = -1 - ide++;
		else if (d->port && !qemu_take_port(sused, nslots, d->port))
			goto taken;
		else
			out->disk_port[i] = d->port;
	}
	for (size_t i = 0; i < s->nnics; i++) {
		if (s->nics[i].port && !qemu_take_port(used, n, s->nics[i].port))
			goto taken;
		out->nic_port[i] = s->nics[i].port;
	}
	for (size_t i = 0; i < s->ndisks; i++)
		if (!out->disk_port[i] && !(out->disk_port[i] = qemu_next_port(sused, nslots)))
			goto full;
	for (size_t i = 0; i < s->nnics; i++)
		if (!out->nic_port[i] && !(out->nic_port[i] = qemu_next_port(used, n)))
			goto full;
	for (size_t i = 0; i < s->npcis; i++)
		if (!(out->pci_port[i] = qemu_next_port(used, n)))
			goto full;
	out->nports = n;
	rc = 0;
	goto out;
taken:
	*err = xasprintf("the slots and root ports of the devices are invalid or repeated "
			 "(%d ports)", n);
	goto out;
full:
	*err = xasprintf("no free slot or root port left for a device (%d ports)", n);
out:
	free(used);
	free(sused);
	return rc;
}

int
qemu_cmdline_build(const struct vm_spec *s, const struct qemu_cmdline_opts *o,
		   struct qemu_cmdline *out, char **err)
{
	struct qemu_argv a = {0};
	int *disk_boot = NULL, *nic_boot = NULL, port = QEMU_DISK_BRIDGES, ide = 0, slot = 0;
	int queues = qemu_nic_queues(s->vcpus);

	memset(out, 0, sizeof(*out));
	if (qemu_spec_check(s, o, err) < 0 || qemu_cmdline_base(&a, s, o, err) < 0)
		goto fail;
	out->disk_port = xcalloc(s->ndisks + 1, sizeof(int));
	out->nic_port = xcalloc(s->nnics + 1, sizeof(int));
	out->pci_port = xcalloc(s->npcis + 1, sizeof(int));
	out->disk_boot = disk_boot = xcalloc(s->ndisks + 1, sizeof(int));
	nic_boot = xcalloc(s->nnics + 1, sizeof(int));
	qemu_boot_order(s, disk_boot, nic_boot);
	if (s->nports > 0) {
		if (qemu_given_ports(s, out, err) < 0)
			goto fail;
	} else {
		for (size_t i = 0; i < s->ndisks; i++)
			out->disk_port[i] = s->disks[i].cdrom ? -1 - ide++ : ++slot;
		for (size_t i = 0; i < s->nnics; i++)
			out->nic_port[i] = ++port;
		for (size_t i = 0; i < s->npcis; i++)
			out->pci_port[i] = ++port;
		out->nports = port + (s->hotplug_slots > 0 ? s->hotplug_slots : 0);
	}
	for (int n = 1; n <= out->nports; n++)
		qemu_arg_json(&a, "-device", qemu_json_root_port(n));
	for (int n = 1; n <= QEMU_DISK_BRIDGES; n++) {
		char id[16], bus[16];
		snprintf(id, sizeof(id), "pb%d", n);
		snprintf(bus, sizeof(bus), "rp%d", n);
		qemu_arg_json(&a, "-device", json_pack("{s:s, s:s, s:s}", "driver",
						       "pcie-pci-bridge", "id", id, "bus", bus));
	}

	for (size_t i = 0; i < s->ndisks; i++) {
		const struct vm_disk *d = &s->disks[i];
		bool direct = o->disk_direct && o->disk_direct[i];
		char file[32], fmt[32], io[32], bus[16];
		json_t *dev;

		if (o->disks_by_qmp && !d->cdrom)
			continue;
		qemu_disk_names(d->id, file, fmt, io);
		if (d->path) {
			qemu_arg_json(&a, "-blockdev", qemu_json_blockdev_file(d, direct));
			qemu_arg_json(&a, "-blockdev", qemu_json_blockdev_fmt(d, direct));
		}
		if (d->cdrom) {
			snprintf(bus, sizeof(bus), "ide.%d", -1 - out->disk_port[i]);
			dev = json_pack("{s:s, s:s, s:s}", "driver", "ide-cd", "id", d->id, "bus",
					bus);
			if (d->path)
				json_object_set_new(dev, "drive", json_string(fmt));
			if (disk_boot[i])
				json_object_set_new(dev, "bootindex", json_integer(disk_boot[i]));
		} else {
			/* iothreads with KVM only: QEMU 7.2's TCG asserts when an
			 * iothread's virtio-blk raises an interrupt (seen in boot
			 * storms: tcg_handle_interrupt, BQL not held) */
			bool use_io = strcmp(o->accel, "kvm") == 0;
			if (use_io)
				qemu_arg_json(&a, "-object", qemu_json_iothread(d));
			dev = qemu_json_disk_device(d, out->disk_port[i], disk_boot[i], use_io);
		}
		qemu_arg_json(&a, "-device", dev);
	}
	for (size_t i = 0; i < s->nnics; i++) {
		qemu_arg_json(&a, "-netdev", qemu_json_netdev(&s->nics[i], o->taps[i], queues));
		qemu_arg_json(&a, "-device", qemu_json_nic_device(&s->nics[i], out->nic_port[i],
								  queues, nic_boot[i]));
	}
	for (size_t i = 0; i < s->npcis; i++) {
		char id[32], bus[16];
		snprintf(id, sizeof(id), "pci%zu", i);
		snprintf(bus, sizeof(bus), "rp%d", out->pci_port[i]);
		qemu_arg_json(&a, "-device",
			      json_pack("{s:s, s:s, s:s, s:s}", "driver", "vfio-pci", "id", id,
					"host", s->pcis[i].addr, "bus", bus));
	}
	if (o->incoming) {
		qemu_arg(&a, "-incoming");
		qemu_arg(&a, o->incoming);
	}
	if (o->stopped)
		qemu_arg(&a, "-S");
	out->argv = a.v;
	out->argc = a.n;
	free(nic_boot);
	return 0;
fail:
	for (size_t i = 0; i < a.n; i++)
		free(a.v[i]);
	free(a.v);
	if (disk_boot != out->disk_boot)
		free(disk_boot);
	free(nic_boot);
	qemu_cmdline_free(out);
	return -1;
}

void
qemu_cmdline_free(struct qemu_cmdline *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->argv && i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	free(c->disk_port);
	free(c->nic_port);
	free(c->pci_port);
	free(c->disk_boot);
	memset(c, 0, sizeof(*c));
}
