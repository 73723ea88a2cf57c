// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap-inject - write crafted frames into a tap as a guest's TX does.
 *
 * Its one job: open (or create) a multiqueue tap with IFF_VNET_HDR, as
 * QEMU does, and write frames with virtio_net_hdr metadata (GSO
 * super-packets, checksum offload, lying headers) on chosen queues, at a
 * rate or flat out, for --count frames or --duration seconds; then report
 * what each queue sent and what it stands for on the wire.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "frame.h"
#include "net.h"
#include "pace.h"
#include "report.h"
#include "vnet.h"

#define IO_BUF		(256 * 1024)	/* pcap snap length */
#define MAX_ERR_PRINT	10	/* per-frame error lines per queue */

struct opts {
	const char *dev, *netns;
	unsigned int queues;
	double duration;
	uint64_t count;
	bool count_set;
	bool json, verbose, up, strict, no_offload, threads;
	unsigned int vnet_sz;
	unsigned int cpus[MAX_QUEUES], ncpus;
	unsigned int qlist[MAX_QUEUES], nql;
	double rate;
	const char *pcap;
	const char *src_str, *dst_str;
	struct frame_spec fs;
	uint64_t prime_bytes;		/* wire bytes back to back first */
};

struct inject {
	const struct opts *o;
	struct layout lo;
	uint8_t *payload;
	uint64_t paysum;
	int fds[MAX_QUEUES];
	struct qstat st[MAX_QUEUES];
	uint64_t deadline;			/* 0: none */
	FILE *pcap;
	pthread_mutex_t pcap_lock;
};

struct inject_worker {
	struct inject *in;
	uint64_t first, stride;			/* global frame numbers */
	struct pace_share sh;			/* count 0: until deadline */
};

static void pcap_header(FILE *f)
{
	uint32_t h[6] = { 0xa1b2c3d4, 2 | 4 << 16, 0, 0, IO_BUF, 1 };

	fwrite(h, sizeof(h), 1, f);
}

static int pcap_frame(struct inject *in, const struct iovec *iov, int n,
		      unsigned int vnet_sz)
{
	struct timespec ts;
	uint32_t rec[4];
	size_t len = 0;
	int i, err = 0;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	len -= vnet_sz;
	clock_gettime(CLOCK_REALTIME, &ts);
	rec[0] = ts.tv_sec;
	rec[1] = ts.tv_nsec / 1000;
	rec[2] = rec[3] = len;
	pthread_mutex_lock(&in->pcap_lock);
	fwrite(rec, sizeof(rec), 1, in->pcap);
	fwrite((uint8_t *)iov[0].iov_base + vnet_sz,
	       iov[0].iov_len - vnet_sz, 1, in->pcap);
	for (i = 1; i < n; i++)
		fwrite(iov[i].iov_base, iov[i].iov_len, 1, in->pcap);
	if (ferror(in->pcap))
		err = -EIO;
	pthread_mutex_unlock(&in->pcap_lock);
	return err;
}

static void *inject_run(void *arg)
{
	struct inject_worker *w = arg;
	struct inject *in = w->in;
	const struct opts *o = in->o;
	const struct layout *lo = &in->lo;
	uint8_t hbuf[HDR_MAX];
	struct pacer pace;
	char eb[64];
	uint64_t k;

	if (!w->stride)
		return NULL;		/* fewer frames than workers */
	pin_cpu(w->sh.cpu);
	pacer_init(&pace, w->sh.rate, w->sh.prime);
	for (k = 0; !stop_flag && (!w->sh.count || k < w->sh.count); k++) {
		uint64_t g = w->first + k * w->stride;
		unsigned int q = o->qlist[g % o->nql];
		struct qstat *st = &in->st[q];
		struct iovec iov[2] = {
			{ hbuf, o->vnet_sz + lo->hdrs },
			{ in->payload, o->fs.payload },
		};
		ssize_t r;
		int err = 0;

		pacer_wait(&pace, k);
		if (in->deadline && now_ns() >= in->deadline)
			break;
		build_headers(&o->fs, lo, g, in->paysum, hbuf, o->vnet_sz);
		if (in->pcap) {
			err = pcap_frame(in, iov, 2, o->vnet_sz);
		} else {
			r = writev(in->fds[q], iov, 2);
			if (r < 0)
				err = -errno;
			else if ((size_t)r != iov[0].iov_len + iov[1].iov_len)
				err = -EIO;
		}
		if (o->verbose) {
			flockfile(stderr);
			fprintf(stderr, "%s: frame %llu queue %u len %u ", prog,
				(unsigned long long)g, q, lo->len);
			print_vnet(stderr, &lo->vh);
			fprintf(stderr, " -> %s\n",
				err ? errstr(-err, eb, sizeof(eb)) : "ok");
			funlockfile(stderr);
		}
		if (err) {
			st->errors++;
			st->last_err = -err;
			if (st->errors <= MAX_ERR_PRINT && !o->verbose)
				fprintf(stderr,
					"%s: queue %u frame %llu: write: %s%s\n",
					prog, q, (unsigned long long)g,
					errstr(-err, eb, sizeof(eb)),
					st->errors == MAX_ERR_PRINT ?
					" (further errors not shown)" : "");
			continue;
		}
		qstat_sent(st, lo->len, lo->segs, lo->wire);
		pacer_sent(&pace, lo->wire);
	}
	return NULL;
}

