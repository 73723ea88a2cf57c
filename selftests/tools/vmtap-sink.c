// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap-sink - the receiving end of vmtap-stream.
 *
 * Its one job: accept one TCP connection on --dport, read it until it
 * ends (by the sender's reset, as a rule) and report the bytes received:
 * "vmtap: sink bytes=N", a count taken at the receiver, apart from any
 * policer's counters.  Large reads keep its CPU cost small on a slow
 * guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "args.h"
#include "net.h"
#include "pace.h"

static void usage(FILE *out)
{
	fprintf(out,
"usage: vmtap-sink [--dport P] [--netns NS] [--ipv6]\n"
"\n"
"Accept one TCP connection on --dport P (default 9000) and read it until\n"
"it ends; reports 'vmtap: sink bytes=N' (the receiver for vmtap-stream).\n");
}

int main(int argc, char **argv)
{
	const char *netns = NULL;
	struct sockaddr_storage addr = { 0 };
	size_t bufsz = 256 * 1024;
	unsigned long long total = 0;
	int lfd, fd, ns, one = 1;
	uint16_t dport = 9000;
	bool ipv6 = false;
	const struct prog_opts po = {
		.common = { .netns = &netns, .ipv6 = &ipv6, .dport = &dport },
		.usage = usage,
	};
	socklen_t alen;
	char *buf;

	parse_opts(&po, argc, argv);

	alen = sockaddr_fill(&addr, ipv6, NULL, dport);
	buf = malloc(bufsz);
	if (!buf)
		die("out of memory");
	ns = netns_enter(netns);
	lfd = socket(addr.ss_family, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket: %m");
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("SO_REUSEADDR: %m");
	if (bind(lfd, (struct sockaddr *)&addr, alen) || listen(lfd, 1))
		die("listen on port %u: %m", dport);
	netns_leave(ns);
	install_signals();
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept: %m");
	close(lfd);
	for (;;) {
		ssize_t n = read(fd, buf, bufsz);

		if (n < 0 && errno == EINTR && !stop_flag)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	close(fd);
	free(buf);
	printf("%s: sink bytes=%llu\n", prog, total);
	return 0;
}
