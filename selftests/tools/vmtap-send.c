// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap-send - a paced UDP blast from sockets, for policers on a veth.
 *
 * Its one job: send datagrams of --payload bytes, or with --gso-size
 * UDP_SEGMENT super-packets that the stack keeps whole (GSO) as far as
 * the policer, from one socket per flow (one thread per flow with
 * --threads), at --rate after a primed burst, for --count datagrams or
 * --duration seconds; then report what was sent and what it stands for
 * on the wire, and the send window with its longest pause.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "args.h"
#include "frame.h"
#include "net.h"
#include "pace.h"
#include "report.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT	103
#endif
#ifndef SOL_UDP
#define SOL_UDP		17
#endif

#define MAX_ERR_PRINT	10	/* error lines per flow */

struct opts {
	const char *netns;
	double duration, rate;
	uint64_t count;
	bool count_set, json, threads, ipv6;
	unsigned int cpus[MAX_QUEUES], ncpus;
	const char *dst_str;
	uint8_t dst[16];
	uint16_t dport;
	unsigned int flows, payload, gso_size;
	uint64_t prime_bytes;		/* wire bytes back to back first */
};

struct send_worker {
	const struct opts *o;
	int *fds;
	unsigned int nfds;
	const struct sockaddr_storage *dst;
	socklen_t alen;
	struct pace_share sh;
	uint64_t deadline;
	struct qstat st;
};

static void *send_run(void *arg)
{
	struct send_worker *w = arg;
	const struct opts *o = w->o;
	unsigned int pay = o->payload, segs;
	uint64_t k, wire = udp_wire(o->ipv6, pay, o->gso_size, &segs);
	struct pacer pace;
	char *buf, eb[64];

	pin_cpu(w->sh.cpu);
	buf = calloc(1, pay + 1);
	if (!buf)
		die("out of memory");
	fill_payload((uint8_t *)buf, pay);
	pacer_init(&pace, w->sh.rate, w->sh.prime);
	for (k = 0; !stop_flag && (!w->sh.count || k < w->sh.count); k++) {
		int fd = w->fds[k % w->nfds];

		pacer_wait(&pace, k);
		if (w->deadline && now_ns() >= w->deadline)
			break;
		/*
		 * Unconnected: the receiver's port unreachable replies must
		 * not turn into send errors.
		 */
		if (sendto(fd, buf, pay, 0, (const struct sockaddr *)w->dst,
			   w->alen) != (ssize_t)pay) {
			/* a full socket buffer is back-pressure, not loss */
			if (errno == ENOBUFS || errno == EAGAIN)
				continue;
			w->st.errors++;
			w->st.last_err = errno;
			if (w->st.errors <= MAX_ERR_PRINT)
				fprintf(stderr, "%s: send: %s\n", prog,
					errstr(errno, eb, sizeof(eb)));
			continue;
		}
		qstat_sent(&w->st, pay, segs, wire);
		pacer_sent(&pace, wire);
	}
	free(buf);
	return NULL;
}

