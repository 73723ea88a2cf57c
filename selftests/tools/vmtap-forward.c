// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap-forward - play QEMU/vhost-net between two taps.
 *
 * Its one job: copy frames with their virtio_net_hdr between a tap in a
 * "guest" namespace and a multiqueue tap in a "host" namespace, one
 * thread per queue, so the host tap's ingress sees what a vnetX fed by
 * vhost-net sees (GSO | DODGY skbs, rx queue set); with --sndbuf, a full
 * host tap stops the guest's queue as vhost-net does.  Runs until
 * SIGINT/SIGTERM or --duration, then reports per queue and direction.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "args.h"
#include "frame.h"
#include "net.h"
#include "pace.h"
#include "vnet.h"

#define IO_BUF		(256 * 1024)

struct opts {
	unsigned int queues;
	double duration;
	bool json, verbose, up, no_offload;
	unsigned int vnet_sz;
	unsigned int cpus[MAX_QUEUES], ncpus;
	const char *gtap, *htap, *gns, *hns;
	unsigned int gqueues;
	int sndbuf;			/* host tap's, 0: untouched */
};

struct dir_stat {
	uint64_t pkts, bytes, gso, segs, errors;
};

struct fwd {
	const struct opts *o;
	int gfd[MAX_QUEUES], hfd[MAX_QUEUES];
	unsigned int g, n;
	struct dir_stat g2h[MAX_QUEUES], h2g[MAX_QUEUES];
	uint64_t waits;			/* --sndbuf: writes that had to wait */
};

/*
 * A guest frame the host tap refused for now (--sndbuf: its send buffer
 * is full, EAGAIN), written again once the tap is writable, as vhost-net
 * puts the descriptor back and waits: the guest's queue stops meanwhile.
 */
struct fwd_pending {
	uint8_t *buf;
	ssize_t len;			/* 0: none */
	int fd;
	unsigned int q;			/* host queue */
};

struct fwd_worker {
	pthread_t tid;
	struct fwd *fw;
	unsigned int idx;
	struct fwd_pending pend;
};

static void stat_add(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

/* Count a frame of r bytes (vnet header included) as written. */
static void fwd_count(struct fwd *fw, struct dir_stat *st, uint8_t *buf,
		      ssize_t r)
{
	unsigned int vsz = fw->o->vnet_sz;
	struct vnet_fields vh;
	uint64_t segs;
	bool gso;

	vnet_decode(buf, &vh);
	frame_segs(buf + vsz, r - vsz, &vh, &segs, &gso);
	stat_add(&st->pkts, 1);
	stat_add(&st->bytes, r - vsz);
	stat_add(&st->gso, gso);
	stat_add(&st->segs, segs);
}

/*
 * Move up to 64 frames from fd "from" to queue to_q of the other tap
 * (to_q < 0: a host queue chosen by flow hash). Counters are per host
 * queue: the one written (g2h) or read (h2g, from_q). With --sndbuf, a
 * guest frame the host tap cannot take yet goes to pend (g2h only) and
 * the guest is not read until it is written.
 */
static bool fwd_copy(struct fwd *fw, uint8_t *buf, int from, bool g2h,
		     unsigned int from_q, int to_q, struct fwd_pending *pend)
{
	unsigned int vsz = fw->o->vnet_sz, i;

	for (i = 0; i < 64; i++) {
		struct dir_stat *st;
		unsigned int q;
		struct pinfo pi;
		ssize_t r;
		int to;

		r = read(from, buf, IO_BUF);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return true;
			if (errno == EBADFD || errno == EIO)
				return false;	/* tap gone */
			continue;
		}
		if ((size_t)r <= vsz)
			continue;
		if (to_q >= 0)
			q = to_q;
		else if (parse_frame(buf + vsz, r - vsz, &pi))
			q = flow_hash(&pi) % fw->n;
		else
			q = 0;
		to = g2h ? fw->hfd[q] : fw->gfd[q];
		st = g2h ? &fw->g2h[q] : &fw->h2g[from_q];
		if (write(to, buf, r) != r) {
			if (g2h && pend && errno == EAGAIN) {
				memcpy(pend->buf, buf, r);
				pend->len = r;
				pend->fd = to;
				pend->q = q;
				stat_add(&fw->waits, 1);
				return true;
			}
			stat_add(&st->errors, 1);
			continue;
		}
		fwd_count(fw, st, buf, r);
	}
	return true;
}

/* Write the pending guest frame again; it stays pending on EAGAIN. */
static void fwd_retry(struct fwd *fw, struct fwd_pending *pend)
{
	struct dir_stat *st = &fw->g2h[pend->q];

	if (write(pend->fd, pend->buf, pend->len) == pend->len)
		fwd_count(fw, st, pend->buf, pend->len);
	else if (errno == EAGAIN || errno == EINTR)
		return;
	else
		stat_add(&st->errors, 1);
	pend->len = 0;
}

/*
 * Thread i: host queue i -> guest queue i % g, and, when i < g, guest
 * queue i -> host queue i (same queue count) or a flow-hash chosen host
 * queue (guest side with fewer queues).
 */
