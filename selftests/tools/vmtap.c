// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap - play the guest side of a virtio-net tap, as QEMU/vhost-net does.
 *
 *   inject   open (or create) a multiqueue tap with IFF_VNET_HDR and write
 *            crafted frames with virtio_net_hdr metadata (GSO super-packets,
 *            checksum offload, lying headers) on chosen queues;
 *   forward  copy frames with their virtio_net_hdr between a tap in a
 *            "guest" namespace and a multiqueue tap in a "host" namespace,
 *            one thread per queue, so the host tap's ingress sees what a
 *            vnetX fed by vhost-net sees (GSO | DODGY skbs, rx queue set);
 *   capture  count frames at a device's ingress per recorded rx queue
 *            (PACKET_FANOUT_QM) with their GSO metadata (PACKET_VNET_HDR),
 *            optionally verifying IPv4/TCP/UDP checksums;
 *   selftest KTAP checks of the frame builder and checksum code.
 *
 * Everything is bounded: inject stops after --count frames or --duration,
 * forward and capture on --duration or SIGINT/SIGTERM.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT	103
#endif
#ifndef SOL_UDP
#define SOL_UDP		17
#endif

/* Newer than some linux-libc-dev versions; values are UAPI, never change. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4	5
#endif
#ifndef TUN_F_USO4
#define TUN_F_USO4	0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6	0x40
#endif
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING	23
#endif

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_QUEUES	256	/* MAX_TAP_QUEUES in drivers/net/tun.c */
#define IO_BUF		(256 * 1024)
#define HDR_MAX		128	/* vnet header + L2..L4 headers */
#define MAX_ERR_PRINT	10	/* per-frame error lines per queue */
#define GSO_TYPE_ECN	(-2)	/* --gso-type ecn: builder's TCP type | ECN */

/*
 * virtio_net_hdr as written to the tap: little endian (TUNSETVNETLE), the
 * num_buffers field only exists with a 12-byte header.
 */
struct vnet_wire {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

_Static_assert(offsetof(struct vnet_wire, num_buffers) ==
	       sizeof(struct virtio_net_hdr), "virtio_net_hdr layout");
_Static_assert(sizeof(struct vnet_wire) ==
	       sizeof(struct virtio_net_hdr_mrg_rxbuf), "mrg_rxbuf layout");

/* The header fields in host order. */
struct vnet_fields {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

enum mode {
	M_INJECT = 1, M_FORWARD = 2, M_CAPTURE = 4, M_SELFTEST = 8,
	M_SEND = 16, M_SINK = 32,
};

struct frame_spec {
	uint8_t smac[6], dmac[6];
	bool dmac_set;
	bool ipv6;
	uint8_t src[16], dst[16];
	uint8_t proto;			/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t sport, dport;
	unsigned int flows;		/* sport .. sport + flows - 1 */
	unsigned int payload;
	unsigned int gso_size;		/* MSS the builder uses, 0: none */
	bool csum_offload;
	uint8_t tcp_flags;
	uint32_t seq;
	uint8_t tos;
	/* virtio_net_hdr overrides, -1: not given */
	long gso_type;			/* may be GSO_TYPE_ECN */
	long lie_gso_size, lie_hdr_len, lie_csum_start, lie_csum_offset;
	long vnet_flags;
};

/* What the builder derived from a frame_spec, the same for every frame. */
struct layout {
	unsigned int l4off;		/* ETH_HLEN + IP header */
	unsigned int l4hlen;		/* 20 (TCP) or 8 (UDP) */
	unsigned int hdrs;		/* L2..L4 header bytes */
	unsigned int len;		/* frame length, no vnet header */
	unsigned int csum_off;		/* 16 (TCP) or 6 (UDP) */
	bool partial;			/* L4 check holds pseudo-header sum */
	struct vnet_fields vh;
	unsigned int segs;		/* per the gso_size written */
	unsigned int wire;		/* L2 bytes of those segments */
};

struct opts {
	enum mode mode;
	const char *dev, *netns;
	unsigned int queues;
	double duration;
	uint64_t count;
	bool count_set;
	bool json, verbose, up, strict, no_offload, threads, verify_csum;
	unsigned int vnet_sz;
	unsigned int cpus[MAX_QUEUES], ncpus;
	unsigned int qlist[MAX_QUEUES], nql;
	double rate;
	const char *pcap;
	const char *src_str, *dst_str;
	struct frame_spec fs;
	const char *gtap, *htap, *gns, *hns;
	unsigned int gqueues;
	bool proto_set;
	uint64_t drain_bytes;		/* send --proto tcp: UDP after it */
	uint64_t prime_bytes;		/* wire bytes back to back first */
	int sndbuf;			/* forward: host tap's, 0: untouched */
};

static volatile sig_atomic_t stop_flag;
static const char *prog = "vmtap";
static FILE *report;			/* stdout, stderr with --pcap - */

/* ---------------------------------------------------------------- utils */

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static const char *errstr(int err, char *buf, size_t len)
{
	return strerror_r(err, buf, len);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {
		.tv_sec = t / 1000000000ull,
		.tv_nsec = t % 1000000000ull,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR && !stop_flag)
		;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* ------------------------------------------------------------- parsing */

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static uint64_t arg_u64(const char *opt, const char *s, uint64_t max)
{
	uint64_t v;

	if (!parse_u64(s, max, &v))
		die("--%s: '%s' is not a number in 0..%llu", opt, s,
		    (unsigned long long)max);
	return v;
}

static double arg_pos_double(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v > 0) || v > 1e12)
		die("--%s: '%s' is not a positive number", opt, s);
	return v;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return false;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return false;
		mac[i] = b[i];
	}
	return true;
}

/* "0,2,5-7" -> list; false on syntax error, duplicates or overflow. */
static bool parse_list(const char *s, unsigned int max, unsigned int *out,
		       unsigned int *n)
{
	char buf[1024], *tok, *save = NULL;
	unsigned int i, j;

	*n = 0;
	if (strlen(s) >= sizeof(buf) || !*s)
		return false;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t lo, hi;
		char *dash = strchr(tok, '-');

		if (dash)
			*dash = '\0';
		if (!parse_u64(tok, max, &lo))
			return false;
		hi = lo;
		if (dash && (!parse_u64(dash + 1, max, &hi) || hi < lo))
			return false;
		for (; lo <= hi; lo++) {
			if (*n >= MAX_QUEUES)
				return false;
			for (j = 0; j < *n; j++)
				if (out[j] == lo)
					return false;
			out[(*n)++] = lo;
		}
	}
	for (i = 0; i < *n; i++)
		if (out[i] > max)
			return false;
	return *n > 0;
}

static const struct {
	const char *name;
	uint8_t bit;
} tcp_flag_names[] = {
	{ "fin", 0x01 }, { "syn", 0x02 }, { "rst", 0x04 }, { "psh", 0x08 },
	{ "ack", 0x10 }, { "urg", 0x20 }, { "ece", 0x40 }, { "cwr", 0x80 },
};

#define TCP_DEFAULT_FLAGS	0x18	/* ACK | PSH */

/* "ack,psh,fin", "+fin" (added to ACK|PSH), "0x19" or "none". */
static bool parse_tcp_flags(const char *s, uint8_t *out)
{
	char buf[128], *tok, *save = NULL;
	uint8_t v = 0;
	uint64_t n;
	size_t i;

	if (*s == '+') {
		v = TCP_DEFAULT_FLAGS;
		s++;
	}
	if (parse_u64(s, 0xff, &n)) {
		*out = v | n;
		return true;
	}
	if (!strcmp(s, "none")) {
		*out = v;
		return true;
	}
	if (strlen(s) >= sizeof(buf) || !*s)
		return false;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",|+", &save); tok;
	     tok = strtok_r(NULL, ",|+", &save)) {
		for (i = 0; i < ARRAY_SIZE(tcp_flag_names); i++)
			if (!strcasecmp(tok, tcp_flag_names[i].name))
				break;
		if (i == ARRAY_SIZE(tcp_flag_names))
			return false;
		v |= tcp_flag_names[i].bit;
	}
	*out = v;
	return true;
}

static bool parse_gso_type(const char *s, long *out)
{
	static const struct {
		const char *name;
		long val;
	} names[] = {
		{ "none", VIRTIO_NET_HDR_GSO_NONE },
		{ "tcpv4", VIRTIO_NET_HDR_GSO_TCPV4 },
		{ "tcpv6", VIRTIO_NET_HDR_GSO_TCPV6 },
		{ "udp", VIRTIO_NET_HDR_GSO_UDP },
		{ "udp_l4", VIRTIO_NET_HDR_GSO_UDP_L4 },
		{ "uso", VIRTIO_NET_HDR_GSO_UDP_L4 },
		{ "tcpv4_ecn",
		  VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN },
		{ "tcpv6_ecn",
		  VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN },
		{ "ecn", GSO_TYPE_ECN },
	};
	uint64_t n;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcasecmp(s, names[i].name)) {
			*out = names[i].val;
			return true;
		}
	}
	if (!parse_u64(s, 0xff, &n))
		return false;
	*out = n;
	return true;
}

/* ----------------------------------------------------------- checksums */