static int do_inject(struct opts *o)
{
	static struct inject in;
	struct send_window win = { 0 };
	struct inject_worker *w;
	struct qstat tot = { 0 };
	unsigned int i, nw, maxq = 0;
	char err[128], name[IFNAMSIZ];
	uint64_t t0;
	double secs;

	in.o = o;
	for (i = 0; i < o->nql; i++)
		if (o->qlist[i] > maxq)
			maxq = o->qlist[i];
	if (!o->queues)
		o->queues = maxq + 1;
	if (maxq >= o->queues)
		die("queue %u used but the tap gets only %u queue(s)", maxq,
		    o->queues);
	if (!o->count_set && !o->duration)
		o->count = 1;
	if (!o->count && !o->duration)
		die("--count 0 needs --duration: inject always stops");
	if (!o->pcap) {
		int ns = netns_enter(o->netns);

		snprintf(name, sizeof(name), "%s", o->dev);
		tap_open(name, o->queues, true, o->vnet_sz, !o->no_offload,
			 false, in.fds, o->verbose);
		link_ctl(name, o->up, o->fs.dmac_set ? NULL : o->fs.dmac);
		netns_leave(ns);
	} else {
		in.pcap = strcmp(o->pcap, "-") ? fopen(o->pcap, "w") : stdout;
		if (in.pcap == stdout)
			report = stderr;
		if (!in.pcap)
			die("%s: %m", o->pcap);
		pcap_header(in.pcap);
		pthread_mutex_init(&in.pcap_lock, NULL);
		snprintf(name, sizeof(name), "%s", o->dev ? o->dev : "pcap");
	}
	if (layout_init(&o->fs, &in.lo, err, sizeof(err)))
		die("%s", err);
	in.payload = malloc(o->fs.payload + 1);
	if (!in.payload)
		die("out of memory");
	fill_payload(in.payload, o->fs.payload);
	in.paysum = csum_add(0, in.payload, o->fs.payload);

	nw = o->threads ? o->nql : 1;
	w = calloc(nw, sizeof(*w));
	if (!w)
		die("out of memory");
	for (i = 0; i < nw; i++) {
		w[i].in = &in;
		w[i].first = i;
		w[i].stride = nw;
		pace_share(&w[i].sh, i, nw, o->count, o->rate, o->prime_bytes,
			   o->cpus, o->ncpus);
		if (o->count && !w[i].sh.count)
			w[i].stride = 0;	/* nothing to send */
	}
	install_signals();
	t0 = now_ns();
	if (o->duration)
		in.deadline = t0 + o->duration * 1e9;
	run_workers(inject_run, w, sizeof(*w), nw);
	for (i = 0; i < o->nql; i++)
		send_window_add(&win, &in.st[o->qlist[i]]);
	secs = send_window_s(&win, t0);

	if (o->json)
		fprintf(report, "{\"mode\":\"inject\",\"dev\":\"%s\","
			"\"frame_len\":%u,\"elapsed_s\":%.6f,"
			"\"max_gap_s\":%.6f,\"queues\":[",
			name, in.lo.len, secs, win.max_gap_ns / 1e9);
	for (i = 0; i < o->nql; i++) {
		const struct qstat *s = &in.st[o->qlist[i]];
		char what[32];

		if (o->json)
			snprintf(what, sizeof(what), "\"queue\":%u,",
				 o->qlist[i]);
		else
			snprintf(what, sizeof(what), "queue=%u", o->qlist[i]);
		print_qstat(what, s, o->json, i > 0);
		qstat_add(&tot, s);
	}
	if (o->json)
		fprintf(report, "],");
	print_total(&tot, o->json);
	if (!o->json)
		fprintf(report, "%s: elapsed=%.3fs max_gap=%.3fs frame_len=%u\n",
			prog, secs, win.max_gap_ns / 1e9, in.lo.len);
	if (in.pcap && in.pcap != stdout)
		fclose(in.pcap);
	fflush(stdout);
	for (i = 0; !o->pcap && i < o->queues; i++)
		close(in.fds[i]);
	free(w);
	free(in.payload);
	return o->strict && tot.errors ? 2 : 0;
}

