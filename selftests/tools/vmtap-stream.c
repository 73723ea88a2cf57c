// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap-stream - one TCP stream for a fixed time, then a drain.
 *
 * Its one job: write a TCP stream to --dst:--dport for --duration
 * seconds, ended by a reset, and report the window in which the stream
 * had data waiting (what a policer on the way had to pass) with TCP's
 * retransmissions; with --drain-bytes, UDP back to back right after the
 * last write until a local policer drops one, so that its bucket is
 * empty when its counters are read.  The receiving end is vmtap-sink.
 *
 * Up to the end the socket has data waiting (the writes block on a full
 * send buffer), so the window reported, first write to last, is the time
 * a policer on the way had the stream's data to pass.  The reset drops
 * what is still buffered: a drain and the recovery of its last losses
 * would add a tail in which TCP waits on its retransmission timer rather
 * than on the policer (200 ms at 2 Mbit/s is 2 % of an 8 s run), and a
 * tool that times itself (iperf3) counts its start-up and not the drain.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "args.h"
#include "frame.h"
#include "net.h"
#include "pace.h"
#include "report.h"

#define STALL_NS	(10 * 1000000000ull)

struct opts {
	const char *netns;
	double duration;
	bool json, ipv6;
	const char *dst_str;
	uint8_t dst[16];
	uint16_t dport;
	unsigned int payload;
	uint64_t drain_bytes;		/* UDP after the stream */
};

/* The drain's socket, made beside the stream's (in its netns). */
static int drain_socket(const struct opts *o)
{
	int fd, one = 1;

	fd = socket(o->ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket: %m");
	if (o->ipv6 ?
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)) :
	    setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)))
		die("IP_RECVERR: %m");
	return fd;
}

/*
 * --drain-bytes: right after the stream's last write, UDP datagrams of
 * 1400 bytes to the discard port, back to back, until the policer drops
 * one: then its bucket holds less than one frame.  The credit TCP had not
 * used yet when it stopped (after a loss it waits for an ACK or its
 * retransmission timer) is taken by the drain, so a counter read
 * afterwards does not depend on where in its recovery TCP stopped; credit
 * that overflowed while TCP paused stays lost.  With IP_RECVERR (set by
 * drain_socket()) a qdisc's drop comes back to the sender as ENOBUFS.  At
 * most @max_wire bytes; returns the wire bytes sent, *dropped tells
 * whether a drop ended it.
 */
static uint64_t udp_drain(const struct opts *o, int fd, uint64_t max_wire,
			  bool *dropped)
{
	unsigned int pay = 1400;
	uint64_t wire = udp_wire(o->ipv6, pay, 0, NULL);
	struct sockaddr_storage dst;
	uint64_t sent = 0;
	socklen_t alen;
	char *buf;

	alen = sockaddr_fill(&dst, o->ipv6, o->dst, 9);
	buf = calloc(1, pay);
	if (!buf)
		die("out of memory");
	*dropped = false;
	while (sent < max_wire) {
		if (sendto(fd, buf, pay, 0, (struct sockaddr *)&dst,
			   alen) == (ssize_t)pay) {
			sent += wire;
			continue;
		}
		if (errno == ENOBUFS) {
			*dropped = true;
			break;
		}
		/* the receiver's port unreachable, reported on this send */
		if (errno != ECONNREFUSED && errno != EINTR)
			die("drain: %m");
	}
	free(buf);
	return sent;
}