/* Sum of big-endian 16-bit words, unfolded; odd tail padded with zero. */
static uint64_t csum_add(uint64_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold16(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static uint64_t pseudo_sum(bool v6, const uint8_t *src, const uint8_t *dst,
			   uint8_t proto, uint32_t l4len)
{
	size_t alen = v6 ? 16 : 4;
	uint64_t sum = 0;

	sum = csum_add(sum, src, alen);
	sum = csum_add(sum, dst, alen);
	return sum + proto + (l4len >> 16) + (l4len & 0xffff);
}

/* ------------------------------------------------------- frame builder */

static uint8_t natural_gso_type(const struct frame_spec *fs, bool gso)
{
	if (!gso)
		return VIRTIO_NET_HDR_GSO_NONE;
	if (fs->proto == IPPROTO_UDP)
		return VIRTIO_NET_HDR_GSO_UDP_L4;
	return fs->ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
}

static unsigned int max_payload(const struct frame_spec *fs)
{
	unsigned int l4h = fs->proto == IPPROTO_TCP ? 20 : 8;

	/* IPv4 total length, IPv6 payload length (and UDP length): 16 bits */
	return fs->ipv6 ? 65535 - l4h : 65535 - 20 - l4h;
}

static int layout_init(const struct frame_spec *fs, struct layout *lo,
		       char *err, size_t errlen)
{
	struct vnet_fields *vh = &lo->vh;
	bool gso;

	memset(lo, 0, sizeof(*lo));
	lo->l4off = ETH_HLEN + (fs->ipv6 ? 40 : 20);
	lo->l4hlen = fs->proto == IPPROTO_TCP ? 20 : 8;
	lo->csum_off = fs->proto == IPPROTO_TCP ? 16 : 6;
	lo->hdrs = lo->l4off + lo->l4hlen;
	if (fs->payload > max_payload(fs)) {
		snprintf(err, errlen, "payload %u too large, max %u for %s/%s",
			 fs->payload, max_payload(fs),
			 fs->ipv6 ? "ipv6" : "ipv4",
			 fs->proto == IPPROTO_TCP ? "tcp" : "udp");
		return -1;
	}
	lo->len = lo->hdrs + fs->payload;

	if (fs->gso_type == GSO_TYPE_ECN)
		vh->gso_type = (fs->ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
					   VIRTIO_NET_HDR_GSO_TCPV4) |
			       VIRTIO_NET_HDR_GSO_ECN;
	else if (fs->gso_type >= 0)
		vh->gso_type = fs->gso_type;
	else
		vh->gso_type = natural_gso_type(fs, fs->gso_size > 0);
	gso = (vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) !=
	      VIRTIO_NET_HDR_GSO_NONE;

	lo->partial = fs->gso_size > 0 || fs->csum_offload || gso;
	vh->gso_size = fs->lie_gso_size >= 0 ? fs->lie_gso_size :
		       gso ? fs->gso_size : 0;
	vh->hdr_len = fs->lie_hdr_len >= 0 ? fs->lie_hdr_len :
		      gso ? lo->hdrs : 0;
	vh->flags = fs->vnet_flags >= 0 ? fs->vnet_flags :
		    lo->partial ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
	vh->csum_start = fs->lie_csum_start >= 0 ? fs->lie_csum_start :
			 lo->partial ? lo->l4off : 0;
	vh->csum_offset = fs->lie_csum_offset >= 0 ? fs->lie_csum_offset :
			  lo->partial ? lo->csum_off : 0;

	/* what the frame stands for once segmented per its gso_size field */
	if (gso && vh->gso_size && fs->payload > vh->gso_size) {
		lo->segs = (fs->payload + vh->gso_size - 1) / vh->gso_size;
		lo->wire = lo->segs * lo->hdrs + fs->payload;
	} else {
		lo->segs = 1;
		lo->wire = lo->len;
	}
	return 0;
}

static void vnet_encode(uint8_t *out, unsigned int vnet_sz,
			const struct vnet_fields *f)
{
	struct vnet_wire w = {
		.flags = f->flags,
		.gso_type = f->gso_type,
		.hdr_len = htole16(f->hdr_len),
		.gso_size = htole16(f->gso_size),
		.csum_start = htole16(f->csum_start),
		.csum_offset = htole16(f->csum_offset),
		.num_buffers = 0,
	};

	memset(out, 0, vnet_sz);
	memcpy(out, &w, vnet_sz < sizeof(w) ? vnet_sz : sizeof(w));
}

static void vnet_decode(const uint8_t *in, struct vnet_fields *f)
{
	struct vnet_wire w;

	memcpy(&w, in, sizeof(struct virtio_net_hdr));
	f->flags = w.flags;
	f->gso_type = w.gso_type;
	f->hdr_len = le16toh(w.hdr_len);
	f->gso_size = le16toh(w.gso_size);
	f->csum_start = le16toh(w.csum_start);
	f->csum_offset = le16toh(w.csum_offset);
}

static void fill_payload(uint8_t *p, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + 1);
}

/*
 * Write the vnet header and the L2..L4 headers of frame number g into out
 * (vnet_sz + lo->hdrs bytes). The payload is the constant fill_payload()
 * pattern whose unfolded sum is paysum. Frame g belongs to flow g % flows
 * (source port sport + flow) and carries that flow's next sequence number.
 */
static void build_headers(const struct frame_spec *fs, const struct layout *lo,
			  uint64_t g, uint64_t paysum, uint8_t *out,
			  unsigned int vnet_sz)
{
	unsigned int l4len = lo->len - lo->l4off;
	uint8_t *f = out + vnet_sz, *ip = f + ETH_HLEN, *t = f + lo->l4off;
	uint16_t sport = fs->sport + g % fs->flows;
	uint32_t seq = fs->seq + (uint32_t)(g / fs->flows) * fs->payload;
	uint64_t sum;
	uint16_t c;

	vnet_encode(out, vnet_sz, &lo->vh);
	memset(f, 0, lo->hdrs);
	memcpy(f, fs->dmac, 6);
	memcpy(f + 6, fs->smac, 6);
	put16(f + 12, fs->ipv6 ? ETH_P_IPV6 : ETH_P_IP);

	if (fs->ipv6) {
		put32(ip, 0x60000000u | (uint32_t)fs->tos << 20);
		put16(ip + 4, l4len);
		ip[6] = fs->proto;
		ip[7] = 64;
		memcpy(ip + 8, fs->src, 16);
		memcpy(ip + 24, fs->dst, 16);
	} else {
		ip[0] = 0x45;
		ip[1] = fs->tos;
		put16(ip + 2, lo->len - ETH_HLEN);
		put16(ip + 4, (uint16_t)g);
		put16(ip + 6, 0x4000);		/* DF */
		ip[8] = 64;
		ip[9] = fs->proto;
		memcpy(ip + 12, fs->src, 4);
		memcpy(ip + 16, fs->dst, 4);
		put16(ip + 10, (uint16_t)~csum_fold16(csum_add(0, ip, 20)));
	}

	put16(t, sport);
	put16(t + 2, fs->dport);
	if (fs->proto == IPPROTO_TCP) {
		put32(t + 4, seq);
		put32(t + 8, 1);		/* ack_seq */
		t[12] = 5 << 4;			/* doff */
		t[13] = fs->tcp_flags;
		put16(t + 14, 65535);		/* window */
	} else {
		put16(t + 4, l4len);
	}

	/*
	 * Checksum offload (and every GSO frame): the check field holds the
	 * folded, uncomplemented pseudo-header sum over the whole L4 length,
	 * as Linux's virtio-net driver leaves it (~csum_tcpudp_magic()); the
	 * device or the host's segmentation finishes it from csum_start.
	 */
	sum = pseudo_sum(fs->ipv6, fs->src, fs->dst, fs->proto, l4len);
	if (lo->partial) {
		c = csum_fold16(sum);
	} else {
		sum = csum_add(sum, t, lo->l4hlen) + paysum;
		c = ~csum_fold16(sum);
		if (fs->proto == IPPROTO_UDP && !c)
			c = 0xffff;
	}
	put16(t + lo->csum_off, c);
}

/* ------------------------------------------------------- frame parsing */

struct pinfo {
	bool v6;
	bool frag;				/* IPv4 fragment */
	uint8_t proto;
	unsigned int l3off, l4off, hdrs;	/* 0 when unknown */
	unsigned int l3len;			/* IP header + IP payload */
	const uint8_t *src, *dst;
	uint16_t sport, dport;
};

/* Parse Ethernet [802.1Q] IPv4/IPv6 TCP/UDP; false if not IP. */
static bool parse_frame(const uint8_t *f, size_t len, struct pinfo *pi)
{
	unsigned int off = ETH_HLEN;
	uint16_t type;

	memset(pi, 0, sizeof(*pi));
	if (len < ETH_HLEN)
		return false;
	type = get16(f + 12);
	if ((type == ETH_P_8021Q || type == ETH_P_8021AD) && len >= 18) {
		type = get16(f + 16);
		off = 18;
	}
	pi->l3off = off;
	if (type == ETH_P_IP) {
		unsigned int ihl;

		if (len < off + 20 || (f[off] >> 4) != 4)
			return false;
		ihl = (f[off] & 0xf) * 4;
		if (ihl < 20 || len < off + ihl)
			return false;
		pi->proto = f[off + 9];
		pi->l3len = get16(f + off + 2);
		pi->src = f + off + 12;
		pi->dst = f + off + 16;
		pi->frag = get16(f + off + 6) & 0x3fff;	/* MF | offset */
		if (get16(f + off + 6) & 0x1fff)	/* not a first frag */
			return true;
		pi->l4off = off + ihl;
	} else if (type == ETH_P_IPV6) {
		if (len < off + 40 || (f[off] >> 4) != 6)
			return false;
		pi->v6 = true;
		pi->proto = f[off + 6];
		pi->l3len = 40 + get16(f + off + 4);
		pi->src = f + off + 8;
		pi->dst = f + off + 24;
		pi->l4off = off + 40;
	} else {
		return false;
	}
	if (pi->proto == IPPROTO_TCP && len >= pi->l4off + 20) {
		pi->hdrs = pi->l4off + (f[pi->l4off + 12] >> 4) * 4;
	} else if (pi->proto == IPPROTO_UDP && len >= pi->l4off + 8) {
		pi->hdrs = pi->l4off + 8;
	} else {
		pi->l4off = 0;
		return true;
	}
	pi->sport = get16(f + pi->l4off);
	pi->dport = get16(f + pi->l4off + 2);
	return true;
}

static uint32_t flow_hash(const struct pinfo *pi)
{
	size_t alen = pi->v6 ? 16 : 4, i;
	uint32_t h = 2166136261u;

#define FNV(b) (h = (h ^ (uint8_t)(b)) * 16777619u)
	for (i = 0; i < alen; i++) {
		FNV(pi->src[i]);
		FNV(pi->dst[i]);
	}
	FNV(pi->proto);
	FNV(pi->sport >> 8);
	FNV(pi->sport);
	FNV(pi->dport >> 8);
	FNV(pi->dport);
#undef FNV
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	return h ^ (h >> 16);
}

enum csum_verdict { CSUM_OK, CSUM_BAD, CSUM_SKIP };

/* Verify the IPv4 header and the full L4 checksum of a complete frame. */
static enum csum_verdict verify_csum(const uint8_t *f, size_t len)
{
	struct pinfo pi;
	unsigned int l4len;
	uint64_t sum;

	if (!parse_frame(f, len, &pi) || pi.l3off + pi.l3len > len)
		return CSUM_SKIP;
	if (!pi.v6 &&
	    csum_fold16(csum_add(0, f + pi.l3off, (f[pi.l3off] & 0xf) * 4)) !=
	    0xffff)
		return CSUM_BAD;
	if (!pi.l4off || pi.frag)	/* L4 sum covers the whole datagram */
		return pi.v6 ? CSUM_SKIP : CSUM_OK;
	l4len = pi.l3len - (pi.l4off - pi.l3off);
	if (pi.proto == IPPROTO_UDP && !pi.v6 && !get16(f + pi.l4off + 6))
		return CSUM_OK;			/* no UDP checksum */
	sum = pseudo_sum(pi.v6, pi.src, pi.dst, pi.proto, l4len);
	sum = csum_add(sum, f + pi.l4off, l4len);
	return csum_fold16(sum) == 0xffff ? CSUM_OK : CSUM_BAD;
}

/* segments and L2 bytes a frame read from a tap stands for */
static void frame_segs(const uint8_t *f, size_t len,
		       const struct vnet_fields *vh, uint64_t *segs,
		       bool *gso)
{
	struct pinfo pi;

	*gso = (vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) !=
	       VIRTIO_NET_HDR_GSO_NONE;
	*segs = 1;
	if (!*gso || !vh->gso_size)
		return;
	if (parse_frame(f, len, &pi) && pi.hdrs && len > pi.hdrs)
		*segs = (len - pi.hdrs + vh->gso_size - 1) / vh->gso_size;
}

/* ------------------------------------------------------------ taps, ns */

/* Enter netns NAME (or path); returns an fd to come back with, or -1. */
static int netns_enter(const char *name)
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

static void netns_leave(int self)
{
	if (self < 0)
		return;
	if (setns(self, CLONE_NEWNET))
		die("setns back: %m");
	close(self);
}

/* Bring NAME up and/or read its MAC, in the current netns. */
static void link_ctl(const char *name, bool up, uint8_t *mac)
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
 * Open n queues of tap NAME (creating it if needed) in the current netns,
 * as QEMU does: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR [| IFF_MULTI_QUEUE],
 * then the vnet header size, little-endian headers and the offloads a
 * guest with csum/tso4/tso6/ecn/ufo/uso negotiated gets. The offloads
 * govern what the kernel may send to the reader (host -> guest); frames
 * written by the guest are accepted with GSO whatever they are. fds[i]
 * is queue i if no one else has queues of this tap attached.
 */
static void tap_open(char *name, unsigned int n, bool mq, unsigned int vnet_sz,
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

/* -------------------------------------------------------------- inject */

struct qstat {
	uint64_t sent, errors, bytes, segs, wire;
	uint64_t first_ns, last_ns;	/* when the first and last frame went */
	uint64_t max_gap_ns;	/* longest pause before one of ours (below) */
	int last_err;
};

/*
 * When the last frame of any worker went.  A pause of the sender longer
 * than a policer's bucket holds loses tokens: the window then measures
 * the sender, not the policer.  The gap before a frame is taken from the
 * frame before it in any thread (the policer sees their union), so one
 * worker's stall while another sends is no gap.
 */
static uint64_t any_last_ns;

static void qstat_sent(struct qstat *st, uint64_t bytes, uint64_t segs,
		       uint64_t wire)
{
	uint64_t t = now_ns();
	uint64_t prev = __atomic_exchange_n(&any_last_ns, t, __ATOMIC_RELAXED);

	if (prev && t > prev && t - prev > st->max_gap_ns)
		st->max_gap_ns = t - prev;
	if (!st->sent)
		st->first_ns = t;
	st->last_ns = t;
	st->sent++;
	st->bytes += bytes;
	st->segs += segs;
	st->wire += wire;
}

/*
 * Pacing at an interval (ns) per frame, frame @k due at start + k x
 * interval.  A sender late by more than 50 ms does not catch up in a
 * burst.  The first @prime wire bytes go back to back: a policer's
 * bucket starts full, and the rate tests subtract the burst from what it
 * admitted, which holds once the sender has taken the burst.  Back to
 * back that takes milliseconds; paced at twice the rate it takes as long
 * as the burst lasts (250 ms and more), and a pause of the sender then (a
 * TCG guest's vCPU scheduled out, page faults at start) overflows the
 * full bucket: its tokens are lost and the policer looks slow.
 */
struct pacer {
	uint64_t interval, start, prime, primed;
};

static void pacer_init(struct pacer *p, double rate, uint64_t prime)
{
	p->interval = rate > 0 ? 1e9 / rate : 0;
	p->start = now_ns();
	p->prime = prime;
	p->primed = 0;
}

/* Wait until frame @k is due. */
static void pacer_wait(struct pacer *p, uint64_t k)
{
	uint64_t t, now;

	if (!p->interval)
		return;
	t = p->start + k * p->interval;
	now = now_ns();
	if (p->primed < p->prime || now > t + 50000000ull)
		p->start = now - k * p->interval;	/* due now */
	else if (now < t)
		sleep_until(t);
}

static void pacer_sent(struct pacer *p, uint64_t wire)
{
	p->primed += wire;
}

/*
 * The time the frames were sent over, from the first to the last: what a
 * policer saw traffic for.  Thread start-up and the last pacing sleep
 * are not part of it; a policer measured against them looks slow.
 */
struct send_window {
	uint64_t first_ns, last_ns, max_gap_ns;
};

static void send_window_add(struct send_window *win, const struct qstat *st)
{
	if (!st->sent)
		return;
	if (!win->first_ns || st->first_ns < win->first_ns)
		win->first_ns = st->first_ns;
	if (st->last_ns > win->last_ns)
		win->last_ns = st->last_ns;
	if (st->max_gap_ns > win->max_gap_ns)
		win->max_gap_ns = st->max_gap_ns;
}

/* seconds of the window; from T0 to now when it is empty or one instant */
static double send_window_s(const struct send_window *win, uint64_t t0)
{
	if (win->last_ns > win->first_ns)
		return (win->last_ns - win->first_ns) / 1e9;
	return (now_ns() - t0) / 1e9;
}

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
	pthread_t tid;
	struct inject *in;
	uint64_t first, stride;			/* global frame numbers */
	uint64_t count;				/* 0: until deadline */
	double rate;				/* frames/s, 0: flat out */
	uint64_t prime;				/* --prime-bytes, our share */
	int cpu;
};

static void pin_cpu(int cpu)
{
	cpu_set_t set;
	int err;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		fprintf(stderr, "%s: pin to cpu %d: %s\n", prog, cpu,
			strerror(err));
}

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

static void print_vnet(FILE *out, const struct vnet_fields *v)
{
	fprintf(out, "flags=0x%x gso_type=0x%x hdr_len=%u gso_size=%u "
		"csum_start=%u csum_offset=%u", v->flags, v->gso_type,
		v->hdr_len, v->gso_size, v->csum_start, v->csum_offset);
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

	pin_cpu(w->cpu);
	pacer_init(&pace, w->rate, w->prime);
	for (k = 0; !stop_flag && (!w->count || k < w->count); k++) {
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

static void print_qstat(const char *what, const struct qstat *s, bool json,
			bool comma)
{
	const char *fmt = json ?
		"%s{%s\"sent\":%llu,\"errors\":%llu,\"bytes\":%llu,"
		"\"segs\":%llu,\"wire_bytes\":%llu,\"last_errno\":%d}" :
		"%svmtap: %s sent=%llu errors=%llu bytes=%llu segs=%llu "
		"wire_bytes=%llu last_errno=%d\n";

	fprintf(report, fmt, json && comma ? "," : "", what,
		(unsigned long long)s->sent, (unsigned long long)s->errors,
		(unsigned long long)s->bytes, (unsigned long long)s->segs,
		(unsigned long long)s->wire, s->last_err);
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
		w[i].count = o->count / nw + (i < o->count % nw);
		w[i].rate = o->rate / nw;
		w[i].prime = o->prime_bytes / nw;
		w[i].cpu = o->ncpus ? (int)o->cpus[i % o->ncpus] : -1;
		if (o->count && !w[i].count)
			w[i].stride = 0;	/* nothing to send */
	}
	install_signals();
	t0 = now_ns();
	if (o->duration)
		in.deadline = t0 + o->duration * 1e9;
	if (nw == 1) {
		inject_run(&w[0]);
	} else {
		for (i = 0; i < nw; i++)
			if (w[i].stride &&
			    pthread_create(&w[i].tid, NULL, inject_run, &w[i]))
				die("pthread_create failed");
		for (i = 0; i < nw; i++)
			if (w[i].stride)
				pthread_join(w[i].tid, NULL);
	}
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
		tot.sent += s->sent;
		tot.errors += s->errors;
		tot.bytes += s->bytes;
		tot.segs += s->segs;
		tot.wire += s->wire;
		if (s->errors)
			tot.last_err = s->last_err;
	}
	if (o->json) {
		fprintf(report, "],\"total\":");
		print_qstat("", &tot, true, false);
		fprintf(report, "}\n");
	} else {
		print_qstat("total", &tot, false, false);
		fprintf(report, "%s: elapsed=%.3fs max_gap=%.3fs frame_len=%u\n",
			prog, secs, win.max_gap_ns / 1e9, in.lo.len);
	}
	if (in.pcap && in.pcap != stdout)
		fclose(in.pcap);
	fflush(stdout);
	for (i = 0; !o->pcap && i < o->queues; i++)
		close(in.fds[i]);
	free(w);
	free(in.payload);
	return o->strict && tot.errors ? 2 : 0;
}

/* ------------------------------------------------------------- forward */

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

/* ------------------------------------------------------------- capture */

struct cap_stat {
	uint64_t pkts, bytes, gso, segs, csum_ok, csum_bad, csum_partial;
	uint64_t drops;
};

static int do_capture(struct opts *o)
{
	static struct cap_stat st[MAX_QUEUES + 1];
	struct pollfd pfd[MAX_QUEUES + 1];
	unsigned int n = o->queues ? o->queues : 1, nsk = n + 1, i;
	uint64_t total = 0, t0, deadline;
	int one = 1, rcvbuf = 16 << 20, fanout, ns, ifindex;
	struct cap_stat tot = { 0 };
	uint8_t *buf = malloc(IO_BUF);

	if (!buf)
		die("out of memory");
	if (!o->count_set && !o->duration)
		o->duration = 10;
	ns = netns_enter(o->netns);
	ifindex = if_nametoindex(o->dev);
	if (!ifindex)
		die("%s: no such device", o->dev);
	fanout = (getpid() & 0xffff) | PACKET_FANOUT_QM << 16;
	for (i = 0; i < nsk; i++) {
		struct sockaddr_ll sll = {
			.sll_family = AF_PACKET,
			.sll_protocol = htons(ETH_P_ALL),
			.sll_ifindex = ifindex,
		};
		/* protocol 0: no hook on every device until bound */
		int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC |
			       SOCK_NONBLOCK, 0);

		if (s < 0)
			die("packet socket: %m");
		if (setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one,
			       sizeof(one)))
			die("PACKET_VNET_HDR: %m");
		setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
			   sizeof(one));
		if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
			       sizeof(rcvbuf)))
			setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				   sizeof(rcvbuf));
		if (bind(s, (struct sockaddr *)&sll, sizeof(sll)))
			die("bind %s: %m", o->dev);
		/*
		 * Member i gets skb->queue_mapping % (n + 1) == i: tun
		 * records rx queue q as queue_mapping q + 1, so member 0
		 * gets frames without a recorded queue and member q + 1
		 * those of rx queue q.
		 */
		if (setsockopt(s, SOL_PACKET, PACKET_FANOUT, &fanout,
			       sizeof(fanout)))
			die("PACKET_FANOUT_QM: %m");
		pfd[i].fd = s;
		pfd[i].events = POLLIN;
	}
	netns_leave(ns);
	/* drop what members got between bind and joining the group */
	for (i = 0; i < nsk; i++) {
		struct tpacket_stats ps;
		socklen_t pl = sizeof(ps);

		while (recv(pfd[i].fd, buf, IO_BUF, 0) >= 0)
			;
		getsockopt(pfd[i].fd, SOL_PACKET, PACKET_STATISTICS, &ps,
			   &pl);	/* reading resets the counters */
	}
	install_signals();
	fprintf(stderr, "%s: capture ready dev=%s queues=%u\n", prog, o->dev,
		n);
	t0 = now_ns();
	deadline = o->duration ? t0 + o->duration * 1e9 : 0;
	while (!stop_flag && (!o->count || total < o->count)) {
		int r;

		if (deadline && now_ns() >= deadline)
			break;
		r = poll(pfd, nsk, 50);
		if (r < 0 && errno != EINTR)
			die("poll: %m");
		for (i = 0; r > 0 && i < nsk; i++) {
			struct sockaddr_ll from;
			socklen_t fl = sizeof(from);
			struct virtio_net_hdr vh;
			struct vnet_fields v;
			uint8_t *f = buf + sizeof(vh);
			uint64_t segs;
			ssize_t len;
			bool gso;

			len = recvfrom(pfd[i].fd, buf, IO_BUF, 0,
				       (struct sockaddr *)&from, &fl);
			if (len < (ssize_t)sizeof(vh) ||
			    from.sll_pkttype == PACKET_OUTGOING)
				continue;
			/* PACKET_VNET_HDR is in host byte order (vio_le) */
			memcpy(&vh, buf, sizeof(vh));
			v.flags = vh.flags;
			v.gso_type = vh.gso_type;
			v.hdr_len = vh.hdr_len;
			v.gso_size = vh.gso_size;
			v.csum_start = vh.csum_start;
			v.csum_offset = vh.csum_offset;
			len -= sizeof(vh);
			frame_segs(f, len, &v, &segs, &gso);
			st[i].pkts++;
			st[i].bytes += len;
			st[i].gso += gso;
			st[i].segs += segs;
			total++;
			if (v.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
				st[i].csum_partial++;
			else if (o->verify_csum)
				switch (verify_csum(f, len)) {
				case CSUM_OK:
					st[i].csum_ok++;
					break;
				case CSUM_BAD:
					st[i].csum_bad++;
					break;
				default:
					break;
				}
			if (o->verbose) {
				if (i)
					printf("%s: rx queue=%u len=%zd ",
					       prog, i - 1, len);
				else
					printf("%s: rx queue=none len=%zd ",
					       prog, len);
				print_vnet(stdout, &v);
				printf(" segs=%llu\n",
				       (unsigned long long)segs);
			}
			if (o->count && total >= o->count)
				break;
		}
	}
	if (o->json)
		printf("{\"mode\":\"capture\",\"dev\":\"%s\",\"queues\":[",
		       o->dev);
	for (i = 0; i < nsk; i++) {
		struct tpacket_stats ps;
		socklen_t pl = sizeof(ps);

		/* frames the socket could not queue (rcvbuf full) */
		if (!getsockopt(pfd[i].fd, SOL_PACKET, PACKET_STATISTICS,
				&ps, &pl))
			st[i].drops = ps.tp_drops;
	}
	/* queues 0..n-1 are members 1..n, then "none" (member 0), total */
	for (i = 1; i <= nsk + 1; i++) {
		struct cap_stat *s = i <= nsk ? &st[i % nsk] : &tot;

		if (i <= nsk) {
			tot.pkts += s->pkts;
			tot.bytes += s->bytes;
			tot.gso += s->gso;
			tot.segs += s->segs;
			tot.csum_ok += s->csum_ok;
			tot.csum_bad += s->csum_bad;
			tot.csum_partial += s->csum_partial;
			tot.drops += s->drops;
		}
		if (o->json) {
			if (i == nsk + 1)
				printf("],\"total\":");
			else if (i == nsk)
				printf(",{\"queue\":null,");
			else
				printf("%s{\"queue\":%u,", i > 1 ? "," : "",
				       i - 1);
			printf("%s\"pkts\":%llu,\"bytes\":%llu,\"gso\":%llu,"
			       "\"segs\":%llu,\"csum_ok\":%llu,"
			       "\"csum_bad\":%llu,\"csum_partial\":%llu,"
			       "\"drops\":%llu}",
			       i == nsk + 1 ? "{" : "",
			       (unsigned long long)s->pkts,
			       (unsigned long long)s->bytes,
			       (unsigned long long)s->gso,
			       (unsigned long long)s->segs,
			       (unsigned long long)s->csum_ok,
			       (unsigned long long)s->csum_bad,
			       (unsigned long long)s->csum_partial,
			       (unsigned long long)s->drops);
			continue;
		}
		if (i < nsk)
			printf("%s: queue=%u", prog, i - 1);
		else if (i == nsk)
			printf("%s: queue=none", prog);
		else
			printf("%s: total", prog);
		printf(" pkts=%llu bytes=%llu gso=%llu segs=%llu csum_ok=%llu "
		       "csum_bad=%llu csum_partial=%llu drops=%llu\n",
		       (unsigned long long)s->pkts,
		       (unsigned long long)s->bytes,
		       (unsigned long long)s->gso,
		       (unsigned long long)s->segs,
		       (unsigned long long)s->csum_ok,
		       (unsigned long long)s->csum_bad,
		       (unsigned long long)s->csum_partial,
		       (unsigned long long)s->drops);
	}
	if (o->json)
		printf("}\n");
	for (i = 0; i < nsk; i++)
		close(pfd[i].fd);
	free(buf);
	return 0;
}