static void *fwd_run(void *arg)
{
	struct fwd_worker *w = arg;
	struct fwd *fw = w->fw;
	struct fwd_pending *pend = fw->o->sndbuf ? &w->pend : NULL;
	unsigned int i = w->idx;
	/* host queue i, guest queue i (if any), a host queue to write */
	struct pollfd pfd[3] = {
		{ .fd = fw->hfd[i], .events = POLLIN },
		{ .fd = i < fw->g ? fw->gfd[i] : -1, .events = POLLIN },
		{ .fd = -1, .events = POLLOUT },
	};
	uint8_t *buf = malloc(IO_BUF);

	if (!buf || (pend && !(pend->buf = malloc(IO_BUF))))
		die("out of memory");
	pin_cpu(fw->o->ncpus ? (int)fw->o->cpus[i % fw->o->ncpus] : -1);
	while (!stop_flag) {
		bool waiting = pend && pend->len;
		int r;

		/* a frame waits for the host tap: the guest's queue stops */
		pfd[1].events = waiting ? 0 : POLLIN;
		pfd[2].fd = waiting ? pend->fd : -1;
		r = poll(pfd, 3, 100);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		if ((pfd[1].revents | pfd[0].revents) & (POLLERR | POLLNVAL))
			break;
		if (waiting && pfd[2].revents)
			fwd_retry(fw, pend);
		if (!(pend && pend->len) && (pfd[1].revents & POLLIN) &&
		    !fwd_copy(fw, buf, pfd[1].fd, true, i,
			      fw->g == fw->n ? (int)i : -1, pend))
			break;
		if ((pfd[0].revents & POLLIN) &&
		    !fwd_copy(fw, buf, pfd[0].fd, false, i, i % fw->g, NULL))
			break;
	}
	if (!stop_flag)
		fprintf(stderr, "%s: queue %u: tap error, stopping\n", prog, i);
	stop_flag = 1;
	free(buf);
	if (pend)
		free(pend->buf);
	return NULL;
}

static void print_dir(const char *d, const struct dir_stat *s, bool json)
{
	if (json)
		printf("\"%s\":{\"pkts\":%llu,\"bytes\":%llu,\"gso\":%llu,"
		       "\"segs\":%llu,\"errors\":%llu}", d,
		       (unsigned long long)s->pkts,
		       (unsigned long long)s->bytes,
		       (unsigned long long)s->gso, (unsigned long long)s->segs,
		       (unsigned long long)s->errors);
	else
		printf(" %s_pkts=%llu %s_bytes=%llu %s_gso=%llu %s_segs=%llu "
		       "%s_errors=%llu", d, (unsigned long long)s->pkts, d,
		       (unsigned long long)s->bytes, d,
		       (unsigned long long)s->gso, d,
		       (unsigned long long)s->segs, d,
		       (unsigned long long)s->errors);
}

static void dir_sum(struct dir_stat *t, const struct dir_stat *s)
{
	t->pkts += s->pkts;
	t->bytes += s->bytes;
	t->gso += s->gso;
	t->segs += s->segs;
	t->errors += s->errors;
}

