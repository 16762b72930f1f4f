/*
 * qemu_net: tap devices for VM NICs, made with the tun ioctls (no helper
 * process): persistent tap, multi-queue when the NIC has several queues
 * (QEMU then opens it once per queue with IFF_MULTI_QUEUE, and the kernel
 * refuses a mismatch), MTU, enslaved to the Linux bridge, up.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/htab.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"
#include "vm/qemu/qemu_priv.h"

/* if_nametoindex without <net/if.h> (it clashes with <linux/if.h>). */
static int
qemu_ifindex(int sock, const char *name)
{
	struct ifreq ifr = {0};

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	return ioctl(sock, SIOCGIFINDEX, &ifr) < 0 ? 0 : ifr.ifr_ifindex;
}

/* Opens /dev/net/tun bound to name with flags. Returns the fd or -1. */
static int
qemu_tun_open(const char *name, short flags)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_flags = flags;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

void
qemu_tap_delete(const char *name)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), fd;

	if (sock < 0 || !qemu_ifindex(sock, name)) {
		if (sock >= 0)
			close(sock);
		return;
	}
	close(sock);
	fd = qemu_tun_open(name, IFF_TAP | IFF_NO_PI);
	if (fd < 0)
		fd = qemu_tun_open(name, IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE);
	if (fd >= 0 && ioctl(fd, TUNSETPERSIST, 0) == 0) {
		close(fd);
		return;
	}
	if (fd >= 0)
		close(fd);
	/* busy or odd: let the kernel's netlink path remove it */
	char *argv[] = {"ip", "link", "del", (char *)name, NULL};
	if (spawn_run(argv, NULL, NULL, 10) != 0)
		log_warn(QEMU_TAG, "cannot delete tap %s", name);
}

/* Reads /sys/class/net/<dev>/<file> as an int (-1 if absent). */
static int
qemu_sysnet_int(const char *dev, const char *file)
{
	char path[128];
	FILE *f;
	int v = -1;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", dev, file);
	if (!(f = fopen(path, "re")))
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Checks that the bridge exists and is a Linux bridge. */
static int
qemu_bridge_check(const char *bridge, char **err)
{
	char path[128];
	struct stat st;

	if (!bridge || !*bridge || strlen(bridge) >= IFNAMSIZ || strchr(bridge, '/')) {
		*err = xasprintf("invalid bridge name '%s'", bridge ? bridge : "");
		return -1;
	}
	snprintf(path, sizeof(path), "/sys/class/net/%s", bridge);
	if (stat(path, &st) < 0) {
		*err = xasprintf("bridge %s does not exist", bridge);
		return -1;
	}
	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", bridge);
	if (stat(path, &st) < 0) {
		*err = xasprintf("%s is not a Linux bridge", bridge);
		return -1;
	}
	return 0;
}

/* A candidate tap name: "xq" + 7 hex digits of hash(state dir, uuid, salt)
 * + "-" + the NIC's device number (or id). At most 15 characters. The state
 * dir is in the hash because several xapids may share a machine (tests, a
 * pool on one host) and run VMs with the same uuid. */
static void
qemu_tap_name(const char *uuid, const char *nic_id, int salt, char name[QEMU_TAPNAME])
{
	char *key = xasprintf("%s/%s/%d", qemu_vms_dir ? qemu_vms_dir : "", uuid, salt);
	const char *dev = strncmp(nic_id, "vif", 3) == 0 && nic_id[3] ? nic_id + 3 : nic_id;

	snprintf(name, QEMU_TAPNAME, "xq%07llx-%.4s", htab_hash(key) & 0xfffffffULL, dev);
	free(key);
}

int
qemu_tap_create(const char *uuid, const struct vm_nic *n, int queues,
		char name[QEMU_TAPNAME], char **err)
{
	short flags = IFF_TAP | IFF_NO_PI | (queues > 1 ? IFF_MULTI_QUEUE : 0);
	struct ifreq ifr = {0};
	int sock, fd = -1, salt, mtu;

	if (qemu_bridge_check(n->bridge, err) < 0)
		return -1;
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		*err = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	for (salt = 0; salt < 16; salt++) {
		qemu_tap_name(uuid, n->id, salt, name);
		if (!qemu_ifindex(sock, name))
			break;
	}
	if (salt == 16 || (fd = qemu_tun_open(name, flags)) < 0) {
		*err = xasprintf("cannot create tap %s: %s", name,
				 salt == 16 ? "no free name" : strerror(errno));
		close(sock);
		return -1;
	}
	if (ioctl(fd, TUNSETPERSIST, 1) < 0) {
		*err = xasprintf("cannot make tap %s persistent: %s", name, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	mtu = n->mtu > 0 ? n->mtu : qemu_sysnet_int(n->bridge, "mtu");
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_mtu = mtu;
	if (mtu > 0 && ioctl(sock, SIOCSIFMTU, &ifr) < 0) {
		*err = xasprintf("tap %s: cannot set MTU %d: %s", name, mtu, strerror(errno));
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", n->bridge);
	ifr.ifr_ifindex = qemu_ifindex(sock, name);
	if (ioctl(sock, SIOCBRADDIF, &ifr) < 0) {
		*err = xasprintf("cannot add tap %s to bridge %s: %s", name, n->bridge,
				 strerror(errno));
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)) {
		*err = xasprintf("cannot bring tap %s up: %s", name, strerror(errno));
		goto fail;
	}
	close(sock);
	log_debug(QEMU_TAG, "VM %s: tap %s on %s (%d queues, MTU %d)", uuid, name, n->bridge,
		  queues, mtu);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	close(sock);
	qemu_tap_delete(name);
	return -1;
}