/* ------------------------------------------------------------ selftest */

static unsigned int kt_n, kt_fail;

static void kt_result(bool ok, const char *fmt, ...)
{
	va_list ap;

	kt_n++;
	if (!ok)
		kt_fail++;
	printf("%sok %u ", ok ? "" : "not ", kt_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void spec_default(struct frame_spec *fs)
{
	static const uint8_t smac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

	memset(fs, 0, sizeof(*fs));
	memcpy(fs->smac, smac, 6);
	memcpy(fs->dmac, dmac, 6);
	fs->proto = IPPROTO_TCP;
	fs->sport = 40000;
	fs->dport = 9000;
	fs->flows = 1;
	fs->payload = 1400;
	fs->tcp_flags = TCP_DEFAULT_FLAGS;
	fs->seq = 1;
	fs->gso_type = -1;
	fs->lie_gso_size = fs->lie_hdr_len = -1;
	fs->lie_csum_start = fs->lie_csum_offset = fs->vnet_flags = -1;
}

static void spec_addrs(struct frame_spec *fs, bool v6)
{
	fs->ipv6 = v6;
	inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "fd00::2" : "10.0.0.2",
		  fs->src);
	inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "fd00::1" : "10.0.0.1",
		  fs->dst);
}

/* Build frame g of spec into buf (vnet header + frame); returns layout. */
static bool st_build(const struct frame_spec *fs, uint64_t g, uint8_t *buf,
		     struct layout *lo)
{
	uint8_t *pay;
	char err[128];