static int do_forward(struct opts *o)
{
	static struct fwd fw;
	struct fwd_worker *w;
	struct dir_stat tg = { 0 }, th = { 0 };
	char gname[IFNAMSIZ], hname[IFNAMSIZ];
	uint64_t t0, deadline = 0;
	unsigned int i;
	int ns;

	fw.o = o;
	fw.n = o->queues ? o->queues : 1;
	fw.g = o->gqueues ? o->gqueues : fw.n;
	if (fw.g > fw.n)
		die("--guest-queues %u > --queues %u", fw.g, fw.n);
	snprintf(gname, sizeof(gname), "%s", o->gtap);
	snprintf(hname, sizeof(hname), "%s", o->htap);

	ns = netns_enter(o->gns);
	tap_open(gname, fw.g, fw.g > 1, o->vnet_sz, !o->no_offload, true,
		 fw.gfd, o->verbose);
	if (o->up)
		link_ctl(gname, true, NULL);
	netns_leave(ns);
	ns = netns_enter(o->hns);
	tap_open(hname, fw.n, true, o->vnet_sz, !o->no_offload, true, fw.hfd,
		 o->verbose);
	/* the device keeps it (every queue attached later too) */
	for (i = 0; o->sndbuf && i < fw.n; i++)
		if (ioctl(fw.hfd[i], TUNSETSNDBUF, &o->sndbuf))
			die("%s: TUNSETSNDBUF %d: %m", hname, o->sndbuf);
	if (o->up)
		link_ctl(hname, true, NULL);
	netns_leave(ns);

	install_signals();
	w = calloc(fw.n, sizeof(*w));
	if (!w)
		die("out of memory");
	t0 = now_ns();
	if (o->duration)
		deadline = t0 + o->duration * 1e9;
	for (i = 0; i < fw.n; i++) {
		w[i].fw = &fw;
		w[i].idx = i;
		if (pthread_create(&w[i].tid, NULL, fwd_run, &w[i]))
			die("pthread_create failed");
	}
	fprintf(stderr, "%s: forward ready guest=%s/%u host=%s/%u\n", prog,
		gname, fw.g, hname, fw.n);
	while (!stop_flag && (!deadline || now_ns() < deadline))
		sleep_until(now_ns() + 100000000ull);
	stop_flag = 1;
	for (i = 0; i < fw.n; i++)
		pthread_join(w[i].tid, NULL);

	if (o->json)
		printf("{\"mode\":\"forward\",\"guest\":\"%s\",\"host\":\"%s\","
		       "\"elapsed_s\":%.6f,\"queues\":[", gname, hname,
		       (now_ns() - t0) / 1e9);
	for (i = 0; i < fw.n; i++) {
		if (o->json) {
			printf("%s{\"queue\":%u,", i ? "," : "", i);
			print_dir("g2h", &fw.g2h[i], true);
			printf(",");
			print_dir("h2g", &fw.h2g[i], true);
			printf("}");
		} else {
			printf("%s: queue=%u", prog, i);
			print_dir("g2h", &fw.g2h[i], false);
			print_dir("h2g", &fw.h2g[i], false);
			printf("\n");
		}
		dir_sum(&tg, &fw.g2h[i]);
		dir_sum(&th, &fw.h2g[i]);
	}
	if (o->json) {
		printf("],\"total\":{");
		print_dir("g2h", &tg, true);
		printf(",");
		print_dir("h2g", &th, true);
		printf("}}\n");
	} else {
		printf("%s: total", prog);
		print_dir("g2h", &tg, false);
		print_dir("h2g", &th, false);
		printf("\n");
		if (o->sndbuf)
			printf("%s: sndbuf=%d g2h_waits=%llu\n", prog,
			       o->sndbuf, (unsigned long long)fw.waits);
	}
	for (i = 0; i < fw.n; i++)
		close(fw.hfd[i]);
	for (i = 0; i < fw.g; i++)
		close(fw.gfd[i]);
	free(w);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
"usage: vmtap-forward --guest-tap G --host-tap H [--queues N]\n"
"                     [--guest-queues 1|N] [--guest-netns NS]\n"
"                     [--host-netns NS] [--duration S] [--up]\n"
"                     [--sndbuf BYTES] [--cpus LIST]\n"
"\n"
"Guest tap G (N or 1 queues, offloads on so the guest's TCP sends GSO)\n"
"<-> multiqueue tap H (N queues), one thread per queue, frames copied\n"
"with their virtio_net_hdr. Guest queue i -> host queue i (a 5-tuple\n"
"hash picks the host queue with --guest-queues 1), host queue i ->\n"
"guest queue i. Runs until SIGINT/SIGTERM or --duration; prints\n"
"'vmtap: forward ready ...' on stderr once both taps are open.\n"
"--sndbuf BYTES: the host tap's send buffer (TUNSETSNDBUF, QEMU's tap\n"
"sndbuf=; the device keeps it); a guest frame the tap refuses for lack\n"
"of it waits, and that guest queue is not read, until the tap is\n"
"writable (vhost-net's backpressure); the report adds g2h_waits=.\n"
"--cpus LIST pins thread i to the i-th CPU of LIST.  --up brings both\n"
"taps up.  --vnet-hdr-sz 10|12 (default 12, virtio 1.0), --no-offload\n"
"(TUNSETOFFLOAD 0: a guest without csum/tso/uso), --json, -v/--verbose,\n"
"-h/--help.\n"
"output: 'vmtap: queue=Q g2h_pkts= g2h_bytes= g2h_gso= g2h_segs=\n"
"g2h_errors= h2g_...' per host queue and 'vmtap: total ...'.\n");
}

int main(int argc, char **argv)
{
	static struct opts o;
	static const struct opt_val vals[] = {
		OPT_VAL_STR("guest-tap", &o.gtap),
		OPT_VAL_STR("host-tap", &o.htap),
		OPT_VAL_STR("guest-netns", &o.gns),
		OPT_VAL_STR("host-netns", &o.hns),
		OPT_VAL_NUM1("guest-queues", &o.gqueues, MAX_QUEUES),
		OPT_VAL_NUM1("sndbuf", &o.sndbuf, INT_MAX),
		{ NULL },
	};
	const struct prog_opts po = {
		.common = {
			.json = &o.json, .up = &o.up,
			.no_offload = &o.no_offload, .verbose = &o.verbose,
			.duration = &o.duration, .cpus = o.cpus,
			.ncpus = &o.ncpus, .queues = &o.queues,
			.vnet_sz = &o.vnet_sz,
		},
		.vals = vals,
		.usage = usage,
	};

	o.vnet_sz = VNET_HDR_SZ;
	parse_opts(&po, argc, argv);
	if (!o.gtap || !o.htap)
		die("forward needs --guest-tap and --host-tap");
	return do_forward(&o);
}
