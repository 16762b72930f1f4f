/*
 * qemu_accel: KVM or TCG. "/dev/kvm opens" is not enough: on the project's
 * machines KVM is PVM, a software hypervisor that cannot run stock guest
 * kernels (reference/spike.md §2.2). So, in order:
 *   1. XAPID_ACCEL=tcg|kvm forces the answer;
 *   2. a result cached in DIR/accel for this boot of this kernel is reused;
 *   3. no /dev/kvm, no vmx/svm CPU flag (no hardware virtualisation) or the
 *      kvm_pvm module loaded: tcg;
 *   4. otherwise a probe guest must boot under KVM: a 91-byte multiboot
 *      image that prints a marker on COM1 and exits through isa-debug-exit
 *      (bounded at 10 s). It boots: kvm; anything else: tcg.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"
#include "vm/qemu/qemu_priv.h"

/* Multiboot (a.out kludge) image loaded at 1 MiB: writes the marker to
 * COM1, then 0x10 to isa-debug-exit at 0xf4 (QEMU exits with 33). */
static const unsigned char qemu_probe_image[] = {
	0x02, 0xb0, 0xad, 0x1b,                   /* magic 0x1BADB002 */
	0x00, 0x00, 0x01, 0x00,                   /* flags: address fields */
	0xfe, 0x4f, 0x51, 0xe4,                   /* checksum */
	0x00, 0x00, 0x10, 0x00,                   /* header_addr */
	0x00, 0x00, 0x10, 0x00,                   /* load_addr */
	0x00, 0x00, 0x00, 0x00,                   /* load_end_addr: whole file */
	0x00, 0x00, 0x00, 0x00,                   /* bss_end_addr */
	0x20, 0x00, 0x10, 0x00,                   /* entry 0x100020 */
	0xbe, 0x3b, 0x00, 0x10, 0x00,             /* mov esi, msg */
	0x66, 0xba, 0xf8, 0x03,                   /* mov dx, 0x3f8 */
	0xac,                                     /* 1: lodsb */
	0x84, 0xc0,                               /* test al, al */
	0x74, 0x03,                               /* jz 2f */
	0xee,                                     /* out dx, al */
	0xeb, 0xf8,                               /* jmp 1b */
	0x66, 0xba, 0xf4, 0x00,                   /* 2: mov dx, 0xf4 */
	0xb0, 0x10,                               /* mov al, 0x10 */
	0xee,                                     /* out dx, al */
	0xf4,                                     /* hlt */
	0xeb, 0xfe,                               /* jmp . */
	'X', 'A', 'P', 'I', 'D', '-', 'P', 'R', 'O', 'B', 'E', '-', 'O', 'K', '\n', 0,
};

#define QEMU_PROBE_MARKER "XAPID-PROBE-OK"

/* True when /proc/cpuinfo lists flag for some CPU. */
static bool
qemu_cpu_flag(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[8192];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (char *p = strstr(line, flag); p && !found; p = strstr(p + 1, flag))
			found = p[-1] == ' ' && (p[strlen(flag)] == ' ' || p[strlen(flag)] == '\n');
	}
	fclose(f);
	return found;
}