	if (layout_init(fs, lo, err, sizeof(err)))
		return false;
	pay = buf + 12 + lo->hdrs;
	fill_payload(pay, fs->payload);
	build_headers(fs, lo, g, csum_add(0, pay, fs->payload), buf, 12);
	return true;
}

/* Finish a partial checksum as a device would (from csum_start). */
static void complete_csum(uint8_t *f, size_t len, unsigned int start,
			  unsigned int off)
{
	uint16_t c = ~csum_fold16(csum_add(0, f + start, len - start));

	put16(f + start + off, c);
}

/* one's complement 16-bit add, and "replace old by new" in a check */
static uint16_t oc_add(uint16_t a, uint16_t b)
{
	return csum_fold16((uint32_t)a + b);
}

/*
 * Segment a GSO frame the way net/ipv4/tcp_offload.c and udp_offload.c
 * do: per segment, adjust the pseudo-header check from the super-packet's
 * L4 length to the segment's, fix IP length/id and TCP seq/flags, finish
 * the checksum from csum_start, and verify the result.
 */
static bool st_segment_ok(const struct frame_spec *fs, const uint8_t *frm,
			  const struct layout *lo, unsigned int *nsegs)
{
	unsigned int mss = lo->vh.gso_size, done = 0, k = 0;
	uint16_t oldl4 = lo->len - lo->l4off;
	uint8_t seg[HDR_MAX + 65536];

	while (done < fs->payload) {
		unsigned int n = fs->payload - done < mss ?
				 fs->payload - done : mss;
		unsigned int l4len = lo->l4hlen + n, slen = lo->hdrs + n;
		uint8_t *ip = seg + ETH_HLEN, *t = seg + lo->l4off;
		bool last = done + n == fs->payload;
		uint16_t c;

		memcpy(seg, frm, lo->hdrs);
		memcpy(seg + lo->hdrs, frm + lo->hdrs + done, n);
		if (fs->ipv6) {
			put16(ip + 4, l4len);
		} else {
			put16(ip + 2, slen - ETH_HLEN);
			put16(ip + 4, get16(ip + 4) + k);
			put16(ip + 10, 0);
			put16(ip + 10,
			      (uint16_t)~csum_fold16(csum_add(0, ip, 20)));
		}
		if (fs->proto == IPPROTO_TCP) {
			put32(t + 4, get32(t + 4) + done);
			if (!last)
				t[13] &= ~0x09;		/* FIN, PSH */
			if (k)
				t[13] &= ~0x80;		/* CWR */
		} else {
			put16(t + 4, l4len);
		}
		c = get16(t + lo->csum_off);
		c = oc_add(oc_add(c, ~oldl4), l4len);
		put16(t + lo->csum_off, c);
		complete_csum(seg, slen, lo->vh.csum_start,
			      lo->vh.csum_offset);
		if (verify_csum(seg, slen) != CSUM_OK)
			return false;
		done += n;
		k++;
	}
	*nsegs = k;
	return true;
}