static void usage(FILE *out)
{
	fprintf(out,
"usage: vmtap-inject --dev TAP [--queues N] [--netns NS] [--up] [options]\n"
"\n"
"Open/create tap DEV (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR|IFF_MULTI_QUEUE,\n"
"N queues, fd i = queue i) and write frames as a guest TX path does.\n"
"Stops after --count frames (total, default 1) or --duration seconds,\n"
"whichever comes first. A tap that is down refuses writes (EIO): bring\n"
"it up first or pass --up.\n"
"  --netns NS                 name in /run/netns or a path\n"
"  --queue Q | --queues-used LIST  queue(s) to write on, round-robin\n"
"                             (LIST: 0,2,4-6); --queues defaults to max+1\n"
"  --threads                  one thread per used queue\n"
"  --cpus LIST                pin thread i to the i-th CPU of LIST\n"
"  --count K  --rate PPS  --duration S    (rate: total over all queues)\n"
"  --prime-bytes B            send the first B wire bytes back to back,\n"
"                             then pace at --rate (a policer's full\n"
"                             bucket taken at once, see the rate tests)\n"
"  --smac MAC --dmac MAC      (dmac default: the tap's own address)\n"
"  --ipv6  --src ADDR --dst ADDR   (10.0.0.2 -> 10.0.0.1, fd00::2 -> ::1)\n"
"  --proto tcp|udp  --sport P --dport P  --flows F (sport..sport+F-1)\n"
"  --payload BYTES            L4 payload (default 1400, max 65535-hdrs)\n"
"  --gso-size MSS             GSO super-packet: TCPV4/TCPV6/UDP_L4, hdr_len,\n"
"                             NEEDS_CSUM, csum_start/offset, pseudo csum\n"
"  --csum-offload             non-GSO frame with NEEDS_CSUM\n"
"  --tcp-flags F              ack,psh (default) | +fin | 0x19 | none\n"
"  --seq N  --tos N\n"
"  lying metadata (written as given, the kernel decides):\n"
"  --gso-type none|tcpv4|tcpv6|udp|udp_l4|ecn|tcpv4_ecn|tcpv6_ecn|NUM\n"
"  --lie-gso-size N --lie-hdr-len N --lie-csum-start N --lie-csum-offset N\n"
"  --vnet-flags N             virtio_net_hdr flags byte\n"
"  --pcap FILE|-              write frames to a pcap instead of a tap\n"
"                             (with -, the report goes to stderr)\n"
"  --strict                   exit 2 if any write failed\n"
"  --vnet-hdr-sz 10|12        (default 12, virtio 1.0)\n"
"  --no-offload               TUNSETOFFLOAD 0: a guest without\n"
"                             csum/tso/uso (default csum|tso4|tso6|ecn|\n"
"                             ufo|uso4|uso6)\n"
"  --json  -v/--verbose  -h/--help\n"
"output: 'vmtap: queue=Q sent= errors= bytes= segs= wire_bytes=\n"
"last_errno=' per queue and 'vmtap: total ...'; bytes are frame bytes,\n"
"segs/wire_bytes what the accepted frames stand for once segmented;\n"
"'vmtap: elapsed=S max_gap=S frame_len=L': first to last frame, and the\n"
"longest pause between two frames of any queue (a sender's stall).\n");
}

enum {
	O_QUEUE = OPT_OWN, O_QUSED, O_SMAC, O_DMAC, O_PROTO, O_TCP_FLAGS,
	O_GSO_TYPE,
};

/*
 * its own options that take some parsing (those that only store a value
 * are in main(), those it shares with the others in args.c)
 */