/* Boots the probe image under KVM. Returns true when it ran to the end. */
static bool
qemu_probe_boot(const char *dir, const char *accel, char *reason, size_t n)
{
	char *img = xasprintf("%s/accel-probe.bin", dir), *out = xasprintf("%s/accel-probe.out", dir);
	char *serial = xasprintf("file:%s", out);
	struct buf log = BUF_INIT;
	bool ok = false;
	int fd, rc;

	fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, qemu_probe_image, sizeof(qemu_probe_image)) !=
			      (ssize_t)sizeof(qemu_probe_image)) {
		snprintf(reason, n, "cannot write the probe image %s", img);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	unlink(out);
	char *argv[] = {qemu_binary, "-accel", (char *)accel, "-M", "q35", "-cpu",
			strcmp(accel, "kvm") == 0 ? "host" : "max", "-m", "32",
			"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
			"-kernel", img, "-serial", serial, "-device",
			"isa-debug-exit,iobase=0xf4,iosize=0x04", NULL};
	rc = spawn_run(argv, NULL, &log, 10);
	FILE *f = fopen(out, "re");
	char line[64] = "";
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	ok = rc == 33 && strncmp(line, QEMU_PROBE_MARKER, strlen(QEMU_PROBE_MARKER)) == 0;
	if (ok)
		snprintf(reason, n, "a probe guest booted with %s", accel);
	else
		snprintf(reason, n, "a probe guest did not boot with %s (qemu status %d%s%.100s)",
			 accel, rc, log.len ? ": " : "", log.len ? log.data : "");
out:
	unlink(img);
	unlink(out);
	free(img);
	free(out);
	free(serial);
	buf_free(&log);
	return ok;
}

/* "<kernel release> <boot id>": what the cached answer is valid for. */
static void
qemu_boot_key(char *key, size_t n)
{
	struct utsname u;
	char id[64] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (f) {
		if (!fgets(id, sizeof(id), f))
			id[0] = 0;
		fclose(f);
	}
	id[strcspn(id, "\n")] = 0;
	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "?");
	snprintf(key, n, "%s %s", u.release, id);
}

void
qemu_accel_probe(const char *state_dir, char accel[8], char *reason, size_t n)
{
	const char *env = getenv("XAPID_ACCEL");
	char *cache = xasprintf("%s/accel", state_dir), key[160], line[512];
	FILE *f;
	bool kvm;

	if (env && (strcmp(env, "tcg") == 0 || strcmp(env, "kvm") == 0)) {
		snprintf(accel, 8, "%s", env);
		snprintf(reason, n, "XAPID_ACCEL=%s", env);
		free(cache);
		return;
	}
	qemu_boot_key(key, sizeof(key));
	/* cache: "accel\nkey\nreason\n" */
	if ((f = fopen(cache, "re"))) {
		char a[16] = "", k[160] = "";
		if (fgets(a, sizeof(a), f) && fgets(k, sizeof(k), f) &&
		    fgets(line, sizeof(line), f)) {
			a[strcspn(a, "\n")] = k[strcspn(k, "\n")] = line[strcspn(line, "\n")] = 0;
			if (strcmp(k, key) == 0 && (strcmp(a, "tcg") == 0 || strcmp(a, "kvm") == 0)) {
				fclose(f);
				memcpy(accel, a, 4); /* "tcg" or "kvm" */
				snprintf(reason, n, "%s (cached)", line);
				free(cache);
				return;
			}
		}
		fclose(f);
	}
	if (access("/dev/kvm", R_OK | W_OK) < 0) {
		kvm = false;
		snprintf(reason, n, "no usable /dev/kvm");
	} else if (!qemu_cpu_flag("vmx") && !qemu_cpu_flag("svm")) {
		kvm = false;
		snprintf(reason, n, "/dev/kvm present but the CPU has no vmx/svm: KVM would be "
				    "software (PVM) and cannot boot stock guests");
	} else if (access("/sys/module/kvm_pvm", F_OK) == 0) {
		kvm = false;
		snprintf(reason, n, "KVM is kvm_pvm, which cannot boot stock guests");
	} else {
		kvm = qemu_probe_boot(state_dir, "kvm", reason, n);
	}
	snprintf(accel, 8, "%s", kvm ? "kvm" : "tcg");
	if ((f = fopen(cache, "we"))) {
		fprintf(f, "%s\n%s\n%s\n", accel, key, reason);
		fclose(f);
	}
	free(cache);
}

bool
qemu_accel_try(const char *dir, const char *accel, char *reason, size_t n)
{
	return qemu_probe_boot(dir, accel, reason, n);
}