static int do_send(struct opts *o)
{
	struct sockaddr_storage dst = { 0 };
	unsigned int i, nflows = o->flows, nw;
	int fds[MAX_QUEUES], fam, ns;
	struct send_window win = { 0 };
	struct send_worker *w;
	struct qstat tot = { 0 };
	socklen_t alen;
	uint64_t t0;
	double secs;

	if (nflows > MAX_QUEUES)
		die("--flows: at most %d with send", MAX_QUEUES);
	fam = o->ipv6 ? AF_INET6 : AF_INET;
	alen = sockaddr_fill(&dst, o->ipv6, o->dst, o->dport);
	if (o->gso_size && o->payload > 65507)
		die("--payload: at most 65507 bytes in one UDP send");

	ns = netns_enter(o->netns);
	for (i = 0; i < nflows; i++) {
		fds[i] = socket(fam, SOCK_DGRAM, 0);
		if (fds[i] < 0)
			die("socket: %m");
		if (o->gso_size) {
			int sz = o->gso_size;

			if (setsockopt(fds[i], SOL_UDP, UDP_SEGMENT, &sz,
				       sizeof(sz)))
				die("UDP_SEGMENT %d: %m", sz);
		}
	}
	netns_leave(ns);

	nw = o->threads ? nflows : 1;
	w = calloc(nw, sizeof(*w));
	if (!w)
		die("out of memory");
	install_signals();
	t0 = now_ns();
	for (i = 0; i < nw; i++) {
		w[i].o = o;
		w[i].fds = o->threads ? &fds[i] : fds;
		w[i].nfds = o->threads ? 1 : nflows;
		w[i].dst = &dst;
		w[i].alen = alen;
		w[i].deadline = o->duration ? t0 + o->duration * 1e9 : 0;
		pace_share(&w[i].sh, i, nw, o->count, o->rate, o->prime_bytes,
			   o->cpus, o->ncpus);
	}
	run_workers(send_run, w, sizeof(*w), nw);
	for (i = 0; i < nw; i++)
		send_window_add(&win, &w[i].st);
	secs = send_window_s(&win, t0);
	for (i = 0; i < nw; i++) {
		char what[32];

		snprintf(what, sizeof(what), "flow=%u", i);
		if (!o->json)
			print_qstat(what, &w[i].st, false, false);
		qstat_add(&tot, &w[i].st);
	}
	if (o->json)
		fprintf(report, "{\"mode\":\"send\",\"elapsed_s\":%.6f,"
			"\"max_gap_s\":%.6f,", secs, win.max_gap_ns / 1e9);
	print_total(&tot, o->json);
	if (!o->json)
		fprintf(report, "%s: elapsed=%.3fs max_gap=%.3fs\n", prog, secs,
			win.max_gap_ns / 1e9);
	for (i = 0; i < nflows; i++)
		close(fds[i]);
	free(w);
	return tot.sent ? 0 : 1;
}

static void usage(FILE *out)
{
	fprintf(out,
"usage: vmtap-send --dst ADDR [--netns NS] [--ipv6] [options]\n"
"\n"
"A UDP blast from sockets (for policers on a veth): --payload bytes\n"
"per datagram (default 1400), or with --gso-size UDP_SEGMENT\n"
"super-packets the stack keeps whole up to the policer. --flows F\n"
"sockets (one source port each), --threads (one per flow) --cpus LIST,\n"
"--dport P (default 9000), --rate PPS (total), --count K, --duration S\n"
"(one of them needed), --prime-bytes B (the first B wire bytes back to\n"
"back, then paced at --rate). --netns NS (name in /run/netns or a\n"
"path), --json, -h/--help.\n"
"output: 'vmtap: flow=F sent= errors= bytes= segs= wire_bytes=\n"
"last_errno=' per thread and 'vmtap: total ...', wire_bytes counting\n"
"Ethernet, IP and UDP headers per segment; 'vmtap: elapsed=S\n"
"max_gap=S': first to last datagram, and the longest pause between two.\n");
}

int main(int argc, char **argv)
{
	static struct opts o = { .dport = 9000, .flows = 1, .payload = 1400 };
	const struct prog_opts po = {
		.common = {
			.netns = &o.netns, .dst = &o.dst_str, .ipv6 = &o.ipv6,
			.json = &o.json, .threads = &o.threads,
			.count = &o.count, .count_set = &o.count_set,
			.prime_bytes = &o.prime_bytes, .rate = &o.rate,
			.duration = &o.duration, .cpus = o.cpus,
			.ncpus = &o.ncpus, .dport = &o.dport,
			.flows = &o.flows, .payload = &o.payload,
			.gso_size = &o.gso_size,
		},
		.usage = usage,
	};

	report = stdout;
	parse_opts(&po, argc, argv);
	if (!o.dst_str)
		die("send needs --dst ADDR");
	arg_addr(o.ipv6, o.dst_str, o.dst, "dst");
	if (o.gso_size && o.payload <= o.gso_size)
		die("--gso-size must be below --payload");
	if (!o.count_set && !o.duration)
		die("send needs --count or --duration");
	return do_send(&o);
}