static int do_stream(struct opts *o)
{
	unsigned int chunk = o->payload;
	struct sockaddr_storage dst = { 0 };
	uint64_t t_first, t_stream, t_done, deadline, drained = 0;
	bool stalled = false, drain_dropped = false;
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	struct timeval tmo = { .tv_sec = 1 };
	uint64_t t_progress;
	struct tcp_info ti = { 0 };
	socklen_t alen, tlen;
	struct qstat st = { 0 };
	int fd, ns, drain_fd = -1;
	char *buf;

	alen = sockaddr_fill(&dst, o->ipv6, o->dst, o->dport);
	buf = malloc(chunk);
	if (!buf)
		die("out of memory");
	fill_payload((uint8_t *)buf, chunk);

	/* the listener may be starting up beside us: try for 3 s */
	ns = netns_enter(o->netns);
	deadline = now_ns() + 3 * 1000000000ull;
	for (;;) {
		fd = socket(dst.ss_family, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket: %m");
		if (!connect(fd, (struct sockaddr *)&dst, alen))
			break;
		if (errno != ECONNREFUSED || now_ns() > deadline)
			die("connect: %m");
		close(fd);
		usleep(10000);
	}
	if (o->drain_bytes)
		drain_fd = drain_socket(o);
	netns_leave(ns);

	/* a write that cannot finish returns after a second, not never */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo)))
		die("SO_SNDTIMEO: %m");
	install_signals();
	t_first = now_ns();
	t_progress = t_first;
	deadline = t_first + o->duration * 1e9;
	while (!stop_flag && now_ns() < deadline) {
		ssize_t n = write(fd, buf, chunk);

		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (now_ns() - t_progress < STALL_NS)
				continue;
			stalled = true;
			break;
		}
		if (n < 0) {
			st.errors++;
			st.last_err = errno;
			break;
		}
		t_progress = now_ns();
		st.sent++;
		st.bytes += n;
	}
	t_stream = now_ns();
	tlen = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen))
		die("TCP_INFO: %m");
	if (stalled)
		fprintf(stderr, "%s: stalled: nothing written for %llu s; "
			"state %u ca_state %u backoff %u unacked %u lost %u "
			"retrans %u cwnd %u rto %u us\n", prog,
			STALL_NS / 1000000000ull, ti.tcpi_state,
			ti.tcpi_ca_state, ti.tcpi_backoff, ti.tcpi_unacked,
			ti.tcpi_lost, ti.tcpi_retrans, ti.tcpi_snd_cwnd,
			ti.tcpi_rto);
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin)))
		die("SO_LINGER: %m");
	/*
	 * Until the reset TCP still sends what it buffered, on the credit
	 * the drain left: elapsed ends after the reset.
	 */
	if (drain_fd >= 0 && !stalled && !st.errors)
		drained = udp_drain(o, drain_fd, o->drain_bytes,
				    &drain_dropped);
	close(fd);
	t_done = drain_fd >= 0 ? now_ns() : t_stream;
	if (drain_fd >= 0)
		close(drain_fd);
	free(buf);

	if (o->json)
		fprintf(report, "{\"mode\":\"send\",\"proto\":\"tcp\","
			"\"elapsed_s\":%.6f,\"stream_s\":%.6f,"
			"\"drain_bytes\":%llu,\"drain_dropped\":%s,"
			"\"retransmits\":%u,",
			(t_done - t_first) / 1e9, (t_stream - t_first) / 1e9,
			(unsigned long long)drained,
			drain_dropped ? "true" : "false", ti.tcpi_total_retrans);
	print_total(&st, o->json);
	if (!o->json)
		fprintf(report, "%s: elapsed=%.3fs stream=%.3fs "
			"drain_bytes=%llu drain_dropped=%d retransmits=%u\n",
			prog, (t_done - t_first) / 1e9,
			(t_stream - t_first) / 1e9, (unsigned long long)drained,
			drain_dropped, ti.tcpi_total_retrans);
	if (st.errors || stalled)
		return 1;
	if (o->drain_bytes && !drain_dropped) {
		fprintf(stderr, "%s: drain: no drop in %llu bytes\n", prog,
			(unsigned long long)drained);
		return 1;
	}
	return st.bytes ? 0 : 1;
}

static void usage(FILE *out)
{
	fprintf(out,
"usage: vmtap-stream --dst ADDR --duration S [--dport P] [--netns NS]\n"
"                    [--ipv6] [--payload BYTES] [--drain-bytes B] [--json]\n"
"\n"
"One TCP stream to --dport (default 9000) for --duration S, writes of\n"
"--payload bytes (default 1400), ended by a reset; elapsed is from the\n"
"first write to the last, and the report adds retransmits=.\n"
"--drain-bytes B: right after the last write, UDP to port 9 back to back\n"
"until a local policer drops one (drain_dropped=1: its bucket is empty)\n"
"or B wire bytes have left; elapsed then ends after them and the reset.\n"
"The receiver: vmtap-sink.  --netns NS: name in /run/netns or a path.\n"
"output: 'vmtap: total sent= errors= bytes= ...' and 'vmtap: elapsed=S\n"
"stream=S drain_bytes=N drain_dropped=0|1 retransmits=N'; exit 1 if the\n"
"stream stalled (nothing written for 10 s) or the drain saw no drop.\n");
}

int main(int argc, char **argv)
{
	static struct opts o = { .dport = 9000, .payload = 1400 };
	static const struct opt_val vals[] = {
		OPT_VAL_NUM("drain-bytes", &o.drain_bytes, UINT64_MAX),
		{ NULL },
	};
	const struct prog_opts po = {
		.common = {
			.netns = &o.netns, .dst = &o.dst_str, .ipv6 = &o.ipv6,
			.json = &o.json, .duration = &o.duration,
			.dport = &o.dport, .payload = &o.payload,
		},
		.vals = vals,
		.usage = usage,
	};

	report = stdout;
	parse_opts(&po, argc, argv);
	if (!o.dst_str)
		die("stream needs --dst ADDR");
	arg_addr(o.ipv6, o.dst_str, o.dst, "dst");
	if (!o.duration)
		die("stream needs --duration");
	return do_stream(&o);
}