static const struct option own[] = {
	{ "queue", 1, NULL, O_QUEUE },
	{ "queues-used", 1, NULL, O_QUSED },
	{ "smac", 1, NULL, O_SMAC },
	{ "dmac", 1, NULL, O_DMAC },
	{ "proto", 1, NULL, O_PROTO },
	{ "tcp-flags", 1, NULL, O_TCP_FLAGS },
	{ "gso-type", 1, NULL, O_GSO_TYPE },
	{ NULL, 0, NULL, 0 },
};

static bool inject_opt(void *ctx, int c, const char *name, const char *arg)
{
	struct opts *o = ctx;

	switch (c) {
	case O_QUEUE:
		o->qlist[0] = arg_u64(name, arg, MAX_QUEUES - 1);
		o->nql = 1;
		break;
	case O_QUSED:
		if (!parse_list(arg, MAX_QUEUES - 1, o->qlist, &o->nql))
			die("--queues-used: bad list '%s'", arg);
		break;
	case O_SMAC:
	case O_DMAC:
		if (!parse_mac(arg, c == O_SMAC ? o->fs.smac : o->fs.dmac))
			die("--%s: bad MAC '%s'", name, arg);
		if (c == O_DMAC)
			o->fs.dmac_set = true;
		break;
	case O_PROTO:
		if (!strcmp(arg, "tcp"))
			o->fs.proto = IPPROTO_TCP;
		else if (!strcmp(arg, "udp"))
			o->fs.proto = IPPROTO_UDP;
		else
			die("--proto: tcp or udp, not '%s'", arg);
		break;
	case O_TCP_FLAGS:
		if (!parse_tcp_flags(arg, &o->fs.tcp_flags))
			die("--tcp-flags: bad flags '%s'", arg);
		break;
	case O_GSO_TYPE:
		if (!parse_gso_type(arg, &o->fs.gso_type))
			die("--gso-type: unknown type '%s'", arg);
		break;
	default:
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	static struct opts o;
	static const struct opt_val vals[] = {
		OPT_VAL_STR("dev", &o.dev),
		OPT_VAL_STR("src", &o.src_str),
		OPT_VAL_STR("pcap", &o.pcap),
		OPT_VAL_FLAG("strict", &o.strict),
		OPT_VAL_FLAG("csum-offload", &o.fs.csum_offload),
		OPT_VAL_NUM("sport", &o.fs.sport, 65535),
		OPT_VAL_NUM("seq", &o.fs.seq, UINT32_MAX),
		OPT_VAL_NUM("tos", &o.fs.tos, 255),
		OPT_VAL_NUM("lie-gso-size", &o.fs.lie_gso_size, 65535),
		OPT_VAL_NUM("lie-hdr-len", &o.fs.lie_hdr_len, 65535),
		OPT_VAL_NUM("lie-csum-start", &o.fs.lie_csum_start, 65535),
		OPT_VAL_NUM("lie-csum-offset", &o.fs.lie_csum_offset, 65535),
		OPT_VAL_NUM("vnet-flags", &o.fs.vnet_flags, 255),
		{ NULL },
	};
	const struct prog_opts po = {
		.common = {
			.netns = &o.netns, .dst = &o.dst_str,
			.ipv6 = &o.fs.ipv6, .json = &o.json,
			.threads = &o.threads, .up = &o.up,
			.no_offload = &o.no_offload, .verbose = &o.verbose,
			.count = &o.count, .count_set = &o.count_set,
			.prime_bytes = &o.prime_bytes, .rate = &o.rate,
			.duration = &o.duration, .cpus = o.cpus,
			.ncpus = &o.ncpus, .dport = &o.fs.dport,
			.flows = &o.fs.flows, .payload = &o.fs.payload,
			.gso_size = &o.fs.gso_size, .queues = &o.queues,
			.vnet_sz = &o.vnet_sz,
		},
		.vals = vals,
		.own = own,
		.parse = inject_opt,
		.ctx = &o,
		.usage = usage,
	};

	report = stdout;
	spec_default(&o.fs);
	o.vnet_sz = VNET_HDR_SZ;
	parse_opts(&po, argc, argv);

	if (!o.dev && !o.pcap)
		die("inject needs --dev TAP (or --pcap FILE)");
	spec_addrs(&o.fs, o.fs.ipv6);
	if (o.src_str)
		arg_addr(o.fs.ipv6, o.src_str, o.fs.src, "src");
	if (o.dst_str)
		arg_addr(o.fs.ipv6, o.dst_str, o.fs.dst, "dst");
	if (!o.nql)
		o.nql = 1;		/* queue 0 */
	if (o.threads && o.pcap)
		o.threads = false;
	return do_inject(&o);
}
