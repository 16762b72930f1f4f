/*
 * Unit tests of the QEMU command line builder (src/vm/qemu/cmdline.c): the
 * argv of specs with disks, CDs, NICs, PCI devices, hot-plug slots, direct
 * kernel boot, VNC and incoming migration; boot order; the root-port
 * layout; the errors for specs that cannot be expressed; the PCI
 * passthrough check against a fake sysfs tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "vm/qemu/cmdline.h"

#define UUID "0c6b1f3e-1c1d-4c5e-9a0b-1234567890ab"

struct fixture {
	struct vm_disk disks[8];
	struct vm_nic nics[4];
	struct vm_pci pcis[2];
	struct vm_spec spec;
	const char *taps[4];
	bool direct[8];
	struct qemu_cmdline_opts opts;
	struct qemu_cmdline c;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->disks[0] = (struct vm_disk){.id = "vbd0", .path = "/srv/d0.qcow2", .format = "qcow2",
				       .bootable = true, .userdevice = 0};
	f->disks[1] = (struct vm_disk){.id = "vbd3", .path = "/srv/cd.iso", .format = "raw",
				       .cdrom = true, .readonly = true, .userdevice = 3};
	f->disks[2] = (struct vm_disk){.id = "vbd1", .path = "/srv/d1.raw", .format = "raw",
				       .readonly = true, .userdevice = 1};
	f->disks[3] = (struct vm_disk){.id = "vbd4", .cdrom = true, .readonly = true,
				       .userdevice = 4};
	f->nics[0] = (struct vm_nic){.id = "vif0", .mac = "02:00:00:00:00:01", .bridge = "xenbr0"};
	f->nics[1] = (struct vm_nic){.id = "vif1", .mac = "02:00:00:00:00:02", .bridge = "xenbr1",
				     .mtu = 9000};
	snprintf(f->pcis[0].addr, sizeof(f->pcis[0].addr), "0000:44:00.0");
	f->spec = (struct vm_spec){.uuid = UUID, .name = "web,1", .memory = 128 << 20,
				   .vcpus = 2, .vcpus_max = 4, .disks = f->disks, .ndisks = 4,
				   .nics = f->nics, .nnics = 2, .pcis = f->pcis, .npcis = 1,
				   .hotplug_slots = 3};
	f->taps[0] = "xqaaaaaaa-0";
	f->taps[1] = "xqaaaaaaa-1";
	f->direct[0] = true;
	f->opts = (struct qemu_cmdline_opts){.vm_dir = "/var/lib/xapid/vms/" UUID,
					     .accel = "tcg", .stopped = true, .taps = f->taps,
					     .disk_direct = f->direct};
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	qemu_cmdline_free(&f->c);
	free(f);
	return 0;
}

static void
build_ok(struct fixture *f)
{
	char *err = NULL;

	qemu_cmdline_free(&f->c);
	if (qemu_cmdline_build(&f->spec, &f->opts, &f->c, &err) != 0)
		fail_msg("build: %s", err);
	assert_non_null(f->c.argv);
	assert_null(f->c.argv[f->c.argc]);
}

/* Builds and expects an error containing text. */
static void
build_fails(struct fixture *f, const char *text)
{
	char *err = NULL;

	qemu_cmdline_free(&f->c);
	if (qemu_cmdline_build(&f->spec, &f->opts, &f->c, &err) != -1)
		fail_msg("build did not fail (expected: %s)", text);
	assert_non_null(err);
	if (!strstr(err, text))
		fail_msg("error '%s' lacks '%s'", err, text);
	assert_null(f->c.argv);
	free(err);
}

/* The value after the nth occurrence (0-based) of option opt, or NULL. */
static const char *
arg(const struct qemu_cmdline *c, const char *opt, int nth)
{
	for (size_t i = 0; i + 1 < c->argc; i++)
		if (strcmp(c->argv[i], opt) == 0 && nth-- == 0)
			return c->argv[i + 1];
	return NULL;
}

static bool
has(const struct qemu_cmdline *c, const char *a)
{
	for (size_t i = 0; i < c->argc; i++)
		if (strcmp(c->argv[i], a) == 0)
			return true;
	return false;
}