/* ----------------------------------------------------------------- send */

/*
 * A UDP blast from a socket, for policers on a veth: datagrams of
 * --payload bytes, or with --gso-size UDP_SEGMENT super-packets that the
 * stack keeps whole (GSO) as far as the policer.  One socket per flow, one
 * thread per flow with --threads.
 */
struct send_worker {
	const struct opts *o;
	pthread_t tid;
	int *fds;
	unsigned int nfds;
	const struct sockaddr_storage *dst;
	socklen_t alen;
	double rate;
	uint64_t count, deadline, prime;
	int cpu;
	struct qstat st;
};

/* @ss as IPv4 or IPv6 @ip (16 or 4 bytes; NULL: any) and @port. */
static socklen_t sockaddr_fill(struct sockaddr_storage *ss, bool v6,
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

static void *send_run(void *arg)
{
	struct send_worker *w = arg;
	const struct opts *o = w->o;
	unsigned int hdrs = ETH_HLEN + (o->fs.ipv6 ? 40 : 20) + 8;
	unsigned int pay = o->fs.payload, gso = o->fs.gso_size;
	unsigned int segs = gso ? (pay + gso - 1) / gso : 1;
	uint64_t k, wire = (uint64_t)segs * hdrs + pay;
	struct pacer pace;
	char *buf, eb[64];

	pin_cpu(w->cpu);
	buf = calloc(1, pay + 1);
	if (!buf)
		die("out of memory");
	fill_payload((uint8_t *)buf, pay);
	pacer_init(&pace, w->rate, w->prime);
	for (k = 0; !stop_flag && (!w->count || k < w->count); k++) {
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
	unsigned int i, nflows = o->fs.flows, nw;
	int fds[MAX_QUEUES], fam, ns;
	struct send_window win = { 0 };
	struct send_worker *w;
	struct qstat tot = { 0 };
	socklen_t alen;
	uint64_t t0;
	double secs;

	if (nflows > MAX_QUEUES)
		die("--flows: at most %d with send", MAX_QUEUES);
	fam = o->fs.ipv6 ? AF_INET6 : AF_INET;
	alen = sockaddr_fill(&dst, o->fs.ipv6, o->fs.dst, o->fs.dport);
	if (o->fs.gso_size && o->fs.payload > 65507)
		die("--payload: at most 65507 bytes in one UDP send");

	ns = netns_enter(o->netns);
	for (i = 0; i < nflows; i++) {
		fds[i] = socket(fam, SOCK_DGRAM, 0);
		if (fds[i] < 0)
			die("socket: %m");
		if (o->fs.gso_size) {
			int sz = o->fs.gso_size;

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
		w[i].rate = o->rate / nw;
		w[i].prime = o->prime_bytes / nw;
		w[i].count = o->count / nw + (i < o->count % nw);
		w[i].deadline = o->duration ? t0 + o->duration * 1e9 : 0;
		w[i].cpu = o->ncpus ? (int)o->cpus[i % o->ncpus] : -1;
	}
	if (nw == 1) {
		send_run(&w[0]);
	} else {
		for (i = 0; i < nw; i++)
			if (pthread_create(&w[i].tid, NULL, send_run, &w[i]))
				die("pthread_create failed");
		for (i = 0; i < nw; i++)
			pthread_join(w[i].tid, NULL);
	}
	for (i = 0; i < nw; i++)
		send_window_add(&win, &w[i].st);
	secs = send_window_s(&win, t0);
	for (i = 0; i < nw; i++) {
		char what[32];

		snprintf(what, sizeof(what), "flow=%u", i);
		if (!o->json)
			print_qstat(what, &w[i].st, false, false);
		tot.sent += w[i].st.sent;
		tot.errors += w[i].st.errors;
		tot.bytes += w[i].st.bytes;
		tot.segs += w[i].st.segs;
		tot.wire += w[i].st.wire;
		if (w[i].st.last_err)
			tot.last_err = w[i].st.last_err;
	}
	if (o->json) {
		fprintf(report, "{\"mode\":\"send\",\"elapsed_s\":%.6f,"
			"\"max_gap_s\":%.6f,\"total\":", secs,
			win.max_gap_ns / 1e9);
		print_qstat("", &tot, true, false);
		fprintf(report, "}\n");
	} else {
		print_qstat("total", &tot, false, false);
		fprintf(report, "%s: elapsed=%.3fs max_gap=%.3fs\n", prog, secs,
			win.max_gap_ns / 1e9);
	}
	for (i = 0; i < nflows; i++)
		close(fds[i]);
	free(w);
	return tot.sent ? 0 : 1;
}

static int do_selftest(void)
{
	static uint8_t buf[HDR_MAX + 65536];
	/* RFC 1071-style example header (checksum 0xb861) */
	static const uint8_t iph[20] = {
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	};
	struct frame_spec fs;
	struct layout lo;
	struct vnet_fields v;
	unsigned int i, segs, list[MAX_QUEUES], nl;
	uint8_t *f = buf + 12, mac[6], fl;
	long gt;
	bool ok;

	printf("TAP version 13\n1..32\n");
	segs = (uint16_t)~csum_fold16(csum_add(0, iph, 20));
	kt_result(segs == 0xb861, "csum: known IPv4 header checksum 0xb861");

	for (i = 0; i < 4; i++) {
		bool v6 = i & 1, udp = i & 2;
		const char *name = v6 ? (udp ? "ipv6/udp" : "ipv6/tcp") :
				   (udp ? "ipv4/udp" : "ipv4/tcp");

		spec_default(&fs);
		spec_addrs(&fs, v6);
		fs.proto = udp ? IPPROTO_UDP : IPPROTO_TCP;
		fs.payload = 1001;		/* odd length */
		ok = st_build(&fs, 3, buf, &lo);
		vnet_decode(buf, &v);
		kt_result(ok && verify_csum(f, lo.len) == CSUM_OK &&
			  !v.flags && !v.gso_type && !v.csum_start,
			  "build: %s non-GSO full checksums verify", name);
		kt_result(get16(f + ETH_HLEN + (v6 ? 4 : 2)) ==
			  lo.len - ETH_HLEN - (v6 ? 40 : 0) &&
			  (!udp || get16(f + lo.l4off + 4) ==
			   lo.len - lo.l4off),
			  "build: %s IP/UDP length fields", name);

		fs.gso_size = udp ? 1200 : 1448;
		fs.payload = udp ? 60000 : 64000;
		ok = st_build(&fs, 0, buf, &lo);
		vnet_decode(buf, &v);
		kt_result(ok && v.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM &&
			  v.gso_type == natural_gso_type(&fs, true) &&
			  v.gso_size == fs.gso_size &&
			  v.hdr_len == lo.hdrs && v.hdr_len ==
			  (unsigned int)(ETH_HLEN + (v6 ? 40 : 20) +
					 (udp ? 8 : 20)) &&
			  v.csum_start == lo.l4off &&
			  v.csum_offset == (udp ? 6 : 16),
			  "gso: %s virtio_net_hdr fields", name);
		kt_result(get16(f + lo.l4off + lo.csum_off) ==
			  csum_fold16(pseudo_sum(v6, fs.src, fs.dst, fs.proto,
						 lo.len - lo.l4off)),
			  "gso: %s check holds pseudo-header sum", name);
		ok = st_segment_ok(&fs, f, &lo, &segs);
		kt_result(ok && segs == lo.segs &&
			  segs == (fs.payload + fs.gso_size - 1) /
				  fs.gso_size &&
			  lo.wire == segs * lo.hdrs + fs.payload,
			  "gso: %s segments (%u) verify after kernel-style "
			  "segmentation", name, segs);
	}

	spec_default(&fs);
	spec_addrs(&fs, false);
	fs.csum_offload = true;
	fs.payload = 777;
	ok = st_build(&fs, 0, buf, &lo);
	vnet_decode(buf, &v);
	complete_csum(f, lo.len, v.csum_start, v.csum_offset);
	kt_result(ok && v.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM &&
		  !v.gso_type && verify_csum(f, lo.len) == CSUM_OK,
		  "offload: ipv4/tcp NEEDS_CSUM frame completes to valid");

	fs.payload = max_payload(&fs);
	ok = st_build(&fs, 0, buf, &lo);
	fs.payload++;
	kt_result(ok && get16(f + ETH_HLEN + 2) == 65535 &&
		  layout_init(&fs, &lo, (char *)mac, 0) < 0,
		  "limits: ipv4/tcp payload 65495 max, 65496 refused");

	spec_default(&fs);
	spec_addrs(&fs, true);
	fs.gso_size = 1000;
	fs.payload = 5000;
	fs.lie_gso_size = 100;
	fs.lie_hdr_len = 9;
	fs.lie_csum_start = 3;
	fs.lie_csum_offset = 77;
	ok = st_build(&fs, 0, buf, &lo);
	vnet_decode(buf, &v);
	{
		static uint8_t ref[HDR_MAX + 65536];
		struct frame_spec t = fs;
		struct layout lt;

		t.lie_gso_size = t.lie_hdr_len = -1;
		t.lie_csum_start = t.lie_csum_offset = -1;
		ok = ok && st_build(&t, 0, ref, &lt) &&
		     !memcmp(ref + 12, f, lo.len);
	}
	kt_result(ok && v.gso_size == 100 && v.hdr_len == 9 &&
		  v.csum_start == 3 && v.csum_offset == 77 && lo.segs == 50,
		  "lies: only the header changes, segs follow gso_size");

	spec_default(&fs);
	spec_addrs(&fs, false);
	fs.gso_type = GSO_TYPE_ECN;
	ok = st_build(&fs, 0, buf, &lo);
	vnet_decode(buf, &v);
	kt_result(ok && v.gso_type == (VIRTIO_NET_HDR_GSO_TCPV4 |
				       VIRTIO_NET_HDR_GSO_ECN) &&
		  !v.gso_size && v.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM &&
		  lo.segs == 1,
		  "lies: --gso-type ecn without --gso-size gives size 0");

	fs.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	fs.gso_size = 100;
	ok = st_build(&fs, 0, buf, &lo);
	vnet_decode(buf, &v);
	kt_result(ok && !v.gso_type && !v.gso_size && lo.segs == 1 &&
		  v.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM,
		  "lies: --gso-type none keeps the partial checksum");

	spec_default(&fs);
	spec_addrs(&fs, false);
	fs.flows = 4;
	fs.payload = 100;
	st_build(&fs, 6, buf, &lo);
	kt_result(get16(f + lo.l4off) == 40002 &&
		  get32(f + lo.l4off + 4) == 1 + 100 &&
		  get16(f + ETH_HLEN + 4) == 6,
		  "build: frame 6 of 4 flows: sport, seq and IP id");

	{
		struct pinfo pi;

		ok = parse_frame(f, lo.len, &pi) && !pi.v6 &&
		     pi.proto == IPPROTO_TCP && pi.sport == 40002 &&
		     pi.dport == 9000 && pi.hdrs == 54 &&
		     pi.l3len == lo.len - ETH_HLEN;
		kt_result(ok, "parse: 5-tuple and header length of a frame");
	}

	ok = parse_mac("52:54:00:ab:CD:ef", mac) && mac[3] == 0xab &&
	     mac[5] == 0xef && !parse_mac("52:54:00:ab:cd", mac) &&
	     !parse_mac("52:54:00:ab:cd:ef:00", mac) &&
	     !parse_mac("52:54:00:ab:cd:1ff", mac);
	kt_result(ok, "args: MAC addresses");
	ok = parse_list("0,2,4-6", 255, list, &nl) && nl == 5 &&
	     list[4] == 6 && !parse_list("1,1", 255, list, &nl) &&
	     !parse_list("3-1", 255, list, &nl) &&
	     !parse_list("256", 255, list, &nl) &&
	     !parse_list("", 255, list, &nl);
	kt_result(ok, "args: queue lists");
	ok = parse_tcp_flags("+fin", &fl) && fl == 0x19 &&
	     parse_tcp_flags("syn,ack", &fl) && fl == 0x12 &&
	     parse_tcp_flags("0x04", &fl) && fl == 4 &&
	     !parse_tcp_flags("ack,bogus", &fl);
	kt_result(ok, "args: TCP flags");
	ok = parse_gso_type("udp_l4", &gt) && gt == 5 &&
	     parse_gso_type("tcpv6", &gt) && gt == 4 &&
	     parse_gso_type("0x81", &gt) && gt == 0x81 &&
	     !parse_gso_type("tso", &gt);
	kt_result(ok, "args: GSO types");

	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:0 error:0\n",
	       kt_n - kt_fail, kt_fail);
	return kt_fail ? 1 : 0;
}

/* ---------------------------------------------------------------- main */

/*
 * A TCP stream for --duration seconds, ended by a reset.  Up to the end
 * the socket has data waiting (the writes block on a full send buffer),
 * so the window reported, first write to last, is the time a policer on
 * the way had the stream's data to pass.  The reset drops what is still
 * buffered: a drain and the recovery of its last losses would add a tail
 * in which TCP waits on its retransmission timer rather than on the
 * policer (200 ms at 2 Mbit/s is 2 % of an 8 s run), and a tool that
 * times itself (iperf3) counts its start-up and not the drain.
 */
#define STALL_NS	(10 * 1000000000ull)

/* The drain's socket, made beside the stream's (in its netns). */
static int drain_socket(const struct opts *o)
{
	int fd, one = 1;

	fd = socket(o->fs.ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket: %m");
	if (o->fs.ipv6 ?
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
	unsigned int pay = 1400, hdrs = ETH_HLEN + (o->fs.ipv6 ? 40 : 20) + 8;
	struct sockaddr_storage dst;
	uint64_t sent = 0;
	socklen_t alen;
	char *buf;

	alen = sockaddr_fill(&dst, o->fs.ipv6, o->fs.dst, 9);
	buf = calloc(1, pay);
	if (!buf)
		die("out of memory");
	*dropped = false;
	while (sent < max_wire) {
		if (sendto(fd, buf, pay, 0, (struct sockaddr *)&dst,
			   alen) == (ssize_t)pay) {
			sent += hdrs + pay;
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

static int do_send_tcp(struct opts *o)
{
	unsigned int chunk = o->fs.payload;
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

	if (o->fs.gso_size || o->fs.flows > 1 || o->threads || o->rate)
		die("--proto tcp: one stream, no --gso-size, --flows, "
		    "--threads or --rate");
	if (!o->duration)
		die("--proto tcp needs --duration");
	alen = sockaddr_fill(&dst, o->fs.ipv6, o->fs.dst, o->fs.dport);
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

	if (o->json) {
		fprintf(report, "{\"mode\":\"send\",\"proto\":\"tcp\","
			"\"elapsed_s\":%.6f,\"stream_s\":%.6f,"
			"\"drain_bytes\":%llu,\"drain_dropped\":%s,"
			"\"retransmits\":%u,\"total\":",
			(t_done - t_first) / 1e9, (t_stream - t_first) / 1e9,
			(unsigned long long)drained,
			drain_dropped ? "true" : "false", ti.tcpi_total_retrans);
		print_qstat("", &st, true, false);
		fprintf(report, "}\n");
	} else {
		print_qstat("total", &st, false, false);
		fprintf(report, "%s: elapsed=%.3fs stream=%.3fs "
			"drain_bytes=%llu drain_dropped=%d retransmits=%u\n",
			prog, (t_done - t_first) / 1e9,
			(t_stream - t_first) / 1e9, (unsigned long long)drained,
			drain_dropped, ti.tcpi_total_retrans);
	}
	if (st.errors || stalled)
		return 1;
	if (o->drain_bytes && !drain_dropped) {
		fprintf(stderr, "%s: drain: no drop in %llu bytes\n", prog,
			(unsigned long long)drained);
		return 1;
	}
	return st.bytes ? 0 : 1;
}

/*
 * The receiving end of send --proto tcp: one connection, read until it
 * ends (by the sender's reset, as a rule).  Large reads keep its CPU
 * cost small on a slow guest.
 */
static int do_sink(struct opts *o)
{
	struct sockaddr_storage addr = { 0 };
	size_t bufsz = 256 * 1024;
	unsigned long long total = 0;
	int lfd, fd, ns, one = 1;
	socklen_t alen;
	char *buf;

	alen = sockaddr_fill(&addr, o->fs.ipv6, NULL, o->fs.dport);
	buf = malloc(bufsz);
	if (!buf)
		die("out of memory");
	ns = netns_enter(o->netns);
	lfd = socket(addr.ss_family, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket: %m");
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("SO_REUSEADDR: %m");
	if (bind(lfd, (struct sockaddr *)&addr, alen) || listen(lfd, 1))
		die("listen on port %u: %m", o->fs.dport);
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
	fprintf(report, "%s: sink bytes=%llu\n", prog, total);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
"usage: vmtap inject  --dev TAP [--queues N] [--netns NS] [--up] [options]\n"
"       vmtap forward --guest-tap G --host-tap H [--queues N]\n"
"                     [--guest-queues 1|N] [--guest-netns NS]\n"
"                     [--host-netns NS] [--duration S] [--up]\n"
"                     [--sndbuf BYTES]\n"
"       vmtap capture --dev DEV [--queues N] [--netns NS] [--count K]\n"
"                     [--duration S] [--verify-csum]\n"
"       vmtap send    --dst ADDR [--netns NS] [--ipv6] [options]\n"
"       vmtap sink    --dport P [--netns NS] [--ipv6]\n"
"       vmtap selftest\n"
"\n"
"inject: open/create tap DEV (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR|\n"
"IFF_MULTI_QUEUE, N queues, fd i = queue i) and write frames as a guest\n"
"TX path does. Stops after --count frames (total, default 1) or\n"
"--duration seconds, whichever comes first. A tap that is down refuses\n"
"writes (EIO): bring it up first or pass --up.\n"
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
"  output: 'vmtap: queue=Q sent= errors= bytes= segs= wire_bytes=\n"
"  last_errno=' per queue and 'vmtap: total ...'; bytes are frame bytes,\n"
"  segs/wire_bytes what the accepted frames stand for once segmented;\n"
"  'vmtap: elapsed=S max_gap=S': first to last frame, and the longest\n"
"  pause between two frames of any queue (a sender's stall).\n"
"\n"
"forward: guest tap G (N or 1 queues, offloads on so the guest's TCP\n"
"sends GSO) <-> multiqueue tap H (N queues), one thread per queue,\n"
"frames copied with their virtio_net_hdr. Guest queue i -> host queue i\n"
"(a 5-tuple hash picks the host queue with --guest-queues 1), host queue\n"
"i -> guest queue i. Runs until SIGINT/SIGTERM or --duration.\n"
"--sndbuf BYTES: the host tap's send buffer (TUNSETSNDBUF, QEMU's tap\n"
"sndbuf=; the device keeps it); a guest frame the tap refuses for lack\n"
"of it waits, and that guest queue is not read, until the tap is\n"
"writable (vhost-net's backpressure); the report adds g2h_waits=.\n"
"\n"
"send: a UDP blast from sockets (for policers on a veth): --payload\n"
"bytes per datagram, or with --gso-size UDP_SEGMENT super-packets the\n"
"stack keeps whole up to the policer. --flows F sockets (one source\n"
"port each), --threads (one per flow) --cpus LIST, --dport P, --rate PPS\n"
"(total), --count K, --duration S, --prime-bytes B (as inject).\n"
"Reports sent/bytes/segs/wire_bytes,\n"
"wire_bytes counting Ethernet, IP and UDP headers per segment, and\n"
"elapsed=/max_gap= as inject does.\n"
"With --proto tcp: one TCP stream to --dport for --duration S, writes of\n"
"--payload bytes, ended by a reset; elapsed is from the first write to the\n"
"last, and the report adds retransmits=. --drain-bytes B: right after the\n"
"last write, UDP to port 9 back to back until a local policer drops one\n"
"(drain_dropped=1: its bucket is empty) or B wire bytes have left;\n"
"elapsed then ends after them and the reset.\n"
"\n"
"sink: accept one TCP connection on --dport P and read it until it ends;\n"
"reports 'vmtap: sink bytes=N' (the receiver for send --proto tcp).\n"
"\n"
"capture: count frames received on DEV per recorded rx queue\n"
"(PACKET_FANOUT_QM; socket i gets rx queue i mod N), with GSO metadata\n"
"(PACKET_VNET_HDR); --verify-csum checks complete (non-partial) frames.\n"
"Default --duration 10 unless --count is given.\n"
"\n"
"common: --netns NS (name in /run/netns or a path), --vnet-hdr-sz 10|12\n"
"(default 12, virtio 1.0), --no-offload (TUNSETOFFLOAD 0: a guest without\n"
"csum/tso/uso; default csum|tso4|tso6|ecn|ufo|uso4|uso6), --json,\n"
"-v/--verbose, -h/--help.\n");
}

enum {
	O_DEV = 256, O_QUEUES, O_NETNS, O_UP, O_QUEUE, O_QUSED, O_COUNT,
	O_RATE, O_DURATION, O_THREADS, O_CPUS, O_SMAC, O_DMAC, O_IPV6,
	O_SRC, O_DST, O_PROTO, O_SPORT, O_DPORT, O_FLOWS, O_PAYLOAD,
	O_GSO_SIZE, O_CSUM_OFFLOAD, O_TCP_FLAGS, O_SEQ, O_TOS, O_GSO_TYPE,
	O_LIE_GSO, O_LIE_HDR, O_LIE_CSTART, O_LIE_COFF, O_VNET_FLAGS,
	O_PCAP, O_STRICT, O_JSON, O_VNET_SZ, O_NO_OFFLOAD, O_GTAP, O_HTAP,
	O_GNS, O_HNS, O_GQUEUES, O_VERIFY, O_DRAIN, O_SNDBUF, O_PRIME,
};

#define MI	M_INJECT
#define MF	M_FORWARD
#define MC	M_CAPTURE
#define MS	M_SEND
#define MK	M_SINK
static const struct {
	const char *name;
	int has_arg, id;
	unsigned int modes;
} opt_defs[] = {
	{ "dev", 1, O_DEV, MI | MC },
	{ "queues", 1, O_QUEUES, MI | MF | MC },
	{ "netns", 1, O_NETNS, MI | MC | MS | MK },
	{ "up", 0, O_UP, MI | MF },
	{ "queue", 1, O_QUEUE, MI },
	{ "queues-used", 1, O_QUSED, MI },
	{ "count", 1, O_COUNT, MI | MC | MS },
	{ "rate", 1, O_RATE, MI | MS },
	{ "duration", 1, O_DURATION, MI | MF | MC | MS },
	{ "threads", 0, O_THREADS, MI | MS },
	{ "cpus", 1, O_CPUS, MI | MF | MS },
	{ "smac", 1, O_SMAC, MI },
	{ "dmac", 1, O_DMAC, MI },
	{ "ipv6", 0, O_IPV6, MI | MS | MK },
	{ "src", 1, O_SRC, MI },
	{ "dst", 1, O_DST, MI | MS },
	{ "proto", 1, O_PROTO, MI | MS },
	{ "sport", 1, O_SPORT, MI },
	{ "dport", 1, O_DPORT, MI | MS | MK },
	{ "flows", 1, O_FLOWS, MI | MS },
	{ "payload", 1, O_PAYLOAD, MI | MS },
	{ "gso-size", 1, O_GSO_SIZE, MI | MS },
	{ "csum-offload", 0, O_CSUM_OFFLOAD, MI },
	{ "tcp-flags", 1, O_TCP_FLAGS, MI },
	{ "seq", 1, O_SEQ, MI },
	{ "tos", 1, O_TOS, MI },
	{ "gso-type", 1, O_GSO_TYPE, MI },
	{ "lie-gso-size", 1, O_LIE_GSO, MI },
	{ "lie-hdr-len", 1, O_LIE_HDR, MI },
	{ "lie-csum-start", 1, O_LIE_CSTART, MI },
	{ "lie-csum-offset", 1, O_LIE_COFF, MI },
	{ "vnet-flags", 1, O_VNET_FLAGS, MI },
	{ "pcap", 1, O_PCAP, MI },
	{ "strict", 0, O_STRICT, MI },
	{ "json", 0, O_JSON, MI | MF | MC | MS },
	{ "vnet-hdr-sz", 1, O_VNET_SZ, MI | MF },
	{ "no-offload", 0, O_NO_OFFLOAD, MI | MF },
	{ "guest-tap", 1, O_GTAP, MF },
	{ "host-tap", 1, O_HTAP, MF },
	{ "guest-netns", 1, O_GNS, MF },
	{ "host-netns", 1, O_HNS, MF },
	{ "guest-queues", 1, O_GQUEUES, MF },
	{ "sndbuf", 1, O_SNDBUF, MF },
	{ "verify-csum", 0, O_VERIFY, MC },
	{ "drain-bytes", 1, O_DRAIN, MS },
	{ "prime-bytes", 1, O_PRIME, MI | MS },
	{ "verbose", 0, 'v', MI | MF | MC | MS },
	{ "help", 0, 'h', MI | MF | MC | MS | MK | M_SELFTEST },
};

#define N_OPTS ARRAY_SIZE(opt_defs)

static void parse_addr(const struct opts *o, const char *s, uint8_t *out,
		       const char *opt)
{
	if (inet_pton(o->fs.ipv6 ? AF_INET6 : AF_INET, s, out) != 1)
		die("--%s: '%s' is not an IPv%c address%s", opt, s,
		    o->fs.ipv6 ? '6' : '4',
		    !o->fs.ipv6 && strchr(s, ':') ? " (add --ipv6)" : "");
}

static void parse_args(struct opts *o, int argc, char **argv)
{
	static struct option lopts[N_OPTS + 1];
	uint64_t v;
	size_t i;
	int c;

	for (i = 0; i < N_OPTS; i++) {
		lopts[i].name = opt_defs[i].name;
		lopts[i].has_arg = opt_defs[i].has_arg;
		lopts[i].val = opt_defs[i].id;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "vh", lopts, NULL)) != -1) {
		const char *name = NULL;

		for (i = 0; i < N_OPTS; i++)
			if (opt_defs[i].id == c)
				break;
		if (i == N_OPTS) {
			usage(stderr);
			exit(1);
		}
		name = opt_defs[i].name;
		if (!(opt_defs[i].modes & o->mode))
			die("--%s is not an option of '%s'", name, argv[1]);
		switch (c) {
		case 'h':
			usage(stdout);
			exit(0);
		case 'v':
			o->verbose = true;
			break;
		case O_DEV:
			o->dev = optarg;
			break;
		case O_QUEUES:
			o->queues = arg_u64(name, optarg, MAX_QUEUES);
			if (!o->queues)
				die("--queues must be at least 1");
			break;
		case O_NETNS:
			o->netns = optarg;
			break;
		case O_UP:
			o->up = true;
			break;
		case O_QUEUE:
			o->qlist[0] = arg_u64(name, optarg, MAX_QUEUES - 1);
			o->nql = 1;
			break;
		case O_QUSED:
			if (!parse_list(optarg, MAX_QUEUES - 1, o->qlist,
					&o->nql))
				die("--queues-used: bad list '%s'", optarg);
			break;
		case O_COUNT:
			o->count = arg_u64(name, optarg, UINT64_MAX);
			o->count_set = true;
			break;
		case O_RATE:
			o->rate = arg_pos_double(name, optarg);
			break;
		case O_DURATION:
			o->duration = arg_pos_double(name, optarg);
			break;
		case O_THREADS:
			o->threads = true;
			break;
		case O_CPUS:
			if (!parse_list(optarg, 4095, o->cpus, &o->ncpus))
				die("--cpus: bad list '%s'", optarg);
			break;
		case O_SMAC:
		case O_DMAC:
			if (!parse_mac(optarg,
				       c == O_SMAC ? o->fs.smac : o->fs.dmac))
				die("--%s: bad MAC '%s'", name, optarg);
			if (c == O_DMAC)
				o->fs.dmac_set = true;
			break;
		case O_IPV6:
			o->fs.ipv6 = true;
			break;
		case O_SRC:
			o->src_str = optarg;
			break;
		case O_DST:
			o->dst_str = optarg;
			break;
		case O_PROTO:
			o->proto_set = true;
			if (!strcmp(optarg, "tcp"))
				o->fs.proto = IPPROTO_TCP;
			else if (!strcmp(optarg, "udp"))
				o->fs.proto = IPPROTO_UDP;
			else
				die("--proto: tcp or udp, not '%s'", optarg);
			break;
		case O_SPORT:
			o->fs.sport = arg_u64(name, optarg, 65535);
			break;
		case O_DPORT:
			o->fs.dport = arg_u64(name, optarg, 65535);
			break;
		case O_FLOWS:
			o->fs.flows = arg_u64(name, optarg, 65536);
			if (!o->fs.flows)
				die("--flows must be at least 1");
			break;
		case O_PAYLOAD:
			o->fs.payload = arg_u64(name, optarg, 65535);
			break;
		case O_GSO_SIZE:
			o->fs.gso_size = arg_u64(name, optarg, 65535);
			break;
		case O_DRAIN:
			o->drain_bytes = arg_u64(name, optarg, UINT64_MAX);
			break;
		case O_PRIME:
			o->prime_bytes = arg_u64(name, optarg, UINT64_MAX);
			break;
		case O_CSUM_OFFLOAD:
			o->fs.csum_offload = true;
			break;
		case O_TCP_FLAGS:
			if (!parse_tcp_flags(optarg, &o->fs.tcp_flags))
				die("--tcp-flags: bad flags '%s'", optarg);
			break;
		case O_SEQ:
			o->fs.seq = arg_u64(name, optarg, UINT32_MAX);
			break;
		case O_TOS:
			o->fs.tos = arg_u64(name, optarg, 255);
			break;
		case O_GSO_TYPE:
			if (!parse_gso_type(optarg, &o->fs.gso_type))
				die("--gso-type: unknown type '%s'", optarg);
			break;
		case O_LIE_GSO:
			o->fs.lie_gso_size = arg_u64(name, optarg, 65535);
			break;
		case O_LIE_HDR:
			o->fs.lie_hdr_len = arg_u64(name, optarg, 65535);
			break;
		case O_LIE_CSTART:
			o->fs.lie_csum_start = arg_u64(name, optarg, 65535);
			break;
		case O_LIE_COFF:
			o->fs.lie_csum_offset = arg_u64(name, optarg, 65535);
			break;
		case O_VNET_FLAGS:
			o->fs.vnet_flags = arg_u64(name, optarg, 255);
			break;
		case O_PCAP:
			o->pcap = optarg;
			break;
		case O_STRICT:
			o->strict = true;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_VNET_SZ:
			v = arg_u64(name, optarg, 12);
			if (v != 10 && v != 12)
				die("--vnet-hdr-sz: 10 or 12");
			o->vnet_sz = v;
			break;
		case O_NO_OFFLOAD:
			o->no_offload = true;
			break;
		case O_GTAP:
			o->gtap = optarg;
			break;
		case O_HTAP:
			o->htap = optarg;
			break;
		case O_GNS:
			o->gns = optarg;
			break;
		case O_HNS:
			o->hns = optarg;
			break;
		case O_VERIFY:
			o->verify_csum = true;
			break;
		case O_SNDBUF:
			o->sndbuf = arg_u64(name, optarg, INT_MAX);
			if (!o->sndbuf)
				die("--sndbuf must be at least 1");
			break;
		case O_GQUEUES:
			o->gqueues = arg_u64(name, optarg, MAX_QUEUES);
			if (!o->gqueues)
				die("--guest-queues must be at least 1");
			break;
		}
	}
	if (optind < argc)
		die("unexpected argument '%s'", argv[optind]);
}

int main(int argc, char **argv)
{
	static struct opts o;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2;
	}
	if (!strcmp(argv[1], "inject"))
		o.mode = M_INJECT;
	else if (!strcmp(argv[1], "forward"))
		o.mode = M_FORWARD;
	else if (!strcmp(argv[1], "capture"))
		o.mode = M_CAPTURE;
	else if (!strcmp(argv[1], "selftest"))
		o.mode = M_SELFTEST;
	else if (!strcmp(argv[1], "send"))
		o.mode = M_SEND;
	else if (!strcmp(argv[1], "sink"))
		o.mode = M_SINK;
	else
		die("unknown mode '%s' (inject, forward, capture, send, sink, "
		    "selftest)", argv[1]);

	report = stdout;
	spec_default(&o.fs);
	o.vnet_sz = sizeof(struct virtio_net_hdr_mrg_rxbuf);
	parse_args(&o, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);

	switch (o.mode) {
	case M_SELFTEST:
		return do_selftest();
	case M_INJECT:
		if (!o.dev && !o.pcap)
			die("inject needs --dev TAP (or --pcap FILE)");
		spec_addrs(&o.fs, o.fs.ipv6);
		if (o.src_str)
			parse_addr(&o, o.src_str, o.fs.src, "src");
		if (o.dst_str)
			parse_addr(&o, o.dst_str, o.fs.dst, "dst");
		if (!o.nql)
			o.nql = 1;		/* queue 0 */
		if (o.threads && o.pcap)
			o.threads = false;
		return do_inject(&o);
	case M_FORWARD:
		if (!o.gtap || !o.htap)
			die("forward needs --guest-tap and --host-tap");
		return do_forward(&o);
	case M_CAPTURE:
		if (!o.dev)
			die("capture needs --dev DEV");
		return do_capture(&o);
	case M_SINK:
		return do_sink(&o);
	case M_SEND:
		if (!o.dst_str)
			die("send needs --dst ADDR");
		parse_addr(&o, o.dst_str, o.fs.dst, "dst");
		if (o.fs.gso_size && o.fs.payload <= o.fs.gso_size)
			die("--gso-size must be below --payload");
		if (!o.count_set && !o.duration)
			die("send needs --count or --duration");
		if (!o.proto_set)
			o.fs.proto = IPPROTO_UDP;
		if (o.fs.proto == IPPROTO_TCP)
			return do_send_tcp(&o);
		return do_send(&o);
	}
	return 1;
}
