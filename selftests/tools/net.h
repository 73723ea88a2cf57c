/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmtap library: network setup: entering a netns, bringing a link up,
 * opening a (multiqueue) tap as QEMU does, socket addresses.
 */
#ifndef VMTAP_NET_H
#define VMTAP_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Enter netns NAME (or path); returns an fd to come back with, or -1. */
int netns_enter(const char *name);
void netns_leave(int self);
/* Bring NAME up and/or read its MAC, in the current netns. */
void link_ctl(const char *name, bool up, uint8_t *mac);
/*
 * Open n queues of tap NAME (creating it if needed; NAME gets the
 * kernel's name, IFNAMSIZ bytes) in the current netns, as QEMU does;
 * fds[i] is queue i if no one else has queues of this tap attached.
 */
void tap_open(char *name, unsigned int n, bool mq, unsigned int vnet_sz,
	      bool offload, bool nonblock, int *fds, bool verbose);
/* @ss as IPv4 or IPv6 @ip (16 or 4 bytes; NULL: any) and @port. */
socklen_t sockaddr_fill(struct sockaddr_storage *ss, bool v6,
			const uint8_t *ip, uint16_t port);

#endif