/* The JSON of the -opt argument whose member key is value (new ref). */
static json_t *
json_arg(const struct qemu_cmdline *c, const char *opt, const char *key, const char *value)
{
	for (size_t i = 0; i + 1 < c->argc; i++) {
		if (strcmp(c->argv[i], opt) != 0 || c->argv[i + 1][0] != '{')
			continue;
		json_t *j = json_loads(c->argv[i + 1], 0, NULL);
		const char *v = json_string_value(json_object_get(j, key));
		if (v && strcmp(v, value) == 0)
			return j;
		json_decref(j);
	}
	return NULL;
}

static const char *
jstr(json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static long long
jint(json_t *j, const char *key)
{
	return json_integer_value(json_object_get(j, key));
}

static void
test_machine(void **state)
{
	struct fixture *f = *state;

	build_ok(f);
	assert_string_equal(f->c.argv[0], "qemu-system-x86_64");
	assert_string_equal(arg(&f->c, "-name", 0), "guest=web,,1,debug-threads=on");
	assert_string_equal(arg(&f->c, "-uuid", 0), UUID);
	assert_string_equal(arg(&f->c, "-accel", 0), "tcg");
	assert_string_equal(arg(&f->c, "-M", 0), "q35");
	assert_string_equal(arg(&f->c, "-cpu", 0), "max");
	assert_string_equal(arg(&f->c, "-m", 0), "size=128M");
	assert_string_equal(arg(&f->c, "-smp", 0), "cpus=2,maxcpus=4");
	assert_string_equal(arg(&f->c, "-display", 0), "none");
	assert_true(has(&f->c, "-nodefaults") && has(&f->c, "-no-user-config") &&
		    has(&f->c, "-S"));
	assert_false(has(&f->c, "-incoming") || has(&f->c, "-vnc") || has(&f->c, "-kernel"));
	assert_string_equal(arg(&f->c, "-chardev", 0),
			    "socket,id=serial0,path=/var/lib/xapid/vms/" UUID
			    "/console.sock,server=on,wait=off,logfile=/var/lib/xapid/vms/" UUID
			    "/console.log,logappend=on");
	assert_string_equal(arg(&f->c, "-serial", 0), "chardev:serial0");
	assert_string_equal(arg(&f->c, "-chardev", 1),
			    "socket,id=qmp,path=/var/lib/xapid/vms/" UUID
			    "/qmp.sock,server=on,wait=off");
	assert_string_equal(arg(&f->c, "-mon", 0), "chardev=qmp,mode=control");
	assert_string_equal(arg(&f->c, "-chardev", 2),
			    "socket,id=qga0,path=/var/lib/xapid/vms/" UUID
			    "/qga.sock,server=on,wait=off");
	json_t *p = json_arg(&f->c, "-device", "driver", "virtserialport");
	assert_string_equal(jstr(p, "name"), "org.qemu.guest_agent.0");
	assert_string_equal(jstr(p, "chardev"), "qga0");
	json_decref(p);
	/* no balloon unless the spec has one (a QEMU from before them) */
	assert_null(json_arg(&f->c, "-device", "driver", "virtio-balloon-pci"));
	f->spec.balloon = true;
	build_ok(f);
	p = json_arg(&f->c, "-device", "driver", "virtio-balloon-pci");
	assert_non_null(p);
	/* on a free ICH9 function of pcie.0: no root port moves */
	assert_string_equal(jstr(p, "bus"), "pcie.0");
	assert_string_equal(jstr(p, "addr"), "0x1f.4");
	json_decref(p);
	f->spec.balloon = false;

	/* KVM, start running, memory rounded up to a MiB, odd binary */
	f->opts.accel = "kvm";
	f->opts.stopped = false;
	f->opts.binary = "/opt/qemu/bin/qemu-system-x86_64";
	f->spec.memory = (256 << 20) + 1;
	f->spec.vcpus_max = 0;
	build_ok(f);
	assert_string_equal(f->c.argv[0], "/opt/qemu/bin/qemu-system-x86_64");
	assert_string_equal(arg(&f->c, "-cpu", 0), "host");
	assert_string_equal(arg(&f->c, "-m", 0), "size=257M");
	assert_string_equal(arg(&f->c, "-smp", 0), "cpus=2,maxcpus=2");
	assert_false(has(&f->c, "-S"));
}

static void
test_root_ports(void **state)
{
	struct fixture *f = *state;
	char id[16];

	build_ok(f);
	/* 9 disk bridges + 2 NICs + 1 PCI device + 3 hot-plug slots */
	assert_int_equal(f->c.nports, 15);
	assert_int_equal(f->c.disk_port[0], 1); /* disk slots on the bridges */
	assert_int_equal(f->c.disk_port[1], -1); /* CD on AHCI port 0 */
	assert_int_equal(f->c.disk_port[2], 2);
	assert_int_equal(f->c.disk_port[3], -2);
	assert_int_equal(f->c.nic_port[0], 10);
	assert_int_equal(f->c.nic_port[1], 11);
	assert_int_equal(f->c.pci_port[0], 12);
	for (int n = 1; n <= 15; n++) {
		snprintf(id, sizeof(id), "rp%d", n);
		json_t *p = json_arg(&f->c, "-device", "id", id);
		assert_non_null(p);
		assert_string_equal(jstr(p, "driver"), "pcie-root-port");
		assert_string_equal(jstr(p, "bus"), "pcie.0");
		assert_int_equal(jint(p, "chassis"), n);
		assert_int_equal(jint(p, "slot"), n);
		assert_int_equal(json_is_true(json_object_get(p, "multifunction")),
				 n == 1 || n == 9);
		json_decref(p);
	}
	for (int n = 1; n <= QEMU_DISK_BRIDGES; n++) {
		char bus[16];
		snprintf(id, sizeof(id), "pb%d", n);
		snprintf(bus, sizeof(bus), "rp%d", n);
		json_t *p = json_arg(&f->c, "-device", "id", id);
		assert_string_equal(jstr(p, "driver"), "pcie-pci-bridge");
		assert_string_equal(jstr(p, "bus"), bus);
		json_decref(p);
	}
	assert_null(json_arg(&f->c, "-device", "id", "pb10"));
	assert_null(json_arg(&f->c, "-device", "id", "rp16"));
	json_t *p = json_arg(&f->c, "-device", "id", "rp8");
	assert_string_equal(jstr(p, "addr"), "0x3.0x7");
	json_decref(p);
	/* the 9th port opens the next slot */
	p = json_arg(&f->c, "-device", "id", "rp9");
	assert_string_equal(jstr(p, "addr"), "0x4.0x0");
	assert_true(json_is_true(json_object_get(p, "multifunction")));
	json_decref(p);
	/* too many */
	f->spec.hotplug_slots = QEMU_MAX_PORTS;
	build_fails(f, "too many PCI devices");
}

/* A migration destination: the devices sit where the source had them (a
 * disk hot-plugged in slot 40 included); the rest take free ones. */
static void
test_given_ports(void **state)
{
	struct fixture *f = *state;
	json_t *d;

	f->spec.nports = 14;
	f->disks[0].port = 40; /* hot-plugged at the source: pb2, slot 9 */
	f->disks[2].port = 1;
	f->nics[0].port = 10;
	f->nics[1].port = 11;
	build_ok(f);
	assert_int_equal(f->c.nports, 14);
	assert_int_equal(f->c.disk_port[0], 40);
	assert_int_equal(f->c.disk_port[1], -1);
	assert_int_equal(f->c.disk_port[2], 1);
	assert_int_equal(f->c.nic_port[1], 11);
	assert_int_equal(f->c.pci_port[0], 12); /* lowest free */
	d = json_arg(&f->c, "-device", "id", "vbd0");
	assert_string_equal(jstr(d, "bus"), "pb2");
	assert_string_equal(jstr(d, "addr"), "0x9");
	json_decref(d);
	d = json_arg(&f->c, "-device", "id", "rp14");
	assert_non_null(d);
	json_decref(d);
	assert_null(json_arg(&f->c, "-device", "id", "rp15"));
	/* a device plugged since the last layout: lowest free port */
	f->nics[1].port = 0;
	build_ok(f);
	assert_int_equal(f->c.nic_port[1], 11);
	/* repeated, a bridge's port, out of range, too many devices */
	f->nics[1].port = 10;
	build_fails(f, "invalid or repeated");
	f->nics[1].port = 5;
	build_fails(f, "invalid or repeated");
	f->nics[1].port = 15;
	build_fails(f, "invalid or repeated");
	f->disks[2].port = 40;
	f->nics[1].port = 11;
	build_fails(f, "invalid or repeated");
	f->disks[2].port = 1;
	f->spec.nports = 11;
	build_fails(f, "no free slot or root port left");
}

/* 255 virtio disks fit (on the bridges), 256 do not. */
static void
test_many_disks(void **state)
{
	struct fixture *f = *state;
	struct vm_disk *disks = calloc(QEMU_MAX_DISKS + 1, sizeof(*disks));
	struct vm_spec good = f->spec;

	f->opts.disk_direct = NULL; /* sized for the fixture's disks */
	for (int i = 0; i <= QEMU_MAX_DISKS; i++) {
		snprintf(disks[i].id, sizeof(disks[i].id), "vbd%d", i);
		disks[i].path = "/srv/d.qcow2";
		disks[i].format = "qcow2";
		disks[i].userdevice = i % 255;
	}
	f->spec.disks = disks;
	f->spec.ndisks = QEMU_MAX_DISKS;
	build_ok(f);
	assert_int_equal(f->c.disk_port[254], 255);
	json_t *d = json_arg(&f->c, "-device", "id", "vbd254");
	/* slot 255: the 7th of pb9 (31 per bridge) */
	assert_string_equal(jstr(d, "bus"), "pb9");
	assert_string_equal(jstr(d, "addr"), "0x7");
	assert_string_equal(jstr(d, "disable-legacy"), "on");
	json_decref(d);
	d = json_arg(&f->c, "-device", "id", "vbd31");
	assert_string_equal(jstr(d, "bus"), "pb2");
	assert_string_equal(jstr(d, "addr"), "0x1");
	json_decref(d);
	/* over QMP: the disks are not on the command line, their slots are */
	f->opts.disks_by_qmp = true;
	build_ok(f);
	assert_null(json_arg(&f->c, "-device", "id", "vbd0"));
	assert_null(json_arg(&f->c, "-blockdev", "node-name", "vbd0-file"));
	assert_int_equal(f->c.disk_port[254], 255);
	f->opts.disks_by_qmp = false;
	f->spec.ndisks = QEMU_MAX_DISKS + 1;
	build_fails(f, "at most 255");
	f->spec = good;
	free(disks);
}

static void
test_disks(void **state)
{
	struct fixture *f = *state;

	build_ok(f);
	json_t *file = json_arg(&f->c, "-blockdev", "node-name", "vbd0-file");
	json_t *fmt = json_arg(&f->c, "-blockdev", "node-name", "vbd0-fmt");
	json_t *dev = json_arg(&f->c, "-device", "id", "vbd0");
	/* no iothread under TCG (QEMU 7.2 asserts); with KVM one per disk */
	assert_null(json_arg(&f->c, "-object", "id", "io-vbd0"));
	assert_null(json_object_get(dev, "iothread"));
	f->opts.accel = "kvm";
	build_ok(f);
	json_decref(dev);
	dev = json_arg(&f->c, "-device", "id", "vbd0");
	json_t *io = json_arg(&f->c, "-object", "id", "io-vbd0");
	f->opts.accel = "tcg";
	assert_string_equal(jstr(file, "driver"), "file");
	assert_string_equal(jstr(file, "filename"), "/srv/d0.qcow2");
	assert_true(json_is_true(json_object_get(json_object_get(file, "cache"), "direct")));
	assert_string_equal(jstr(file, "aio"), "native");
	assert_true(json_is_false(json_object_get(file, "read-only")));
	assert_string_equal(jstr(fmt, "driver"), "qcow2");
	assert_string_equal(jstr(fmt, "file"), "vbd0-file");
	assert_string_equal(jstr(dev, "driver"), "virtio-blk-pci");
	assert_string_equal(jstr(dev, "drive"), "vbd0-fmt");
	assert_string_equal(jstr(dev, "serial"), "0");
	assert_string_equal(jstr(dev, "bus"), "pb1");
	assert_string_equal(jstr(dev, "addr"), "0x1");
	assert_string_equal(jstr(dev, "iothread"), "io-vbd0");
	assert_int_equal(jint(dev, "bootindex"), 1);
	assert_string_equal(jstr(io, "qom-type"), "iothread");
	json_decref(file);
	json_decref(fmt);
	json_decref(dev);
	json_decref(io);

	/* read-only raw disk, no O_DIRECT: default cache, no aio */
	file = json_arg(&f->c, "-blockdev", "node-name", "vbd1-file");
	fmt = json_arg(&f->c, "-blockdev", "node-name", "vbd1-fmt");
	dev = json_arg(&f->c, "-device", "id", "vbd1");
	assert_null(json_object_get(file, "cache"));
	assert_null(json_object_get(file, "aio"));
	assert_true(json_is_true(json_object_get(file, "read-only")));
	assert_true(json_is_true(json_object_get(fmt, "read-only")));
	assert_string_equal(jstr(fmt, "driver"), "raw");
	assert_string_equal(jstr(dev, "serial"), "1");
	assert_string_equal(jstr(dev, "bus"), "pb1");
	assert_string_equal(jstr(dev, "addr"), "0x2");
	assert_int_equal(jint(dev, "bootindex"), 2);
	json_decref(file);
	json_decref(fmt);
	json_decref(dev);

	/* CDs: ide-cd on the AHCI ports; an empty drive has no backend */
	dev = json_arg(&f->c, "-device", "id", "vbd3");
	assert_string_equal(jstr(dev, "driver"), "ide-cd");
	assert_string_equal(jstr(dev, "bus"), "ide.0");
	assert_string_equal(jstr(dev, "drive"), "vbd3-fmt");
	assert_int_equal(jint(dev, "bootindex"), 3);
	json_decref(dev);
	dev = json_arg(&f->c, "-device", "id", "vbd4");
	assert_string_equal(jstr(dev, "bus"), "ide.1");
	assert_null(json_object_get(dev, "drive"));
	json_decref(dev);
	assert_null(json_arg(&f->c, "-blockdev", "node-name", "vbd4-file"));
	assert_null(json_arg(&f->c, "-object", "id", "io-vbd3"));

	/* a block device path */
	f->disks[0].path = "/dev/vg0/disk0";
	build_ok(f);
	file = json_arg(&f->c, "-blockdev", "node-name", "vbd0-file");
	assert_string_equal(jstr(file, "driver"), "host_device");
	json_decref(file);
}

static void
test_boot_order(void **state)
{
	struct fixture *f = *state;

	/* CDs first, then NICs, then disks: the bootable disk before the other */
	f->spec.boot_order = "dnc";
	f->disks[0].bootable = false;
	f->disks[2].bootable = true;
	build_ok(f);
	const char *ids[] = {"vbd3", "vbd4", "vif0", "vif1", "vbd1", "vbd0"};
	for (int i = 0; i < 6; i++) {
		json_t *d = json_arg(&f->c, "-device", "id", ids[i]);
		assert_int_equal(jint(d, "bootindex"), i + 1);
		json_decref(d);
	}
	/* direct kernel boot */
	f->spec.kernel = "/boot/vmlinux";
	f->spec.initrd = "/boot/initrd";
	f->spec.cmdline = "console=ttyS0 quiet";
	build_ok(f);
	assert_string_equal(arg(&f->c, "-kernel", 0), "/boot/vmlinux");
	assert_string_equal(arg(&f->c, "-initrd", 0), "/boot/initrd");
	assert_string_equal(arg(&f->c, "-append", 0), "console=ttyS0 quiet");
}

static void
test_nics(void **state)
{
	struct fixture *f = *state;

	build_ok(f);
	json_t *nd = json_arg(&f->c, "-netdev", "id", "net-vif0");
	json_t *dev = json_arg(&f->c, "-device", "id", "vif0");
	assert_string_equal(jstr(nd, "type"), "tap");
	assert_string_equal(jstr(nd, "ifname"), "xqaaaaaaa-0");
	assert_string_equal(jstr(nd, "script"), "no");
	assert_string_equal(jstr(nd, "downscript"), "no");
	assert_true(json_is_false(json_object_get(nd, "vhost")));
	assert_int_equal(jint(nd, "queues"), 2);
	assert_string_equal(jstr(dev, "driver"), "virtio-net-pci");
	assert_string_equal(jstr(dev, "netdev"), "net-vif0");
	assert_string_equal(jstr(dev, "mac"), "02:00:00:00:00:01");
	assert_string_equal(jstr(dev, "bus"), "rp10");
	assert_true(json_is_true(json_object_get(dev, "mq")));
	assert_int_equal(jint(dev, "vectors"), 6);
	assert_null(json_object_get(dev, "host_mtu"));
	json_decref(nd);
	json_decref(dev);
	dev = json_arg(&f->c, "-device", "id", "vif1");
	assert_int_equal(jint(dev, "host_mtu"), 9000);
	json_decref(dev);
	/* one vCPU: one queue, no mq */
	f->spec.vcpus = 1;
	build_ok(f);
	nd = json_arg(&f->c, "-netdev", "id", "net-vif0");
	dev = json_arg(&f->c, "-device", "id", "vif0");
	assert_int_equal(jint(nd, "queues"), 1);
	assert_null(json_object_get(dev, "mq"));
	json_decref(nd);
	json_decref(dev);
	assert_int_equal(qemu_nic_queues(0), 1);
	assert_int_equal(qemu_nic_queues(64), QEMU_MAX_QUEUES);
}

static void
test_pci_vnc_incoming(void **state)
{
	struct fixture *f = *state;

	f->spec.vnc = true;
	f->opts.incoming = "defer";
	build_ok(f);
	json_t *d = json_arg(&f->c, "-device", "driver", "vfio-pci");
	assert_string_equal(jstr(d, "host"), "0000:44:00.0");
	assert_string_equal(jstr(d, "bus"), "rp12");
	json_decref(d);
	assert_string_equal(arg(&f->c, "-vnc", 0), "unix:/var/lib/xapid/vms/" UUID "/vnc.sock");
	d = json_arg(&f->c, "-device", "driver", "VGA");
	assert_string_equal(jstr(d, "addr"), "0x1");
	json_decref(d);
	assert_false(has(&f->c, "-display"));
	assert_string_equal(arg(&f->c, "-incoming", 0), "defer");
}

static void
test_errors(void **state)
{
	struct fixture *f = *state;
	struct vm_spec good = f->spec;

	strcpy(f->spec.uuid, "not-a-uuid");
	build_fails(f, "invalid VM uuid");
	f->spec = good;
	f->spec.memory = 1 << 20;
	build_fails(f, "too small");
	f->spec = good;
	f->spec.vcpus = 8;
	build_fails(f, "vCPU");
	f->spec = good;
	f->opts.accel = "hvf";
	build_fails(f, "accelerator");
	f->opts.accel = "tcg";
	snprintf(f->nics[0].mac, sizeof(f->nics[0].mac), "01:00:00:00:00:01"); /* multicast */
	build_fails(f, "MAC");
	snprintf(f->nics[0].mac, sizeof(f->nics[0].mac), "02:00:00:00:00:01");
	f->taps[1] = NULL;
	build_fails(f, "NIC vif1 has no tap");
	f->taps[1] = "xqaaaaaaa-1";
	f->disks[0].format = "qed";
	build_fails(f, "unsupported image format");
	f->disks[0].format = "qcow2";
	snprintf(f->disks[2].id, sizeof(f->disks[2].id), "vbd0");
	build_fails(f, "two disks with id vbd0");
	snprintf(f->disks[2].id, sizeof(f->disks[2].id), "1bad,id");
	build_fails(f, "invalid disk id");
	snprintf(f->disks[2].id, sizeof(f->disks[2].id), "vbd1");
	snprintf(f->pcis[0].addr, sizeof(f->pcis[0].addr), "44:00.0");
	build_fails(f, "invalid PCI address");
	snprintf(f->pcis[0].addr, sizeof(f->pcis[0].addr), "0000:44:00.0");
	for (int i = 0; i < 8; i++)
		f->disks[i] = (struct vm_disk){.cdrom = true, .readonly = true, .userdevice = i};
	for (int i = 0; i < 8; i++)
		snprintf(f->disks[i].id, sizeof(f->disks[i].id), "vbd%d", i);
	f->spec.ndisks = 7;
	build_fails(f, "CD drives");
	f->spec.ndisks = 6;
	build_ok(f);
	f->opts.vm_dir = "/a/very/long/state/directory/that/goes/on/and/on/and/on/and/on/vms/" UUID;
	build_fails(f, "longer than a Unix socket allows");
}

static void
test_escape(void **state)
{
	char *s;

	(void)state;
	s = qemu_opt_escape("a,b,,c");
	assert_string_equal(s, "a,,b,,,,c");
	free(s);
	s = qemu_opt_escape("");
	assert_string_equal(s, "");
	free(s);
}

/* The same spec gives the same argv (nothing depends on the moment). */
static void
test_deterministic(void **state)
{
	struct fixture *f = *state;
	struct qemu_cmdline again;
	char *err = NULL;

	build_ok(f);
	assert_int_equal(qemu_cmdline_build(&f->spec, &f->opts, &again, &err), 0);
	assert_int_equal(again.argc, f->c.argc);
	for (size_t i = 0; i < again.argc; i++)
		assert_string_equal(again.argv[i], f->c.argv[i]);
	qemu_cmdline_free(&again);
	qemu_cmdline_free(&again); /* idempotent */
}

/* A fake sysfs: bus/pci/devices/<addr>/driver -> ../drivers/<name>. */
/* Images on an NFS SR are opened by QEMU's nfs driver, not as files. */
static void
test_nfs_proto(void **state)
{
	(void)state;
	json_t *o = qemu_json_proto("nfs://10.0.0.2/srv/e/sr/v.qcow2", "vbd0-file", false);
	assert_string_equal(json_string_value(json_object_get(o, "driver")), "nfs");
	json_t *srv = json_object_get(o, "server");
	assert_string_equal(json_string_value(json_object_get(srv, "type")), "inet");
	assert_string_equal(json_string_value(json_object_get(srv, "host")), "10.0.0.2");
	assert_string_equal(json_string_value(json_object_get(o, "path")), "/srv/e/sr/v.qcow2");
	assert_string_equal(json_string_value(json_object_get(o, "node-name")), "vbd0-file");
	json_decref(o);
	o = qemu_json_proto("/var/sr/v.qcow2", "n", false);
	assert_string_equal(json_string_value(json_object_get(o, "driver")), "file");
	assert_string_equal(json_string_value(json_object_get(o, "filename")), "/var/sr/v.qcow2");
	json_decref(o);
}

static void
test_pci_check(void **state)
{
	char root[] = "/tmp/test_cmdline.XXXXXX", path[256], *err = NULL;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/bus", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/bus/pci", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/bus/pci/devices", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:44:00.0", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:45:00.0", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:46:00.0", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:44:00.0/driver", root);
	assert_int_equal(symlink("../../../../bus/pci/drivers/vfio-pci", path), 0);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:45:00.0/driver", root);
	assert_int_equal(symlink("../../../../bus/pci/drivers/e1000e", path), 0);

	assert_int_equal(qemu_pci_check(root, "0000:44:00.0", &err), 0);
	assert_int_equal(qemu_pci_check(root, "0000:45:00.0", &err), -1);
	assert_string_equal(err, "PCI device 0000:45:00.0 is bound to e1000e, not vfio-pci");
	free(err);
	assert_int_equal(qemu_pci_check(root, "0000:46:00.0", &err), -1);
	assert_non_null(strstr(err, "not bound to vfio-pci"));
	free(err);
	assert_int_equal(qemu_pci_check(root, "0000:47:00.0", &err), -1);
	assert_string_equal(err, "PCI device 0000:47:00.0 does not exist on this host");
	free(err);
	assert_int_equal(qemu_pci_check(root, "../../etc", &err), -1);
	assert_non_null(strstr(err, "invalid PCI address"));
	free(err);

	snprintf(path, sizeof(path), "rm -rf %s", root);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_machine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_disks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_vnc_incoming, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_given_ports, setup, teardown),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_nfs_proto),
		cmocka_unit_test(test_pci_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
