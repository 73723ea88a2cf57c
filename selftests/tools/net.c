// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap library: netns, links, taps and socket addresses (net.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "args.h"
#include "net.h"

/* Newer than some linux-libc-dev versions; values are UAPI, never change. */
#ifndef TUN_F_USO4
#define TUN_F_USO4	0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6	0x40
#endif

int netns_enter(const char *name)
{
	char path[PATH_MAX];
	int self, fd;

	if (!name)
		return -1;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		die("open /proc/self/ns/net: %m");
	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("netns %s: open %s: %m", name, path);
	if (setns(fd, CLONE_NEWNET))
		die("netns %s: setns: %m", name);
	close(fd);
	return self;
}

void netns_leave(int self)
{
	if (self < 0)
		return;
	if (setns(self, CLONE_NEWNET))
		die("setns back: %m");
	close(self);
}

void link_ctl(const char *name, bool up, uint8_t *mac)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		die("socket: %m");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (up) {
		if (ioctl(s, SIOCGIFFLAGS, &ifr))
			die("%s: SIOCGIFFLAGS: %m", name);
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr))
			die("%s: SIOCSIFFLAGS: %m", name);
	}
	if (mac) {
		if (ioctl(s, SIOCGIFHWADDR, &ifr))
			die("%s: SIOCGIFHWADDR: %m", name);
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	}
	close(s);
}

/*
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR [| IFF_MULTI_QUEUE], then the vnet
 * header size, little-endian headers and the offloads a guest with
 * csum/tso4/tso6/ecn/ufo/uso negotiated gets. The offloads govern what
 * the kernel may send to the reader (host -> guest); frames written by
 * the guest are accepted with GSO whatever they are.
 */
void tap_open(char *name, unsigned int n, bool mq, unsigned int vnet_sz,
	      bool offload, bool nonblock, int *fds, bool verbose)
{
	static const unsigned int offl[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN |
		TUN_F_UFO | TUN_F_USO4 | TUN_F_USO6,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN |
		TUN_F_UFO,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
	};
	int sz = vnet_sz, le = 1;
	unsigned int i, k;

	for (i = 0; i < n; i++) {
		struct ifreq ifr;
		int fd;

		fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC |
			  (nonblock ? O_NONBLOCK : 0));
		if (fd < 0)
			die("open /dev/net/tun: %m");
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
				(mq ? IFF_MULTI_QUEUE : 0);
		if (ioctl(fd, TUNSETIFF, &ifr)) {
			int err = errno;

			/* an existing single-queue tap, or the reverse */
			ifr.ifr_flags ^= IFF_MULTI_QUEUE;
			if (err == EINVAL && n == 1 &&
			    !ioctl(fd, TUNSETIFF, &ifr)) {
				mq = !mq;
				err = 0;
			}
			errno = err;
			if (err)
				die("%s: TUNSETIFF queue %u: %m", name, i);
		}
		fds[i] = fd;
		snprintf(name, IFNAMSIZ, "%s", ifr.ifr_name);
	}
	if (ioctl(fds[0], TUNSETVNETHDRSZ, &sz))
		die("%s: TUNSETVNETHDRSZ %d: %m", name, sz);
	if (ioctl(fds[0], TUNSETVNETLE, &le) && htole16(1) != 1)
		die("%s: TUNSETVNETLE: %m", name);
	if (!offload) {
		/* a guest without csum/tso: the device setting persists */
		if (ioctl(fds[0], TUNSETOFFLOAD, 0))
			die("%s: TUNSETOFFLOAD 0: %m", name);
		return;
	}
	for (k = 0; k < ARRAY_SIZE(offl); k++)
		if (!ioctl(fds[0], TUNSETOFFLOAD, offl[k]))
			break;
	if (k == ARRAY_SIZE(offl))
		die("%s: TUNSETOFFLOAD: %m", name);
	if (verbose)
		fprintf(stderr, "%s: %s: %u queue(s), vnet_hdr %u, "
			"offload 0x%x\n", prog, name, n, vnet_sz, offl[k]);
}

socklen_t sockaddr_fill(struct sockaddr_storage *ss, bool v6,
			const uint8_t *ip, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (ip)
			memcpy(&a->sin6_addr, ip, 16);
		return sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (ip)
			memcpy(&a->sin_addr, ip, 4);
		return sizeof(*a);
	}
}
